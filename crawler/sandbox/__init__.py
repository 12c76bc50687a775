"""Synthetic Fediverse served on loopback, for tests, the demo and benchmarks.

One aiohttp server on one port answers for every simulated host, routing by the Host header
(the crawler reaches it with `--via 127.0.0.1:PORT`). Deterministic for a given seed.

    sandbox = Sandbox(SandboxConfig(instances=1000, seed=1))
    port = await sandbox.start()
    truth = sandbox.truth()          # what a correct crawl must store
    sandbox.set_epoch(1)             # the world changes; the server follows at once

Modules: config (knobs), names (server names), catalog (platform tables), model (hosts),
assign / quirks (roles, failures, deviations), probes (nameless or missing NodeInfo and the
servers only they list), blocks, peers, history (epochs), usage (counts),
world (everything at the current epoch), platforms/ (wire formats), server (aiohttp), truth.
"""

from crawler.sandbox.config import FailureRates, Provider, SandboxConfig
from crawler.sandbox.core import Sandbox, run_forever
from crawler.sandbox.server import LogEntry, ServerStats

__all__ = [
    "FailureRates",
    "LogEntry",
    "Provider",
    "Sandbox",
    "SandboxConfig",
    "ServerStats",
    "run_forever",
]
