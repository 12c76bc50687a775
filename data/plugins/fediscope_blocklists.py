"""Datasette plugin: `/blocklists`, the imported shared block lists and who adopted them.

Routes (paths are a contract):
- `/blocklists`: the adoption chart (PNG/SVG downloads), each list's numbers, overlap and adopters;
- `/blocklists.json`: the whole answer; `/blocklists.csv`: the chart's data.
The answer is graph.blocklists.answer (the same as `fediscope blocklists`), run on Datasette's
read-only connection (crawler.site.run_on); the template only presents it.
"""

from __future__ import annotations

from typing import Any

import markupsafe
from datasette import hookimpl
from datasette.utils.asgi import Response

from crawler import site
from graph import blocklists


@hookimpl
def register_routes() -> list[tuple[str, Any]]:
    return [(r"^/blocklists(?P<format>\.json|\.csv)?$", blocklists_page)]


async def blocklists_page(datasette: Any, request: Any) -> Response:
    format_ = request.url_vars.get("format")
    try:
        database = await site.pick_database(datasette, request)
        answer = await site.run_on(datasette, database, blocklists.answer)
    except site.NoDatabase:
        problem, status = "No fediscope database is being served.", 404
    except site.TooSlow:
        problem, status = "The shared lists took too long; try again.", 503
    else:
        problem, status = None, 200
    if problem is not None:
        if format_:
            return Response.text(problem, status=status)
        return await site.render_message(datasette, request, problem, status)
    if format_ == ".json":
        return site.json_response(answer.to_dict())
    if format_ == ".csv":
        columns = list(answer.chart_rows[0]) if answer.chart_rows else ["list", "band", "servers"]
        rows = ([row[c] for c in columns] for row in answer.chart_rows)
        return site.csv_response(columns, rows, "fediscope-shared-list-adoption.csv")
    explicit = request.args.get("db") == database.name
    context = {
        "answer": answer,
        "chart": blocklists.ADOPTION_CHART,
        "csv": site.link("/blocklists.csv", database.name if explicit else None),
        "spec_json": markupsafe.Markup(site.vega_spec_json(answer.chart)) if answer.chart else "",
        "top": blocklists.TOP_ADOPTERS,
    }
    return await site.render_page(datasette, request, "fediscope_blocklists.html", context)
