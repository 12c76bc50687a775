"""The per-crawl time series of each instance, stored as runs of unchanged values.

A daily crawl of a quiet Fediverse sees mostly the same numbers again; one row per instance per
crawl would grow the database with every crawl instead of with change. `instance_intervals`
keeps one row per run of visits in consecutive crawls that saw the same values
[first_crawl, last_crawl]; a visit that repeats them only moves last_crawl and
last_observed_at (an in-place update). A change, or a crawl that did not visit the instance
(a gap), starts a new run. The `instance_stats` view expands the runs back into one row per
instance per crawl, so readers see the same time series as before.
"""

from __future__ import annotations

import sqlite3

VALUES = (
    "status",
    "software",
    "version",
    "users_total",
    "users_active_month",
    "users_active_halfyear",
    "local_posts",
    "peers_count",
    "blocks_count",
    "quality_flags",
    "blocks_visibility",
    "languages",
    "address",
)

VIEW = f"""
        SELECT i.domain AS domain, c.id AS crawl_id,
               CASE c.id WHEN i.last_crawl THEN i.last_observed_at
                         WHEN i.first_crawl THEN i.observed_at
                         ELSE c.finished_at END AS observed_at,
               {", ".join(f"i.{column} AS {column}" for column in VALUES)}
        FROM instance_intervals i JOIN crawls c ON c.id BETWEEN i.first_crawl AND i.last_crawl"""


def _observed(crawl: str, run_end: str, run_time: str) -> str:
    """The visit time for `crawl` at the edge of a run: the run's own, or the crawl's end."""
    return (
        f"CASE WHEN {run_end} = {crawl} THEN {run_time} "
        f"ELSE (SELECT finished_at FROM crawls WHERE id = {crawl}) END"
    )


#: The view stays writable (tests and one-off repairs write rows directly): an inserted row is
#: a run of its own; a deleted row shrinks or splits the run that holds it.
TRIGGERS = [
    f"""CREATE TRIGGER IF NOT EXISTS instance_stats_insert INSTEAD OF INSERT ON instance_stats
    BEGIN
        INSERT OR REPLACE INTO instance_intervals (domain, first_crawl, last_crawl, observed_at,
            last_observed_at, {", ".join(VALUES)})
        VALUES (NEW.domain, NEW.crawl_id, NEW.crawl_id, NEW.observed_at, NEW.observed_at,
            {", ".join(f"NEW.{column}" for column in VALUES)});
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS instance_stats_delete INSTEAD OF DELETE ON instance_stats
    BEGIN
        DELETE FROM instance_intervals WHERE domain = OLD.domain
            AND first_crawl = OLD.crawl_id AND last_crawl = OLD.crawl_id;
        INSERT INTO instance_intervals (domain, first_crawl, last_crawl, observed_at,
            last_observed_at, {", ".join(VALUES)})
        SELECT domain, OLD.crawl_id + 1, last_crawl,
            {_observed("OLD.crawl_id + 1", "last_crawl", "last_observed_at")},
            last_observed_at, {", ".join(VALUES)}
        FROM instance_intervals WHERE domain = OLD.domain
            AND first_crawl < OLD.crawl_id AND last_crawl > OLD.crawl_id;
        UPDATE instance_intervals SET last_crawl = OLD.crawl_id - 1,
            last_observed_at = {_observed("OLD.crawl_id - 1", "first_crawl", "observed_at")}
        WHERE domain = OLD.domain AND first_crawl < OLD.crawl_id AND last_crawl >= OLD.crawl_id;
        UPDATE instance_intervals SET first_crawl = OLD.crawl_id + 1,
            observed_at = {_observed("OLD.crawl_id + 1", "last_crawl", "last_observed_at")}
        WHERE domain = OLD.domain AND first_crawl = OLD.crawl_id AND last_crawl > OLD.crawl_id;
    END""",
]


def record_stats(
    connection: sqlite3.Connection,
    domain: str,
    crawl_id: int,
    stamp: str,
    values: tuple[object, ...],
) -> None:
    """Add one visit's values (in VALUES order) to the domain's runs."""
    latest = connection.execute(
        f"SELECT first_crawl, last_crawl, {', '.join(VALUES)} FROM instance_intervals "
        "WHERE domain = ? ORDER BY first_crawl DESC LIMIT 1",
        (domain,),
    ).fetchone()
    if latest is not None:
        first, last, *seen = latest
        same = tuple(seen) == tuple(values)
        if last == crawl_id:  # a second visit in the same crawl (a resumed crawl): it wins
            if same or first == crawl_id:
                _replace(connection, domain, first, crawl_id, stamp, values)
                return
            # The run now ends a crawl earlier; that crawl's own end time is the best known.
            before = _previous_crawl(connection, crawl_id)
            connection.execute(
                "UPDATE instance_intervals SET last_crawl = ?1, last_observed_at = CASE "
                "WHEN first_crawl = ?1 THEN observed_at "
                "ELSE (SELECT finished_at FROM crawls WHERE id = ?1) END "
                "WHERE domain = ?2 AND first_crawl = ?3",
                (before, domain, first),
            )
        elif same and last == _previous_crawl(connection, crawl_id):
            connection.execute(
                "UPDATE instance_intervals SET last_crawl = ?, last_observed_at = ? "
                "WHERE domain = ? AND first_crawl = ?",
                (crawl_id, stamp, domain, first),
            )
            return
    connection.execute(
        f"INSERT INTO instance_intervals (domain, first_crawl, last_crawl, observed_at, "
        f"last_observed_at, {', '.join(VALUES)}) VALUES (?, ?, ?, ?, ?{', ?' * len(VALUES)})",
        (domain, crawl_id, crawl_id, stamp, stamp, *values),
    )


def _replace(
    connection: sqlite3.Connection,
    domain: str,
    first: int,
    crawl_id: int,
    stamp: str,
    values: tuple[object, ...],
) -> None:
    assignments = ", ".join(f"{column} = ?" for column in VALUES)
    connection.execute(
        f"UPDATE instance_intervals SET last_observed_at = ?, {assignments} "
        "WHERE domain = ? AND first_crawl = ?",
        (stamp, *values, domain, first),
    )


def _previous_crawl(connection: sqlite3.Connection, crawl_id: int) -> int | None:
    row = connection.execute("SELECT max(id) FROM crawls WHERE id < ?", (crawl_id,)).fetchone()
    return row[0] if row else None


def migrate_stats_table(connection: sqlite3.Connection) -> None:
    """Move an instance_stats table (fediscope before runs) into instance_intervals."""
    kind = connection.execute(
        "SELECT type FROM sqlite_master WHERE name = 'instance_stats'"
    ).fetchone()
    if kind is None or kind[0] != "table":
        return
    present = {row[1] for row in connection.execute("PRAGMA table_info(instance_stats)")}
    columns = [column for column in VALUES if column in present]
    connection.execute("BEGIN IMMEDIATE")
    try:
        connection.execute(
            f"INSERT OR IGNORE INTO instance_intervals (domain, first_crawl, last_crawl, "
            f"observed_at, last_observed_at, {', '.join(columns)}) "
            f"SELECT domain, crawl_id, crawl_id, observed_at, observed_at, {', '.join(columns)} "
            "FROM instance_stats"
        )
        connection.execute("DROP TABLE instance_stats")
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
