"""`Response`: what one logical request produced, an answer or an error kind, never an
exception; and the times the store records with it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from crawler.fetch import errors
from crawler.fetch.validators import Validator


def utc_now(timespec: str = "seconds") -> str:
    """The current time as ISO 8601 UTC text (the store's time format)."""
    return datetime.now(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


@dataclass
class Response:
    """What one logical request produced: an answer, or an error kind, never an exception."""

    domain: str
    path: str
    method: str = "GET"
    status: int | None = None
    content_type: str = ""
    body: bytes | None = None
    error: str | None = None
    detail: str | None = None
    moved_to: str | None = None
    retry_after: float | None = None
    fetched_at: str = ""
    final_path: str | None = None
    requests: int = 0
    elapsed: float | None = None  # seconds from sending the request to the end of the body
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False  # a 304 to a conditional request: unchanged since `validator`
    validator: Validator | None = None  # what a conditional request sent
    #: Until when (Unix seconds) the server lets this answer be reused (`freshness.py`).
    fresh_until: float | None = None
    #: Not asked: the answer stored by an earlier crawl, still fresh (no request was made).
    reused: bool = False

    @property
    def validators(self) -> Validator | None:
        """This answer's (ETag, Last-Modified), if it sent either."""
        if self.etag is None and self.last_modified is None:
            return None
        return self.etag, self.last_modified

    @property
    def url(self) -> str:
        return f"https://{self.domain}{self.path}"

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300

    def is_json_type(self) -> bool:
        """JSON-ish content types only (or no type, when the body looks like JSON)."""
        media = self.content_type.partition(";")[0].strip().lower()
        if not media:
            return bool(self.body) and self.body.lstrip()[:1] in (b"{", b"[")
        sub = media.partition("/")[2]  # application/json, text/json, application/ld+json
        return sub == "json" or sub.endswith("+json")

    def json(self) -> tuple[Any, str | None]:
        """(value, None) or (None, error kind) — `not_json` for other content types."""
        if self.error:
            return None, self.error
        if not self.is_json_type():
            return None, errors.NOT_JSON
        try:
            return orjson.loads((self.body or b"").removeprefix(b"\xef\xbb\xbf")), None
        except (orjson.JSONDecodeError, RecursionError, ValueError):
            return None, errors.BAD_JSON


def refused(
    domain: str,
    path: str,
    method: str,
    error: str | None,
    detail: str | None = None,
    moved_to: str | None = None,
) -> Response:
    """A request not made (or given up): its error kind, nothing from the server."""
    return Response(
        domain=domain,
        path=path,
        method=method,
        error=error,
        detail=detail,
        moved_to=moved_to,
        fetched_at=utc_now(),
    )
