"""`hosting_share`: how servers, users and active users spread over the networks that host them.

Per crawl, from the address each answering server was reached at (instance_stats.address: the
first public address of its DNS answer), three units: the `address` itself, its `prefix` (/24
for IPv4, /48 for IPv6: roughly one hosting customer or site) and, once an IP-to-AS table has
been imported (`fediscope import-asn`), the `network` operator by AS number and name. Servers
whose address is not known (a `--via` crawl without a resolver) are left out of that crawl;
for the network unit, an address outside every routed range of the table is one row with an
empty key. Counts flagged suspect in that crawl add nothing to the sums (the server counts).
Each row carries its rank by active users and the cumulative share of active users of the
units ranked up to it, so "how few networks host half the active users" is one lookup. The
`hosting` answer (observatory/hosting.py) reads it.
"""

from __future__ import annotations

import ipaddress
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from crawler.asn import address_key
from crawler.store.asn import network_of
from graph.history import SUSPECT_FLAGS, crawl_dates

UNITS = ("address", "prefix", "network")

_SUSPECT = " OR ".join(
    f"',' || coalesce(quality_flags, '') || ',' LIKE '%,{flag},%'" for flag in SUSPECT_FLAGS
)


def prefix_of(address: str) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) network holding an address, as CIDR text."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    length = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{length}", strict=False))


@dataclass
class _Tally:
    servers: int = 0
    users: int = 0
    active: int = 0
    name: str | None = None


@dataclass
class _Crawl:
    units: dict[str, dict[str | None, _Tally]] = field(
        default_factory=lambda: {unit: defaultdict(_Tally) for unit in UNITS}
    )
    servers: int = 0
    users: int = 0
    active: int = 0


class _Networks:
    """Address -> (AS number, name), looked up once per address."""

    def __init__(self, connection: sqlite3.Connection):
        self.connection = connection
        self.cache: dict[str, tuple[int, str | None] | None] = {}

    def of(self, address: str) -> tuple[int, str | None] | None:
        if address not in self.cache:
            key = address_key(address)
            self.cache[address] = None if key is None else network_of(self.connection, key)
        return self.cache[address]


def build_hosting_share(connection: sqlite3.Connection) -> str:
    """(Re)build `hosting_share` for every crawl; return a one-line description."""
    dates = crawl_dates(connection)
    imported = asn_import(connection)
    ranges = imported[2] if imported else 0
    networks = _Networks(connection) if ranges else None
    crawls: dict[int, _Crawl] = defaultdict(_Crawl)
    cursor = connection.execute(
        f"SELECT crawl_id, address, CASE WHEN {_SUSPECT} THEN NULL ELSE users_total END, "
        f"CASE WHEN {_SUSPECT} THEN NULL ELSE users_active_month END "
        "FROM instance_stats WHERE status = 'alive' AND address IS NOT NULL"
    )
    for crawl_id, address, users, active in cursor:
        prefix = prefix_of(address)
        if prefix is None:
            continue
        tally = crawls[crawl_id]
        tally.servers += 1
        tally.users += users or 0
        tally.active += active or 0
        keys: dict[str, tuple[str | None, str | None]] = {
            "address": (address, None),
            "prefix": (prefix, None),
        }
        if networks is not None:
            network = networks.of(address)
            keys["network"] = (None, None) if network is None else (f"AS{network[0]}", network[1])
        for unit, (key, name) in keys.items():
            counted = tally.units[unit][key]
            counted.servers += 1
            counted.users += users or 0
            counted.active += active or 0
            counted.name = name
    rows = [
        row
        for crawl_id in sorted(crawls)
        for row in _rows(crawl_id, dates.get(crawl_id), crawls[crawl_id])
    ]
    connection.execute("DROP TABLE IF EXISTS hosting_share")
    connection.execute(
        "CREATE TABLE hosting_share (crawl_id INTEGER, crawl_date TEXT, unit TEXT, key TEXT, "
        "name TEXT, servers INTEGER, servers_share REAL, users INTEGER, users_share REAL, "
        "active_users INTEGER, active_users_share REAL, rank INTEGER, "
        "cumulative_active_users_share REAL)"
    )
    connection.executemany(
        "INSERT INTO hosting_share VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
    )
    connection.execute("CREATE INDEX hosting_share_crawl ON hosting_share (crawl_id, unit, rank)")
    by_network = "by address, prefix and network" if networks else "by address and prefix"
    return f"{len(crawls)} crawls {by_network} ({ranges} AS ranges imported)"


def _percent(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None


def _rows(crawl_id: int, date: str | None, crawl: _Crawl) -> list[tuple[object, ...]]:
    rows = []
    for unit in UNITS:
        # Largest first by active users; the unknown network (empty key) ranks last.
        ranked = sorted(
            crawl.units[unit].items(),
            key=lambda item: (item[0] is None, -item[1].active, -item[1].servers, item[0] or ""),
        )
        cumulative = 0
        for rank, (key, tally) in enumerate(ranked, start=1):
            cumulative += tally.active
            rows.append(
                (
                    crawl_id,
                    date,
                    unit,
                    key,
                    tally.name,
                    tally.servers,
                    _percent(tally.servers, crawl.servers),
                    tally.users,
                    _percent(tally.users, crawl.users),
                    tally.active,
                    _percent(tally.active, crawl.active),
                    rank,
                    _percent(cumulative, crawl.active),
                )
            )
    return rows


def asn_import(connection: sqlite3.Connection) -> tuple[Any, ...] | None:
    """The stored AS table's import (file, time, ranges, skipped rows), None when none."""
    try:
        return connection.execute(
            "SELECT file_name, imported_at, ranges, skipped_rows FROM asn_imports"
        ).fetchone()
    except sqlite3.OperationalError:  # a database from before import-asn existed
        return None
