"""What every journalist chart is built on: the palette, the `Chart` record, the data date,
running a chart's SQL, and the finished Vega-Lite spec with its title, units and source line.

The chart definitions themselves (one SQL query and one drawing per chart) are in
observatory.charts; the map (observatory.map_chart) uses the same palette and finishing.
"""

from __future__ import annotations

import sqlite3
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import altair as alt

from graph.rows import dict_rows
from observatory.crawl_date import latest_crawl
from observatory.palette import (  # noqa: F401  (re-exported: the charts take them from here)
    FAMILIES,
    FAMILY_COLOURS,
    HALF_COLOURS,
    SERIES_COLOURS,
    SEVERITY_COLOURS,
    SINGLE_COLOUR,
    VISIBILITY_COLOURS,
)

DEFAULT_WIDTH = 560
#: Characters per line of subtitle and footer text: narrow enough for a 390 px phone screen,
#: where the page shrinks the plots but cannot re-wrap text inside a chart.
WRAP = 58
TITLE_WRAP = 38
#: Charts are built over this named data set and the rows are attached to the finished spec
#: (`datasets`): Altair deep-copies inline data at every layer and facet, which cost seconds.
ROWS = alt.Data(name="rows")
TOP_DOMAINS = 15
TOP_SOFTWARE = 10
SOURCE = "fediscope"

_MAJOR = ", ".join(f"'{f}'" for f in FAMILIES if f != "other")
FAMILY_GROUP = f"CASE WHEN {{column}} IN ({_MAJOR}) THEN {{column}} ELSE 'other' END"


def family_group(column: str) -> str:
    """SQL mapping a family column to its colour group (a major family or 'other')."""
    return FAMILY_GROUP.format(column=column)


@dataclass(frozen=True)
class DataDate:
    """Which crawl the charts show: the latest one, with its date and size."""

    crawl_id: int | None
    date: str
    servers_answered: int

    def line(self) -> str:
        if self.crawl_id is None:
            return "No crawl in this database yet"
        return (
            f"Data: crawl #{self.crawl_id} of {self.date}, "
            f"{self.servers_answered:,} servers answering"
        )


@dataclass(frozen=True)
class Chart:
    """One chart: what it shows, the query behind it, how it was gathered and how it is drawn."""

    slug: str
    title: str
    units: str
    method: str
    sql: str
    needs: tuple[str, ...]
    draw: Callable[[list[dict[str, Any]], Chart, DataDate, int], alt.TopLevelMixin]
    notes: Callable[[list[dict[str, Any]]], str] = field(default=lambda rows: "")


def data_date(connection: sqlite3.Connection) -> DataDate:
    """The data's crawl (crawl_date.latest_crawl), its day (UTC) and the servers that answered."""
    crawl_id, at, _ = latest_crawl(connection)
    if crawl_id is None:
        return DataDate(None, "", 0)
    (alive,) = connection.execute(
        "SELECT count(*) FROM instances WHERE status = 'alive'"
    ).fetchone()
    return DataDate(crawl_id, str(at)[:10], int(alive))


def missing_tables(connection: sqlite3.Connection, chart: Chart) -> list[str]:
    present = {
        name
        for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
        )
    }
    return [table for table in chart.needs if table not in present]


def chart_rows(connection: sqlite3.Connection, chart: Chart) -> list[dict[str, Any]]:
    """The chart's data: its SQL run over the database, as dicts (the CSV beside the chart)."""
    return dict_rows(connection, chart.sql)


def chart_spec(
    chart: Chart,
    rows: list[dict[str, Any]],
    date: DataDate,
    width: int = DEFAULT_WIDTH,
    validate: bool = True,
) -> dict[str, Any]:
    """The Vega-Lite spec (a plain dict) of the chart over `rows`.

    Validation against the Vega-Lite schema costs ~0.2 s a chart; the tests and `fediscope
    charts` validate, the live page (same code, same specs) skips it.
    """
    spec = chart.draw(rows, chart, date, width).to_dict(validate=validate)
    spec.setdefault("datasets", {})["rows"] = rows
    spec["usermeta"] = {"fediscope": {"chart": chart.slug, "width": width}}
    return spec


def _title(chart: Chart, extra: str = "") -> alt.TitleParams:
    lines = textwrap.wrap(chart.units, WRAP)
    if extra:
        lines += textwrap.wrap(extra, WRAP)
    return alt.TitleParams(
        textwrap.wrap(chart.title, TITLE_WRAP),
        subtitle=lines,
        anchor="start",
        fontSize=16,
        subtitleFontSize=11,
        subtitleColor="#333333",
    )


def finish_chart(
    body: Any, chart: Chart, rows: list[dict[str, Any]], date: DataDate, width: int
) -> alt.TopLevelMixin:
    """The body under its title, with the data date and source line as a footer.

    The footer is the body's own bottom title framed by its full bounds, so it starts at the
    chart's left edge (under the axis labels) like the title, not at the plot's.
    """
    source = f"{date.line()}. Source: {SOURCE}, {chart.method}"
    footer = alt.TitleParams(
        textwrap.wrap(source, WRAP + 6),
        orient="bottom",
        anchor="start",
        frame="bounds",
        fontSize=10,
        fontWeight="normal",
        color="#555555",
        offset=12,
    )
    whole = alt.vconcat(body.properties(title=footer), title=_title(chart, chart.notes(rows)))
    return (
        whole.configure(background="white", padding=10)
        .configure_view(stroke=None)
        .configure_axis(labelFontSize=11, titleFontSize=11, labelLimit=150)
    )


