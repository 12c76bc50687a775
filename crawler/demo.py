"""`fediscope demo`: sandbox + crawl + analyze + serve, all on loopback, in one command.

The sandbox runs in its own process (so it and the crawler each get a core), the crawl goes
through `--via` with the default politeness rules, and the result is analysed and served by
Datasette. The database is rebuilt from scratch each time; the sandbox's ground truth is written
next to it, so anyone can check the crawl against it.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from crawler.engine import CrawlSettings, crawl

_LISTENING = re.compile(r"listening on http://([\d.]+):(\d+) .*seeds: (.+)\)")


class DemoError(RuntimeError):
    """The demo could not be built."""


@dataclass
class RunningSandbox:
    address: str
    seeds: list[str]


@contextlib.contextmanager
def sandbox_process(instances: int, seed: int, truth: Path) -> Iterator[RunningSandbox]:
    """A sandbox in a child process on a free loopback port."""
    command = [
        sys.executable,
        "-m",
        "crawler.sandbox",
        "--port",
        "0",
        "--instances",
        str(instances),
        "--seed",
        str(seed),
        "--truth",
        str(truth),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = _LISTENING.search(line)
        if not match:
            raise DemoError(f"the sandbox did not start: {line.strip() or 'no output'}")
        host, port, seeds = match.groups()
        yield RunningSandbox(f"{host}:{port}", [s.strip() for s in seeds.split(",")])
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def build(instances: int, seed: int, db: str) -> Path:
    """Build the demo database (sandbox, crawl, analyze); return its path."""
    from graph.analyze import analyze

    path = Path(db)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, Path(f"{db}-wal"), Path(f"{db}-shm")):
        stale.unlink(missing_ok=True)
    truth = path.with_suffix(".truth.json")
    started = time.monotonic()
    with sandbox_process(instances, seed, truth) as sandbox:
        print(
            f"sandbox: {instances} instances on {sandbox.address}, seeds {', '.join(sandbox.seeds)}"
        )
        summary = crawl(
            CrawlSettings(
                db=str(path),
                seeds=sandbox.seeds,
                via=sandbox.address,
                concurrency=128,
                progress=sys.stderr.isatty(),
            )
        )
    statuses = ", ".join(f"{n} {s}" for s, n in summary.statuses.most_common())
    print(f"crawl: {summary.visited} domains visited ({statuses}) in {summary.seconds:.0f} s")
    for line in analyze(str(path)).lines():
        print(f"analyze {line}")
    print(f"built {path} in {time.monotonic() - started:.0f} s (ground truth: {truth})")
    return path


def demo(
    instances: int = 1000,
    seed: int = 1,
    db: str = "data/demo.db",
    port: int = 8001,
    serve: bool = True,
) -> None:
    """Build the demo database, then serve it with Datasette unless `serve` is False."""
    path = build(instances, seed, db)
    if serve:
        from crawler.serve import serve as run_serve

        run_serve(str(path), host="127.0.0.1", port=port)
