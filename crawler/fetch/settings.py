"""`FetchSettings`: the fetch layer's knobs, defaulting to the polite production values."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from crawler.domains import REAL_NETWORK, DomainPolicy
from crawler.fetch.descriptors import SPARE

#: Requests unanswered after `park_after` may wait outside the bound, this many per slot. A
#: parked request costs an idle socket and a timer, nothing else. At full scale ~3% of the
#: names hang (dead names whose address swallows the request, servers that never answer):
#: about 60 a second start hanging while the dead names are visited, each for the read
#: timeout, so some 900 wait at once; with room for only one bound (512) of them the rest
#: held slots and the crawl's last phase ran at two thirds of its pace.
PARKED_PER_SLOT = 3


def connection_limit(concurrency: int, parked: int) -> int:
    """Connections the pool may hold for a `concurrency` bound with room for `parked`
    requests outside it: a parked request keeps its connection, so the pool holds them next
    to a full bound in flight, or parking would free a slot the pool takes back; 8 more for
    requests finishing as others start."""
    return concurrency + parked + SPARE


@dataclass
class FetchSettings:
    """Knobs of the fetch layer; defaults are the polite production values."""

    user_agent: str
    via: str | None = None
    concurrency: int = 64
    per_address: int = 4
    min_gap: float = 1.0
    #: The first `burst` requests of a visit go back to back, then `min_gap` applies; 1 means
    #: no burst. A robots.txt Crawl-delay ends the burst (every later request keeps the gap).
    burst: int = 1
    max_crawl_delay: float = 60.0
    host_budget: int = 100
    max_body: int = 16 * 1024 * 1024
    total_timeout: float = 30.0
    connect_timeout: float = 10.0
    read_timeout: float = 15.0
    max_redirects: int = 5
    max_retries: int = 2
    max_retry_wait: float = 60.0
    backoff_base: float = 2.0
    #: A request still unanswered after this many seconds waits outside the `concurrency`
    #: bound (at most `max_parked` such requests): a server that hangs would otherwise hold a
    #: slot for the whole read timeout. None: every request counts until it ends.
    park_after: float | None = 2.0
    #: At most this many requests parked at once; None: PARKED_PER_SLOT per slot (fewer when
    #: the process may not open that many sockets, `crawler.fetch.descriptors`).
    max_parked: int | None = None
    robots_token: str = "fediscope"
    domain_policy: DomainPolicy = REAL_NETWORK
    #: The wall clock (Unix seconds) that freshness and a stored robots.txt's age are measured
    #: on: the crawl's own clock, which tests move by days between crawls.
    now: Callable[[], float] = time.time

    @property
    def parked_wanted(self) -> int:
        if self.park_after is None:
            return 0
        return PARKED_PER_SLOT * self.concurrency if self.max_parked is None else self.max_parked