def family_colour(field_name: str = "family", legend: bool = False) -> alt.Color:
    return alt.Color(
        f"{field_name}:N",
        scale=alt.Scale(domain=list(FAMILIES), range=list(FAMILY_COLOURS.values())),
        legend=alt.Legend(title="Platform", orient="top", columns=3) if legend else None,
    )


def category_order(rows: list[dict[str, Any]], key: str, value: str) -> list[str]:
    """Categories ordered by `value` descending, 'other' last."""
    totals: dict[str, float] = {}
    for row in rows:
        totals[row[key]] = totals.get(row[key], 0) + (row[value] or 0)
    named = sorted((k for k in totals if k != "other"), key=lambda k: (-totals[k], k))
    return named + (["other"] if "other" in totals else [])


def history_spec(answer: Any) -> dict[str, Any]:
    """Vega-Lite for a server's profile (observatory.profile): users and active users per crawl
    (points, so one crawl still shows), drawn on the /instance page."""
    values = []
    for point in answer.history:
        for metric, value in (
            ("users", point.users_total),
            ("active users (month)", point.users_active_month),
        ):
            if value is not None:
                values.append(
                    {"crawl": point.crawl_id, "date": point.observed_at, "metric": metric,
                     "value": value}
                )  # fmt: skip
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v6.json",
        "title": {"text": f"Users of {answer.domain} per crawl", "anchor": "start"},
        "width": "container",
        "height": 220,
        "data": {"values": values},
        "mark": {"type": "line", "point": True, "tooltip": True},
        "encoding": {
            "x": {"field": "date", "type": "temporal", "title": "crawl (UTC)"},
            "y": {"field": "value", "type": "quantitative", "title": "accounts"},
            "color": {
                "field": "metric",
                "type": "nominal",
                "title": None,
                "scale": {"range": list(SERIES_COLOURS)},
                "legend": {"orient": "bottom"},
            },
        },
    }


def measure_facets(
    rows: list[dict[str, Any]],
    chart: Chart,
    date: DataDate,
    width: int,
    *,
    key: str,
    key_title: str,
    measures: tuple[tuple[str, str, str], ...],
    bars: Callable[[alt.Chart, list[alt.Tooltip]], alt.Chart],
) -> Any:
    """One facet a measure (servers, users, active users), each a bar a `key` with its share,
    ordered by the first measure; `bars` marks the bars of the shared base with the tooltip."""
    order = category_order([r for r in rows if r["measure_order"] == 1], key, "count")
    base = alt.Chart(ROWS).encode(
        y=alt.Y(f"{key}:N", sort=order, title=None),
        x=alt.X(
            "share_percent:Q",
            title="Share (%)",
            scale=alt.Scale(domain=[0, 100]),
            axis=alt.Axis(values=[0, 25, 50, 75, 100]),
        ),
    )
    tooltip = [
        alt.Tooltip(f"{key}:N", title=key_title),
        alt.Tooltip("measure:N", title="Measure"),
        alt.Tooltip("count:Q", title="Count", format=","),
        alt.Tooltip("share_percent:Q", title="Share (%)", format=".2f"),
    ]
    labels = base.mark_text(align="left", dx=3, fontSize=10).encode(
        text=alt.Text("share_percent:Q", format=".1f")
    )
    layered = alt.layer(bars(base, tooltip), labels).properties(
        width=width - 130, height=alt.Step(14)
    )
    faceted = layered.facet(
        row=alt.Row(
            "measure:N",
            sort=[m for m, _c, _s in measures],
            header=alt.Header(
                title=None,
                labelAngle=0,
                labelOrient="top",
                labelAnchor="start",
                labelFontWeight="bold",
                labelFontSize=12,
            ),
        ),
        spacing=10,
    )
    return finish_chart(faceted, chart, rows, date, width)


def share_bars(
    rows: list[dict[str, Any]],
    chart: Chart,
    date: DataDate,
    width: int,
    *,
    order: list[str],
    field: str,
    colours: dict[str, str],
    axis_title: str,
    legend_title: str,
    tooltip: list[Any],
) -> Any:
    """Horizontal bars, one per platform label, each stacked to 100% by `field`'s kinds."""
    kinds = [k for k in colours if any(r[field] == k for r in rows)]
    chart_ = (
        alt.Chart(ROWS)
        .mark_bar(stroke="white", strokeWidth=0.5)
        .encode(
            y=alt.Y("label:N", sort=order, title=None),
            x=alt.X(
                "share_percent:Q",
                stack="zero",
                title=axis_title,
                scale=alt.Scale(domain=[0, 100]),
            ),
            color=alt.Color(
                f"{field}:N",
                scale=alt.Scale(domain=kinds, range=[colours[k] for k in kinds]),
                sort=kinds,
                legend=alt.Legend(title=legend_title, orient="top", columns=2),
            ),
            order=alt.Order(f"{field}_order:Q"),
            tooltip=tooltip,
        )
        .transform_calculate(**{f"{field}_order": f"indexof({kinds!r}, datum.{field})"})
        .properties(width=width - 130, height=alt.Step(18))
    )
    return finish_chart(chart_, chart, rows, date, width)
