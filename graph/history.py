"""Change over time, from the per-crawl time series the store keeps.

- `platform_share_history`: per crawl and family, servers, users and active users and their
  shares, from `instance_stats` (the servers observed in that crawl).
- `crawl_changes`: per crawl, servers new, gone and back, block rules added, removed and
  changed (`block_events`), peer edges added and removed (`peer_intervals`).
- `instance_uptime`: per instance, the share of crawls since it was first observed that it
  answered.

A database with one crawl gives one row per table and crawl; nothing divides by an empty history.
"""

from __future__ import annotations

import sqlite3

from crawler.software import family_of

#: Flags that make a server's counts untrustworthy for a crawl (they never enter concentration).
SUSPECT_FLAGS = ("stats_suspect", "stats_zeroed", "negative_count", "absurd_count")


def crawl_dates(connection: sqlite3.Connection) -> dict[int, str | None]:
    """crawl id -> `YYYY-MM-DD` of its start (UTC)."""
    return dict(connection.execute("SELECT id, date(started_at) FROM crawls ORDER BY id"))


def build_history(connection: sqlite3.Connection) -> str:
    """(Re)build the three change-over-time tables; return a one-line description."""
    dates = crawl_dates(connection)
    families = _build_share_history(connection, dates)
    _build_crawl_changes(connection, dates)
    servers = _build_uptime(connection, dates)
    return f"{len(dates)} crawls, {families} crawl-family rows, uptime of {servers} servers"


def _family_table(connection: sqlite3.Connection) -> None:
    """A temporary software -> family map, so SQL can group the time series by family."""
    connection.execute("DROP TABLE IF EXISTS temp.software_family")
    connection.execute("CREATE TEMP TABLE software_family (software TEXT PRIMARY KEY, family TEXT)")
    software = [r[0] for r in connection.execute("SELECT DISTINCT software FROM instance_stats")]
    connection.executemany(
        "INSERT INTO temp.software_family VALUES (?, ?)",
        ((name, family_of(name)) for name in software if name is not None),
    )


def _build_share_history(connection: sqlite3.Connection, dates: dict[int, str | None]) -> int:
    _family_table(connection)
    connection.execute("DROP TABLE IF EXISTS platform_share_history")
    connection.execute(
        "CREATE TABLE platform_share_history (crawl_id INTEGER, crawl_date TEXT, family TEXT, "
        "servers INTEGER, servers_share REAL, users INTEGER, users_share REAL, "
        "active_users INTEGER, active_users_share REAL, servers_without_users INTEGER, "
        "servers_without_active_users INTEGER, PRIMARY KEY (crawl_id, family))"
    )
    rows = connection.execute(
        """
        WITH alive AS (
            SELECT s.crawl_id,
                   coalesce(f.family, i.family, 'unknown') AS family,
                   s.users_total, s.users_active_month
            FROM instance_stats s
            LEFT JOIN temp.software_family f ON f.software = s.software
            LEFT JOIN instances i ON i.domain = s.domain
            WHERE s.status = 'alive'
        ),
        totals AS (
            SELECT crawl_id, count(*) AS n, sum(users_total) AS users,
                   sum(users_active_month) AS active
            FROM alive GROUP BY crawl_id
        )
        SELECT a.crawl_id, a.family, count(*),
               round(100.0 * count(*) / t.n, 2),
               coalesce(sum(a.users_total), 0),
               round(100.0 * coalesce(sum(a.users_total), 0) / nullif(t.users, 0), 2),
               coalesce(sum(a.users_active_month), 0),
               round(100.0 * coalesce(sum(a.users_active_month), 0) / nullif(t.active, 0), 2),
               sum(a.users_total IS NULL), sum(a.users_active_month IS NULL)
        FROM alive a JOIN totals t ON t.crawl_id = a.crawl_id
        GROUP BY a.crawl_id, a.family
        ORDER BY a.crawl_id, a.family
        """
    ).fetchall()
    connection.executemany(
        "INSERT INTO platform_share_history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ((crawl, dates.get(crawl), *rest) for crawl, *rest in rows),
    )
    return len(rows)


