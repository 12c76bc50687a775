"""Datasette plugin: fediscope's home, who-blocks and one-server pages, and the base context.

Routes (paths are a contract):
- `/` home; `/who-blocks?domain=D` (+ `.json`, `.csv`); `/instance?domain=D` (+ `.json`).
Each page asks a library function for its answer (graph.summary.summary,
crawler.who_blocks.answer / block_changes, graph.profile.profile), run on Datasette's read-only
connection under `sql_time_limit_ms` (crawler.site.run_on), and renders a template that extends
`fediscope_base.html`. `extra_template_vars` gives every `fediscope_*` template (and the custom
pages under templates/pages/) the base context `fs` (navigation, data date, database name).
"""

from __future__ import annotations

from typing import Any

from datasette import hookimpl
from datasette.utils.asgi import Response

from crawler import site
from graph.summary import summary


@hookimpl
def extra_template_vars(template: str, request: Any, datasette: Any) -> Any:
    if not (template.startswith("fediscope_") or template.startswith("pages/")):
        return {}

    async def base() -> dict[str, Any]:
        return {"fs": await site.base_context(datasette, request)}

    return base


@hookimpl
def register_routes() -> list[tuple[str, Any]]:
    return [
        (r"^/$", home),
    ]


async def page(
    datasette: Any, request: Any, template: str, context: dict[str, Any], status: int = 200
) -> Response:
    return await site.render_page(datasette, request, template, context, status)


async def trouble(datasette: Any, request: Any, message: str, status: int) -> Response:
    """A plain sentence instead of a stack trace."""
    return await page(datasette, request, "fediscope_message.html", {"message": message}, status)


async def home(datasette: Any, request: Any) -> Response:
    try:
        database = await site.pick_database(datasette, request)
        answer = await site.run_on(datasette, database, summary)
    except site.NoDatabase:
        return await trouble(datasette, request, "No fediscope database is being served here.", 404)
    except site.TooSlow:
        return await trouble(datasette, request, "The summary took too long; try again.", 503)
    return await page(datasette, request, "fediscope_home.html", {"summary": answer})
