"""`HostState`: one host's politeness state in a visit: its lock (one request in flight),
when its next request may start (the opening burst, then the gap or its Crawl-delay), its
request count, robots rules and address group."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from crawler.fetch.addresses import AddressState
from crawler.fetch.response import Response
from crawler.fetch.robots import RobotsRules


@dataclass
class HostState:
    """Per-host politeness state; dropped when the engine is done with the host."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    next_allowed: float = 0.0
    gap: float = 1.0
    burst: int = 1  # requests left that may go without a gap (robots.txt counts as one)
    requests: int = 0
    robots: RobotsRules | None = None
    robots_response: Response | None = None
    robots_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    grouped: bool = False
    group: AddressState | None = None
    began: float = 0.0  # when the host's first request was asked for: its place at the Gate

    def sent(self, now: float) -> None:
        """A request to this host just ended at `now`: when may the next one start?"""
        self.burst -= 1
        self.next_allowed = now if self.burst > 0 else now + self.gap

    def strict(self, gap: float, now: float) -> None:
        """A Crawl-delay (or the server's push-back): no more burst, `gap` from `now` on."""
        self.gap, self.burst = gap, 0
        self.next_allowed = max(self.next_allowed, now + gap)
