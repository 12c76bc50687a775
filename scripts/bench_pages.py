"""Benchmark the observatory's pages on a database (numbers for the report, never a test).

Serves DB with the real `fediscope serve` on a free loopback port, then measures:
1. time per page (median and p95 of N sequential requests after one warm-up, loopback round
   trip: Datasette's work plus local HTTP), for /, /who-blocks (HTML, JSON, CSV), /instance, the
   Atom feed, and /platforms and /map when they exist;
2. C concurrent clients for S seconds on /who-blocks, rotating over the most blocked domains:
   requests, errors, p50/p95/max latency;
3. with --browser, the full-draw time in Debian's Chromium (navigation start to the load event,
   and every chart drawn), median of 5.

    python scripts/bench_pages.py --db data/demo.db
    python scripts/bench_pages.py --db /path/fullscale.db --browser --out scripts/out/pages.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import CHROMIUM, CHROMIUM_ARGS, free_port, wait_until_serving  # noqa: E402


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def targets(db: Path, how_many: int) -> tuple[list[str], str]:
    """The most blocked domains (for who-blocks) and the largest alive server (for instance)."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        blocked = [
            r[0]
            for r in connection.execute(
                "SELECT domain FROM blocked_domains ORDER BY blockers DESC LIMIT ?", (how_many,)
            )
        ]
        (largest,) = connection.execute(
            "SELECT domain FROM instances WHERE status = 'alive' "
            "ORDER BY users_active_month DESC NULLS LAST LIMIT 1"
        ).fetchone()
    finally:
        connection.close()
    return blocked, largest


async def time_pages(base: str, paths: list[str], repeats: int) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    async with aiohttp.ClientSession() as session:
        for path in paths:
            async with session.get(base + path) as response:
                status = response.status
                await response.read()
            if status == 404 and path in ("/platforms", "/map"):
                continue
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                async with session.get(base + path) as response:
                    await response.read()
                    status = response.status
                times.append((time.perf_counter() - started) * 1000)
            results[path] = {
                "status": status,
                "median_ms": round(statistics.median(times), 1),
                "p95_ms": round(quantile(times, 0.95), 1),
                "max_ms": round(max(times), 1),
            }
            print(
                f"{path[:70]:70} {status} median {results[path]['median_ms']:8.1f} ms", flush=True
            )
    return results


async def load(base: str, domains: list[str], clients: int, seconds: float) -> dict[str, object]:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=60)

    async def client(number: int, session: aiohttp.ClientSession) -> None:
        i = number
        while time.monotonic() < deadline:
            url = f"{base}/who-blocks?domain={domains[i % len(domains)]}"
            i += clients
            started = time.perf_counter()
            try:
                async with session.get(url) as response:
                    await response.read()
                    if response.status != 200:
                        errors[str(response.status)] = errors.get(str(response.status), 0) + 1
            except (TimeoutError, aiohttp.ClientError) as error:
                errors[type(error).__name__] = errors.get(type(error).__name__, 0) + 1
                continue
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.monotonic()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(client(n, session) for n in range(clients)))
    elapsed = time.monotonic() - started
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": len(latencies) + sum(errors.values()),
        "errors": errors,
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(quantile(latencies, 0.50), 1) if latencies else None,
        "p95_ms": round(quantile(latencies, 0.95), 1) if latencies else None,
        "max_ms": round(max(latencies), 1) if latencies else None,
    }


async def browser_times(base: str, paths: list[str], repeats: int = 5) -> dict[str, float]:
    from playwright.async_api import async_playwright

    results: dict[str, float] = {}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        await context.route(
            lambda url: not url.startswith("http://127.0.0.1"), lambda route: route.abort()
        )
        page = await context.new_page()
        for path in paths:
            times = []
            for _ in range(repeats):
                response = await page.goto(base + path, wait_until="load")
                if response is None or response.status != 200:
                    break
                await page.wait_for_function(
                    "Array.from(document.querySelectorAll('.fs-chart'))"
                    ".every(c => c.dataset.drawn)",
                    timeout=60000,
                )
                times.append(await page.evaluate("performance.now()"))  # since navigation
            if times:
                results[path] = round(statistics.median(times), 1)
                print(f"browser {path[:62]:62} full draw {results[path]:8.1f} ms", flush=True)
        await browser.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--browser", action="store_true", help="also time full draws in Chromium")
    parser.add_argument("--out", default=None, help="write the numbers as JSON here")
    args = parser.parse_args()
    db = Path(args.db).resolve()
    blocked, largest = targets(db, 50)
    top = blocked[0]
    name = db.stem
    paths = [
        "/",
        f"/who-blocks?domain={top}",
        f"/who-blocks.json?domain={top}",
        f"/who-blocks.csv?domain={top}",
        f"/instance?domain={largest}",
        f"/instance?domain={top}",
        f"/{name}/block_changes.atom?domain={top}",
        "/platforms",
        "/map",
    ]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    (REPO / "scripts" / "out").mkdir(exist_ok=True)
    log = open(REPO / "scripts" / "out" / "bench_pages_serve.log", "w")  # noqa: SIM115
    server = subprocess.Popen(
        [sys.executable, "-m", "crawler", "serve", "--db", str(db), "--port", str(port)],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    report: dict[str, object] = {
        "db": str(db),
        "db_bytes": db.stat().st_size,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, shared with other agents",
        "load_average_before": os.getloadavg(),
    }
    try:
        started = time.monotonic()
        wait_until_serving(base, server, seconds=600)
        report["startup_seconds"] = round(time.monotonic() - started, 1)
        report["pages"] = asyncio.run(time_pages(base, paths, args.repeats))
        report["load"] = asyncio.run(load(base, blocked, args.clients, args.seconds))
        print("load:", json.dumps(report["load"]), flush=True)
        if args.browser:
            drawn = [p for p in paths if p in report["pages"] and ".json" not in p]
            drawn = [p for p in drawn if ".csv" not in p and ".atom" not in p]
            report["browser_full_draw_ms"] = asyncio.run(browser_times(base, drawn))
    finally:
        server.terminate()
        server.wait(10)
        log.close()
    report["load_average_after"] = os.getloadavg()
    text = json.dumps(report, indent=2)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
