"""Datasette plugin: `/blocklists`, the imported shared block lists and who adopted them.

Routes (paths are a contract):
- `/blocklists`: the adoption chart (PNG/SVG downloads), each list's numbers, overlap and adopters;
- `/blocklists.json`: the whole answer; `/blocklists.csv`: the chart's data.
The answer is observatory.blocklists.answer (the same as `fediscope blocklists`), run on
Datasette's read-only connection (observatory.site.run_on); the template only presents it.
"""

from __future__ import annotations

from typing import Any

import markupsafe
from datasette.utils.asgi import Response

from observatory import blocklists, site


def register_routes() -> list[tuple[str, Any]]:
    return [(r"^/blocklists(?P<format>\.json|\.csv)?$", blocklists_page)]


async def blocklists_page(datasette: Any, request: Any) -> Response:
    format_ = request.url_vars.get("format")
    try:
        with site.problems("The shared lists"):
            database = await site.pick_database(datasette, request)
            answer = await site.run_on(datasette, database, blocklists.answer)
    except site.Problem as problem:
        if format_:
            return await site.respond(datasette, request, format_, None, "", {}, problem=problem)
        return await site.render_message(datasette, request, problem.sentence, problem.status)
    columns = list(answer.chart_rows[0]) if answer.chart_rows else ["list", "band", "servers"]
    rows = ([row[c] for c in columns] for row in answer.chart_rows)
    explicit = request.args.get("db") == database.name
    context = {
        "answer": answer,
        "chart": blocklists.ADOPTION_CHART,
        "csv": site.link("/blocklists.csv", database.name if explicit else None),
        "spec_json": markupsafe.Markup(site.vega_spec_json(answer.chart)) if answer.chart else "",
        "top": blocklists.TOP_ADOPTERS,
    }
    return await site.respond(
        datasette, request, format_, answer, "fediscope_blocklists.html", context,
        csv=(columns, rows, "fediscope-shared-list-adoption.csv"),
    )  # fmt: skip
