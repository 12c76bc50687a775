"""The benchmark's fetch floor (scripts/fetch_floor.py) on a hand-built crawl log: every logged
request replayed once, per-host gaps and Crawl-delay kept, and a discovered host started only
once the host that named it has answered that kind of list."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib.util
import itertools
import sqlite3
import time
import zlib
from pathlib import Path

import pytest
from aiohttp import web

REPO = Path(__file__).resolve().parent.parent
GAP = 0.05
DELAY = 0.3  # b.test's Crawl-delay
PEERS_LATENCY = 0.2


def load_floor():
    spec = importlib.util.spec_from_file_location("fetch_floor", REPO / "scripts/fetch_floor.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


floor = load_floor()

#: host -> the crawl's requests, in order.
LOG = {
    "a.test": ["/robots.txt", "/.well-known/nodeinfo", "/api/v1/instance/peers", "/about"],
    "b.test": ["/robots.txt", "/x", "/y"],
    "c.test": ["/robots.txt", "/z"],
    "d.test": ["/robots.txt"],
    "e.test": ["/robots.txt"],
}
ROBOTS = {"b.test": f"User-agent: *\nCrawl-delay: {DELAY}\n"}
#: host -> (discovered_via, discovered_by); d and e name each other (a loop).
FOUND = {
    "b.test": ("a.test", "peer"),
    "c.test": ("b.test", "block"),  # b has no block list: c waits for b's requests to end
    "d.test": ("e.test", "peer"),
    "e.test": ("d.test", "peer"),
}


def build_log(path: Path) -> None:
    connection = sqlite3.connect(path)
    connection.executescript(
        "CREATE TABLE instances (domain TEXT PRIMARY KEY, discovered_via TEXT, discovered_by TEXT);"
        "CREATE TABLE document_log (id INTEGER PRIMARY KEY, crawl_id INTEGER, method TEXT, "
        "url TEXT, body_sha256 TEXT);"
        "CREATE TABLE document_bodies (sha256 TEXT PRIMARY KEY, body BLOB);"
    )
    for host in LOG:
        via, how = FOUND.get(host, (None, None))
        connection.execute("INSERT INTO instances VALUES (?, ?, ?)", (host, via, how))
    for host, paths in LOG.items():
        for path_ in paths:
            digest = None
            if path_ == "/robots.txt" and host in ROBOTS:
                body = ROBOTS[host].encode()
                digest = hashlib.sha256(body).hexdigest()
                connection.execute(
                    "INSERT INTO document_bodies VALUES (?, ?)", (digest, zlib.compress(body))
                )
            connection.execute(
                "INSERT INTO document_log (crawl_id, method, url, body_sha256) "
                "VALUES (1, 'GET', ?, ?)",
                (f"https://{host}{path_}", digest),
            )
    connection.commit()
    connection.close()


@pytest.fixture
async def server():
    seen: list[tuple[str, str, float, float]] = []  # host, path, asked at, answered at

    async def handle(request: web.Request) -> web.Response:
        asked = time.monotonic()
        if request.path == "/api/v1/instance/peers":
            await asyncio.sleep(PEERS_LATENCY)
        seen.append((request.host, request.path, asked, time.monotonic()))
        return web.Response(text=ROBOTS.get(request.host, "{}"))

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield f"127.0.0.1:{port}", seen
    await runner.cleanup()


def arguments(db: Path, via: str, **changes) -> argparse.Namespace:
    values = dict(
        db=str(db), via=via, crawl=1, concurrency=8, min_gap=GAP, burst=1, timeout=10.0,
        no_discovery=False, park_after=2.0,
    )  # fmt: skip
    values.update(changes)
    return argparse.Namespace(**values)


def by_host(seen):
    hosts: dict[str, list[tuple[str, float, float]]] = {}
    for host, path_, asked, answered in seen:
        hosts.setdefault(host, []).append((path_, asked, answered))
    return hosts


async def test_the_floor_replays_the_log_with_gaps_and_discovery(tmp_path, server):
    via, seen = server
    build_log(tmp_path / "log.db")
    result = await floor.replay(arguments(tmp_path / "log.db", via))
    assert result["requests"] == sum(map(len, LOG.values())) and result["hosts"] == len(LOG)
    hosts = by_host(seen)
    assert {host: [p for p, _, _ in steps] for host, steps in hosts.items()} == LOG
    # One host's requests keep the gap; b's Crawl-delay from its stored robots.txt.
    for host, steps in hosts.items():
        gap = DELAY if host in ROBOTS else GAP
        for (_, _, answered), (_, asked, _) in itertools.pairwise(steps):
            assert asked - answered >= gap - 0.01, host
    # b starts once a has answered its peer list, not before.
    peers_answered = next(t for p, _, t in hosts["a.test"] if p == "/api/v1/instance/peers")
    assert hosts["b.test"][0][1] >= peers_answered - 0.01
    # c was named by b's block list, which b does not have: c waits for all of b.
    assert hosts["c.test"][0][1] >= hosts["b.test"][-1][2] - 0.01
    # d and e name each other: a loop waits for nobody.
    first = min(asked for _, asked, _ in (steps[0] for steps in hosts.values()))
    assert hosts["d.test"][0][1] - first < PEERS_LATENCY
    assert hosts["e.test"][0][1] - first < PEERS_LATENCY


async def test_without_discovery_every_host_starts_at_once(tmp_path, server):
    via, seen = server
    build_log(tmp_path / "log.db")
    await floor.replay(arguments(tmp_path / "log.db", via, no_discovery=True))
    hosts = by_host(seen)
    peers_asked = next(t for p, t, _ in hosts["a.test"] if p == "/api/v1/instance/peers")
    assert hosts["b.test"][0][1] < peers_asked + PEERS_LATENCY / 2
    assert hosts["c.test"][0][1] < hosts["b.test"][-1][1]


def test_a_discovery_loop_is_broken(tmp_path):
    build_log(tmp_path / "log.db")
    found = floor.load_discoverers(str(tmp_path / "log.db"))
    assert found["b.test"] == ("a.test", "peer") and found["c.test"] == ("b.test", "block")
    # d and e name each other: one of the two edges goes, so one starts at once.
    assert len({"d.test", "e.test"} & set(found)) == 1
