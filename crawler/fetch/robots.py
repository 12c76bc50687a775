"""robots.txt rules per host with RFC 9309 semantics, parsed by protego.

A 2xx answer is parsed (rules for `fediscope` first, then `*`, as protego implements); a 4xx
answer means "allow everything"; a 5xx answer or an unreachable host means "disallow everything"
for this crawl. `Crawl-delay` becomes the host's minimum gap between requests.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass
from datetime import datetime

from protego import Protego

#: RFC 9309 asks crawlers to parse at least 500 KiB of a robots.txt.
ROBOTS_MAX_BYTES = 512 * 1024
ROBOTS_TTL_SECONDS = 24 * 3600


@dataclass(frozen=True, slots=True)
class StoredRobots:
    """A robots.txt answer an earlier crawl stored (2xx or 4xx), reusable for a day."""

    status: int
    compressed: bytes | None  # the body, zlib-compressed as the store keeps it
    fetched_at: str  # ISO 8601 UTC, as the document log records it

    @property
    def body(self) -> bytes | None:
        return zlib.decompress(self.compressed) if self.compressed is not None else None

    def age(self, now: float) -> float:
        """Seconds from when the answer was fetched to `now` (Unix seconds)."""
        fetched = datetime.fromisoformat(self.fetched_at.replace("Z", "+00:00")).timestamp()
        return now - fetched


@dataclass
class RobotsRules:
    """What one host's robots.txt allows for our token."""

    mode: str  # "parsed" | "allow_all" | "disallow_all"
    token: str
    parser: Protego | None = None
    fetched_at: float = 0.0
    status: int | None = None

    @classmethod
    def from_answer(
        cls, status: int | None, body: bytes | None, token: str, now: float | None = None
    ) -> RobotsRules:
        """Rules from an HTTP answer (status None = the host was unreachable) fetched at `now`
        (the fetch layer's monotonic clock; real time when not given)."""
        if now is None:
            now = time.monotonic()
        if status is None or status >= 500 or status == 429:
            return cls("disallow_all", token, fetched_at=now, status=status)
        if 400 <= status < 500:
            return cls("allow_all", token, fetched_at=now, status=status)
        text = (body or b"")[:ROBOTS_MAX_BYTES].decode("utf-8", errors="replace")
        text = text.removeprefix("\ufeff")  # a leading BOM must not hide the first group
        return cls("parsed", token, Protego.parse(text), fetched_at=now, status=status)

    def allows(self, path: str) -> bool:
        """Whether our token may fetch `path` (a path with optional query)."""
        if self.mode == "allow_all":
            return True
        if self.parser is None:  # disallow_all
            return False
        return bool(self.parser.can_fetch(path or "/", self.token))

    @property
    def crawl_delay(self) -> float | None:
        """Crawl-delay in seconds for our token (falling back to `*`), if any."""
        if self.parser is None:
            return None
        delay = self.parser.crawl_delay(self.token)
        return float(delay) if delay is not None else None

    @property
    def expired(self) -> bool:
        return self.expired_at(time.monotonic())

    def expired_at(self, now: float) -> bool:
        """Whether the rules are older than their lifetime at `now` (monotonic seconds)."""
        return now - self.fetched_at > ROBOTS_TTL_SECONDS
