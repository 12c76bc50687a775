"""The clock the fetch layer paces by: `monotonic()` to read it, `sleep()` to wait on it.

Every politeness wait (the gap between requests, a host's Crawl-delay, a 429/503 backoff, an
address's pause, the robots.txt lifetime, the DNS answer lifetime) reads and waits on one
`Clock`, so tests can drive `Fetcher` with a fake one and assert exact waits without waiting.
Timeouts are not on it: they belong to aiohttp and the network.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    """What the fetch layer needs of time."""

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class RealClock:
    """Real time: `time.monotonic` and `asyncio.sleep`."""

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


REAL_CLOCK = RealClock()
