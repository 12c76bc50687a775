"""HTTP freshness (RFC 9111 section 4.2): how long a server lets a client reuse an answer.

A crawl keeps, for each list and provenance document it reads, the time until which its server
said the answer stays fresh (`Cache-Control: max-age`, else `Expires` minus `Date`, less the
`Age` a cache in between reported). The next crawl reuses an answer still fresh instead of
asking again, exactly as a browser would; `no-cache` and `no-store` mean "always ask".
No heuristic freshness is assumed for answers that state none, and the lifetime is capped at
`MAX_FRESHNESS` so that no answer a crawl reports is older than a day.

fediscope is a private cache in RFC 9111 terms (one client, its own requests), so `private`
answers may be reused and `s-maxage` does not apply.
"""

from __future__ import annotations

import email.utils
from typing import Any

#: The longest a stored answer is reused, whatever the server says (robots.txt's RFC 9309
#: limit too): a crawl's data is never more than a day older than the crawl.
MAX_FRESHNESS = 24 * 3600.0
NEVER_REUSE = frozenset({"no-cache", "no-store"})


def cache_directives(value: str) -> dict[str, str | None]:
    """The directives of a Cache-Control value: lower-case name -> argument (None if none).

    Cache-Control is a list of `token` or `token=value` items (RFC 9111 section 5.2); a quoted
    argument loses its quotes. Hand-parsed: no maintained library parses just this header
    without bringing an HTTP framework along.
    """
    directives: dict[str, str | None] = {}
    for item in value.split(","):
        name, has_argument, argument = item.partition("=")
        name = name.strip().lower()
        if name:
            directives[name] = argument.strip().strip('"') if has_argument else None
    return directives


def freshness_lifetime(headers: Any) -> float | None:
    """Seconds the answer stays fresh from when it was generated, or None (always ask)."""
    directives = cache_directives(",".join(headers.getall("Cache-Control", ())))
    if NEVER_REUSE & directives.keys():
        return None
    max_age = directives.get("max-age")
    if max_age is not None:
        return float(max_age) if max_age.isdigit() else None
    expires, date = _http_date(headers.get("Expires")), _http_date(headers.get("Date"))
    if expires is None or date is None:
        return None
    return expires - date


def fresh_until(headers: Any, received_at: float) -> float | None:
    """Until when (Unix seconds) an answer received at `received_at` may be reused, or None."""
    lifetime = freshness_lifetime(headers)
    if lifetime is None:
        return None
    age = headers.get("Age", "")
    remaining = min(lifetime - (float(age) if age.strip().isdigit() else 0.0), MAX_FRESHNESS)
    return received_at + remaining if remaining > 0 else None


def _http_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