def _build_crawl_changes(connection: sqlite3.Connection, dates: dict[int, str | None]) -> None:
    connection.execute("DROP TABLE IF EXISTS crawl_changes")
    connection.execute(
        "CREATE TABLE crawl_changes (crawl_id INTEGER PRIMARY KEY, crawl_date TEXT, "
        "started_at TEXT, finished_at TEXT, servers_visited INTEGER, servers_answered INTEGER, "
        "servers_new INTEGER, servers_gone INTEGER, servers_came_back INTEGER, "
        "block_rules_added INTEGER, block_rules_first_seen INTEGER, block_rules_removed INTEGER, "
        "block_rules_changed INTEGER, peer_edges_added INTEGER, peer_edges_removed INTEGER)"
    )
    # Each observation next to the same server's previous one and whether it had ever answered.
    servers = connection.execute(
        """
        WITH observed AS (
            SELECT domain, crawl_id, status = 'alive' AS answered,
                   lag(status = 'alive') OVER (PARTITION BY domain ORDER BY crawl_id) AS before,
                   max(status = 'alive') OVER (
                       PARTITION BY domain ORDER BY crawl_id
                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS ever
            FROM instance_stats
        )
        SELECT crawl_id, count(*), sum(answered),
               sum(answered AND coalesce(ever, 0) = 0),
               sum(NOT answered AND coalesce(before, 0) = 1),
               sum(answered AND ever = 1 AND before = 0)
        FROM observed GROUP BY crawl_id
        """
    ).fetchall()
    by_crawl = {row[0]: row[1:] for row in servers}
    events = {
        (crawl, event, first): count
        for crawl, event, first, count in connection.execute(
            "SELECT crawl_id, event, coalesce(first_observation, 0), count(*) "
            "FROM block_events GROUP BY 1, 2, 3"
        )
    }
    # The store counts the peer edges each crawl adds and removes (crawls.peer_edges_*); the
    # 23M-row scan of peer_intervals is only needed for crawls recorded without those counts.
    counted = {
        crawl: (added, removed)
        for crawl, added, removed in connection.execute(
            "SELECT id, peer_edges_added, peer_edges_removed FROM crawls"
        )
    }
    if any(added is None or removed is None for added, removed in counted.values()):
        added_by = dict(
            connection.execute("SELECT first_crawl, count(*) FROM peer_intervals GROUP BY 1")
        )
        removed_by = dict(
            connection.execute(
                "SELECT removed_crawl, count(*) FROM peer_intervals "
                "WHERE removed_crawl IS NOT NULL GROUP BY 1"
            )
        )
        counted = {
            crawl: (
                added if added is not None else added_by.get(crawl, 0),
                removed if removed is not None else removed_by.get(crawl, 0),
            )
            for crawl, (added, removed) in counted.items()
        }
    rows = []
    for crawl, started, finished in connection.execute(
        "SELECT id, started_at, finished_at FROM crawls ORDER BY id"
    ).fetchall():
        visited, answered, new, gone, back = by_crawl.get(crawl, (0, 0, 0, 0, 0))
        edges_added, edges_removed = counted[crawl]
        rows.append(
            (
                crawl,
                dates.get(crawl),
                started,
                finished,
                visited,
                answered,
                new,
                gone,
                back,
                events.get((crawl, "added", 0), 0),
                events.get((crawl, "added", 1), 0),
                events.get((crawl, "removed", 0), 0) + events.get((crawl, "removed", 1), 0),
                events.get((crawl, "changed", 0), 0) + events.get((crawl, "changed", 1), 0),
                edges_added,
                edges_removed,
            )
        )
    connection.executemany(
        "INSERT INTO crawl_changes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
    )


def _build_uptime(connection: sqlite3.Connection, dates: dict[int, str | None]) -> int:
    connection.execute("DROP TABLE IF EXISTS instance_uptime")
    connection.execute(
        "CREATE TABLE instance_uptime (domain TEXT PRIMARY KEY, first_crawl INTEGER, "
        "last_answered_crawl INTEGER, crawls_since_first INTEGER, crawls_visited INTEGER, "
        "crawls_answered INTEGER, uptime REAL, answered_share_of_visits REAL)"
    )
    crawls = sorted(dates)
    if not crawls:
        return 0
    # Crawls are numbered in order but ids may have gaps: count the crawls at or after each id.
    connection.execute("DROP TABLE IF EXISTS temp.crawl_rank")
    connection.execute("CREATE TEMP TABLE crawl_rank (id INTEGER PRIMARY KEY, remaining INTEGER)")
    connection.executemany(
        "INSERT INTO temp.crawl_rank VALUES (?, ?)",
        ((crawl, len(crawls) - position) for position, crawl in enumerate(crawls)),
    )
    connection.execute(
        """
        INSERT INTO instance_uptime
        SELECT s.domain, min(s.crawl_id),
               max(CASE WHEN s.status = 'alive' THEN s.crawl_id END),
               r.remaining, count(*), sum(s.status = 'alive'),
               round(1.0 * sum(s.status = 'alive') / r.remaining, 4),
               round(1.0 * sum(s.status = 'alive') / count(*), 4)
        FROM instance_stats s
        JOIN (SELECT domain, min(crawl_id) AS first FROM instance_stats GROUP BY domain) f
             ON f.domain = s.domain
        JOIN temp.crawl_rank r ON r.id = f.first
        GROUP BY s.domain ORDER BY s.domain
        """
    )
    (count,) = connection.execute("SELECT count(*) FROM instance_uptime").fetchone()
    return int(count)
