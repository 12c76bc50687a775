"""Datasette plugin: the journalists' `/platforms` charts and the `/map` of the largest servers.

Routes (paths are a contract):
- `/platforms`: every chart of observatory.charts, each with PNG/SVG downloads and its data as CSV;
- `/platforms/<chart>.csv` and `.json`: one chart's data (the rows its spec draws);
- `/map`: the stored layout of graph.map_layout drawn by observatory.map_chart.
The answers come from those library functions (the same ones `fediscope charts` uses), run on
Datasette's read-only connection (observatory.site.run_on). Building the specs takes Altair a
noticeable fraction of a second, so finished specs are kept per database file version (path,
size, modification time): a re-analysed database is redrawn, an unchanged one is not.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import urllib.parse
from collections import OrderedDict
from typing import Any

import markupsafe
from datasette.utils.asgi import Response

from graph.map_layout import map_data
from observatory import as_of, charts, site
from observatory.map_chart import map_spec
from observatory.map_colours import COLOURINGS
from observatory.snapshots import snapshot_rows, stored_specs

CACHE_SIZE = 16
_cache: OrderedDict[tuple, Any] = OrderedDict()


def register_routes() -> list[tuple[str, Any]]:
    return [
        (r"^/platforms$", platforms_page),
        (r"^/platforms/(?P<slug>[a-z0-9-]+)\.(?P<format>csv|json)$", chart_data),
        (r"^/map$", map_page),
    ]


def _version(database: Any) -> tuple | None:
    """The database file's identity and version, or None (memory databases: no caching)."""
    path = getattr(database, "path", None)
    if not path:
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    wal = f"{path}-wal"
    wal_mtime = os.stat(wal).st_mtime_ns if os.path.exists(wal) else 0
    return (path, stat.st_size, stat.st_mtime_ns, wal_mtime)


async def _cached(
    datasette: Any, database: Any, key: str, function: Any, *args: Any, then: Any = None
) -> Any:
    """`function(connection, *args)` (then `then(*value)` in a worker thread), kept per
    database file version."""
    version = _version(database)
    if version is not None and (version, key) in _cache:
        _cache.move_to_end((version, key))
        return _cache[(version, key)]
    value = await site.run_on(datasette, database, function, *args)
    if then is not None:
        value = await asyncio.to_thread(then, *value)
    if version is not None:
        _cache[(version, key)] = value
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return value


#: A chart as found: (chart, its rows or None, why it is missing, its spec JSON if drawn).
Found = tuple[charts.Chart, list[dict] | None, str, str | None]


def platform_rows(
    connection: sqlite3.Connection, crawl_id: int | None = None
) -> tuple[charts.DataDate, list[Found]]:
    """Every /platforms chart's rows (or why there are none): the SQL part, run under the time
    limit. Live, the charts analyze drew (observatory.snapshots.chart_specs) when they are there;
    with `crawl_id`, the rows kept for that crawl."""
    date, found = charts.data_date(connection), []
    stored = stored_specs(connection) if crawl_id is None else {}
    for chart in charts.CHARTS:
        if crawl_id is not None:
            rows = snapshot_rows(connection, crawl_id, chart.slug)
            found.append((chart, rows, NOT_KEPT.format(crawl_id) if rows is None else "", None))
            continue
        if chart.slug in stored:
            count, missing, spec = stored[chart.slug]
            found.append((chart, [{}] * count if spec else None, missing, spec))
            continue
        absent = charts.missing_tables(connection, chart)
        if absent:
            note = f"not built yet: run `fediscope analyze` (needs {', '.join(absent)})"
            found.append((chart, None, note, None))
        else:
            found.append((chart, charts.chart_rows(connection, chart), "", None))
    return date, found


def platform_items(date: charts.DataDate, found: list[Found]) -> tuple[charts.DataDate, list[dict]]:
    """Every /platforms chart as the template needs it (spec JSON ready for the page). Drawing
    takes Altair most of a second, so it runs apart from the SQL and its time limit."""
    items = []
    for chart, rows, missing, drawn in found:
        if rows is not None and not rows:
            missing = "no data in this database yet"
        if drawn is not None:
            spec = json.loads(drawn)
        else:
            spec = charts.chart_spec(chart, rows, date, validate=False) if rows else None
        items.append(
            {
                "slug": chart.slug,
                "title": chart.title,
                "units": chart.units,
                "method": chart.method,
                "sql": chart.sql.strip(),
                "missing": missing,
                "rows": len(rows or []),
                "spec_json": markupsafe.Markup(site.vega_spec_json(spec)) if spec else "",
            }
        )
    return date, items


NOT_KEPT = "not kept for crawl {}: no analysis ran while it was the latest finished crawl"


async def _charts_crawl(datasette: Any, database: Any, request: Any) -> as_of.Answering:
    """As of which crawl the charts answer: ?crawl=N, or the last finished crawl while a
    crawl writes and its charts were kept; else the live derived tables (view None)."""
    when = await as_of.answering_for(datasette, database, request)
    if when.view is None or when.pinned:
        return when
    kept = await site.run_on(datasette, database, snapshot_rows, when.view.id, "platform-share")
    return when if kept is not None else as_of.Answering(None, when.cited, False)


