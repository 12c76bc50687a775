"""`language_share`: servers, users and active users by declared language, per crawl.

Declared languages are what a server says it serves (instances.languages, from its instance
API, Misskey meta, PeerTube config or NodeInfo metadata): a proxy for where its people are, not
a measurement of what they write. A server that declares several languages counts fully for
each of them, so a crawl's shares add up to more than 100%; one row per crawl (language empty)
counts the answering servers that declared none. Shares are of all servers that answered in
that crawl; counts flagged suspect in that crawl add nothing to the sums (the server still
counts). The `languages` answer (observatory/languages.py) reads it.
"""

from __future__ import annotations

import sqlite3

from graph.history import SUSPECT_FLAGS

_SUSPECT = " OR ".join(
    f"',' || coalesce(s.quality_flags, '') || ',' LIKE '%,{flag},%'" for flag in SUSPECT_FLAGS
)

LANGUAGE_SHARE_SQL = f"""
WITH alive AS (
    SELECT s.crawl_id, CASE WHEN json_valid(s.languages) THEN s.languages END AS languages,
           CASE WHEN {_SUSPECT} THEN NULL ELSE s.users_total END AS users,
           CASE WHEN {_SUSPECT} THEN NULL ELSE s.users_active_month END AS active
    FROM instance_stats s WHERE s.status = 'alive'
),
totals AS (
    SELECT crawl_id, count(*) AS servers, sum(users) AS users, sum(active) AS active
    FROM alive GROUP BY crawl_id
),
declared AS (
    SELECT a.crawl_id, lower(j.value) AS language, a.users, a.active
    FROM alive a, json_each(a.languages) j
    WHERE a.languages IS NOT NULL AND j.type = 'text'
    UNION ALL
    SELECT crawl_id, NULL, users, active FROM alive
    WHERE languages IS NULL OR json_array_length(languages) = 0
)
SELECT d.crawl_id, (SELECT date(started_at) FROM crawls WHERE id = d.crawl_id),
       d.language, count(*),
       round(100.0 * count(*) / t.servers, 2),
       coalesce(sum(d.users), 0),
       round(100.0 * coalesce(sum(d.users), 0) / nullif(t.users, 0), 2),
       coalesce(sum(d.active), 0),
       round(100.0 * coalesce(sum(d.active), 0) / nullif(t.active, 0), 2)
FROM declared d JOIN totals t ON t.crawl_id = d.crawl_id
GROUP BY d.crawl_id, d.language
ORDER BY d.crawl_id, d.language IS NULL, count(*) DESC, d.language
"""


def build_language_share(connection: sqlite3.Connection) -> str:
    """(Re)build `language_share` for every crawl; return a one-line description."""
    connection.execute("DROP TABLE IF EXISTS language_share")
    connection.execute(
        "CREATE TABLE language_share (crawl_id INTEGER, crawl_date TEXT, language TEXT, "
        "servers INTEGER, servers_share REAL, users INTEGER, users_share REAL, "
        "active_users INTEGER, active_users_share REAL)"
    )
    connection.execute(f"INSERT INTO language_share {LANGUAGE_SHARE_SQL}")
    connection.execute("CREATE INDEX language_share_crawl ON language_share (crawl_id, language)")
    languages, crawls = connection.execute(
        "SELECT count(DISTINCT language), count(DISTINCT crawl_id) FROM language_share"
    ).fetchone()
    return f"{languages} declared languages over {crawls} crawls"
