"""What every fediscope page served by Datasette shares: which database a page reads, running a
library function on it under the SQL time limit, the base template's context, and the JSON and
CSV answers of a page.

Page plugins (data/plugins/fediscope_*.py) stay thin: parse the request, call a library function
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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from datasette.database import Database
from datasette.utils import sqlite_timelimit
from datasette.utils.asgi import Response

from graph.summary import data_date

T = TypeVar("T")

#: The pages, in navigation order: (path, label).
NAVIGATION = (
    ("/", "Home"),
    ("/platforms", "Platforms"),
    ("/who-blocks", "Who blocks?"),
    ("/blocklists", "Shared lists"),
    ("/instance", "One server"),
    ("/map", "Map"),
)


#: Our pages load only their own files: an injected script or a stray URL can neither run nor
#: leave the machine even if escaping failed. Vega compiles expressions with Function(), hence
#: 'unsafe-eval'; inline <script> is NOT allowed (put code in data/static/*.js).
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
