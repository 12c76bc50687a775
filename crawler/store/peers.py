"""Peer edges as validity intervals: only what changed is written.

For a source whose list was read, the open edges (`removed_crawl IS NULL`) are compared with the
new list: additions are inserted in target order (appends to the clustered B-tree, the fast
path), removals get `removed_crawl`. A source whose list could not be read keeps its edges, and
a list read only for its newest names (`add_peers`) adds edges and closes none.
"""

from __future__ import annotations

import sqlite3

import orjson


def replace_peers(
    connection: sqlite3.Connection, source_id: int, target_ids: list[int], crawl_id: int
) -> tuple[int, int]:
    """Make `target_ids` the source's current peers; return (added, removed) counts."""
    old = {
        row[0]
        for row in connection.execute(
            "SELECT target_id FROM peer_intervals WHERE source_id = ? AND removed_crawl IS NULL",
            (source_id,),
        )
    }
    new = set(target_ids)
    added = sorted(new - old)
    removed = old - new
    if added:
        # One statement per list: SQLite expands the JSON array in C, which is several times
        # faster than binding each row from Python.
        connection.execute(
            "INSERT OR REPLACE INTO peer_intervals (source_id, target_id, first_crawl) "
            "SELECT ?, value, ? FROM json_each(?)",
            (source_id, crawl_id, orjson.dumps(added)),
        )
    if removed:
        connection.executemany(
            "UPDATE peer_intervals SET removed_crawl = ? "
            "WHERE source_id = ? AND target_id = ? AND removed_crawl IS NULL",
            ((crawl_id, source_id, target) for target in sorted(removed)),
        )
    return len(added), len(removed)


def add_peers(
    connection: sqlite3.Connection, source_id: int, target_ids: list[int], crawl_id: int
) -> int:
    """Open edges to the targets the source does not list yet; none is closed. Returns how
    many were added."""
    old = {
        row[0]
        for row in connection.execute(
            "SELECT target_id FROM peer_intervals WHERE source_id = ? AND removed_crawl IS NULL",
            (source_id,),
        )
    }
    added = sorted(set(target_ids) - old)
    if added:
        connection.execute(
            "INSERT OR REPLACE INTO peer_intervals (source_id, target_id, first_crawl) "
            "SELECT ?, value, ? FROM json_each(?)",
            (source_id, crawl_id, orjson.dumps(added)),
        )
    return len(added)


def drop_peers(connection: sqlite3.Connection, source_id: int) -> None:
    """Forget a source's peer list entirely (the instance opted out)."""
    connection.execute("DELETE FROM peer_intervals WHERE source_id = ?", (source_id,))
