"""Build a benchmark database with a history: crawl the sandbox once per epoch.

    .venv/bin/python scripts/history_db.py --out bench/fullscale.db                  # full scale
    .venv/bin/python scripts/history_db.py --quick --crawls 3 --out /tmp/hist.db      # ~2,000

The analysis of change over time, the dataset export and the pages are benchmarked on a
database that has several crawls of a changing world, as daily crawls of the real network
would give. Each epoch is served by a fresh sandbox process (`--epoch N`), and every server
known from earlier crawls is due again (`--recrawl-after 0`). Prints and writes each crawl's
wall time and peak RSS to scripts/out/history-*.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench import OUT, REPO, sandbox_arguments, timed

from crawler.sandbox.process import sandbox_process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="database to (re)build")
    parser.add_argument("--crawls", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="~2,000 instances")
    parser.add_argument("--concurrency", type=int, default=512)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    db = Path(args.out)
    db.parent.mkdir(parents=True, exist_ok=True)
    for stale in db.parent.glob(db.name + "*"):
        stale.unlink()
    timeout = "10" if args.quick else "30"
    report: dict[str, object] = {"profile": "quick" if args.quick else "full", "crawls": []}
    for epoch in range(args.crawls):
        with sandbox_process([*sandbox_arguments(args), "--epoch", str(epoch)], cwd=REPO) as box:
            seeds = [a for s in box.seeds for a in ("--seed", s)]
            seconds, rss, output = timed(
                [sys.executable, "-m", "crawler", "crawl", "--db", str(db), "--via", box.address,
                 "--concurrency", str(args.concurrency), "--timeout", timeout,
                 "--recrawl-after", "0", "--revalidate", "--no-progress", *seeds]
            )  # fmt: skip
        print(f"epoch {epoch}: {seconds:.0f} s, {rss} MiB\n{output.strip()}", flush=True)
        report["crawls"].append({"epoch": epoch, "seconds": round(seconds, 1), "peak_rss_mib": rss})
    report["database_mib"] = round(db.stat().st_size / 2**20, 1)
    OUT.mkdir(exist_ok=True)
    path = OUT / f"history-{report['profile']}-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
