"""Shared test helpers: loopback servers and crawls routed through `--via`.

No test talks to anything beyond 127.0.0.1: crawls use `via`, and the fetch layer never
resolves names in that mode.
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import web

from crawler.engine import CrawlSettings, CrawlSummary, crawl_async

#: The data-quality flags the sandbox truth models (the count and boolean rules of its
#: contract); fediscope adds provenance flags of its own that the truth does not know.
CONTRACT_FLAGS = frozenset(
    {
        "count_from_string",
        "count_wrong_type",
        "negative_count",
        "absurd_count",
        "stats_zeroed",
        "stats_suspect",
        "bool_from_string",
        "bool_wrong_type",
        "family_from_probe",  # issue 12: the family came from an API probe, not from NodeInfo
    }
)

#: Short timeouts so failing hosts cost seconds, not minutes, in tests.
FAST = {"total_timeout": 3.0, "connect_timeout": 2.0, "read_timeout": 2.0}


@asynccontextmanager
async def serve(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> AsyncIterator[int]:
    """Serve `handler` for every path on a free loopback port; yield the port."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield port
    finally:
        await runner.cleanup()


async def crawl_via(port: int, db: Path, seeds: list[str], **overrides: Any) -> CrawlSummary:
    """Crawl the loopback server at `port` with test-friendly timing."""
    options: dict[str, Any] = {"min_gap": 0.02, "progress": False, **FAST, **overrides}
    settings = CrawlSettings(db=str(db), seeds=seeds, via=f"127.0.0.1:{port}", **options)
    return await crawl_async(settings)


def rows(db: Path, sql: str, *params: Any) -> list[dict[str, Any]]:
    connection = sqlite3.connect(db)
    connection.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in connection.execute(sql, params)]
    finally:
        connection.close()


def instance(db: Path, domain: str) -> dict[str, Any]:
    found = rows(db, "SELECT * FROM instances WHERE domain = ?", domain)
    assert found, f"{domain} not in instances"
    return found[0]


def peers_of(db: Path, domain: str) -> set[str]:
    return {r["target"] for r in rows(db, "SELECT target FROM peer_edges WHERE source = ?", domain)}


async def canned(db: Path, query: str, **params: str) -> list[dict[str, Any]]:
    """Rows of a canned query of data/metadata.yml, run by Datasette as the site runs it."""
    from datasette.app import Datasette

    from crawler.serve import data_dir, metadata_for, settings

    directory = data_dir()
    ds = Datasette(
        [str(db)],
        metadata=metadata_for(db.stem, directory),
        plugins_dir=str(directory / "plugins"),
        settings=settings(directory),
    )
    await ds.invoke_startup()
    response = await ds.client.get(
        f"/{db.stem}/{query}.json", params={**params, "_shape": "array", "_size": "max"}
    )
    assert response.status_code == 200, response.text
    return response.json()


class LeftTheMachine(OSError):
    """A connection to an address beyond loopback was attempted (and not made)."""


def loopback_only(monkeypatch: Any) -> list[object]:
    """Refuse, at the socket, every connection to an address beyond loopback; return the list
    of refused addresses. A test that feeds the crawler private or public addresses (to check
    that a guard refuses them) uses this, so that a regressed guard fails the test instead of
    sending a packet off the machine."""
    refused: list[object] = []
    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex

    def check(address: object) -> None:
        host = address[0] if isinstance(address, tuple) else None
        if host is None:
            return  # a Unix socket
        try:
            loopback = ipaddress.ip_address(str(host).split("%")[0]).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            refused.append(address)
            raise LeftTheMachine(f"test refused a connection to {address!r}")

    def guarded_connect(self: socket.socket, address: Any) -> None:
        check(address)
        return connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        check(address)
        return connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    return refused


def truth_blockers(truth) -> dict[str, set[str]]:
    """Per domain, the blockers whose rules certainly cover it, computed from the truth alone."""
    known = set(truth["instances"])
    digests = {hashlib.sha256(d.encode()).hexdigest(): d for d in known}
    result: dict[str, set[str]] = {}
    for blocker, t in truth["instances"].items():
        for rule in t["blocks"]:
            covered: set[str] = set()
            if rule["kind"] == "clear":
                covered.add(rule["blocked"])
                if t["family"] in ("mastodon", "gotosocial"):
                    covered |= {d for d in known if d.endswith("." + rule["blocked"])}
            elif rule["digest"] and rule["digest"] in digests:
                covered.add(digests[rule["digest"]])
            elif rule["kind"] == "wildcard":
                base = rule["pattern"][2:]
                covered |= {d for d in known if d == base or d.endswith("." + base)}
            for domain in covered - {blocker}:
                result.setdefault(domain, set()).add(blocker)
    return result
