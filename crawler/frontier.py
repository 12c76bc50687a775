"""The frontier: domains waiting for a visit, the most widely listed first.

A crawl is bound by how many requests it can make; what decides its length is whether the slow
visits (paged Misskey walks, servers with a Crawl-delay) start early or are found late in a
queue of tens of thousands of names, most of them dead. How many peer lists name a domain is a
cheap, honest signal of a live and well-connected server, so pending domains are visited in
decreasing order of that count (seeds first, then discovery order among equals).

A re-crawl knows more: how many requests each known server's last visit took. The visits
that took the most (paged Misskey and PeerTube walks, one page a second) start first, so they
do not end the crawl alone after everything else is done (longest first is the classic
rule for the shortest makespan); the listing count orders the rest, and every name a first
crawl meets, as before.

Counts arrive in bulk (`count`, per peer list): a list of checked names with ids
(`crawler.checked_names`) adds one to each of its ids' elements of an array, any other list goes
through a `Counter`. The heap is rebuilt
from the current counts now and then instead of being updated per edge: at most every
`REBUILD_SECONDS`, and never so often that rebuilding takes more than `REBUILD_SHARE` of the
time (a full-scale frontier holds ~80k names, and re-scoring them every 2 s cost 7% of a crawl).
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections import Counter
from collections.abc import Callable, Iterable

import numpy as np

from crawler.checked_names import CheckedNames, NameTable

REBUILD_SECONDS = 2.0
REBUILD_SHARE = 0.02
SEED_PRIORITY = 1 << 60
#: A visit's expected requests weigh above any listing count (a name has < 2**32 listers).
EXPECTED_WEIGHT = 1 << 32


class Frontier:
    """A priority queue of (domain, hops): seeds, then the longest expected visits, then the
    most often listed."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._listed_names: Counter[str] = Counter()  # listings of names counted without ids
        self._table: NameTable | None = None  # the table of the ids counted in _listed_ids
        self._listed_ids = np.zeros(0, dtype=np.int64)
        self._pending: dict[str, tuple[int | None, int]] = {}  # domain -> (hops, sequence)
        self._boost: dict[str, int] = {}
        self._expected: dict[str, int] = {}  # requests the last visit took (re-crawls)
        self._heap: list[tuple[int, int, str]] = []
        self._sequence = itertools.count()
        self._built = clock()
        self.rebuild_interval = REBUILD_SECONDS

    def __len__(self) -> int:
        return len(self._pending)

    def __bool__(self) -> bool:
        return bool(self._pending)

    def count(self, names: Iterable[str]) -> bool:
        """Another source lists these names; True when one of them was never listed before
        (else every one of them is known to the caller already)."""
        ids = getattr(names, "ids", None)
        if ids is None or not self._adopt(names):
            before = len(self._listed_names)
            self._listed_names.update(names)
            return len(self._listed_names) != before
        if len(ids) == 0:
            return False
        counts = self._listed_ids
        if len(counts) <= ids.max():
            counts = np.zeros(2 * len(self._table) + 64, dtype=np.int64)
            counts[: len(self._listed_ids)] = self._listed_ids
            self._listed_ids = counts
        # The ids of one list are distinct, so fancy indexing adds one to each.
        new = not counts[ids].all()
        counts[ids] += 1
        return new

    def listings(self, domain: str) -> int:
        """How many lists named `domain` so far."""
        counted = self._listed_names.get(domain, 0)
        if self._table is not None:
            number = self._table.ids.get(domain)
            if number is not None and number < len(self._listed_ids):
                counted += int(self._listed_ids[number])
        return counted

    def _adopt(self, names: CheckedNames) -> bool:
        """Count by ids the lists of one table (the first seen)."""
        if self._table is None:
            self._table = names.table
        return names.table is self._table

    def push(self, domain: str, hops: int | None, *, seed: bool = False, expected: int = 0) -> None:
        """Queue a domain; `expected`: the requests its last visit took, when known."""
        sequence = next(self._sequence)
        self._pending[domain] = (hops, sequence)
        if seed:
            self._boost[domain] = SEED_PRIORITY
        if expected:
            self._expected[domain] = min(expected, SEED_PRIORITY // EXPECTED_WEIGHT - 1)
        heapq.heappush(self._heap, (-self._priority(domain), sequence, domain))

    def pop(self) -> tuple[str, int | None]:
        """The pending domain listed most often; raises IndexError when empty."""
        if self._clock() - self._built > self.rebuild_interval:
            self._rebuild()
        while self._heap:
            _, sequence, domain = heapq.heappop(self._heap)
            entry = self._pending.get(domain)
            if entry is not None and entry[1] == sequence:
                del self._pending[domain]
                return domain, entry[0]
        raise IndexError("the frontier is empty")

    def _priority(self, domain: str) -> int:
        expected = self._expected.get(domain, 0) * EXPECTED_WEIGHT
        return self._boost.get(domain, 0) + expected + self.listings(domain)

    def _rebuild(self) -> None:
        started = self._clock()
        self._heap = [
            (-self._priority(domain), sequence, domain)
            for domain, (_, sequence) in self._pending.items()
        ]
        heapq.heapify(self._heap)
        self._built = self._clock()
        self.rebuild_interval = max(REBUILD_SECONDS, (self._built - started) / REBUILD_SHARE)
