"""Checked host names with small integer ids, shared by every visit of a crawl process.

A full-scale crawl reads 23 million peer names, nearly all of them among 100k distinct ones.
Each published spelling is checked once (`DomainPolicy.check`) and mapped to the id of its
checked form; a list's names then travel as `CheckedNames`, a list of the checked names that
also carries their ids. The ids let the frontier count listings in one array operation and let
the store process be sent an array of ids (and each name once) instead of every name again:
per name, a lookup in a cold dictionary costs several hundred nanoseconds on both sides, an
array element a few.

Ids are local to the process and to one `NameTable`; they are never stored.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np

#: Published spellings the table remembers at most (a bound on its memory, ~100 B each).
TABLE_LIMIT = 1_000_000


class NameTable:
    """Published spelling -> id of its checked form, and id -> checked name."""

    def __init__(self) -> None:
        #: Every spelling seen (the checked form of each name is one of them) -> its id.
        self.ids: dict[Any, int] = {}
        #: id -> the checked name.
        self.names: list[str] = []

    def __len__(self) -> int:
        return len(self.names)

    @property
    def full(self) -> bool:
        return len(self.ids) >= TABLE_LIMIT

    def add(self, value: Any, domain: str) -> int:
        """Remember that the published `value` checks to `domain`; return the domain's id."""
        number = self.ids.get(domain)
        if number is None:
            number = len(self.names)
            # The spelling itself when it already was the checked form (most are): every set
            # and counter the name goes into then holds this one object, whose hash is cached
            # and whose identity settles each comparison.
            self.names.append(value if value == domain else domain)
            self.ids[domain] = number
        self.ids[value] = number
        return number

    def checked(self, ids: Collection[int]) -> CheckedNames:
        """The names of distinct ids, in the order given."""
        names = CheckedNames(map(self.names.__getitem__, ids))
        names.ids = np.fromiter(ids, dtype=np.int32, count=len(ids))
        names.table = self
        return names


class CheckedNames(list[str]):
    """Distinct checked names in the order listed; `ids` (of `table`) when all of them have
    one. Pickles as a plain list, except through the store's own pickler
    (`crawler.store.transport`), which sends the ids."""

    ids: np.ndarray | None = None
    table: NameTable | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        return (list, (list(self),))


_TABLES: dict[frozenset[str], NameTable] = {}


def table_for(extra_tlds: frozenset[str]) -> NameTable:
    """The process's table for one domain policy (names check differently under another)."""
    table = _TABLES.get(extra_tlds)
    if table is None:
        table = _TABLES[extra_tlds] = NameTable()
    return table
