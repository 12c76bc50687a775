"""The imported IP-to-AS table (`asn_ranges`, `asn_imports`) and address lookups in it.

Ranges are keyed by a fixed-width hex form of their first address (`crawler.asn.address_key`),
so "the range holding this address" is one indexed lookup: the greatest start at or below the
address, if its end is not below it.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from typing import NamedTuple


class AsnRange(NamedTuple):
    range_start: str
    range_end: str
    start_key: str
    end_key: str
    asn: int
    country: str | None
    as_name: str | None


def replace_asn_table(
    connection: sqlite3.Connection,
    ranges: list[AsnRange],
    file_name: str,
    imported_at: str,
    skipped_rows: int,
    skipped: Counter[str],
) -> None:
    """Swap the stored table for `ranges` in one transaction (an import replaces the last)."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        connection.execute("DELETE FROM asn_ranges")
        connection.executemany(
            "INSERT INTO asn_ranges (start_key, end_key, range_start, range_end, asn, country, "
            "as_name) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                (r.start_key, r.end_key, r.range_start, r.range_end, r.asn, r.country, r.as_name)
                for r in ranges
            ),
        )
        connection.execute("DELETE FROM asn_imports")
        connection.execute(
            "INSERT INTO asn_imports (file_name, imported_at, ranges, skipped_rows, "
            "skipped_by_reason) VALUES (?, ?, ?, ?, ?)",
            (file_name, imported_at, len(ranges), skipped_rows, json.dumps(dict(skipped))),
        )
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def network_of(connection: sqlite3.Connection, key: str) -> tuple[int, str | None] | None:
    """(AS number, AS name) of the routed range holding the address with this key, if any."""
    row = connection.execute(
        "SELECT end_key, asn, as_name FROM asn_ranges WHERE start_key <= ? "
        "ORDER BY start_key DESC LIMIT 1",
        (key,),
    ).fetchone()
    if row is None or row[0] < key or row[1] == 0:  # AS 0: not routed
        return None
    return int(row[1]), row[2]
