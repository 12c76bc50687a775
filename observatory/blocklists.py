"""`fediscope blocklists` and the `/blocklists` page: imported shared lists, who adopted them.

One answer (`answer(connection)`) read from what `analyze` stored (graph.adoption): each
imported list with its size, how many of its entries some server publishes, the servers covering
at least 90% and 50% of it with their active users, the change since the previous analysed crawl
and the adoption per crawl; the lists' overlap with each other (entries naming the same pattern);
the servers that cover at least half of each list; and the adoption chart (title, units, data
date and source inside the spec, its rows as CSV).
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass, field
from typing import Any

import altair as alt

from graph.rows import dict_rows
from observatory.chart_kit import (
    DEFAULT_WIDTH,
    ROWS,
    Chart,
    DataDate,
    chart_rows,
    chart_spec,
    data_date,
    finish_chart,
    missing_tables,
)

#: Servers listed per list on the page (the CSV of `shared_list_adoption` has them all).
TOP_ADOPTERS = 100
BAND_COLOURS = {"at least 90%": "#D55E00", "50% to 90%": "#E69F00"}


@dataclass
class ListAdoption:
    """One imported list, as of the latest analysed crawl."""

    source: str
    file_name: str | None
    imported_at: str | None
    entries: int
    masked_entries: int
    entries_published: int
    servers: int
    servers_90: int
    active_users_90: int
    servers_50: int
    active_users_50: int
    servers_90_change: int | None
    servers_50_change: int | None


@dataclass
class Adopter:
    source: str
    server: str
    coverage: float
    covered: int
    entries: int
    software: str | None
    users_active_month: int | None


@dataclass
class BlocklistsAnswer:
    date: DataDate
    lists: list[ListAdoption] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    overlap: list[dict[str, Any]] = field(default_factory=list)
    adopters: list[Adopter] = field(default_factory=list)
    chart: dict[str, Any] | None = None
    chart_rows: list[dict[str, Any]] = field(default_factory=list)
    missing: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["date"] = {"crawl_id": self.date.crawl_id, "date": self.date.date}
        data.pop("chart")
        return data


ADOPTION_SQL = """
WITH latest AS (
    SELECT s.* FROM shared_list_summary s
    WHERE s.crawl_id = (SELECT max(crawl_id) FROM shared_list_summary t WHERE t.source = s.source)
      AND s.source IN (SELECT source FROM imported_blocklists)
)
SELECT source AS list, 'at least 90%' AS band, 1 AS band_order, servers_90 AS servers,
       active_users_90 AS active_users, servers AS servers_read, entries, crawl_id
FROM latest
UNION ALL
SELECT source, '50% to 90%', 2, servers_50 - servers_90, active_users_50 - active_users_90,
       servers, entries, crawl_id
