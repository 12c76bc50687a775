"""`Gate`: the global bound on requests in flight, with a limit that can change while in use.

Waiters are served in order of a priority the caller gives (lowest first; first come first
served among equals). The fetcher gives the time its host's visit began, so the oldest visit
goes first. First come first served per request made every request wait behind the
thousands of visits in flight: at full scale a Misskey walk started in the first minute got
one page every ~10 s instead of every second, and the crawl ended minutes later waiting for
such walks. Oldest first finishes the visits it started (fewer in flight, each holding its
answers until it is stored) and starts the long walks' pages on time.

asyncio.Semaphore (3.11) scans its waiters on every release, skipping the ones already woken
but not yet running; with thousands of visits waiting for a request slot that scan was the
crawl's largest single CPU cost (a quick-scale profile: 1.4 million `Future.done` calls, 8% of
the crawl's CPU). Here waiters leave the queue when they are woken, so a release is O(log n),
and the limit can be lowered or raised at once (`crawler.load` lowers it while the crawler
itself is overloaded): requests in flight finish, and no new one starts above the limit.

`fewer_waiting_than` lets the engine hold back new visits while enough requests already wait
for a slot: a visit begun then only waits too, holding its memory (about 10 KB each; at full
scale thousands of them were most of a re-crawl's peak RSS).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools


class Gate:
    """At most `limit` holders at once, the lowest priority value first."""

    def __init__(self, limit: int):
        self._limit = max(1, limit)
        self.in_use = 0
        self._waiters: list[tuple[float, int, asyncio.Future[None]]] = []
        self._arrival = itertools.count()
        #: (queue length, future): resolved once fewer than that many wait.
        self._shorter: tuple[int, asyncio.Future[None]] | None = None

    @property
    def waiting(self) -> int:
        """Acquirers waiting for their turn."""
        return len(self._waiters)

    async def fewer_waiting_than(self, count: int) -> None:
        """Return once fewer than `count` acquirers wait (at once when they already do).

        One caller at a time (the engine, before it starts a visit)."""
        if len(self._waiters) < count:
            return
        future = asyncio.get_running_loop().create_future()
        self._shorter = (count, future)
        try:
            await future
        finally:
            self._shorter = None

    @property
    def limit(self) -> int:
        return self._limit

    @limit.setter
    def limit(self, value: int) -> None:
        self._limit = max(1, value)
        self._wake()

    async def acquire(self, priority: float = 0.0) -> None:
        if self.in_use < self._limit and not self._waiters:
            self.in_use += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._arrival), waiter))
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # granted, then cancelled before it ran: give the slot on
            else:
                self._waiters = [entry for entry in self._waiters if entry[2] is not waiter]
                heapq.heapify(self._waiters)
            raise

    def release(self) -> None:
        self.in_use -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.in_use < self._limit:
            waiter = heapq.heappop(self._waiters)[2]
            if not waiter.done():
                self.in_use += 1
                waiter.set_result(None)
        shorter = self._shorter
        if shorter is not None and len(self._waiters) < shorter[0] and not shorter[1].done():
            shorter[1].set_result(None)

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *exc_info: object) -> None:
        self.release()
