"""Error kinds: the stable vocabulary for what went wrong with a host (stored per domain).

Every failure of a request becomes one of these codes; `classify` maps client exceptions.
"""

from __future__ import annotations

import asyncio
import ssl

import aiohttp

DNS = "dns"
CONNECT = "connect"
TLS = "tls"
TIMEOUT = "timeout"
HTTP_5XX = "http_5xx"
HTTP_429 = "http_429"
HTTP_4XX = "http_4xx"
TOO_LARGE = "too_large"
NOT_JSON = "not_json"
BAD_JSON = "bad_json"
BAD_SHAPE = "bad_shape"
REDIRECT_LOOP = "redirect_loop"
REDIRECT_OFFSITE = "redirect_offsite"
UNSAFE_ADDRESS = "unsafe_address"
INVALID_URL = "invalid_url"
ROBOTS_UNAVAILABLE = "robots_unavailable"
ROBOTS_DISALLOWED = "robots_disallowed"
CRAWL_DELAY_TOO_LONG = "crawl_delay_too_long"
BUDGET_EXHAUSTED = "budget_exhausted"
NO_NODEINFO = "no_nodeinfo"
#: A bug in fediscope triggered by an answer: recorded for the domain, never fatal to a crawl.
CRAWLER_ERROR = "crawler_error"

#: Failures of the network path: the host may come back, so they lead to `unreachable`.
NETWORK_ERRORS = frozenset(
    {DNS, CONNECT, TLS, TIMEOUT, HTTP_5XX, HTTP_429, ROBOTS_UNAVAILABLE, BUDGET_EXHAUSTED}
)


class UnsafeAddress(OSError):
    """Raised by the guarded resolver when a name resolves only to forbidden addresses."""


class BodyTooLarge(Exception):
    """The body (after decompression) exceeded the configured cap."""


def classify(exc: BaseException) -> tuple[str, str]:
    """(error kind, one-line detail) for an exception raised while fetching."""
    detail = f"{type(exc).__name__}: {exc}"[:300]
    if isinstance(exc, BodyTooLarge):
        return TOO_LARGE, detail
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        if isinstance(getattr(exc, "os_error", None), UnsafeAddress):
            return UNSAFE_ADDRESS, detail
        return DNS, detail
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
        return TLS, detail
    if isinstance(exc, ssl.SSLError):
        return TLS, detail
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return TIMEOUT, detail
    if isinstance(exc, aiohttp.TooManyRedirects):
        return REDIRECT_LOOP, detail
    if isinstance(exc, aiohttp.ClientPayloadError):
        return CONNECT, detail
    if isinstance(exc, aiohttp.ClientResponseError) and exc.status >= 400:
        return (HTTP_5XX if exc.status >= 500 else HTTP_4XX), detail
    if isinstance(exc, aiohttp.ClientError | OSError | ConnectionError):
        return CONNECT, detail
    return CONNECT, detail
