"""The `Sandbox` facade (model + server + ground truth) and the blocking `run_forever`."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Any

import orjson

from crawler import eventloop
from crawler.sandbox.config import SandboxConfig
from crawler.sandbox.hosting import HostingMap, SandboxResolver
from crawler.sandbox.server import SandboxServer, ServerStats
from crawler.sandbox.truth import build_truth
from crawler.sandbox.world import World


def _hostile() -> Any:
    """crawler.sandbox.hostile.HostileHosts, imported only when asked for."""
    from crawler.sandbox.hostile import HostileHosts

    return HostileHosts()


class Sandbox:
    """A synthetic Fediverse: build it, start it, read its ground truth."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.world = World(self.config)
        self.stats = ServerStats(self.config.keep_log, self.config.log_limit)
        self.hostile = _hostile() if self.config.hostile else None
        self.hosting = HostingMap(self.world, self.config.providers)
        self._server = SandboxServer(
            self.world, self.config, self.stats, self.hostile, self.hosting
        )
        self.port: int | None = None

    @property
    def seeds(self) -> list[str]:
        """Three well-connected seed domains (big Mastodon, Misskey, Lemmy)."""
        return [h.domain for h in self.world.seeds]

    @property
    def epoch(self) -> int:
        """The current epoch (0 at start)."""
        return self.world.epoch

    def set_epoch(self, epoch: int) -> None:
        """Move the world to `epoch`; the server follows at once."""
        self.world.set_epoch(epoch)
        self._server.new_epoch()

    def resolver(self) -> SandboxResolver:
        """A DNS resolver giving each host its simulated address (hosting providers shared);
        pass it as `CrawlSettings.resolver` to group hosts by address in --via mode."""
        return SandboxResolver(self.hosting)

    def truth(self, include_peers: bool = True) -> dict[str, Any]:
        """Ground truth of the current epoch (see crawler.sandbox.truth)."""
        truth = build_truth(self.world, include_peers)
        if self.hostile is not None:
            truth["hostile"] = self.hostile.expected()
        return truth

    def write_truth(self, path: str | Path, include_peers: bool | None = None) -> None:
        """Write `truth()` as JSON (peers left out by default above 5000 instances)."""
        if include_peers is None:
            include_peers = self.config.instances <= 5000
        data = orjson.dumps(self.truth(include_peers), option=orjson.OPT_INDENT_2)
        Path(path).write_bytes(data)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Serve on host:port (0 = any free port); returns the bound port."""
        self.port = await self._server.start(host, port)
        return self.port

    async def stop(self) -> None:
        """Stop serving (hanging requests are released)."""
        await self._server.stop()


def run_forever(
    config: SandboxConfig, host: str, port: int, truth_path: str | None, epoch: int = 0
) -> None:
    """Serve the world at `epoch` until SIGINT/SIGTERM; prints the listening line once ready.

    Crawling the sandbox once per epoch (a new process each time) gives a database a history
    of known changes, the way daily crawls of the real network would.

    It runs on uvloop where installed, like a crawl: the sandbox stands in for servers on other
    machines, yet here its CPU comes out of the crawler's cores, so it should cost as little
    per request as it can (FEDISCOPE_UVLOOP=0 turns it off).
    """
    eventloop.run(_serve(config, host, port, truth_path, epoch))


async def _serve(
    config: SandboxConfig, host: str, port: int, truth_path: str | None, epoch: int
) -> None:
    sandbox = Sandbox(config)
    if epoch:
        sandbox.set_epoch(epoch)
    if truth_path:
        sandbox.write_truth(truth_path)
    bound = await sandbox.start(host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    # Only now: whoever reads this line may stop us at once, and must get a clean exit.
    print(
        f"sandbox listening on http://{host}:{bound} "
        f"({config.instances} instances; seeds: {', '.join(sandbox.seeds)})",
        flush=True,
    )
    try:
        await stop.wait()
    finally:
        await sandbox.stop()
