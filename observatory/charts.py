"""The journalists' charts: one SQL query and one Vega-Lite spec (built with Altair) per chart.

The `/platforms` page and `fediscope charts` both use these definitions, so the picture on the
page, the PNG/SVG written for an article and the CSV beside it come from the same query over the
analysed database. Every spec carries its title, units, data date and source line inside the
chart, so a downloaded image keeps them. Colours are colour-blind safe (Okabe-Ito) and fixed per
platform family across all charts; smaller families are drawn as "other".
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import altair as alt

from graph.history import SUSPECT_FLAGS
from observatory.block_charts import (
    MOST_BLOCKED_SQL,
    SEVERITY_SQL,
    VISIBILITY_SQL,
    blocks_note,
    draw_most_blocked,
    draw_severities,
    draw_visibility,
    visibility_note,
)
from observatory.chart_kit import (
    DEFAULT_WIDTH,
    FAMILY_COLOURS,
    ROWS,
    TOP_DOMAINS,
    TOP_SOFTWARE,
    Chart,
    DataDate,
    category_order,
    chart_rows,
    chart_spec,
    data_date,
    family_colour,
    family_group,
    finish_chart,
    measure_facets,
    missing_tables,
)
from observatory.language_charts import (
    DECLARED,
    LANGUAGE_MIX_SQL,
    LANGUAGE_SQL,
    NETWORKS_SQL,
    TOP_LANGUAGE_MIX,
    TOP_LANGUAGES,
    draw_language_mix,
    draw_languages,
    draw_networks,
    language_note,
    networks_note,
)

# -- platform share, three ways ---------------------------------------------------------------

SHARE_MEASURES = (
    ("Servers", "servers", "servers_share"),
    ("Users (accounts)", "users", "users_share"),
    ("Active users (last 30 days)", "active_users", "active_users_share"),
)


def _three_ways_sql(table: str, key: str, label: str, family: str | None = None) -> str:
    """Long-format share rows (one per category and measure) from a share table."""
    columns = f"{label} AS {key}" + (f", {family} AS family" if family else "")
    groups = "1, 2" if family else "1"
    parts = []
    for order, (measure, count, share) in enumerate(SHARE_MEASURES, start=1):
        parts.append(
            f"SELECT {columns}, '{measure}' AS measure, {order} AS measure_order, "
            f"sum({count}) AS count, round(sum({share}), 2) AS share_percent "
            f"FROM {table} GROUP BY {groups}"
        )
    return "\nUNION ALL\n".join(parts) + f"\nORDER BY measure_order, share_percent DESC, {key}"


def _draw_three_ways(key: str, colour_field: str) -> Callable[..., alt.TopLevelMixin]:
    def draw(rows: list[dict[str, Any]], chart: Chart, date: DataDate, width: int) -> Any:
        return measure_facets(
            rows,
            chart,
            date,
            width,
            key=key,
            key_title=key.capitalize(),
            measures=SHARE_MEASURES,
            bars=lambda base, tooltip: base.mark_bar(stroke="#333333", strokeWidth=0.3).encode(
                color=family_colour(colour_field), tooltip=tooltip
            ),
        )

    return draw


def _other_note(rows: list[dict[str, Any]]) -> str:
    return "'other': every smaller platform together."


# -- over time ---------------------------------------------------------------------------------

HISTORY_SQL = f"""
SELECT h.crawl_id, coalesce(c.started_at, h.crawl_date) AS crawl_started,
       {family_group("h.family")} AS family,
       sum(h.servers) AS servers, sum(h.users) AS users, sum(h.active_users) AS active_users,
       round(sum(h.servers_share), 2) AS servers_share,
       round(sum(h.users_share), 2) AS users_share,
       round(sum(h.active_users_share), 2) AS active_users_share
