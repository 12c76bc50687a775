"""The `/map` picture as one Vega-Lite spec over the stored layout (`map_nodes`, `map_edges`).

Servers are circles at their stored position, coloured by platform (the charts' palette), sized
by monthly active users; block edges are drawn over the map (beneath the circles, which stay
visible and hoverable) only when the reader ticks the box. The page computes nothing: positions
come from `fediscope analyze` (graph.map_layout).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import altair as alt

from graph.map_layout import EXTENT, MAP_NODES
from observatory.chart_kit import FAMILY_COLOURS, SEVERITY_COLOURS, Chart, DataDate, finish_chart

MAP_CHART = Chart(
    slug="map",
    title="The Fediverse's largest servers, placed by federation",
    units=(
        f"Up to {MAP_NODES:,} servers with the most monthly active users; servers that federate "
        "with each other sit close. Circle area: active users. Colour: platform."
    ),
    method=(
        "peer lists (block-aware: pairs where either side suspends the other are cut), "
        "force layout with a fixed seed; positions have no unit."
    ),
    sql="SELECT * FROM map_nodes ORDER BY rank",
    needs=("map_nodes", "map_edges"),
    draw=lambda rows, chart, date, width: alt.Chart(),
)
NODES = alt.Data(name="nodes")
EDGES = alt.Data(name="edges")


def map_spec(
    nodes: list[dict[str, Any]],
    edges: list[dict[str, Any]],
    total_edges: int,
    date: DataDate,
    width: int = 720,
    href: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """The map's Vega-Lite spec with its nodes and edges attached as named data sets."""
    side = width - 20
    position = alt.Scale(domain=[0, EXTENT], nice=False, zero=False)
    show = alt.param(
        name="show_blocks",
        value=False,
        bind=alt.binding_checkbox(name="Show block edges "),
    )
    severities = [s for s in SEVERITY_COLOURS if any(e["severity"] == s for e in edges)]
    blocks = (
        alt.Chart(EDGES)
        .mark_rule(strokeWidth=0.5, opacity=0.3)
        .encode(
            x=alt.X("x:Q", scale=position, axis=None),
            y=alt.Y("y:Q", scale=position, axis=None),
            x2="x2:Q",
            y2="y2:Q",
            color=alt.Color(
                "severity:N",
                scale=alt.Scale(
                    domain=severities or ["suspend"],
                    range=[SEVERITY_COLOURS[s] for s in severities or ["suspend"]],
                ),
                legend=alt.Legend(title="Block edge (when shown)", orient="bottom", columns=3),
            ),
        )
        .transform_filter("show_blocks")
    )
    tooltip = [
        alt.Tooltip("domain:N", title="Server"),
        alt.Tooltip("name:N", title="Its name"),
        alt.Tooltip("software:N", title="Software"),
        alt.Tooltip("users_active_month:Q", title="Active users (month)", format=","),
        alt.Tooltip("users_total:Q", title="Users", format=","),
        alt.Tooltip("links:Q", title="Federation links on the map", format=","),
        alt.Tooltip("rank:Q", title="Rank by active users"),
    ]
    servers = (
        alt.Chart(NODES)
        .transform_calculate(area="datum.users_active_month == null ? 0 : datum.users_active_month")
        .mark_circle(opacity=0.85, stroke="white", strokeWidth=0.4)
        .encode(
            x=alt.X("x:Q", scale=position, axis=None),
            y=alt.Y("y:Q", scale=position, axis=None),
            size=alt.Size("area:Q", scale=alt.Scale(type="sqrt", range=[10, 700]), legend=None),
            color=alt.Color(
                "colour_group:N",
                scale=alt.Scale(domain=list(FAMILY_COLOURS), range=list(FAMILY_COLOURS.values())),
                legend=alt.Legend(title="Platform", orient="top", columns=3),
            ),
            order=alt.Order("rank:Q", sort="ascending"),
            tooltip=tooltip,
            href=alt.Href("href:N"),
        )
    )
    body = (
        alt.layer(blocks, servers)  # edges under the circles: hovering a server still works
        .add_params(show)
        .resolve_scale(color="independent")
        .properties(width=side, height=side)
    )
    drawn = (
        f"{len(edges):,} of {total_edges:,} block edges drawn (suspensions first)."
        if len(edges) < total_edges
        else f"{total_edges:,} block edges between these servers."
    )
    note = f"{len(nodes):,} servers. {drawn} Click a server for its page."
    chart = Chart(
        MAP_CHART.slug, MAP_CHART.title, MAP_CHART.units, MAP_CHART.method, MAP_CHART.sql,
        MAP_CHART.needs, MAP_CHART.draw, notes=lambda rows: note,
    )  # fmt: skip
    spec = finish_chart(body, chart, nodes, date, width).to_dict(validate=False)
    link = href or (lambda domain: "")
    spec.setdefault("datasets", {}).update(
        nodes=[{**node, "href": link(node["domain"])} for node in nodes],
        edges=edges,
    )
    spec["usermeta"] = {"fediscope": {"chart": "map", "width": width, "square": True}}
    return spec
