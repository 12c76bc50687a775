"""Checked names on their way to the store process: each name once, then only its id.

A visit's lists of names are `CheckedNames`, which carry crawl-local ids
(`crawler.checked_names`). `NameSender.dumps`, the crawl's side, pickles such a list as an
array of its ids plus the names of the table the store process was not sent yet; in the
child, `arrived` keeps every name it was sent, in id order, and restores the list as
`ArrivedNames`. `CrawlIdMap` then maps the crawl's ids to `domains` ids with an array that is
filled once per name, so the store no longer looks up 23 million names in a dictionary (a cold
lookup costs several hundred nanoseconds) and the crawl no longer pickles them.

Both sides count on calls being unpickled in the order they were pickled, which the store's
one ordered channel guarantees; a call that arrives out of order fails loudly rather than
mapping ids to the wrong names.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Iterator
from typing import Any

import numpy as np

from crawler.checked_names import CheckedNames, NameTable
from crawler.store.ids import DomainIds


class NameSender:
    """The crawl's side of one store process: which of the table's names it was sent."""

    def __init__(self) -> None:
        self.table: NameTable | None = None
        self.sent = 0

    def dumps(self, value: Any) -> bytes:
        buffer = io.BytesIO()
        pickler = _Pickler(buffer, self)
        pickler.dump(value)
        self.sent = pickler.sent  # only once the whole call is pickled
        return buffer.getvalue()


class _Pickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO, sender: NameSender) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.sender = sender
        self.sent = sender.sent

    def reducer_override(self, obj: Any) -> Any:
        # Called only for objects that are not exact builtins (a str or list never gets here).
        if type(obj) is not CheckedNames or obj.ids is None:
            return NotImplemented
        if self.sender.table is None:
            self.sender.table = obj.table
        if obj.table is not self.sender.table:
            return NotImplemented  # another policy's table: pickled as a plain list
        names = self.sender.table.names
        start, self.sent = self.sent, len(names)
        return arrived, (obj.ids.tobytes(), start, names[start:])


# -- the store process's side ------------------------------------------------------------------

#: Every name the crawl sent, at its crawl id (one crawl per store process).
_RECEIVED: list[str] = []


def start_receiving() -> None:
    """Forget the names of an earlier crawl (a new store process starts empty anyway)."""
    _RECEIVED.clear()


def arrived(ids: bytes, start: int, new_names: list[str]) -> ArrivedNames:
    """Unpickle a list sent by `NameSender` (names from crawl id `start` come with it)."""
    if start != len(_RECEIVED):
        raise ValueError(f"names from crawl id {start} arrived, {len(_RECEIVED)} expected")
    _RECEIVED.extend(new_names)
    return ArrivedNames(np.frombuffer(ids, dtype=np.int32), _RECEIVED)


class ArrivedNames:
    """Distinct checked names, held as crawl ids: iterating gives the names."""

    __slots__ = ("crawl_ids", "names")

    def __init__(self, crawl_ids: np.ndarray, names: list[str]) -> None:
        self.crawl_ids = crawl_ids
        self.names = names  # every name received, at its crawl id

    def __len__(self) -> int:
        return len(self.crawl_ids)

    def __iter__(self) -> Iterator[str]:
        return map(self.names.__getitem__, self.crawl_ids.tolist())


class CrawlIdMap:
    """crawl id -> `domains` id, for the names of `ArrivedNames`."""

    def __init__(self, ids: DomainIds) -> None:
        self._ids = ids
        self._db = np.full(0, -1, dtype=np.int64)

    def unmapped(self, names: ArrivedNames) -> list[str]:
        """The names without a `domains` id mapped yet (new to the crawl's store, though not
        necessarily to the database): the ones the caller must make sure have an id."""
        self._cover(len(names.names))
        missing = names.crawl_ids[self._db[names.crawl_ids] < 0]
        return list(map(names.names.__getitem__, missing.tolist()))

    def db_ids(self, names: ArrivedNames) -> list[int]:
        """The `domains` ids of the names, in order; every name must have one."""
        self._cover(len(names.names))
        found = self._db[names.crawl_ids]
        missing = found < 0
        if missing.any():
            crawl_ids = names.crawl_ids[missing]
            found[missing] = self._db[crawl_ids] = self._ids.ids_of(
                map(names.names.__getitem__, crawl_ids.tolist())
            )
        return found.tolist()

    def _cover(self, count: int) -> None:
        if count > len(self._db):
            grown = np.full(2 * count, -1, dtype=np.int64)
            grown[: len(self._db)] = self._db
            self._db = grown
