"""The wire exchange: one HTTP request and its capped body, turned into a `Response`.

Pacing, robots.txt and redirects are the fetcher's (`client.py`); this module only sends what
it is given (as plain HTTP to the `--via` address when set), reads at most the body cap after
decompression, and turns every failure into an error kind. It also reads the server's
push-back headers (Retry-After, X-RateLimit-Reset) and times the answers.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp

from crawler.fetch import errors
from crawler.fetch.errors import BodyTooLarge, classify
from crawler.fetch.freshness import fresh_until
from crawler.fetch.response import Response, utc_now
from crawler.fetch.robots import ROBOTS_MAX_BYTES
from crawler.fetch.settings import FetchSettings
from crawler.fetch.validators import Validator, conditional_headers, validator_header

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ERROR_BODY_BYTES = 64 * 1024
CHUNK = 64 * 1024


@dataclass
class AnswerTimes:
    """How many answers arrived (any status) and their seconds in all: how quickly servers
    answer now, which tells the crawler's own overload from servers that hang."""

    answers: int = 0
    seconds: float = 0.0

    def add(self, seconds: float) -> None:
        self.answers += 1
        self.seconds += seconds


async def exchange(
    session: aiohttp.ClientSession,
    settings: FetchSettings,
    domain: str,
    path: str,
    method: str,
    json_body: Any,
    validator: Validator | None = None,
) -> Response:
    """The wire exchange: build the URL (or the via URL), read a capped body."""
    s = settings
    headers: dict[str, str] = {}
    if validator is not None:
        headers.update(conditional_headers(validator))
    if s.via:
        url = f"http://{s.via}{path}"
        headers["Host"] = domain
    else:
        url = f"https://{domain}{path}"
    result = Response(domain=domain, path=path, method=method, fetched_at=utc_now("milliseconds"))
    started = time.perf_counter()
    try:
        async with session.request(
            method,
            url,
            headers=headers,
            json=json_body,
            allow_redirects=False,
        ) as answer:
            result.status = answer.status
            result.content_type = answer.headers.get("Content-Type", "")
            result.retry_after = retry_after(answer.headers)
            result.etag = validator_header(answer.headers, "ETag")
            result.last_modified = validator_header(answer.headers, "Last-Modified")
            if method == "GET" and answer.status in (200, 304):
                result.fresh_until = fresh_until(answer.headers, s.now())
            if answer.status == 304 and validator is not None:
                result.not_modified, result.validator = True, validator
                result.elapsed = round(time.perf_counter() - started, 4)
                return result
            if answer.status in REDIRECT_STATUSES:
                result.detail = answer.headers.get("Location", "")
                result.elapsed = round(time.perf_counter() - started, 4)
                return result
            ok = 200 <= answer.status < 300
            limit, truncate = (s.max_body, False) if ok else (ERROR_BODY_BYTES, True)
            if path == "/robots.txt":  # RFC 9309: parse the first 500 KiB at least
                limit, truncate = ROBOTS_MAX_BYTES, True
            result.body = await _read_capped(answer, limit, truncate=truncate)
            if not ok:
                result.error = status_error(answer.status)
                result.detail = f"HTTP {answer.status}"
    except Exception as exc:  # every failure becomes an error kind for this host
        result.error, result.detail = classify(exc)
    result.elapsed = round(time.perf_counter() - started, 4)
    return result


def status_error(status: int) -> str:
    if status == 429:
        return errors.HTTP_429
    if status >= 500:
        return errors.HTTP_5XX
    return errors.HTTP_4XX


async def _read_capped(answer: aiohttp.ClientResponse, limit: int, *, truncate: bool) -> bytes:
    """Read at most `limit` decompressed bytes; beyond it raise (or truncate error bodies)."""
    declared = answer.content_length
    if declared is not None and declared > limit and not truncate:
        raise BodyTooLarge(f"Content-Length {declared} > {limit}")
    encoded = answer.headers.get("Content-Encoding", "identity").lower() not in ("", "identity")
    if declared is not None and declared <= limit and not encoded:
        # The length is known and no decompression can inflate it: one read.
        return await answer.content.readexactly(declared) if declared else b""
    buffer = bytearray()
    while chunk := await answer.content.read(CHUNK):
        buffer += chunk
        if len(buffer) > limit:
            if truncate:
                return bytes(buffer[:limit])
            raise BodyTooLarge(f"more than {limit} bytes")
    return bytes(buffer)


def retry_after(headers: Any) -> float | None:
    """Seconds to wait from Retry-After (seconds or HTTP date) or X-RateLimit-Reset (ISO/epoch)."""
    value = headers.get("Retry-After")
    if value:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
            if when.tzinfo is None:  # asctime dates carry no zone; HTTP dates are GMT
                when = when.replace(tzinfo=UTC)
            return max(0.0, (when - datetime.now(UTC)).total_seconds())
        except (TypeError, ValueError):
            pass
    reset = headers.get("X-RateLimit-Reset")
    if reset:
        reset = reset.strip()
        try:
            if reset.replace(".", "").isdigit():
                number = float(reset)
                # Small numbers are seconds from now; large ones are Unix timestamps.
                return number if number < 10**8 else max(0.0, number - time.time())
            when = datetime.fromisoformat(reset)  # Python 3.11 reads a trailing Z
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return max(0.0, (when - datetime.now(UTC)).total_seconds())
        except ValueError:
            return None
    return None
