"""`language_share`: servers, users and active users by declared language, per crawl.

Declared languages are what a server says it serves (instances.languages, from its instance
API, Misskey meta, PeerTube config or NodeInfo metadata): a proxy for where its people are, not
a measurement of what they write. A server that declares several languages counts fully for
each of them, so a crawl's shares add up to more than 100%; one row per crawl (language empty)
counts the answering servers that declared none. Shares are of all servers that answered in
that crawl; counts flagged suspect in that crawl add nothing to the sums (the server still
counts).
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass, field
from typing import Any

from graph.derived import require_table
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


NOTE = (
    "Declared languages are what servers say they serve, a proxy for where their people are; "
    "a server that declares several languages counts for each, so shares add up to more "
    "than 100%."
)


@dataclass
class LanguageAnswer:
    """`fediscope languages`: the latest crawl's declared languages, largest first."""

    crawl_id: int | None
    crawl_date: str | None
    languages: list[dict[str, Any]] = field(default_factory=list)
    none_declared: dict[str, Any] | None = None
    more: int = 0  # languages beyond the top ones shown

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "note": NOTE}


def languages(connection: sqlite3.Connection, top: int = 20) -> LanguageAnswer:
    """The declared languages of the latest analysed crawl (MissingAnalysis before analyze)."""
    require_table(connection, "language_share")
    row = connection.execute("SELECT max(crawl_id) FROM language_share").fetchone()
    crawl_id = row[0] if row else None
    cursor = connection.execute(
        "SELECT * FROM language_share WHERE crawl_id = ? "
        "ORDER BY language IS NULL, servers DESC, language",
        (crawl_id,),
    )
    columns = [d[0] for d in cursor.description]
    found = [dict(zip(columns, values, strict=True)) for values in cursor]
    named = [r for r in found if r["language"] is not None]
    answer = LanguageAnswer(crawl_id, found[0]["crawl_date"] if found else None)
    keep = ("language", "servers", "servers_share", "users", "users_share", "active_users")
    answer.languages = [
        {k: r[k] for k in (*keep, "active_users_share")} for r in named[: max(top, 0)]
    ]
    answer.more = max(len(named) - max(top, 0), 0)
    none = next((r for r in found if r["language"] is None), None)
    if none is not None:
        answer.none_declared = {k: none[k] for k in keep[1:]}
    return answer


def format_languages(answer: LanguageAnswer) -> str:
    if answer.crawl_id is None:
        return "No answering server in the analysed crawls."
    lines = [
        f"Declared languages, crawl #{answer.crawl_id} ({answer.crawl_date}):",
        f"{'language':<14}{'servers':>9}{'%':>8}{'users':>12}{'active users':>14}{'%':>8}",
    ]
    for r in answer.languages:
        lines.append(
            f"{r['language']:<14}{r['servers']:>9,}{_pc(r['servers_share']):>8}"
            f"{r['users']:>12,}{r['active_users']:>14,}{_pc(r['active_users_share']):>8}"
        )
    if answer.more:
        lines.append(f"... and {answer.more} more languages (see the language_share table)")
    if answer.none_declared:
        lines.append(f"{answer.none_declared['servers']:,} answering servers declared none.")
    lines.append(NOTE)
    return "\n".join(lines)


def _pc(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
