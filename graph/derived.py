"""Whether `fediscope analyze` has built a derived table yet, as a clear error when not."""

from __future__ import annotations

import sqlite3


class NotAnalysed(LookupError):
    """A derived table a question needs is missing: `fediscope analyze` has not run."""


def require_table(connection: sqlite3.Connection, table: str) -> None:
    """Raise NotAnalysed (one line saying what to run) when `table` does not exist."""
    found = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    if found is None:
        raise NotAnalysed(f"{table} is not built yet: run `fediscope analyze` on this database")
