"""Benchmark: the hostile hosts among 2,000 ordinary ones, against a control crawl without them.

    .venv/bin/python scripts/bench_hostile.py [--instances 2000] [--timeout 30]

Two crawls of the same sandbox world (default politeness and timeouts), each in its own process:
the control is seeded with the world's seeds only; the hostile run adds every
`*.hostile.test` host (gzip bomb, endless body, one byte per second, redirect loops and
redirects to private addresses, 100,000-deep nesting, 429 storms, ...). Reports wall time and
peak RSS of both, and for every hostile host how long its visit took against the configured
timeout: the hostile hosts must cost at most their timeouts, and the crawl as a whole must not
grow by more than the longest of them. Numbers go to stdout and scripts/out/bench-hostile-*.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from crawler.sandbox.hostile import HostileHosts
from crawler.sandbox.process import sandbox_process

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "scripts" / "out"


def crawl(db: Path, via: str, seeds: list[str], timeout: float) -> tuple[float, int]:
    """(wall seconds, peak RSS MiB) of one `fediscope crawl` process."""
    seed_args = [a for s in seeds for a in ("--seed", s)]
    command = [
        sys.executable, "-m", "crawler", "crawl", "--db", str(db), "--via", via,
        "--timeout", str(timeout), "--no-progress", *seed_args,
    ]  # fmt: skip
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    if status:
        raise SystemExit(f"crawl failed with status {status}")
    return time.perf_counter() - started, usage.ru_maxrss // 1024


def hostile_visits(db: Path) -> list[dict[str, object]]:
    """Per hostile host: status, reason, requests and how long its visit took."""
    connection = sqlite3.connect(db)
    rows = connection.execute(
        "SELECT i.domain, i.status, i.status_reason, count(l.id), min(l.fetched_at), "
        "max(l.fetched_at), max(l.elapsed) FROM instances i "
        "LEFT JOIN document_log l ON l.domain = i.domain "
        "WHERE i.domain LIKE '%.hostile.test' GROUP BY i.domain ORDER BY i.domain"
    ).fetchall()
    connection.close()
    visits = []
    for domain, status, reason, requests, first, last, longest in rows:
        seconds = None
        if first and last:
            start = datetime.fromisoformat(first.replace("Z", "+00:00"))
            end = datetime.fromisoformat(last.replace("Z", "+00:00"))
            seconds = round((end - start).total_seconds() + (longest or 0), 1)
        visits.append(
            {
                "domain": domain,
                "status": status,
                "reason": reason,
                "requests": requests,
                "visit_seconds": seconds,
            }
        )
    return visits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="fediscope-hostile-"))
    report: dict[str, object] = {
        "instances": args.instances,
        "timeout_seconds": args.timeout,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    arguments = ["--instances", str(args.instances), "--seed", str(args.seed), "--hostile"]
    with sandbox_process(arguments, cwd=REPO) as running:
        via, seeds = running.address, running.seeds
        hostile = sorted(HostileHosts().cases)
        control_seconds, control_rss = crawl(workdir / "control.db", via, seeds, args.timeout)
        hostile_seconds, hostile_rss = crawl(
            workdir / "hostile.db", via, seeds + hostile, args.timeout
        )
    visits = hostile_visits(workdir / "hostile.db")
    slowest = max((v["visit_seconds"] or 0 for v in visits), default=0)
    report.update(
        control_seconds=round(control_seconds, 1),
        control_peak_rss_mib=control_rss,
        hostile_seconds=round(hostile_seconds, 1),
        hostile_peak_rss_mib=hostile_rss,
        extra_seconds=round(hostile_seconds - control_seconds, 1),
        slowest_hostile_visit_seconds=slowest,
        hostile_hosts=visits,
    )
    OUT.mkdir(exist_ok=True)
    path = OUT / f"bench-hostile-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(report, indent=2))
    for key, value in report.items():
        if key != "hostile_hosts":
            print(f"{key:32} {value}")
    for visit in visits:
        print(
            f"  {visit['domain']:60} {visit['status']:12} {visit['reason'] or '':20} "
            f"{visit['requests']:3} requests {visit['visit_seconds']} s"
        )
    print(f"written to {path}")


if __name__ == "__main__":
    main()
