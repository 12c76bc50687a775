"""What the family probes cost on the full-scale sandbox world, without a full crawl.

    .venv/bin/python scripts/probe_cost.py            # the scale profile (100k names), ~1 min
    .venv/bin/python scripts/probe_cost.py --quick    # 2,000 instances

Probes (crawler/adapters/probe.py) and NodeInfo2 run only when NodeInfo gave no family: the
well-known document was missing, or NodeInfo named no software. So the crawl's whole probe cost
is spent on the hosts whose well-known NodeInfo is missing or nameless; this visits exactly
those with the real crawler (`visit_domain`, polite fetch layer, robots.txt) against the
sandbox and sums `probe_requests`. Reachability from the seeds is not checked, so the total is
an upper bound of what a crawl spends (at full scale nearly every such host is reachable).
`scripts/bench.py` reports the same counter (`crawls.probe_requests`) for a real crawl.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import time

from crawler.domains import SANDBOX
from crawler.fetch import Fetcher, FetchSettings
from crawler.sandbox import Sandbox, SandboxConfig
from crawler.sandbox.model import Host
from crawler.sandbox.probes import nameless_variant, without_nodeinfo
from crawler.visit import visit_domain


def reaches_probe_stage(h: Host) -> bool:
    """The well-known NodeInfo is missing (404) or names no software."""
    missing = h.failure in ("no_nodeinfo", "spa_html") or "fallback_only" in h.quirks
    return missing or nameless_variant(h) is not None or without_nodeinfo(h)


def kind_of(h: Host) -> str:
    roles = sorted(q for q in h.quirks if q.startswith(("nameless", "nodeinfo", "fallback")))
    return h.failure or ",".join(roles)


async def measure(config: SandboxConfig) -> None:
    started = time.perf_counter()
    box = Sandbox(config)
    port = await box.start()
    hosts = [h for h in box.world.hosts if reaches_probe_stage(h)]
    print(
        f"world built in {time.perf_counter() - started:.1f} s; {len(hosts)} hosts reach the"
        " probe stage (NodeInfo missing at the well-known path, or nameless)"
    )
    settings = FetchSettings(
        user_agent="fediscope-probe-cost",
        via=f"127.0.0.1:{port}",
        min_gap=0.0,
        domain_policy=SANDBOX,
    )
    outcomes: collections.Counter[tuple[str, str, str]] = collections.Counter()
    probes: collections.Counter[str] = collections.Counter()
    requests: collections.Counter[str] = collections.Counter()
    try:
        async with Fetcher(settings) as fetcher:

            async def visit(h: Host) -> None:
                obs = await visit_domain(fetcher, h.domain, SANDBOX)
                kind = kind_of(h)
                outcomes[(kind, obs.status, obs.family or "-")] += 1
                probes[kind] += obs.probe_requests
                requests[kind] += obs.requests

            await asyncio.gather(*(visit(h) for h in hosts))
    finally:
        await box.stop()
    for (kind, status, family), n in sorted(outcomes.items()):
        print(f"{kind:24} {status:8} {family:11} hosts={n}")
    for kind in sorted(probes):
        print(f"{kind:24} probe_requests={probes[kind]:<5} requests={requests[kind]}")
    print(f"total probe_requests {sum(probes.values())} of {sum(requests.values())} requests")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 instances")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    config = SandboxConfig.scale(seed=args.seed)
    if args.quick:
        config.instances, config.extra_dead_names, config.max_peers = 2000, 2000, 600
    asyncio.run(measure(config))


if __name__ == "__main__":
    main()
