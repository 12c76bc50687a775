"""Datasette plugin: fediscope's home, who-blocks and one-server pages, and the base context.

Routes (paths are a contract):
- `/` home; `/who-blocks?domain=D` (+ `.json`, `.csv`); `/instance?domain=D` (+ `.json`).
Each page asks a library function for its answer (observatory.summary.summary,
observatory.who_blocks.answer / block_changes, observatory.profile.profile), run on Datasette's
read-only connection under `sql_time_limit_ms` (observatory.site.run_on), and renders a template
that extends `fediscope_base.html`. `extra_template_vars` gives every `fediscope_*` template (and
the custom pages under templates/pages/) the base context `fs` (navigation, data date, database
name).
"""

from __future__ import annotations

from typing import Any

import markupsafe
from datasette.utils.asgi import Response

from observatory import site, who_blocks
from observatory.chart_kit import history_spec
from observatory.profile import profile
from observatory.summary import summary


def extra_template_vars(template: str, request: Any, datasette: Any) -> Any:
    if not (template.startswith("fediscope_") or template.startswith("pages/")):
        return {}

    async def base() -> dict[str, Any]:
        return {"fs": await site.base_context(datasette, request)}

    return base


def register_routes() -> list[tuple[str, Any]]:
    return [
        (r"^/$", home),
        (r"^/who-blocks(?P<format>\.json|\.csv)?$", who_blocks_page),
        (r"^/instance(?P<format>\.json)?$", instance_page),
    ]


async def home(datasette: Any, request: Any) -> Response:
    try:
        with site.problems("The summary"):
            database = await site.pick_database(datasette, request)
            answer = await site.run_on(datasette, database, summary)
    except site.Problem as problem:
        return await site.render_message(datasette, request, problem.sentence, problem.status)
    return await site.render_page(datasette, request, "fediscope_home.html", {"summary": answer})


async def look_up(
    datasette: Any, request: Any, compute: Any, what: str, example: str
) -> tuple[str, Any, site.Problem | None, Any]:
    """Run `compute(connection, ?domain=)` on the served database.

    Returns (raw domain, answer or None, the problem or None, database or None); `example`
    ends the sentence for a non-domain and `what` names the answer when it is too slow.
    """
    raw = (request.args.get("domain") or "").strip()
    answer, problem, database = None, None, None
    try:
        with site.problems(what):
            database = await site.pick_database(datasette, request)
            if raw:
                answer = await site.run_on(datasette, database, compute, raw)
    except site.Problem as found:
        problem = found
        if found.status == 400:
            problem = site.Problem(
                f"“{raw}” is not a domain name fediscope can look up. Type a server's address, "
                + example,
                400,
            )
    return raw, answer, problem, database


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
    raw, answer, problem, database = await look_up(
        datasette,
        request,
        who_blocks.answer,
        "The answer",
        "such as example.social (no https://, no @user, no path).",
    )
    rows = (
        (BLOCKER_COLUMNS, [[getattr(b, c) for c in BLOCKER_COLUMNS] for b in answer.blockers],
         f"who-blocks-{answer.domain}.csv")
        if answer is not None
        else None
    )  # fmt: skip
    context = {
        "raw": raw,
        "answer": answer,
        "problem": problem.sentence if problem else None,
        "headline": who_blocks.headline(answer) if answer else None,
        "database_name": database.name if database else None,
    }
    return await site.respond(
        datasette, request, request.url_vars.get("format"), answer,
        "fediscope_who_blocks.html", context, problem.status if problem else 200,
        csv=rows, problem=problem,
    )  # fmt: skip


async def instance_page(datasette: Any, request: Any) -> Response:
    """One server: status and why, software, counts over time, peers, blocks, raw answers."""
    raw, answer, problem, database = await look_up(
        datasette, request, profile, "The profile", "such as example.social."
    )
    status = problem.status if problem else 200
    if answer is not None and not answer.known and answer.excluded is None:
        status = 404
    context = {
        "raw": raw,
        "answer": answer,
        "problem": problem.sentence if problem else None,
        "database_name": database.name if database else None,
        "chart_spec": markupsafe.Markup(site.vega_spec_json(history_spec(answer)))
        if answer is not None and answer.history
        else None,
    }
    return await site.respond(
        datasette, request, request.url_vars.get("format"), answer,
        "fediscope_instance.html", context, status, problem=problem,
    )  # fmt: skip
