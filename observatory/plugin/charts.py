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

import os
import sqlite3
import urllib.parse
from collections import OrderedDict
from typing import Any

import markupsafe
from datasette.utils.asgi import Response

from graph.map_layout import map_data
from observatory import charts, site
from observatory.map_chart import map_spec

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


async def _cached(datasette: Any, database: Any, key: str, function: Any, *args: Any) -> Any:
    version = _version(database)
    if version is not None and (version, key) in _cache:
        _cache.move_to_end((version, key))
        return _cache[(version, key)]
    value = await site.run_on(datasette, database, function, *args)
    if version is not None:
        _cache[(version, key)] = value
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return value


def platform_charts(connection: sqlite3.Connection) -> tuple[charts.DataDate, list[dict]]:
    """Every /platforms chart as the template needs it (spec JSON ready for the page)."""
    date, rendered = charts.render_charts(connection, validate=False)
    return date, [
        {
            "slug": item.chart.slug,
            "title": item.chart.title,
            "units": item.chart.units,
            "method": item.chart.method,
            "sql": item.chart.sql.strip(),
            "missing": item.missing,
            "rows": len(item.rows),
            "spec_json": markupsafe.Markup(site.vega_spec_json(item.spec)) if item.spec else "",
        }
        for item in rendered
    ]


async def platforms_page(datasette: Any, request: Any) -> Response:
    try:
        with site.problems("The charts"):
            database = await site.pick_database(datasette, request)
            date, items = await _cached(datasette, database, "platforms", platform_charts)
    except site.Problem as problem:
        return await site.render_message(datasette, request, problem.sentence, problem.status)
    explicit = request.args.get("db") == database.name
    items = [dict(item) for item in items]  # the cached list is shared between requests
    for item in items:
        item["csv"] = site.link(
            f"/platforms/{item['slug']}.csv", database.name if explicit else None
        )
        item["sql_url"] = f"/{urllib.parse.quote(database.name)}?" + urllib.parse.urlencode(
            {"sql": item["sql"]}
        )
    context = {"date": date, "charts": items}
    return await site.render_page(datasette, request, "fediscope_platforms.html", context)


def _chart_rows(connection: sqlite3.Connection, slug: str) -> tuple[list[str], list[dict]] | None:
    chart = charts.BY_SLUG[slug]
    if charts.missing_tables(connection, chart):
        return None
    cursor = connection.execute(chart.sql)
    columns = [d[0] for d in cursor.description]
    return columns, [dict(zip(columns, row, strict=True)) for row in cursor]


async def chart_data(datasette: Any, request: Any) -> Response:
    slug, format_ = request.url_vars["slug"], request.url_vars["format"]
    if slug not in charts.BY_SLUG:
        return Response.text(f"no chart called {slug}", status=404)
    found, problem = None, None
    try:
        with site.problems("The chart's data"):
            database = await site.pick_database(datasette, request)
            found = await site.run_on(datasette, database, _chart_rows, slug)
    except site.Problem as caught:
        problem = caught
    if problem is None and found is None:
        problem = site.Problem("Not built yet: run `fediscope analyze`.", 404)
    if problem is not None:
        return await site.respond(datasette, request, format_, None, "", {}, problem=problem)
    columns, rows = found
    table = (columns, ([row[c] for c in columns] for row in rows), f"fediscope-{slug}.csv")
    return await site.respond(datasette, request, format_, rows, "", {}, csv=table)


def map_picture(connection: sqlite3.Connection, db_param: str | None) -> dict[str, Any]:
    """The /map spec over the stored layout, or what is missing."""
    nodes, edges, total = map_data(connection)
    if not nodes:
        return {"spec_json": "", "nodes": 0, "edges": 0}
    spec = map_spec(
        nodes,
        edges,
        total,
        charts.data_date(connection),
        href=lambda domain: site.link("/instance", db_param, domain=domain),
    )
    return {
        "spec_json": markupsafe.Markup(site.vega_spec_json(spec)),
        "nodes": len(nodes),
        "edges": len(edges),
        "total_edges": total,
    }


async def map_page(datasette: Any, request: Any) -> Response:
    try:
        with site.problems("The map"):
            database = await site.pick_database(datasette, request)
            db_param = database.name if request.args.get("db") == database.name else None
            picture = await _cached(datasette, database, f"map:{db_param}", map_picture, db_param)
    except site.Problem as problem:
        return await site.render_message(datasette, request, problem.sentence, problem.status)
    return await site.render_page(datasette, request, "fediscope_map.html", {"map": picture})
