"""Time and size of the Parquet dataset export of a database (for the full-scale one, run it
under `flock /tmp/fediscope-fullscale.lock`).

    .venv/bin/python scripts/bench_export.py --db /tmp/fullscale.db --out /tmp/fullscale-dataset

Runs, each in a child process (wall time and peak RSS): a first export into an empty directory,
`verify-dataset`, and an export again with no new crawl (what a scheduled run costs when only
the snapshot tables change). Reports the database size, the dataset's size per resource and the
SQLite-to-Parquet ratio, to stdout and scripts/out/bench_export.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "scripts" / "out"


def timed(arguments: list[str]) -> tuple[float, int, str]:
    """(wall seconds, peak RSS in MiB, stdout) of `python -m crawler ARGUMENTS`."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "crawler", *arguments], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    output = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(f"fediscope {' '.join(arguments)} failed ({status}):\n{output}")
    return time.perf_counter() - started, usage.ru_maxrss // 1024, output


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--out", required=True, help="Dataset directory (emptied first).")
    args = parser.parse_args()
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    export = ["export", "--db", args.db, "--format", "parquet", "--out", str(out)]
    first = timed(export)
    verify = timed(["verify-dataset", str(out)])
    again = timed(export)
    manifest = json.loads((out / "manifest.json").read_text())
    by_resource: dict[str, int] = {}
    for entry in manifest["files"].values():
        name = entry.get("resource", "(metadata)")
        by_resource[name] = by_resource.get(name, 0) + entry["bytes"]
    database = Path(args.db).stat().st_size
    dataset = sum(by_resource.values())
    result = {
        "database_bytes": database,
        "dataset_bytes": dataset,
        "files": len(manifest["files"]),
        "crawls": list(manifest["crawls"]),
        "rows": {name: r["rows"] for name, r in manifest["resources"].items()},
        "bytes_by_resource": dict(sorted(by_resource.items(), key=lambda item: -item[1])),
        "first_export": {"seconds": round(first[0], 1), "peak_rss_mib": first[1]},
        "verify": {"seconds": round(verify[0], 1), "peak_rss_mib": verify[1]},
        "export_again": {"seconds": round(again[0], 1), "peak_rss_mib": again[1]},
    }
    print(first[2].strip())
    print(again[2].strip())
    print(
        f"database {database / 2**20:.0f} MiB -> dataset {dataset / 2**20:.0f} MiB "
        f"in {result['files']} files ({len(result['crawls'])} crawls)"
    )
    for name, key in (("first export", "first_export"), ("verify-dataset", "verify"),
                      ("export again", "export_again")):  # fmt: skip
        print(f"{name}: {result[key]['seconds']} s, peak RSS {result[key]['peak_rss_mib']} MiB")
    for name, size in list(result["bytes_by_resource"].items())[:8]:
        print(f"  {name}: {size / 2**20:.1f} MiB, {result['rows'].get(name, '')} rows")
    OUT.mkdir(exist_ok=True)
    (OUT / "bench_export.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
