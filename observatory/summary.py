"""What a fediscope database holds, in one screen: the home page's numbers.

Reads only small tables (instances through its status index, platform_share, crawls,
exclusions) so the home page stays fast on a full-scale database.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass, field
from typing import Any

from observatory.crawl_date import latest_crawl
from observatory.who_blocks import Coverage, block_coverage


def data_date(connection: sqlite3.Connection) -> tuple[str | None, int]:
    """(when the data's crawl finished, or started; number of crawls): crawl_date.latest_crawl."""
    _, at, crawls = latest_crawl(connection)
    return at, crawls


@dataclass
class PlatformLine:
    family: str
    servers: int
    active_users: int | None
    active_users_share: float | None


@dataclass
class Summary:
    """The database at a glance."""

    crawl_date: str | None
    crawls: int
    known_domains: int
    servers_alive: int
    users: int
    active_users: int
    servers_without_users: int
    platforms: int
    top_platforms: list[PlatformLine]
    statuses: dict[str, int]
    coverage: Coverage
    exclusions: int
    opted_out: int
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["coverage"]["lists_not_readable"] = self.coverage.lists_not_readable
        return data


def summary(connection: sqlite3.Connection, top: int = 5) -> Summary:
    """The home page's numbers from a fediscope database (analysed or not)."""
    crawl_date, crawls = data_date(connection)
    statuses = dict(
        connection.execute("SELECT status, count(*) FROM instances GROUP BY status").fetchall()
    )
    alive, users, active, without = connection.execute(
        "SELECT count(*), coalesce(sum(users_total), 0), coalesce(sum(users_active_month), 0), "
        "sum(users_total IS NULL) FROM instances WHERE status = 'alive'"
    ).fetchone()
    notes: list[str] = []
    try:
        platform_rows = connection.execute(
            "SELECT family, servers, active_users, active_users_share FROM platform_share "
            "ORDER BY servers DESC, family"
        ).fetchall()
    except sqlite3.OperationalError:
        platform_rows = []
        notes.append("platform_share is missing: run `fediscope analyze` on this database")
    (exclusions,) = connection.execute("SELECT count(*) FROM exclusions").fetchone()
    return Summary(
        crawl_date=crawl_date,
        crawls=crawls,
        known_domains=sum(statuses.values()),
        servers_alive=alive,
        users=users,
        active_users=active,
        servers_without_users=without or 0,
        platforms=len(platform_rows),
        top_platforms=[PlatformLine(*row) for row in platform_rows[:top]],
        statuses=statuses,
        coverage=block_coverage(connection),
        exclusions=exclusions,
        opted_out=statuses.get("opted_out", 0),
        notes=notes,
    )


def format_summary(answer: Summary) -> str:
    """The home page's numbers as text."""
    c = answer.coverage
    lines = [
        f"crawl date: {answer.crawl_date or 'no crawl yet'} ({answer.crawls} crawls)",
        f"servers alive: {answer.servers_alive:,} of {answer.known_domains:,} known names",
        f"users: {answer.users:,}; active users (month): {answer.active_users:,}",
        f"platforms: {answer.platforms}"
        + "".join(f"; {p.family} {p.servers:,}" for p in answer.top_platforms),
        f"block lists read: {c.lists_read:,}; not readable: {c.lists_not_readable:,}"
        + "".join(f"; {k} {n:,}" for k, n in sorted(c.not_readable.items())),
        f"opted out or excluded: {answer.exclusions:,}",
    ]
    return "\n".join(lines + answer.notes)
