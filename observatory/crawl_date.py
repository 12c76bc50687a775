"""The data date: which crawl the answers show, in one definition for every page and chart.

It is the latest finished crawl (while a crawl runs, its half-written data is not the date of
anything), or the latest started one while the first crawl is still running.
"""

from __future__ import annotations

import sqlite3


def latest_crawl(connection: sqlite3.Connection) -> tuple[int | None, str | None, int]:
    """(crawl id, when it finished or else started (UTC), number of crawls); (None, None, 0)
    for a database without crawls."""
    try:
        row = connection.execute(
            "SELECT id, coalesce(finished_at, started_at), (SELECT count(*) FROM crawls) "
            "FROM crawls ORDER BY finished_at IS NULL, id DESC LIMIT 1"
        ).fetchone()
    except sqlite3.Error:
        return None, None, 0
    if row is None:
        return None, None, 0
    return int(row[0]), row[1], int(row[2])
