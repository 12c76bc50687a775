"""Benchmark the observatory's pages on a database (numbers for the report, never a test).

Serves DB with the real `fediscope serve` on a free loopback port, then measures:
1. time per page (median and p95 of N sequential requests after one warm-up, loopback round
   trip: Datasette's work plus local HTTP), for /, /who-blocks (HTML, JSON, CSV), /instance, the
   Atom feed, and /platforms and /map when they exist;
2. C concurrent clients for S seconds on /who-blocks, rotating over the most blocked domains:
   requests, errors, p50/p95/max latency;
3. with --browser, the full-draw time in Debian's Chromium (navigation start to the load event,
   and every chart drawn), median of 5;
4. with --story, the day a news story links the observatory: C clients for S seconds, 90% of
   requests over the 20 URLs a story would link (home, /platforms and its chart CSVs, 10
   who-blocks answers, 5 server pages, the map, a feed: "hot") and 10% over 1,000 other
   who-blocks lookups ("tail"); errors, hot and tail p95, requests/s. Then `analyze` runs on
   the served database and the first /platforms request after it is timed (the cache was just
   dropped). --code DIR serves with the fediscope checkout in DIR (e.g. an older commit
   extracted with `git archive`), for before/after figures; analyze runs from it too.

    python scripts/bench_pages.py --db data/demo.db
    python scripts/bench_pages.py --db /path/fullscale.db --browser --out scripts/out/pages.json
    python scripts/bench_pages.py --db /tmp/copy.db --story --clients 64 --seconds 60
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


async def _timed_get(
    session: aiohttp.ClientSession, url: str, errors: dict[str, int]
) -> float | None:
    """Milliseconds to read `url` in full; None (counted in `errors`) when no answer came.

    A non-200 answer still counts as a latency, and its status as an error.
    """
    started = time.perf_counter()
    try:
        async with session.get(url) as response:
            await response.read()
            if response.status != 200:
                errors[str(response.status)] = errors.get(str(response.status), 0) + 1
    except (TimeoutError, aiohttp.ClientError) as error:
        errors[type(error).__name__] = errors.get(type(error).__name__, 0) + 1
        return None
    return (time.perf_counter() - started) * 1000


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
            took = await _timed_get(session, url, errors)
            if took is not None:
                latencies.append(took)

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


def story_urls(db: Path, name: str) -> tuple[list[str], list[str]]:
    """(the 20 URLs a story links, 1,000 other who-blocks lookups) of the database."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        blocked = [
            r[0]
            for r in connection.execute(
                "SELECT domain FROM blocked_domains ORDER BY blockers DESC, domain LIMIT 1010"
            )
        ]
        servers = [
            r[0]
            for r in connection.execute(
                "SELECT domain FROM instances WHERE status = 'alive' "
                "ORDER BY users_active_month DESC NULLS LAST, domain LIMIT 5"
            )
        ]
        others = [
            r[0]
            for r in connection.execute(
                "SELECT domain FROM instances ORDER BY domain_id LIMIT 2000"
            )
        ]
    finally:
        connection.close()
    hot = ["/", "/platforms", "/platforms/platform-share.csv", "/platforms/most-blocked.csv"]
    hot += [f"/who-blocks?domain={d}" for d in blocked[:10]]
    hot += [f"/instance?domain={d}" for d in servers]
    hot += ["/map", f"/{name}/block_changes.atom?domain={blocked[0]}"]
    pool = [d for d in blocked[10:] + others if d not in blocked[:10]]
    tail = [f"/who-blocks?domain={d}" for d in dict.fromkeys(pool)][:1000]
    return hot[:20], tail


async def story_load(
    base: str, hot: list[str], tail: list[str], clients: int, seconds: float
) -> dict[str, object]:
    """90% hot, 10% tail, by a fixed seeded sequence (deterministic request mix)."""
    import random

    latencies: dict[str, list[float]] = {"hot": [], "tail": []}
    errors: dict[str, int] = {}
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=60)

    async def client(number: int, session: aiohttp.ClientSession) -> None:
        pick = random.Random(number)
        while time.monotonic() < deadline:
            kind = "tail" if pick.random() < 0.1 else "hot"
            path = pick.choice(tail if kind == "tail" else hot)
            took = await _timed_get(session, base + path, errors)
            if took is not None:
                latencies[kind].append(took)

    started = time.monotonic()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(client(n, session) for n in range(clients)))
    elapsed = time.monotonic() - started
    done = len(latencies["hot"]) + len(latencies["tail"])
    report: dict[str, object] = {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": done + sum(errors.values()),
        "errors": errors,
        "requests_per_second": round(done / elapsed, 1),
    }
    for kind, values in latencies.items():
        report[f"{kind}_requests"] = len(values)
        report[f"{kind}_p50_ms"] = round(quantile(values, 0.50), 1) if values else None
        report[f"{kind}_p95_ms"] = round(quantile(values, 0.95), 1) if values else None
    return report


async def first_after_analyze(base: str, db: Path, code: Path) -> dict[str, float]:
    """Run analyze on the served database, then time the first /platforms request."""
    async with aiohttp.ClientSession() as session:
        async with session.get(base + "/platforms") as response:
            await response.read()
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "crawler", "analyze", "--db", str(db)],
            cwd=code, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        analyze_seconds = time.perf_counter() - started
        started = time.perf_counter()
        async with session.get(base + "/platforms") as response:
            await response.read()
            status = response.status
        first = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        async with session.get(base + "/platforms") as response:
            await response.read()
        second = (time.perf_counter() - started) * 1000
    return {
        "analyze_seconds": round(analyze_seconds, 1),
        "status": status,
        "first_platforms_ms": round(first, 1),
        "second_platforms_ms": round(second, 1),
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
    parser.add_argument("--story", action="store_true", help="the news-story mix (see above)")
    parser.add_argument("--code", default=str(REPO), help="fediscope checkout to serve with")
    args = parser.parse_args()
    code = Path(args.code).resolve()
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
        cwd=code, stdout=log, stderr=subprocess.STDOUT,
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
        if args.story:
            hot, tail = story_urls(db, name)
            report["story_urls"] = hot
            report["story"] = asyncio.run(story_load(base, hot, tail, args.clients, args.seconds))
            print("story:", json.dumps(report["story"]), flush=True)
            report["after_analyze"] = asyncio.run(first_after_analyze(base, db, code))
            print("after analyze:", json.dumps(report["after_analyze"]), flush=True)
        else:
            report["pages"] = asyncio.run(time_pages(base, paths, args.repeats))
            report["load"] = asyncio.run(load(base, blocked, args.clients, args.seconds))
            print("load:", json.dumps(report["load"]), flush=True)
        if args.browser and "pages" in report:
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
