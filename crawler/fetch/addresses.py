"""Shared hosting: hosts grouped by the address they resolve to, with a cap per address.

Thousands of Fediverse servers live on a few hosting providers' addresses. One request at a
time per host would still let a crawl send dozens of requests at once to one provider, so every
request also takes one of `per_address` slots of its host's address, and a 429/503 from any host
there pauses the whole address the way it pauses the host.

The address is the first one of the host's guarded DNS answer (after the private-address
guard). `SharedAnswers` keeps that answer for the connector too, so the connection goes to the
address the host was grouped by (one DNS answer, not two). In `--via` mode nothing is resolved
to connect; the grouping then asks the injected resolver (tests and the sandbox give hosts
"hosting providers" that way), and without one every host is its own group.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass, field

from aiohttp.abc import AbstractResolver, ResolveResult

from crawler.fetch.clock import REAL_CLOCK, Clock

#: Seconds a DNS answer (or failure) is reused; the connector's own cache uses the same.
ANSWER_TTL = 300.0


class SharedAnswers(AbstractResolver):
    """Caches one resolver's answers (and failures) per host name for the grouping and the
    connector alike; `forget` drops a host once its visit is over."""

    def __init__(self, inner: AbstractResolver, ttl: float = ANSWER_TTL, clock: Clock = REAL_CLOCK):
        self._inner = inner
        self._ttl = ttl
        self._clock = clock
        self._answers: dict[str, tuple[float, list[ResolveResult] | BaseException]] = {}
        self._pending: dict[str, asyncio.Future[list[ResolveResult]]] = {}

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        cached = self._answers.get(host)
        if cached is None or cached[0] < self._clock.monotonic():
            pending = self._pending.get(host)
            if pending is None:
                pending = self._pending[host] = asyncio.ensure_future(
                    self._lookup(host, port, family)
                )
            with contextlib.suppress(Exception):  # the failure is cached and raised below
                await asyncio.shield(pending)
            cached = self._answers[host]
        answer = cached[1]
        if isinstance(answer, BaseException):
            raise answer.with_traceback(None)
        return [{**result, "port": port} for result in answer]

    async def _lookup(
        self, host: str, port: int, family: socket.AddressFamily
    ) -> list[ResolveResult]:
        try:
            answer: list[ResolveResult] | BaseException = await self._inner.resolve(
                host, port, family
            )
        except Exception as exc:
            answer = exc
        finally:
            self._pending.pop(host, None)
        self._answers[host] = (self._clock.monotonic() + self._ttl, answer)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def forget(self, host: str) -> None:
        self._answers.pop(host, None)

    async def close(self) -> None:
        await self._inner.close()


@dataclass
class AddressState:
    """One address's slots, backoff and what happened there (for the crawl summary)."""

    address: str
    slots: asyncio.Semaphore
    next_allowed: float = 0.0
    hosts: int = 0
    visits: int = 0  # visits of its hosts running now (the engine parks the rest)
    requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    queue_seconds: float = 0.0  # time requests waited for a slot or a backoff
    backoffs: int = 0
    parked: list[tuple[str, int | None]] = field(default_factory=list)

    def report(self) -> dict[str, object]:
        return {
            "address": self.address,
            "hosts": self.hosts,
            "requests": self.requests,
            "max_in_flight": self.max_in_flight,
            "queue_seconds": round(self.queue_seconds, 1),
            "backoffs": self.backoffs,
        }


class AddressBook:
    """Every address seen in a crawl, keyed by address text."""

    def __init__(self, per_address: int):
        self.per_address = per_address
        self.addresses: dict[str, AddressState] = {}

    def get(self, address: str) -> AddressState:
        state = self.addresses.get(address)
        if state is None:
            slots = asyncio.Semaphore(self.per_address)
            state = self.addresses[address] = AddressState(address, slots)
        return state

    def busiest(self, count: int = 5) -> list[dict[str, object]]:
        """The addresses with the most requests (shared ones only), busiest first."""
        shared = [state for state in self.addresses.values() if state.hosts > 1]
        shared.sort(key=lambda state: (-state.requests, state.address))
        return [state.report() for state in shared[:count]]
