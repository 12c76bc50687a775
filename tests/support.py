"""Shared test helpers: loopback servers and crawls routed through `--via`.

No test talks to anything beyond 127.0.0.1: crawls use `via`, and the fetch layer never
resolves names in that mode.
"""

from __future__ import annotations

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
