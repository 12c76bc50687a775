"""How the query commands answer: run on a read-only connection, print JSON or text.

`--json` prints the answer's `to_dict()`; otherwise the command's own text formatter. A
user's mistake the query reports (an invalid domain, say) is one line, never a traceback.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

import click

from crawler.database_paths import existing_database, fail, open_read_only

json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable answer.")


def echo_answer(answer: Any, as_json: bool, format_text: Callable[[Any], str]) -> None:
    """Print a query command's answer: its to_dict() as JSON, or format_text(answer)."""
    if as_json:
        click.echo(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(format_text(answer))


def print_query(
    db: str,
    as_json: bool,
    run: Callable[[sqlite3.Connection], Any],
    format_text: Callable[[Any], str],
    user_errors: tuple[type[Exception], ...] = (),
) -> None:
    """Run a read-only query command on the database at `db` and print its answer.

    `user_errors`: what `run` raises for a user's mistake, printed as one line.
    """
    connection = open_read_only(existing_database(db))
    try:
        answer = run(connection)
    except user_errors as exc:
        fail(str(exc))
    finally:
        connection.close()
    echo_answer(answer, as_json, format_text)