FROM platform_share_history h LEFT JOIN crawls c ON c.id = h.crawl_id
GROUP BY h.crawl_id, 3 ORDER BY h.crawl_id, active_users DESC, family
"""


def _draw_history(value: str, title: str, fmt: str) -> Callable[..., alt.TopLevelMixin]:
    def draw(rows: list[dict[str, Any]], chart: Chart, date: DataDate, width: int) -> Any:
        order = category_order(
            [r for r in rows if r["crawl_id"] == rows[-1]["crawl_id"]], "family", value
        )
        colour = family_colour(legend=True)
        colour.sort = order  # type: ignore[attr-defined]
        starts = sorted({str(r["crawl_started"]) for r in rows})
        days = sorted({start[:10] for start in starts})
        one_day = len(days) == 1
        axis = alt.Axis(labelAngle=0, format="%H:%M" if one_day else "%d %b %Y", tickCount=6)
        if len(starts) <= 8:
            axis.values = [_epoch_ms(start) for start in starts]
        x_title = f"Crawl started (UTC), {days[0]}" if one_day else "Crawl started (UTC)"
        base = alt.Chart(ROWS).encode(
            x=alt.X("crawl_started:T", title=x_title, axis=axis, scale=alt.Scale(type="utc")),
            y=alt.Y(f"{value}:Q", title=title, axis=alt.Axis(format=fmt)),
            color=colour,
            tooltip=[
                alt.Tooltip("family:N", title="Platform"),
                alt.Tooltip("crawl_id:O", title="Crawl"),
                alt.Tooltip("crawl_started:N", title="Started (UTC)"),
                alt.Tooltip(f"{value}:Q", title=title, format=","),
                alt.Tooltip("servers:Q", title="Servers", format=","),
            ],
        )
        lines = base.mark_line(strokeWidth=2.5)
        points = base.mark_point(filled=True, size=60, stroke="#333333", strokeWidth=0.5)
        layered = alt.layer(lines, points).properties(width=width - 90, height=260)
        return finish_chart(layered, chart, rows, date, width)

    return draw


def _epoch_ms(stamp: str) -> int:
    """Milliseconds since the epoch of an ISO time stamp (UTC when it names no zone)."""
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _crawls_note(rows: list[dict[str, Any]]) -> str:
    crawls = len({r["crawl_id"] for r in rows})
    if crawls == 1:
        return "One crawl so far: one point per platform; lines appear from the second crawl."
    return f"{crawls} crawls. 'other': every smaller platform together."


# -- concentration -----------------------------------------------------------------------------

_SUSPECT = " OR ".join(
    f"',' || coalesce(quality_flags, '') || ',' LIKE '%,{flag},%'" for flag in SUSPECT_FLAGS
)
CONCENTRATION_SQL = f"""
WITH counted AS (
    SELECT domain, users_active_month AS active FROM instances
    WHERE status = 'alive' AND users_active_month > 0 AND NOT ({_SUSPECT})
), ranked AS (
    SELECT domain, active,
           row_number() OVER (ORDER BY active DESC, domain) AS servers,
           sum(active) OVER (ORDER BY active DESC, domain ROWS UNBOUNDED PRECEDING) AS cumulative,
           sum(active) OVER () AS total,
           count(*) OVER () AS all_servers
    FROM counted
)
SELECT servers, cumulative AS active_users, total AS total_active_users, all_servers,
       round(100.0 * cumulative / total, 2) AS cumulative_share_percent,
       (2 * cumulative >= total AND 2 * (cumulative - active) < total) AS half_point
FROM ranked
WHERE servers <= 50 OR (servers <= 1000 AND servers % 10 = 0) OR servers % 100 = 0
   OR servers = all_servers OR (2 * cumulative >= total AND 2 * (cumulative - active) < total)
