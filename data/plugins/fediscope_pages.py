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

import markupsafe
from datasette import hookimpl
from datasette.utils.asgi import Response

from crawler import site, who_blocks
from graph.profile import profile
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
        (r"^/who-blocks(?P<format>\.json|\.csv)?$", who_blocks_page),
        (r"^/instance(?P<format>\.json)?$", instance_page),
    ]


async def home(datasette: Any, request: Any) -> Response:
    try:
        database = await site.pick_database(datasette, request)
        answer = await site.run_on(datasette, database, summary)
    except site.NoDatabase:
        return await site.render_message(
            datasette, request, "No fediscope database is being served here.", 404
        )
    except site.TooSlow:
        return await site.render_message(
            datasette, request, "The summary took too long; try again.", 503
        )
    return await site.render_page(datasette, request, "fediscope_home.html", {"summary": answer})


async def look_up(
    datasette: Any, request: Any, compute: Any, example: str, too_slow: str
) -> tuple[str, Any, str | None, int, Any]:
    """Run `compute(connection, ?domain=)` on the served database.

    Returns (raw domain, answer or None, problem sentence or None, HTTP status, database);
    `example` ends the sentence for a non-domain and `too_slow` is said on a timeout.
    """
    raw = (request.args.get("domain") or "").strip()
    answer, problem, status, database = None, None, 200, None
    try:
        database = await site.pick_database(datasette, request)
        if raw:
            answer = await site.run_on(datasette, database, compute, raw)
    except site.NoDatabase:
        problem, status = "No fediscope database is being served here.", 404
    except who_blocks.InvalidQuery:
        problem, status = (
            f"“{raw}” is not a domain name fediscope can look up. Type a server's address, "
            + example,
            400,
        )
    except site.TooSlow:
        problem, status = too_slow, 503
    return raw, answer, problem, status, database


def json_answer(answer: Any, problem: str | None, status: int) -> Response:
    """The `.json` form of a looked-up page: the answer, or the problem as {"error": ...}."""
    if answer is None:
        return site.json_response({"error": problem or "add ?domain=D"}, status=status or 400)
    return site.json_response(answer.to_dict())


#: Columns of /who-blocks.csv: one row per blocker and rule word, as on the page.
BLOCKER_COLUMNS = [
    "blocker",
    "severity",
    "severity_raw",
    "reason",
    "first_seen",
    "last_seen",
    "software",
    "family",
    "users_active_month",
    "match",
    "pattern",
    "confidence",
]


async def who_blocks_page(datasette: Any, request: Any) -> Response:
    """The admin's answer: who blocks D, how, the coverage behind it and what changed."""
    format_ = request.url_vars.get("format")
    raw, answer, problem, status, database = await look_up(
        datasette,
        request,
        who_blocks.answer,
        "such as example.social (no https://, no @user, no path).",
        "The answer took too long to compute; please try again.",
    )
    if format_ == ".json":
        return json_answer(answer, problem, status)
    if format_ == ".csv":
        if answer is None:
            return Response.text(problem or "add ?domain=D", status=status or 400)
        rows = [[getattr(b, column) for column in BLOCKER_COLUMNS] for b in answer.blockers]
        return site.csv_response(BLOCKER_COLUMNS, rows, f"who-blocks-{answer.domain}.csv")
    context = {
        "raw": raw,
        "answer": answer,
        "problem": problem,
        "headline": who_blocks.headline(answer) if answer else None,
        "shared_lists_line": who_blocks.shared_lists_line(answer) if answer else "",
        "database_name": database.name if database else None,
    }
    return await site.render_page(datasette, request, "fediscope_who_blocks.html", context, status)


async def instance_page(datasette: Any, request: Any) -> Response:
    """One server: status and why, software, counts over time, peers, blocks, raw answers."""
    format_ = request.url_vars.get("format")
    raw, answer, problem, status, database = await look_up(
        datasette,
        request,
        profile,
        "such as example.social.",
        "The profile took too long to compute; please try again.",
    )
    if format_ == ".json":
        return json_answer(answer, problem, status)
    if answer is not None and not answer.known and answer.excluded is None:
        status = 404
    context = {
        "raw": raw,
        "answer": answer,
        "problem": problem,
        "database_name": database.name if database else None,
        "chart_spec": markupsafe.Markup(site.vega_spec_json(history_spec(answer)))
        if answer is not None and answer.history
        else None,
    }
    return await site.render_page(datasette, request, "fediscope_instance.html", context, status)


def history_spec(answer: Any) -> dict[str, Any]:
    """Vega-Lite: users and active users per crawl (points, so one crawl still shows)."""
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
                "scale": {"range": ["#0072B2", "#E69F00"]},
                "legend": {"orient": "bottom"},
            },
        },
    }