FROM latest
ORDER BY list, band_order
"""


def _draw_adoption(rows: list[dict[str, Any]], chart: Chart, date: DataDate, width: int) -> Any:
    bars = (
        alt.Chart(ROWS)
        .mark_bar()
        .encode(
            y=alt.Y("list:N", title=None, sort=None),
            x=alt.X("servers:Q", title="Servers", axis=alt.Axis(format="~s", tickMinStep=1)),
            color=alt.Color(
                "band:N",
                title="Share of the list their rules cover",
                scale=alt.Scale(domain=list(BAND_COLOURS), range=list(BAND_COLOURS.values())),
                legend=alt.Legend(orient="top"),
            ),
            order=alt.Order("band_order:Q"),
            tooltip=[
                alt.Tooltip("list:N", title="Shared list"),
                alt.Tooltip("band:N", title="Coverage"),
                alt.Tooltip("servers:Q", title="Servers", format=","),
                alt.Tooltip("active_users:Q", title="Their active users", format=","),
                alt.Tooltip("servers_read:Q", title="Block lists read", format=","),
                alt.Tooltip("entries:Q", title="Entries of the list", format=","),
            ],
        )
        .properties(width=width - 150, height=max(60, 28 * len({r["list"] for r in rows})))
    )
    return finish_chart(bars, chart, rows, date, width)


def _adoption_note(rows: list[dict[str, Any]]) -> str:
    read = max((r["servers_read"] for r in rows), default=0)
    return f"Out of {read:,} servers whose block list was read."


ADOPTION_CHART = Chart(
    slug="shared-list-adoption",
    title="How many servers publish each shared block list",
    units="Servers whose published block rules cover at least 90%, or 50% to 90%, of the "
    "list's entries",
    method="servers' public block lists matched against each imported list "
    "(names, parent domains, wildcards, digests; masked names never count)",
    sql=ADOPTION_SQL,
    needs=("shared_list_summary", "imported_blocklists"),
    draw=_draw_adoption,
    notes=_adoption_note,
)


def blocklists(db_path: str) -> BlocklistsAnswer:
    """The answer from a fediscope database file (read-only)."""
    connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return answer(connection)
    finally:
        connection.close()


def answer(connection: sqlite3.Connection, width: int = DEFAULT_WIDTH) -> BlocklistsAnswer:
    """The whole /blocklists answer on an open connection to the analysed database."""
    result = BlocklistsAnswer(data_date(connection))
    if (
        missing_tables(connection, ADOPTION_CHART)
        or not connection.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'shared_list_adoption'"
        ).fetchone()
    ):
        result.missing = "not analysed yet: run `fediscope analyze` after importing a list"
        return result
    result.lists = [
        ListAdoption(*row)
        for row in connection.execute(
            """
            SELECT l.source, l.file_name, l.imported_at, s.entries, s.masked_entries,
                   s.entries_published, s.servers, s.servers_90, s.active_users_90, s.servers_50,
                   s.active_users_50, s.servers_90_change, s.servers_50_change
            FROM imported_blocklists l JOIN shared_list_summary s ON s.source = l.source
            WHERE s.crawl_id = (SELECT max(crawl_id) FROM shared_list_summary t
                                WHERE t.source = l.source)
            ORDER BY l.source
            """
        )
    ]
    result.history = dict_rows(
        connection,
        "SELECT crawl_id, crawl_date, source, servers, servers_90, servers_50, active_users_90, "
        "active_users_50, servers_90_change, servers_50_change FROM shared_list_summary "
        "WHERE source IN (SELECT source FROM imported_blocklists) ORDER BY source, crawl_id",
    )
    result.overlap = dict_rows(
        connection,
        """
        SELECT a.source AS list, b.source AS other_list, count(*) AS shared_entries,
               round(100.0 * count(*) / (SELECT count(*) FROM imported_blocks x
                                         WHERE x.source = a.source), 1) AS share_percent
        FROM imported_blocks a JOIN imported_blocks b
          ON b.blocked_pattern = a.blocked_pattern AND b.source != a.source
        GROUP BY a.source, b.source ORDER BY a.source, b.source
        """,
    )
    result.adopters = [
        Adopter(*row)
        for row in connection.execute(
            """
            SELECT source, server, coverage, covered, entries, software, users_active_month
            FROM (SELECT a.*, i.software, i.users_active_month, row_number() OVER (
                      PARTITION BY a.source ORDER BY a.coverage DESC,
                      coalesce(i.users_active_month, 0) DESC, a.server) AS position
                  FROM shared_list_adoption a LEFT JOIN instances i ON i.domain = a.server
                  WHERE a.coverage >= 0.5)
            WHERE position <= ? ORDER BY source, position
            """,
            (TOP_ADOPTERS,),
        )
    ]
    result.chart_rows = chart_rows(connection, ADOPTION_CHART)
    if result.chart_rows:
        result.chart = chart_spec(ADOPTION_CHART, result.chart_rows, result.date, width, False)
    return result


def format_blocklists(answer: BlocklistsAnswer) -> str:
    """The answer for a terminal: one block per list."""
    if answer.missing:
        return f"No shared list adoption: {answer.missing}."
    if not answer.lists:
        return "No shared block list imported (fediscope import-blocklist FILE --source NAME)."
    lines = [f"{answer.date.line()}."]
    for s in answer.lists:
        change = "" if s.servers_90_change is None else f" ({s.servers_90_change:+,} since the "
        change += "previous analysed crawl)" if change else ""
        lines.append(
            f"{s.source}: {s.entries:,} entries ({s.masked_entries:,} masked, not matched), "
            f"{s.entries_published:,} published by at least one server; of {s.servers:,} block "
            f"lists read, {s.servers_90:,} cover >= 90% ({s.active_users_90:,} active users)"
            f"{change}, {s.servers_50:,} cover >= 50% ({s.active_users_50:,} active users)"
        )
    for row in answer.overlap:
        lines.append(
            f"overlap: {row['shared_entries']:,} of {row['list']}'s entries "
            f"({row['share_percent']}%) are also on {row['other_list']}"
        )
    return "\n".join(lines)
