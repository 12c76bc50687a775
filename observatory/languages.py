"""`fediscope languages`: servers, users and active users by declared language.

The answer reads the latest analysed crawl's rows of `language_share` (built by
graph/language_share.py); a server that declares several languages counts for each.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass, field
from typing import Any

from graph.derived import require_table
from graph.rows import dict_rows

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
    found = dict_rows(
        connection,
        "SELECT * FROM language_share WHERE crawl_id = ? "
        "ORDER BY language IS NULL, servers DESC, language",
        (crawl_id,),
    )
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
