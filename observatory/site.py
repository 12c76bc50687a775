"""What every fediscope page served by Datasette shares: which database a page reads, running a
library function on it under the SQL time limit, the base template's context, and the JSON and
CSV answers of a page.

Page plugins (observatory/plugin/*.py) stay thin: parse the request, call a library function
through `run_on`, and render a template that extends `fediscope_base.html`.

Which database a page reads: `?db=NAME` when it names an attached database, else the first
attached database that has an `instances` table (under `fediscope serve --db PATH` there is only
one; under `datasette data/` the files in data/ in Datasette's order).
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from datasette.database import Database
from datasette.utils import sqlite_timelimit
from datasette.utils.asgi import Response

from observatory.summary import data_date

T = TypeVar("T")

#: The five pages, in navigation order: (path, label).
NAVIGATION = (
    ("/", "Home"),
    ("/platforms", "Platforms"),
    ("/who-blocks", "Who blocks?"),
    ("/instance", "One server"),
    ("/map", "Map"),
)


#: Our pages load only their own files: an injected script or a stray URL can neither run nor
#: leave the machine even if escaping failed. Vega compiles expressions with Function(), hence
#: 'unsafe-eval'; inline <script> is NOT allowed (put code in observatory/plugin/static/*.js).
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'"
)


class NoDatabase(LookupError):
    """No attached database looks like a fediscope database."""


class TooSlow(RuntimeError):
    """A page's answer did not finish within `sql_time_limit_ms`."""


def is_fediscope(database: Database) -> bool:
    return database.name not in ("_internal", "_memory")


async def pick_database(datasette: Any, request: Any) -> Database:
    """The database a page reads (see the module docstring)."""
    wanted = request.args.get("db") if request is not None else None
    databases = [db for db in datasette.databases.values() if is_fediscope(db)]
    if wanted:
        for database in databases:
            if database.name == wanted:
                return database
    for database in databases:
        if await database.table_exists("instances"):
            return database
    raise NoDatabase("no fediscope database is attached")


async def run_on(datasette: Any, database: Database, function: Callable[..., T], *args: Any) -> T:
    """`function(connection, *args)` on Datasette's read-only connection, under the time limit."""
    limit = datasette.setting("sql_time_limit_ms")

    def call(connection: sqlite3.Connection) -> T:
        with sqlite_timelimit(connection, limit):
            return function(connection, *args)

    try:
        return await database.execute_fn(call)
    except sqlite3.OperationalError as error:
        if "interrupted" in str(error):
            raise TooSlow(f"stopped after {limit} ms") from error
        raise


#: The sentence for a server with no fediscope database attached.
NO_DATABASE = "No fediscope database is being served here."


class Problem(Exception):
    """What a page says instead of an answer: one sentence and its HTTP status."""

    def __init__(self, sentence: str, status: int) -> None:
        super().__init__(sentence)
        self.sentence, self.status = sentence, status


@contextmanager
def problems(what: str) -> Iterator[None]:
    """Turn what can go wrong while a page computes its answer into a Problem: no database
    (404), a non-domain (400, the answer's own sentence), or `what` ("The map") took too long
    (503). Every page says these the same way."""
    from observatory.who_blocks import InvalidQuery

    try:
        yield
    except NoDatabase as error:
        raise Problem(NO_DATABASE, 404) from error
    except InvalidQuery as error:
        raise Problem(str(error), 400) from error
    except TooSlow as error:
        raise Problem(f"{what} took too long; please try again.", 503) from error


async def respond(
    datasette: Any,
    request: Any,
    format_: str | None,
    answer: Any,
    template: str,
    context: Mapping[str, Any],
    status: int = 200,
    csv: tuple[list[str], Iterable[Iterable[Any]], str] | None = None,
    problem: Problem | None = None,
) -> Response:
    """One path from an answer to its page, its `.json` or its `.csv` (Datasette's DataView
    is the model): the answer's to_dict() as JSON, `csv` (header, rows, file name) as CSV, or
    the template with `context`; a problem as {"error": ...}, a text line, or the page."""
    if format_ in (".json", "json"):
        if problem is not None or answer is None:
            sentence = problem.sentence if problem else "add ?domain=D"
            return json_response({"error": sentence}, status=problem.status if problem else 200)
        return json_response(answer.to_dict() if hasattr(answer, "to_dict") else answer)
    if format_ in (".csv", "csv"):
        if problem is not None or csv is None:
            sentence = problem.sentence if problem else "add ?domain=D"
            return Response.text(sentence, status=problem.status if problem else 200)
        return csv_response(*csv)
    return await render_page(datasette, request, template, context, status)


def link(path: str, database: str | None, **params: Any) -> str:
    """A page path with its query string; `db=` only when the page was asked for one."""
    query = {k: v for k, v in params.items() if v not in (None, "")}
    if database:
        query["db"] = database
    return path + ("?" + urllib.parse.urlencode(query) if query else "")


@dataclass
class BaseContext:
    """What fediscope_base.html needs: navigation, the data date, the database's name."""

    database: str | None
    explicit: bool
    data_date: str | None
    crawls: int

    def link(self, path: str, **params: Any) -> str:
        return link(path, self.database if self.explicit else None, **params)

    def table(self, name: str, **params: Any) -> str:
        """A Datasette table or canned-query page of the database (filters as params)."""
        base = "/" + urllib.parse.quote(self.database or "") + "/" + urllib.parse.quote(name)
        query = {k: v for k, v in params.items() if v not in (None, "")}
        return base + ("?" + urllib.parse.urlencode(query) if query else "")

    @property
    def sql_url(self) -> str:
        return "/" + urllib.parse.quote(self.database or "")

    @property
    def navigation(self) -> list[tuple[str, str]]:
        return [(self.link(path), label) for path, label in NAVIGATION]


async def base_context(datasette: Any, request: Any) -> BaseContext:
    try:
        database = await pick_database(datasette, request)
    except NoDatabase:
        return BaseContext(None, False, None, 0)
    date, crawls = await run_on(datasette, database, data_date)
    explicit = bool(request is not None and request.args.get("db") == database.name)
    return BaseContext(database.name, explicit, date, crawls)


async def render_page(
    datasette: Any,
    request: Any,
    template: str,
    context: Mapping[str, Any],
    status: int = 200,
) -> Response:
    """A page from `template` (which extends fediscope_base.html), with the CSP header."""
    html = await datasette.render_template(template, dict(context), request=request)
    return Response.html(html, status=status, headers={"Content-Security-Policy": CSP})


async def render_message(datasette: Any, request: Any, message: str, status: int) -> Response:
    """A plain sentence instead of a stack trace (every fediscope page's trouble answer)."""
    return await render_page(
        datasette, request, "fediscope_message.html", {"message": message}, status
    )


def json_response(data: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(data, ensure_ascii=False, indent=2, default=str),
        status=status,
        content_type="application/json; charset=utf-8",
        headers={"Access-Control-Allow-Origin": "*"},
    )


def csv_response(header: list[str], rows: Iterable[Iterable[Any]], filename: str) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])
    return Response(
        buffer.getvalue(),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


def vega_spec_json(spec: Mapping[str, Any]) -> str:
    """A Vega-Lite spec as JSON that is safe inside <script type="application/json">."""
    text = json.dumps(spec, ensure_ascii=False, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
