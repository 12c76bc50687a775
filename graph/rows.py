"""A query's rows as dicts keyed by column name, for the read side of derived tables."""

from __future__ import annotations

import sqlite3
from typing import Any


def dict_rows(
    connection: sqlite3.Connection, sql: str, params: tuple[Any, ...] = ()
) -> list[dict[str, Any]]:
    """Run `sql` and return each row as a dict keyed by column name, in the query's order."""
    cursor = connection.execute(sql, params)
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor]
