"""`fediscope demo`: sandbox + crawl + analyze + serve, all on loopback, in one command.

The sandbox runs in its own process (so it and the crawler each get a core), the crawl goes
through `--via` with the default politeness rules, and the result is analysed and served by
Datasette. With `crawls` > 1 the world is crawled once per epoch (0, 1, ...), every known server
being due again, so the database holds a history of known changes like a daily crawl would.
The database is rebuilt from scratch each time; the ground truth of the last epoch is written
next to it, so anyone can check the crawl against it. The crawl resolves the sandbox's names with
its simulated DNS (`crawler.sandbox.hosting`, built here from the same world: two shared-hosting
providers, every other host on a network of its own), so the demo has hosting to analyse.
With `quick`, the sandbox's servers ask for a hundredth of their Crawl-delays and Retry-After and
the crawl keeps 0.02 s between requests to a host and gives up on a request after 5 s: the same
database without the polite waits (tests build it so).
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from pathlib import Path

from crawler.engine import CrawlSettings, crawl
from crawler.sandbox.config import Provider, SandboxConfig
from crawler.sandbox.hosting import HostingMap, SandboxResolver
from crawler.sandbox.process import sandbox_process
from crawler.sandbox.world import World

#: What `quick` changes: the sandbox's pace (SandboxConfig.pace), the crawl's minimum gap and
#: its timeouts (the sandbox answers on loopback in milliseconds; only its hanging hosts wait
#: out a timeout, and they never answer).
QUICK_PACE = 0.01
QUICK_MIN_GAP = 0.02
QUICK_TIMEOUTS = {"total_timeout": 5.0, "connect_timeout": 5.0, "read_timeout": 5.0}


def demo_hosting(instances: int, seed: int) -> HostingMap:
    """Simulated addresses of the demo world's hosts: one in 40 on one provider, one in 100 on
    another (the sandbox process does not rate-limit them: only the crawl's DNS knows them).
    Few, because the crawl visits the hosts of one address only a few at a time."""
    providers = [
        Provider("23.227.38.1", hosts=instances // 40),
        Provider("104.16.0.5", hosts=instances // 100),
    ]
    return HostingMap(World(SandboxConfig(instances=instances, seed=seed)), providers)


def build(instances: int, seed: int, db: str, crawls: int = 1, quick: bool = False) -> Path:
    """Build the demo database (sandbox, `crawls` crawls, analyze); return its path."""
    from graph.analyze import analyze

    path = Path(db)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, Path(f"{db}-wal"), Path(f"{db}-shm")):
        stale.unlink(missing_ok=True)
    truth = path.with_suffix(".truth.json")
    started = time.monotonic()
    hosting = demo_hosting(instances, seed)
    for epoch in range(crawls):
        last = epoch == crawls - 1
        _crawl_epoch(path, instances, seed, epoch, truth if last else None, hosting, quick)
    for line in analyze(str(path)).lines():
        print(f"analyze {line}")
    print(f"built {path} in {time.monotonic() - started:.0f} s (ground truth: {truth})")
    return path


def _crawl_epoch(
    path: Path,
    instances: int,
    seed: int,
    epoch: int,
    truth: Path | None,
    hosting: HostingMap,
    quick: bool = False,
) -> None:
    """Crawl the world at `epoch` into `path`; every server known from earlier crawls is due."""
    arguments = ["--instances", str(instances), "--seed", str(seed), "--epoch", str(epoch)]
    if quick:
        arguments += ["--pace", str(QUICK_PACE)]
    if truth is not None:
        arguments += ["--truth", str(truth)]
    with sandbox_process(arguments) as sandbox:
        print(
            f"sandbox (epoch {epoch}): {instances} instances on {sandbox.address}, "
            f"seeds {', '.join(sandbox.seeds)}"
        )
        summary = crawl(
            CrawlSettings(
                db=str(path),
                seeds=sandbox.seeds,
                via=sandbox.address,
                concurrency=128,
                progress=sys.stderr.isatty(),
                recrawl_after=timedelta(0),
                # Each epoch stands for time passing, seconds apart here: nothing the last
                # crawl read (robots.txt, fresh lists) may stand in for the changed world.
                revalidate=True,
                resolver=SandboxResolver(hosting),
                **({"min_gap": QUICK_MIN_GAP, **QUICK_TIMEOUTS} if quick else {}),
            )
        )
    statuses = ", ".join(f"{n} {s}" for s, n in summary.statuses.most_common())
    print(f"crawl: {summary.visited} domains visited ({statuses}) in {summary.seconds:.0f} s")


def demo(
    instances: int = 1000,
    seed: int = 1,
    db: str = "data/demo.db",
    port: int = 8001,
    serve: bool = True,
    crawls: int = 2,
    quick: bool = False,
) -> None:
    """Build the demo database, then serve it with Datasette unless `serve` is False."""
    path = build(instances, seed, db, crawls, quick)
    if serve:
        from crawler.serve import serve as run_serve

        run_serve(str(path), host="127.0.0.1", port=port)