async def platforms_page(datasette: Any, request: Any) -> Response:
    try:
        with site.problems("The charts"):
            database = await site.pick_database(datasette, request)
            when = await _charts_crawl(datasette, database, request)
            crawl_id = when.view.id if when.view else None
            date, items = await _cached(
                datasette,
                database,
                f"platforms:{crawl_id}",
                when.run(platform_rows),
                crawl_id,
                then=platform_items,
            )
    except site.Problem as problem:
        return await site.render_message(datasette, request, problem.sentence, problem.status)
    explicit = request.args.get("db") == database.name
    pinned = when.cited.id if when.pinned and when.cited else None
    if pinned is not None and all(item["missing"] == NOT_KEPT.format(pinned) for item in items):
        return await site.render_message(
            datasette,
            request,
            f"The charts of crawl {pinned} were not kept: no analysis ran while it was the "
            "latest finished crawl.",
            404,
        )
    items = [dict(item) for item in items]  # the cached list is shared between requests
    for item in items:
        item["csv"] = site.link(
            f"/platforms/{item['slug']}.csv", database.name if explicit else None, crawl=pinned
        )
        item["sql_url"] = f"/{urllib.parse.quote(database.name)}?" + urllib.parse.urlencode(
            {"sql": item["sql"]}
        )
    context = {"date": date, "charts": items, "citation": when.citation(request)}
    return await site.render_page(datasette, request, "fediscope_platforms.html", context)


def _chart_rows(connection: sqlite3.Connection, slug: str) -> tuple[list[str], list[dict]] | None:
    chart = charts.BY_SLUG[slug]
    if charts.missing_tables(connection, chart):
        return None
    cursor = connection.execute(chart.sql)
    columns = [d[0] for d in cursor.description]
    return columns, [dict(zip(columns, row, strict=True)) for row in cursor]


def _kept_rows(
    connection: sqlite3.Connection, crawl_id: int, slug: str
) -> tuple[list[str], list[dict]] | None:
    rows = snapshot_rows(connection, crawl_id, slug)
    if rows is None:
        return None
    columns = list(rows[0]) if rows else []
    return columns, rows


async def chart_data(datasette: Any, request: Any) -> Response:
    slug, format_ = request.url_vars["slug"], request.url_vars["format"]
    if slug not in charts.BY_SLUG:
        return Response.text(f"no chart called {slug}", status=404)
    found, problem = None, None
    try:
        with site.problems("The chart's data"):
            database = await site.pick_database(datasette, request)
            when = await _charts_crawl(datasette, database, request)
            if when.view is None:
                found = await site.run_on(datasette, database, _chart_rows, slug)
            else:
                found = await site.run_on(datasette, database, _kept_rows, when.view.id, slug)
    except site.Problem as caught:
        problem = caught
    if problem is None and found is None:
        sentence = (
            f"The data of {slug} was {NOT_KEPT.format(when.view.id)}."
            if when.view is not None
            else "Not built yet: run `fediscope analyze`."
        )
        problem = site.Problem(sentence, 404)
    if problem is not None:
        return await site.respond(datasette, request, format_, None, "", {}, problem=problem)
    columns, rows = found
    table = (columns, ([row[c] for c in columns] for row in rows), f"fediscope-{slug}.csv")
    return await site.respond(datasette, request, format_, rows, "", {}, csv=table)


def map_picture(
    connection: sqlite3.Connection, db_param: str | None, colour: str = "platform"
) -> dict[str, Any]:
    """The /map spec over the stored layout coloured by `colour`, or what is missing."""
    nodes, edges, total = map_data(connection)
    if not nodes:
        return {"spec_json": "", "nodes": 0, "edges": 0}
    spec = map_spec(
        nodes,
        edges,
        total,
        charts.data_date(connection),
        href=lambda domain: site.link("/instance", db_param, domain=domain),
        colour=colour,
    )
    return {
        "spec_json": markupsafe.Markup(site.vega_spec_json(spec)),
        "nodes": len(nodes),
        "edges": len(edges),
        "total_edges": total,
        "colour": colour,
        "colourings": [
            (name, label, site.link("/map", db_param, colour=name))
            for name, label in zip(COLOURINGS, ("Platform", "Language", "Block camp"), strict=True)
        ],
    }


async def map_page(datasette: Any, request: Any) -> Response:
    try:
        with site.problems("The map"):
            database = await site.pick_database(datasette, request)
            db_param = database.name if request.args.get("db") == database.name else None
            colour = request.args.get("colour", "platform")
            colour = colour if colour in COLOURINGS else "platform"
            picture = await _cached(
                datasette, database, f"map:{db_param}:{colour}", map_picture, db_param, colour
            )
    except site.Problem as problem:
        return await site.render_message(datasette, request, problem.sentence, problem.status)
    return await site.render_page(datasette, request, "fediscope_map.html", {"map": picture})
