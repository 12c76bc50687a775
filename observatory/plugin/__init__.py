"""The Datasette plugin that makes a fediscope database an observatory.

Registered through the `datasette` entry point (pyproject.toml), so `fediscope serve DB` and
plain `datasette DB` (or `datasette data/`) serve the same pages once fediscope is installed.
Datasette finds this package's `templates/` and `static/` itself (static files are served under
`/-/static-plugins/fediscope/`); this module wires the hooks to the modules that do the work:

- `pages`: `/`, `/who-blocks`, `/instance` and the base template context;
- `charts`: `/platforms`, its chart data, and `/map`;
- `sql`: the SQL functions the canned queries call, and previews of stored answers;
- `config`: the metadata (descriptions, canned queries) for every served database, and the
  settings (time limits, page sizes) wherever the operator kept Datasette's defaults.
"""

from __future__ import annotations

from typing import Any

from datasette import hookimpl

from observatory.plugin import charts, config, pages, sql


@hookimpl
def startup(datasette: Any) -> None:
    config.apply_settings(datasette)


@hookimpl
def register_routes() -> list[tuple[str, Any]]:
    return pages.register_routes() + charts.register_routes()


@hookimpl
def extra_template_vars(template: str, request: Any, datasette: Any) -> Any:
    return pages.extra_template_vars(template, request, datasette)


@hookimpl
def prepare_connection(conn: Any) -> None:
    sql.prepare_connection(conn)


@hookimpl
def render_cell(value, column, table, database, datasette, row):
    return sql.render_cell(value, column, table, database, datasette, row)


@hookimpl
def get_metadata(datasette: Any, key: str, database: str | None, table: str | None) -> dict:
    return config.metadata_for(name for name in datasette.databases if name != "_internal")
