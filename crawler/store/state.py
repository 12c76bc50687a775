"""`data_state`: when analyze and import-blocklist last changed what the pages answer.

Finished crawls are already in `crawls`; these two stamps complete the pages' cache validator
(observatory.cache.data_state), so a page's ETag changes exactly when its answer can change.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime


def mark_changed(connection: sqlite3.Connection, name: str, now: str | None = None) -> None:
    """Record that `name` ('analyze' or 'import') changed the data, inside the caller's
    transaction."""
    stamp = now or datetime.now(UTC).isoformat(timespec="microseconds")
    connection.execute(
        "INSERT OR REPLACE INTO data_state (name, changed_at) VALUES (?, ?)", (name, stamp)
    )
