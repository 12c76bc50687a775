"""The charts of declared languages and of hosting networks (issue: where the Fediverse is, and
how few networks host it): their SQL, notes and drawings. The chart records themselves are in
observatory.charts.CHARTS, the one list of journalist charts.
"""

from __future__ import annotations

from typing import Any

import altair as alt

from observatory.chart_kit import (
    FAMILY_COLOURS,
    HALF_COLOURS,
    ROWS,
    SINGLE_COLOUR,
    Chart,
    DataDate,
    category_order,
    family_group,
    finish_chart,
    measure_facets,
    share_bars,
)

TOP_LANGUAGES = 12
TOP_LANGUAGE_MIX = 8
TOP_NETWORKS = 15
LANGUAGE_MEASURES = (
    ("Servers", "servers", "servers_share"),
    ("Users (accounts)", "users", "users_share"),
    ("Active users (last 30 days)", "active_users", "active_users_share"),
)
_LATEST_LANGUAGES = "(SELECT max(crawl_id) FROM language_share)"
LANGUAGE_SQL = (
    f"WITH top AS (SELECT language FROM language_share WHERE crawl_id = {_LATEST_LANGUAGES} "
    f"AND language IS NOT NULL ORDER BY servers DESC, language LIMIT {TOP_LANGUAGES})\n"
    + "\nUNION ALL\n".join(
        f"SELECT language, '{measure}' AS measure, {order} AS measure_order, {count} AS count, "
        f"{share} AS share_percent FROM language_share WHERE crawl_id = {_LATEST_LANGUAGES} "
        "AND language IN (SELECT language FROM top)"
        for order, (measure, count, share) in enumerate(LANGUAGE_MEASURES, start=1)
    )
    + "\nORDER BY measure_order, share_percent DESC, language"
)
DECLARED = (
    "the languages servers declare (instance API, Misskey meta, PeerTube config, NodeInfo); "
    "only a proxy for where their people are"
)


def language_note(rows: list[dict[str, Any]]) -> str:
    return "A server declaring several languages counts for each, so shares add up past 100%."


def draw_languages(rows: list[dict[str, Any]], chart: Chart, date: DataDate, width: int) -> Any:
    return measure_facets(
        rows,
        chart,
        date,
        width,
        key="language",
        key_title="Language (BCP 47)",
        measures=LANGUAGE_MEASURES,
        bars=lambda base, tooltip: base.mark_bar(color=SINGLE_COLOUR).encode(tooltip=tooltip),
    )


LANGUAGE_MIX_SQL = f"""
WITH declared AS (
    SELECT {family_group("i.family")} AS family, lower(j.value) AS language
    FROM instances i, json_each(CASE WHEN json_valid(i.languages) THEN i.languages END) j
    WHERE i.status = 'alive' AND j.type = 'text'
), top AS (
    SELECT language FROM declared GROUP BY language
    ORDER BY count(*) DESC, language LIMIT {TOP_LANGUAGE_MIX}
)
SELECT language, family, count(*) AS servers,
       round(100.0 * count(*) / sum(count(*)) OVER (PARTITION BY language), 2) AS share_percent,
       sum(count(*)) OVER (PARTITION BY language) AS language_servers,
       language || ' (' || sum(count(*)) OVER (PARTITION BY language) || ' servers)' AS label
FROM declared WHERE language IN (SELECT language FROM top)
GROUP BY language, family ORDER BY language_servers DESC, language, servers DESC
"""


def draw_language_mix(rows: list[dict[str, Any]], chart: Chart, date: DataDate, width: int) -> Any:
    return share_bars(
        rows,
        chart,
        date,
        width,
        order=category_order(rows, "label", "servers"),
        field="family",
        colours=FAMILY_COLOURS,
        axis_title="Share of the servers declaring the language (%)",
        legend_title="Platform",
        tooltip=[
            alt.Tooltip("language:N", title="Language (BCP 47)"),
            alt.Tooltip("family:N", title="Platform"),
            alt.Tooltip("servers:Q", title="Servers", format=","),
            alt.Tooltip("share_percent:Q", title="Share (%)", format=".1f"),
        ],
    )


NETWORKS_SQL = f"""
WITH chosen AS (
    SELECT CASE WHEN EXISTS (SELECT 1 FROM hosting_share WHERE unit = 'network')
                THEN 'network' ELSE 'prefix' END AS unit,
           (SELECT max(crawl_id) FROM hosting_share) AS crawl_id
), ranked AS (
    SELECT h.* FROM hosting_share h JOIN chosen c ON h.unit = c.unit AND h.crawl_id = c.crawl_id
), half AS (
    SELECT min(rank) AS count FROM ranked
    WHERE key IS NOT NULL AND cumulative_active_users_share >= 50
)
SELECT rank, unit, coalesce(key, 'not in the AS table') || coalesce(' ' || name, '') AS host,
       servers, active_users, active_users_share, cumulative_active_users_share,
       (SELECT count FROM half) AS half_count,
       (SELECT count(*) FROM ranked WHERE key IS NOT NULL) AS units,
       key IS NOT NULL AND rank <= coalesce((SELECT count FROM half), 0) AS in_half
FROM ranked WHERE rank <= {TOP_NETWORKS} ORDER BY rank
"""


def networks_note(rows: list[dict[str, Any]]) -> str:
    what = "networks (AS)" if rows[0]["unit"] == "network" else "/24 or /48 prefixes"
    half = rows[0]["half_count"]
    if half is None:
        return f"No set of known {what} holds half the active users."
    return f"{half:,} of {rows[0]['units']:,} {what} host half of the active users."


def draw_networks(rows: list[dict[str, Any]], chart: Chart, date: DataDate, width: int) -> Any:
    base = alt.Chart(ROWS).encode(
        y=alt.Y("host:N", sort=[r["host"] for r in rows], title=None),
        x=alt.X("active_users_share:Q", title="Share of active users (%)"),
    )
    bars = base.mark_bar().encode(
        color=alt.condition(
            "datum.in_half == 1",
            alt.value(HALF_COLOURS[0]),
            alt.value(HALF_COLOURS[1]),
        ),
        tooltip=[
            alt.Tooltip("rank:Q", title="Rank"),
            alt.Tooltip("host:N", title="Network"),
            alt.Tooltip("servers:Q", title="Servers", format=","),
            alt.Tooltip("active_users:Q", title="Active users", format=","),
            alt.Tooltip("active_users_share:Q", title="Share (%)", format=".1f"),
            alt.Tooltip("cumulative_active_users_share:Q", title="Running total (%)", format=".1f"),
        ],
    )
    labels = base.mark_text(align="left", dx=3, fontSize=10).encode(
        text=alt.Text("active_users_share:Q", format=".1f")
    )
    layered = alt.layer(bars, labels).properties(width=width - 200, height=alt.Step(16))
    return finish_chart(layered, chart, rows, date, width)
