"""The charts of published blocking: the most blocked domains, each platform's severities, and
whether block lists can be read at all: their SQL, notes and drawings. The chart records
themselves are in observatory.charts.CHARTS, the one list of journalist charts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import altair as alt

from observatory.chart_kit import (
    ROWS,
    SEVERITY_COLOURS,
    TOP_DOMAINS,
    VISIBILITY_COLOURS,
    Chart,
    DataDate,
    category_order,
    family_group,
    finish_chart,
    share_bars,
)

MOST_BLOCKED_SQL = f"""
SELECT domain, blockers, suspend, silence, blockers_active_users
FROM blocked_domains ORDER BY {{order}} DESC, domain LIMIT {TOP_DOMAINS}
"""


def draw_most_blocked(value: str, title: str) -> Callable[..., alt.TopLevelMixin]:
    def draw(rows: list[dict[str, Any]], chart: Chart, date: DataDate, width: int) -> Any:
        # Names sit above their bars, not beside them: long domains then fit a phone screen.
        base = alt.Chart(ROWS).encode(
            y=alt.Y("domain:N", sort=None, title=None, axis=None),
            x=alt.X(f"{value}:Q", title=title, axis=alt.Axis(format="~s")),
        )
        bars = base.mark_bar(color=SEVERITY_COLOURS["suspend"], size=11, yOffset=6).encode(
            tooltip=[
                alt.Tooltip("domain:N", title="Blocked domain"),
                alt.Tooltip("blockers:Q", title="Servers blocking it", format=","),
                alt.Tooltip("suspend:Q", title="of which suspend", format=","),
                alt.Tooltip("silence:Q", title="of which silence", format=","),
                alt.Tooltip("blockers_active_users:Q", title="Their active users", format=","),
            ]
        )
        names = base.mark_text(align="left", baseline="bottom", fontSize=11, yOffset=-1).encode(
            x=alt.value(0),
            text=alt.Text("label:N"),
        )
        layered = (
            alt.layer(bars, names)
            .transform_calculate(label=f"datum.domain + '  (' + format(datum.{value}, ',') + ')'")
            .properties(width=width - 60, height=alt.Step(30))
        )
        return finish_chart(layered, chart, rows, date, width)

    return draw


def blocks_note(rows: list[dict[str, Any]]) -> str:
    return (
        "Counts only block lists that could be read; servers whose lists are restricted or "
        "hidden are not in these numbers."
    )


SEVERITY_SQL = """
SELECT family, severity, rules, blockers,
       round(100.0 * rules / sum(rules) OVER (PARTITION BY family), 2) AS share_percent,
       sum(rules) OVER (PARTITION BY family) AS family_rules,
       family || ' (' || sum(rules) OVER (PARTITION BY family) || ' rules)' AS label
FROM blocks_by_platform ORDER BY family_rules DESC, family, rules DESC
"""


def draw_severities(rows: list[dict[str, Any]], chart: Chart, date: DataDate, width: int) -> Any:
    return share_bars(
        rows,
        chart,
        date,
        width,
        order=category_order(rows, "label", "rules"),
        field="severity",
        colours=SEVERITY_COLOURS,
        axis_title="Share of the platform's active block rules (%)",
        legend_title="Severity",
        tooltip=[
            alt.Tooltip("family:N", title="Platform"),
            alt.Tooltip("severity:N", title="Severity"),
            alt.Tooltip("rules:Q", title="Rules", format=","),
            alt.Tooltip("blockers:Q", title="Servers with such rules", format=","),
            alt.Tooltip("share_percent:Q", title="Share (%)", format=".1f"),
        ],
    )


VISIBILITY_LABEL = """CASE coalesce(blocks_visibility, '')
    WHEN 'public' THEN 'read' WHEN 'restricted' THEN 'restricted'
    WHEN 'hidden' THEN 'hidden' WHEN 'disallowed' THEN 'disallowed by robots.txt'
    WHEN 'unsupported' THEN 'not published' WHEN 'error' THEN 'error' ELSE 'not read' END"""
VISIBILITY_SQL = f"""
SELECT {family_group("family")} AS family, {VISIBILITY_LABEL} AS visibility,
       count(*) AS servers, coalesce(sum(users_active_month), 0) AS active_users,
       round(100.0 * count(*) / sum(count(*)) OVER (PARTITION BY {family_group("family")}), 2)
           AS share_percent,
       {family_group("family")} || ' ('
           || sum(count(*)) OVER (PARTITION BY {family_group("family")}) || ' servers)' AS label
FROM instances WHERE status = 'alive'
GROUP BY 1, 2 ORDER BY 1, servers DESC
"""


def visibility_note(rows: list[dict[str, Any]]) -> str:
    read = sum(r["servers"] for r in rows if r["visibility"] == "read")
    total = sum(r["servers"] for r in rows)
    return f"{read:,} of {total:,} answering servers publish a block list fediscope could read."


def draw_visibility(rows: list[dict[str, Any]], chart: Chart, date: DataDate, width: int) -> Any:
    order = category_order(rows, "label", "servers")
    if any(r["family"] == "other" for r in rows):  # 'other' last, whatever its label says
        other = next(r["label"] for r in rows if r["family"] == "other")
        order = [label for label in order if label != other] + [other]
    return share_bars(
        rows,
        chart,
        date,
        width,
        order=order,
        field="visibility",
        colours=VISIBILITY_COLOURS,
        axis_title="Share of the platform's servers (%)",
        legend_title="Block list",
        tooltip=[
            alt.Tooltip("family:N", title="Platform"),
            alt.Tooltip("visibility:N", title="Block list"),
            alt.Tooltip("servers:Q", title="Servers", format=","),
            alt.Tooltip("active_users:Q", title="Their active users", format=","),
            alt.Tooltip("share_percent:Q", title="Share (%)", format=".1f"),
        ],
    )