ORDER BY servers
"""


def half_count(rows: list[dict[str, Any]]) -> int | None:
    """The smallest number of servers holding at least half the active users (from the curve)."""
    return next((int(r["servers"]) for r in rows if r["half_point"]), None)


def _concentration_note(rows: list[dict[str, Any]]) -> str:
    half = half_count(rows)
    if half is None:
        return "No server reported active users."
    servers = rows[-1]["all_servers"]
    return (
        f"{half:,} of {servers:,} servers hold half of the "
        f"{rows[-1]['total_active_users']:,} active users."
    )


def _draw_concentration(
    rows: list[dict[str, Any]], chart: Chart, date: DataDate, width: int
) -> Any:
    half = half_count(rows)
    curve = (
        alt.Chart(ROWS)
        .mark_line(strokeWidth=2.5, color=FAMILY_COLOURS["mastodon"])
        .encode(
            x=alt.X(
                "servers:Q",
                title="Number of servers, largest first (log scale)",
                scale=alt.Scale(type="log"),
            ),
            y=alt.Y(
                "cumulative_share_percent:Q",
                title="Share of active users (%)",
                scale=alt.Scale(domain=[0, 100]),
            ),
            tooltip=[
                alt.Tooltip("servers:Q", title="Largest servers", format=","),
                alt.Tooltip("active_users:Q", title="Their active users", format=","),
                alt.Tooltip("cumulative_share_percent:Q", title="Share (%)", format=".1f"),
            ],
        )
    )
    rule = (
        alt.Chart(alt.Data(values=[{"y": 50}]))
        .mark_rule(strokeDash=[4, 4], color="#666666")
        .encode(y="y:Q")
    )
    layers: list[Any] = [rule, curve]
    if half is not None:
        marker = [r for r in rows if r["half_point"]]
        point = alt.Chart(alt.Data(values=marker)).encode(
            x="servers:Q", y="cumulative_share_percent:Q"
        )
        layers.append(point.mark_point(filled=True, size=90, color=FAMILY_COLOURS["peertube"]))
        layers.append(
            point.mark_text(align="left", dx=8, dy=12, fontSize=12, fontWeight="bold").encode(
                text=alt.value(f"{half:,} servers hold half")
            )
        )
    layered = alt.layer(*layers).properties(width=width - 90, height=260)
    return finish_chart(layered, chart, rows, date, width)


# -- weekly activity ---------------------------------------------------------------------------

ACTIVITY_METRICS = (
    ("Posts per week", "statuses"),
    ("Logins per week", "logins"),
    ("Sign-ups per week", "registrations"),
)
WEEKLY_SQL = (
    "\nUNION ALL\n".join(
        f"SELECT week, '{label}' AS metric, {order} AS metric_order, {column} AS count, servers, "
        "complete FROM weekly_activity_totals"
        for order, (label, column) in enumerate(ACTIVITY_METRICS, start=1)
    )
    + "\nORDER BY metric_order, week"
)


def _weekly_note(rows: list[dict[str, Any]]) -> str:
    partial = {r["week"] for r in rows if not r["complete"]}
    if not partial:
        return "Sums over the Mastodon-API servers that publish weekly activity."
    return (
        "Sums over the Mastodon-API servers that publish weekly activity; hollow points: "
        "weeks not yet over when fetched (not joined by the line)."
    )


def _draw_weekly(rows: list[dict[str, Any]], chart: Chart, date: DataDate, width: int) -> Any:
    base = alt.Chart(ROWS).encode(
        x=alt.X(
            "week:T",
            title="Week starting (UTC)",
            axis=alt.Axis(format="%d %b", labelAngle=0),
            scale=alt.Scale(type="utc"),
        ),
        y=alt.Y("count:Q", title=None, axis=alt.Axis(format="~s")),
        tooltip=[
            alt.Tooltip("week:N", title="Week of"),
            alt.Tooltip("metric:N", title="Measure"),
            alt.Tooltip("count:Q", title="Count", format=","),
            alt.Tooltip("servers:Q", title="Servers reporting", format=","),
        ],
    )
    # The line joins finished weeks only: a week still running when fetched would read as a drop.
    line = base.mark_line(strokeWidth=2, color=FAMILY_COLOURS["mastodon"]).transform_filter(
        "datum.complete == 1"
    )
    points = base.mark_point(size=40, color=FAMILY_COLOURS["mastodon"]).encode(
        fill=alt.condition(
            "datum.complete == 1", alt.value(FAMILY_COLOURS["mastodon"]), alt.value("white")
        )
    )
    layered = alt.layer(line, points).properties(width=width - 90, height=110)
    faceted = layered.facet(
        row=alt.Row(
            "metric:N",
            sort=[label for label, _c in ACTIVITY_METRICS],
            header=alt.Header(
                title=None, labelAngle=0, labelOrient="top", labelAnchor="start",
                labelFontWeight="bold", labelFontSize=12,
            ),
        ),
        spacing=8,
    ).resolve_scale(y="independent")  # fmt: skip
    return finish_chart(faceted, chart, rows, date, width)


# -- the list ----------------------------------------------------------------------------------

NODEINFO = "servers' NodeInfo as reported (never estimated)"
CHARTS: tuple[Chart, ...] = (
    Chart(
        slug="platform-share",
        title="Fediverse platform share, three ways",
        units="Share (%) of servers, of user accounts and of monthly active users, by platform.",
        method=f"{NODEINFO}; servers that did not report a count add nothing to its sum.",
        sql=_three_ways_sql("platform_share", "family", family_group("family")),
        needs=("platform_share",),
        draw=_draw_three_ways("family", "family"),
        notes=_other_note,
    ),
    Chart(
        slug="software-share",
        title=f"Top {TOP_SOFTWARE} server software, three ways",
        units="Share (%) of servers, of user accounts and of monthly active users, by software.",
        method=f"{NODEINFO}; forks count as their own software, coloured by platform.",
        sql=(
            "WITH top AS (SELECT software FROM software_share ORDER BY servers DESC, software "
            f"LIMIT {TOP_SOFTWARE}), s AS (SELECT s.*, (SELECT {family_group('i.family')} FROM "
            "instances i WHERE i.software = s.software AND i.status = 'alive' LIMIT 1) AS family "
            "FROM software_share s WHERE s.software IN (SELECT software FROM top))\n"
            + _three_ways_sql("s", "software", "software", family="family")
        ),
        needs=("software_share",),
        draw=_draw_three_ways("software", "family"),
    ),
    Chart(
        slug="active-users-over-time",
        title="Monthly active users by platform, crawl by crawl",
        units="Active users (logged in during the last 30 days) summed per platform.",
        method=f"{NODEINFO}, one point per crawl.",
        sql=HISTORY_SQL,
        needs=("platform_share_history",),
        draw=_draw_history("active_users", "Monthly active users", "~s"),
        notes=_crawls_note,
    ),
    Chart(
        slug="share-over-time",
        title="Share of active users by platform, crawl by crawl",
        units="Share (%) of all monthly active users of the servers that answered each crawl.",
        method=f"{NODEINFO}, one point per crawl.",
        sql=HISTORY_SQL,
        needs=("platform_share_history",),
        draw=_draw_history("active_users_share", "Share of active users (%)", ".0f"),
        notes=_crawls_note,
    ),
    Chart(
        slug="concentration",
        title="How few servers hold half the active users",
        units="Cumulative share (%) of monthly active users held by the N largest servers.",
        method=(
            f"{NODEINFO}; counts flagged as suspect ({', '.join(SUSPECT_FLAGS)}) are left out."
        ),
        sql=CONCENTRATION_SQL,
        needs=("instances",),
        draw=_draw_concentration,
        notes=_concentration_note,
    ),
    Chart(
        slug="weekly-activity",
        title="Network-wide activity, week by week",
        units="Posts, logins and sign-ups per week, summed over the servers that report them.",
        method="Mastodon's /api/v1/instance/activity (12 weeks per server, deduplicated).",
        sql=WEEKLY_SQL,
        needs=("weekly_activity_totals",),
        draw=_draw_weekly,
        notes=_weekly_note,
    ),
    Chart(
        slug="most-blocked",
        title=f"The {TOP_DOMAINS} most blocked domains",
        units="Number of servers whose published block list covers the domain (any severity).",
        method="public block lists (named, wildcard, parent-domain and digest matches).",
        sql=MOST_BLOCKED_SQL.format(order="blockers"),
        needs=("blocked_domains",),
        draw=draw_most_blocked("blockers", "Servers blocking it"),
        notes=blocks_note,
    ),
    Chart(
        slug="most-blocked-by-reach",
        title=f"The {TOP_DOMAINS} most blocked domains, by people affected",
        units="Monthly active users on the servers that block the domain.",
        method="public block lists and the blockers' NodeInfo active users.",
        sql=MOST_BLOCKED_SQL.format(order="blockers_active_users"),
        needs=("blocked_domains",),
        draw=draw_most_blocked("blockers_active_users", "Active users of the blocking servers"),
        notes=blocks_note,
    ),
    Chart(
        slug="severities-by-platform",
        title="How each platform blocks: severities",
        units="Share (%) of each platform's active block rules by normalised severity.",
        method="public block lists; each platform's words mapped to one scale (see the README).",
        sql=SEVERITY_SQL,
        needs=("blocks_by_platform",),
        draw=draw_severities,
    ),
    Chart(
        slug="blocklist-visibility",
        title="Can the block lists be read?",
        units="Share (%) of answering servers by what their block list endpoint gave.",
        method=(
            "read = public list; restricted = 401/403; hidden = 404; not published = the "
            "software has no public list."
        ),
        sql=VISIBILITY_SQL,
        needs=("instances",),
        draw=draw_visibility,
        notes=visibility_note,
    ),
    Chart(
        slug="languages",
        title="The Fediverse by declared language",
        units=(
            f"Share (%) of servers, of user accounts and of monthly active users, for the "
            f"{TOP_LANGUAGES} languages most servers declare."
        ),
        method=f"{DECLARED}; users from NodeInfo.",
        sql=LANGUAGE_SQL,
        needs=("language_share",),
        draw=draw_languages,
        notes=language_note,
    ),
    Chart(
        slug="language-platforms",
        title="Which platforms serve each language",
        units=(
            f"Share (%) of the servers declaring each of the {TOP_LANGUAGE_MIX} most "
            "declared languages, by platform."
        ),
        method=f"{DECLARED}.",
        sql=LANGUAGE_MIX_SQL,
        needs=("instances",),
        draw=draw_language_mix,
        notes=lambda rows: "A server declaring several languages is counted under each.",
    ),
    Chart(
        slug="hosting-networks",
        title="How few networks host half the active users",
        units=(
            "Share (%) of monthly active users on the servers each network hosts, largest "
            "first: by AS once an IP-to-AS table is imported, else by /24 or /48 prefix. "
            "Highlighted: the fewest that hold half."
        ),
        method=(
            "the address each server was reached at (and an imported iptoasn IP-to-AS "
            "table, when there is one); active users from NodeInfo."
        ),
        sql=NETWORKS_SQL,
        needs=("hosting_share",),
        draw=draw_networks,
        notes=networks_note,
    ),
)
BY_SLUG = {chart.slug: chart for chart in CHARTS}


@dataclass
class RenderedChart:
    """A chart ready to show or save: its spec and data, or why it cannot be drawn."""

    chart: Chart
    rows: list[dict[str, Any]]
    spec: dict[str, Any] | None
    missing: str = ""


def render_charts(
    connection: sqlite3.Connection, width: int = DEFAULT_WIDTH, validate: bool = True
) -> tuple[DataDate, list[RenderedChart]]:
    """Every chart over the database; charts whose tables are absent say what to run."""
    date = data_date(connection)
    rendered = []
    for chart in CHARTS:
        absent = missing_tables(connection, chart)
        if absent:
            note = f"not built yet: run `fediscope analyze` (needs {', '.join(absent)})"
            rendered.append(RenderedChart(chart, [], None, note))
            continue
        rows = chart_rows(connection, chart)
        if not rows:
            rendered.append(RenderedChart(chart, [], None, "no data in this database yet"))
            continue
        spec = chart_spec(chart, rows, date, width, validate)
        rendered.append(RenderedChart(chart, rows, spec))
    return date, rendered
