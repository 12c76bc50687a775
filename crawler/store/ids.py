"""The `domains` dictionary: every domain name ever seen, mapped to a small integer id.

Edges are stored as integer pairs; this keeps the name<->id map in memory (a few MB for 100k
names) and assigns new ids without a round trip to SQLite.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable


class DomainIds:
    """name -> id, loaded once, extended in the caller's transaction."""

    def __init__(self, connection: sqlite3.Connection):
        self._connection = connection
        self._ids: dict[str, int] = dict(connection.execute("SELECT name, id FROM domains"))
        self._next = max(self._ids.values(), default=0) + 1

    def __contains__(self, name: str) -> bool:
        return name in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def get(self, name: str) -> int | None:
        return self._ids.get(name)

    def ensure(self, names: Iterable[str]) -> list[str]:
        """Give ids to the names that have none; return those new names (sorted)."""
        new = sorted(set(names).difference(self._ids))
        for name in new:
            self._ids[name] = self._next
            self._next += 1
        if new:
            self._connection.executemany(
                "INSERT INTO domains (id, name) VALUES (?, ?)",
                ((self._ids[name], name) for name in new),
            )
        return new

    def id_of(self, name: str) -> int:
        return self._ids[name]

    def ids_of(self, names: Iterable[str]) -> list[int]:
        return list(map(self._ids.__getitem__, names))
