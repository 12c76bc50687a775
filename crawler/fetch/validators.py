"""Conditional requests: the validators (ETag, Last-Modified) an answer carries, and the
If-None-Match / If-Modified-Since headers that send them back on the next crawl.

A server that sees them unchanged answers 304 with no body; `Fetcher` then returns a `Response`
with `not_modified` set. Validators are taken only when short and printable, since they are
stored and sent back verbatim.
"""

from __future__ import annotations

from typing import Any

#: (ETag, Last-Modified) of an answer, as the server sent them.
Validator = tuple[str | None, str | None]

#: Longest validator header kept (longer ones are ignored, not truncated).
MAX_VALIDATOR_CHARS = 200


def validator_header(headers: Any, name: str) -> str | None:
    """A validator header as sent (bounded: it is sent back next crawl), or None."""
    value = headers.get(name)
    if not value or len(value) > MAX_VALIDATOR_CHARS or not value.isprintable():
        return None
    return value.strip()


def conditional_headers(validator: Validator) -> dict[str, str]:
    """The request headers that make a GET conditional on `validator`."""
    etag, last_modified = validator
    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers
