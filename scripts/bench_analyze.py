"""Benchmark `fediscope analyze` on an existing database: total and per-step time and memory.

    .venv/bin/python scripts/bench_analyze.py --db /tmp/fullscale.db --runs 3

Each run is its own child process (`fediscope analyze`), so its peak RSS is its own; the steps'
lines carry their time and the process's peak RSS after each step. The database is analysed in
place (use a copy of a shared one). Prints medians over the runs and writes them to
scripts/out/bench-analyze-*.json. Run full-scale databases under
`flock /tmp/fediscope-fullscale.lock`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "scripts" / "out"
STEP = re.compile(r"^(\w+): (.*) \(([\d.]+) s, peak RSS (\d+) MB\)$")


def run_once(db: str) -> tuple[float, int, dict[str, tuple[float, int, str]]]:
    """(wall seconds, peak RSS MiB, {step: (seconds, peak RSS MB after it, what)})."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "crawler", "analyze", "--db", db],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    output = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"analyze failed ({status}):\n{output}")
    steps = {}
    for line in output.splitlines():
        found = STEP.match(line.strip())
        if found:
            name, what, step_seconds, rss = found.groups()
            steps[name] = (float(step_seconds), int(rss), what)
    return seconds, usage.ru_maxrss // 1024, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = [run_once(args.db) for _ in range(args.runs)]
    names = list(runs[0][2])
    result = {
        "db": args.db,
        "db_mib": round(Path(args.db).stat().st_size / 2**20),
        "runs": args.runs,
        "cpus": os.cpu_count(),
        "wall_seconds_median": round(statistics.median(r[0] for r in runs), 2),
        "wall_seconds_all": [round(r[0], 2) for r in runs],
        "peak_rss_mib_max": max(r[1] for r in runs),
        "steps": {
            name: {
                "seconds_median": round(statistics.median(r[2][name][0] for r in runs), 2),
                "peak_rss_mb_after": max(r[2][name][1] for r in runs),
                "built": runs[-1][2][name][2],
            }
            for name in names
        },
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    OUT.mkdir(exist_ok=True)
    path = OUT / f"bench-analyze-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(result, indent=2))
    print(
        f"analyze: median {result['wall_seconds_median']} s over {args.runs} runs, "
        f"peak RSS {result['peak_rss_mib_max']} MiB"
    )
    for name, step in result["steps"].items():
        seconds, rss = step["seconds_median"], step["peak_rss_mb_after"]
        print(f"  {name:<18}{seconds:>8.2f} s  peak RSS {rss:>6} MB  {step['built']}")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
