"""Tiny hand-built databases for the graph unit tests.

The store's real schema in memory, rows written directly, so a test runs one analysis step on a
handful of rows in milliseconds and asserts on figures computed by hand. (Mutation runs of
graph/ run these tests once per mutant: they must stay this cheap.)
"""

from __future__ import annotations

import sqlite3
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from crawler.blocks import digest_of
from crawler.store.schema import open_database

METADATA = Path(__file__).resolve().parent.parent / "data" / "metadata.yml"


def memory_database() -> sqlite3.Connection:
    """An empty fediscope database in memory (every table, view and trigger of the schema)."""
    return open_database(":memory:").conn


def domain(connection: sqlite3.Connection, name: str) -> int:
    """The id of `name` in `domains`, added with the next free id when new."""
    found = connection.execute("SELECT id FROM domains WHERE name = ?", (name,)).fetchone()
    if found:
        return int(found[0])
    (largest,) = connection.execute("SELECT coalesce(max(id), 0) FROM domains").fetchone()
    connection.execute("INSERT INTO domains (id, name) VALUES (?, ?)", (largest + 1, name))
    return int(largest) + 1


def crawl(
    connection: sqlite3.Connection,
    crawl_id: int,
    started: str = "2026-01-05T10:00:00Z",
    **values: Any,
) -> None:
    """A row of `crawls` (finished an hour after it started unless told)."""
    values = {"finished_at": started.replace("T10:", "T11:"), "status": "finished", **values}
    columns = ["id", "started_at", *values]
    connection.execute(
        f"INSERT INTO crawls ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        (crawl_id, started, *values.values()),
    )


def instance(connection: sqlite3.Connection, host: str, **values: Any) -> None:
    """A row of `instances` for `host` (alive unless told), with its domain id."""
    values = {"status": "alive", "domain_id": domain(connection, host), **values}
    columns = ["domain", *values]
    connection.execute(
        f"INSERT INTO instances ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        (host, *values.values()),
    )


def stats(
    connection: sqlite3.Connection, host: str, crawl_id: int, status: str = "alive", **values: Any
) -> None:
    """One observation of `host` in a crawl (a row of the `instance_stats` view)."""
    columns = ["domain", "crawl_id", "status", *values]
    connection.execute(
        f"INSERT INTO instance_stats ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' * len(columns))})",
        (host, crawl_id, status, *values.values()),
    )


def rule(
    connection: sqlite3.Connection,
    blocker: str,
    pattern: str,
    severity: str = "suspend",
    *,
    kind: str = "clear",
    blocked: str | None = None,
    digest: str | None = None,
    raw: str | None = None,
    active: int = 1,
) -> None:
    """An active block rule; a clear rule blocks `pattern` by name unless `blocked` says."""
    if kind == "clear" and blocked is None:
        blocked = pattern
    connection.execute(
        "INSERT INTO blocks (blocker, blocked, blocked_pattern, blocked_digest, kind, severity, "
        "severity_raw, first_crawl, last_crawl, active) VALUES (?, ?, ?, ?, ?, ?, ?, 1, 1, ?)",
        (blocker, blocked, pattern, digest, kind, severity, raw or severity, active),
    )


def digest_rule(
    connection: sqlite3.Connection, blocker: str, name: str, severity: str = "suspend"
) -> None:
    """A masked rule published with the digest of `name` (Mastodon's obfuscated entries)."""
    masked = name[0] + "*" * (len(name) - 2) + name[-1]
    rule(connection, blocker, masked, severity, kind="masked", digest=digest_of(name))


def peer(
    connection: sqlite3.Connection,
    source: str,
    target: str,
    first: int = 1,
    removed: int | None = None,
) -> None:
    """A peer edge: `source` lists `target` from crawl `first` until `removed`."""
    connection.execute(
        "INSERT INTO peer_intervals VALUES (?, ?, ?, ?)",
        (domain(connection, source), domain(connection, target), first, removed),
    )


def table(connection: sqlite3.Connection, sql: str, *params: Any) -> list[tuple]:
    """The rows of a query, as tuples."""
    return [tuple(row) for row in connection.execute(sql, params)]


def by_key(connection: sqlite3.Connection, sql: str, *params: Any) -> dict[Any, dict[str, Any]]:
    """The rows of a query as dicts (column name -> value) keyed by their first column."""
    cursor = connection.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return {row[0]: dict(zip(names, row, strict=True)) for row in cursor}


@cache
def documented_tables() -> dict[str, list[str]]:
    """table -> its columns in order, as data/metadata.yml describes them to the site's readers."""
    metadata = yaml.load(METADATA.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    tables = metadata["databases"]["fediverse"]["tables"]
    return {name: list(table.get("columns", {})) for name, table in tables.items()}


def assert_documented(connection: sqlite3.Connection, *tables: str) -> None:
    """Each table exists under its exact name with exactly the documented columns, in order."""
    stored = {
        name
        for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
        )
    }
    for name in tables:
        assert name in stored, f"{name} was not built under that name"
        got = [row[1] for row in connection.execute(f"PRAGMA table_info({name})")]
        assert got == documented_tables()[name], name
