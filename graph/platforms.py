"""Platform share: servers, users and active users per family and per software.

Shares are over the instances that answered (`status = 'alive'`). Users are sums of what
servers reported; instances that did not report a count add nothing to the sum and are counted
in `servers_without_users`, so every share says how much it rests on.
"""

from __future__ import annotations

import sqlite3

SHARE_SQL = """
WITH alive AS (
    SELECT {group} AS grp, users_total, users_active_month
    FROM instances WHERE status = 'alive' AND {group} IS NOT NULL
),
totals AS (
    SELECT count(*) AS n, sum(users_total) AS users, sum(users_active_month) AS active FROM alive
)
SELECT grp,
       count(*) AS servers,
       round(100.0 * count(*) / (SELECT n FROM totals), 2) AS servers_share,
       coalesce(sum(users_total), 0) AS users,
       round(100.0 * coalesce(sum(users_total), 0) / nullif((SELECT users FROM totals), 0), 2)
           AS users_share,
       coalesce(sum(users_active_month), 0) AS active_users,
       round(100.0 * coalesce(sum(users_active_month), 0)
             / nullif((SELECT active FROM totals), 0), 2) AS active_users_share,
       sum(users_total IS NULL) AS servers_without_users,
       sum(users_active_month IS NULL) AS servers_without_active_users
FROM alive GROUP BY grp ORDER BY servers DESC, grp
"""


def build_platform_share(connection: sqlite3.Connection, crawl_id: int | None) -> int:
    """(Re)build `platform_share` (per family) and `software_share`; return the family count."""
    for table, group in (("platform_share", "family"), ("software_share", "software")):
        connection.execute(f"DROP TABLE IF EXISTS {table}")
        connection.execute(
            f"CREATE TABLE {table} ({group} TEXT PRIMARY KEY, servers INTEGER, "
            "servers_share REAL, users INTEGER, users_share REAL, active_users INTEGER, "
            "active_users_share REAL, servers_without_users INTEGER, "
            "servers_without_active_users INTEGER, crawl_id INTEGER)"
        )
        rows = connection.execute(SHARE_SQL.format(group=group)).fetchall()
        connection.executemany(
            f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(*row, crawl_id) for row in rows],
        )
    (families,) = connection.execute("SELECT count(*) FROM platform_share").fetchone()
    return families
