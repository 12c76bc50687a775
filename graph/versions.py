"""`version_share`: per software family, what share of live servers runs each major version.

The major version is the leading number of `instances.version` (a leading `v` is dropped, build
suffixes such as `+glitch` ignored); for 0.x releases, where the minor number is the real
release line (Lemmy 0.19), it is `0.<minor>`. Versions that do not start with a number are
`unknown`, as are servers that gave none.
"""

from __future__ import annotations

import re
import sqlite3
from collections import defaultdict

_VERSION = re.compile(r"\s*[vV]?(\d{1,9})(?:\.(\d{1,9}))?")


def major_version(version: str | None) -> str:
    """'4.2.1' -> '4', '0.19.3' -> '0.19', 'v2.7' -> '2', None or junk -> 'unknown'."""
    found = _VERSION.match(version or "")
    if not found:
        return "unknown"
    major, minor = int(found.group(1)), found.group(2)
    if major == 0 and minor is not None:
        return f"0.{int(minor)}"
    return str(major)


def build_version_share(connection: sqlite3.Connection) -> str:
    """(Re)build `version_share`; return a one-line description."""
    servers: dict[tuple[str, str], int] = defaultdict(int)
    active: dict[tuple[str, str], int] = defaultdict(int)
    family_servers: dict[str, int] = defaultdict(int)
    family_active: dict[str, int] = defaultdict(int)
    for family, version, users in connection.execute(
        "SELECT coalesce(family, 'unknown'), version, users_active_month FROM instances "
        "WHERE status = 'alive'"
    ):
        key = (family, major_version(version))
        servers[key] += 1
        active[key] += users or 0
        family_servers[family] += 1
        family_active[family] += users or 0
    connection.execute("DROP TABLE IF EXISTS version_share")
    connection.execute(
        "CREATE TABLE version_share (family TEXT, major TEXT, servers INTEGER, "
        "servers_share REAL, active_users INTEGER, active_users_share REAL, "
        "PRIMARY KEY (family, major))"
    )
    connection.executemany(
        "INSERT INTO version_share VALUES (?, ?, ?, ?, ?, ?)",
        (
            (
                family,
                major,
                servers[(family, major)],
                round(100.0 * servers[(family, major)] / family_servers[family], 2),
                active[(family, major)],
                round(100.0 * active[(family, major)] / family_active[family], 2)
                if family_active[family]
                else None,
            )
            for family, major in sorted(servers)
        ),
    )
    return f"{len(servers)} family-version rows"
