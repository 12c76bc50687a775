"""Smoke test of the benchmark: the quick profile runs end to end and reports every figure.

The numbers are not asserted (machines are shared and noisy); only that each one is there
and the crawl matched the floor's requests. A 3 s timeout, a 0.1 s gap between a host's
requests and a tenth of the servers' Crawl-delays shorten the waits (on the world's hanging
hosts, and the polite ones), which would otherwise be most of the run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIGURES = {
    "crawl_seconds",
    "crawl_peak_rss_mib",
    "analyze_seconds",
    "database_mib",
    "instances_per_second",
    "requests_per_second",
    "peer_edges_per_ingest_second",
    "floor_seconds",
    "crawl_over_floor",
    "crawl_cpu_seconds",
    "body_mib_received",
    "event_loop",
    "alive_recall",
    "sandbox_cpu_seconds_in_crawl",
    "crawl_peak_rss_mib_with_store",
    "store_cpu_seconds",
}


def test_quick_benchmark_reports_every_figure(tmp_path):
    result = subprocess.run(
        [sys.executable, "scripts/bench.py", "--quick", "--instances", "600",
         "--timeout", "3", "--min-gap", "0.1", "--pace", "0.1",
         "--keep", str(tmp_path)],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    written = result.stdout.strip().splitlines()[-1].removeprefix("written to ")
    report = json.loads(Path(written).read_text())
    Path(written).unlink()
    assert set(report) >= FIGURES
    assert report["visited"] > 1000 and report["peer_edges"] > 10_000
    assert abs(report["floor_requests"] - report["requests"]) < 0.05 * report["requests"]
    # The store process's own memory is added: the crawl printed it.
    assert report["crawl_peak_rss_mib_with_store"] > report["crawl_peak_rss_mib"]
    assert report["store_cpu_seconds"] > 0  # and its CPU, which the crawl's rusage misses
