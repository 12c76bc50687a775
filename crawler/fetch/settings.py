"""`FetchSettings`: the fetch layer's knobs, defaulting to the polite production values."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from crawler.domains import REAL_NETWORK, DomainPolicy


def connection_limit(concurrency: int) -> int:
    """Connections the pool may hold for a `concurrency` bound: a request unanswered after
    `park_after` leaves the bound (at most `concurrency` such) but keeps its connection, so
    the pool holds a full bound parked next to a full bound in flight, or parking would free
    a slot the pool takes back; 8 more for requests finishing as others start."""
    return 2 * concurrency + 8


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
    #: bound (at most `concurrency` such requests): a server that hangs would otherwise hold a
    #: slot for the whole read timeout. None: every request counts until it ends.
    park_after: float | None = 2.0
    robots_token: str = "fediscope"
    domain_policy: DomainPolicy = REAL_NETWORK
    #: The wall clock (Unix seconds) that freshness and a stored robots.txt's age are measured
    #: on: the crawl's own clock, which tests move by days between crawls.
    now: Callable[[], float] = time.time
