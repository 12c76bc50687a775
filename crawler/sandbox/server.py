"""The aiohttp app serving the whole sandbox on one port, routing by the Host header.

One catch-all route; a middleware adds latency and keeps per-host statistics (requests, maximum
in flight, bounded request log) for every response type, drops and hangs included. The handler
applies the host's failure mode (drop, hang, 500, 410, HTML, 301, 429-once-per-path), then asks
`crawler.sandbox.platforms.respond`. Small answers are cached per epoch; peer lists are
generated on every request.

Like Rails (Rack::ETag + Rack::ConditionalGet), Mastodon-family hosts send a weak ETag with
every 200 GET answer and answer a matching `If-None-Match` with 304 and no body. Hosts on a
hosting provider (`crawler.sandbox.hosting`) are counted per provider address too, and the
provider's rate limit answers 429 with an X-RateLimit-Reset like Mastodon's Rack::Attack.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import random
import time
from collections import defaultdict, deque
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from aiohttp import web

from crawler.sandbox.config import Provider, SandboxConfig
from crawler.sandbox.hosting import HostingMap
from crawler.sandbox.model import Host
from crawler.sandbox.platforms import Ctx, Reply, respond
from crawler.sandbox.world import World

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

PARKED = (
    "<!DOCTYPE html><html><head><title>This domain is parked</title></head><body>"
    "<h1>This domain may be for sale</h1><p>Contact the registrar.</p></body></html>"
)
CACHE_LIMIT = 20_000
CACHE_BODY_LIMIT = 256 * 1024
MAX_BODY = 64 * 1024
ETAG_PLATFORMS = frozenset({"mastodon"})
#: Early requests within this much of a provider's reset are not counted (clock granularity).
EARLY_SLACK = 0.05


class LogEntry(NamedTuple):
    """One request as the server saw it (status 0 = no answer: dropped or hung)."""

    monotonic_start: float
    monotonic_end: float
    method: str
    path_qs: str
    user_agent: str
    status: int


class ServerStats:
    """Per-host request counts, in-flight maxima and a bounded request log."""

    def __init__(self, keep_log: bool = True, limit: int = 2000) -> None:
        self.keep_log = keep_log
        self.limit = limit
        self.requests: dict[str, int] = defaultdict(int)
        self.in_flight: dict[str, int] = defaultdict(int)
        self.max_in_flight: dict[str, int] = defaultdict(int)
        self.log: dict[str, deque[LogEntry]] = {}
        self.total = 0
        # Per hosting-provider address: requests, in flight, 429s sent, requests before a reset.
        self.address_requests: dict[str, int] = defaultdict(int)
        self.address_in_flight: dict[str, int] = defaultdict(int)
        self.address_max_in_flight: dict[str, int] = defaultdict(int)
        self.address_limited: dict[str, int] = defaultdict(int)
        self.address_early: dict[str, int] = defaultdict(int)
        self.address_early_max: dict[str, int] = defaultdict(int)  # most after any one 429
        self.not_modified = 0  # 304 answers sent

    def begin(self, host: str, address: str | None = None) -> None:
        """A request for `host` (on a provider at `address`) starts."""
        self.total += 1
        self.requests[host] += 1
        now = self.in_flight[host] = self.in_flight[host] + 1
        if now > self.max_in_flight[host]:
            self.max_in_flight[host] = now
        if address is not None:
            self.address_requests[address] += 1
            now = self.address_in_flight[address] = self.address_in_flight[address] + 1
            if now > self.address_max_in_flight[address]:
                self.address_max_in_flight[address] = now

    def end(self, host: str, entry: LogEntry, address: str | None = None) -> None:
        """A request for `host` ends (answered or not)."""
        self.in_flight[host] -= 1
        if address is not None:
            self.address_in_flight[address] -= 1
        if self.keep_log:
            log = self.log.get(host)
            if log is None:
                log = self.log[host] = deque(maxlen=self.limit)
            log.append(entry)

    def reset(self) -> None:
        """Forget everything recorded so far (requests still in flight stay counted)."""
        self.requests.clear()
        self.max_in_flight.clear()
        self.log.clear()
        self.total = 0
        for counter in (
            self.address_requests,
            self.address_max_in_flight,
            self.address_limited,
            self.address_early,
            self.address_early_max,
        ):
            counter.clear()
        self.not_modified = 0


def host_key(value: str) -> str:
    """Host header -> lowercase name without port or trailing dot."""
    name = value.strip().lower()
    if name.startswith("["):
        return name.split("]")[0] + "]"
    return name.rsplit(":", 1)[0].rstrip(".") if ":" in name else name.rstrip(".")


def _drop(request: web.Request) -> web.Response:
    """Close the connection without answering."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    raise asyncio.CancelledError


class SandboxServer:
    """aiohttp application and runner for one sandbox."""

    def __init__(
        self,
        world: World,
        config: SandboxConfig,
        stats: ServerStats,
        hostile: Any = None,
        hosting: HostingMap | None = None,
    ) -> None:
        self.world = world
        self.config = config
        self.stats = stats
        self.hostile = hostile
        self.hosting = hosting or HostingMap(world, [])
        # provider address -> (when its last 429 was sent, when that rate limit resets)
        self._reset_at: dict[str, tuple[float, float]] = {}
        self._episode_early: dict[str, int] = defaultdict(int)
        self._latency = random.Random(f"{config.seed}:latency")
        self._rate_seen: set[tuple[int, str]] = set()
        self._cache: dict[tuple[object, ...], Reply] = {}
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.app = web.Application(middlewares=[self._observe], client_max_size=MAX_BODY)
        self.app.router.add_route("*", "/{tail:.*}", self._handle)

    def new_epoch(self) -> None:
        """Forget per-epoch state (cached answers, which 429s were sent)."""
        self._cache.clear()
        self._rate_seen.clear()

    async def start(self, host: str, port: int) -> int:
        """Bind and serve; returns the bound port."""
        self._stopping = asyncio.Event()
        self._runner = web.AppRunner(
            self.app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, backlog=1024, reuse_address=True)
        await site.start()
        return int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Release hanging requests and shut down."""
        self._stopping.set()
        close = getattr(self.hostile, "close", None)
        if close is not None:
            close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @web.middleware
    async def _observe(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        host = host_key(request.host)
        start = time.monotonic()
        provider = self.hosting.provider(host)
        address = provider.address if provider else None
        self.stats.begin(host, address)
        status = 0
        try:
            lo, hi = self.config.latency_ms
            if hi > 0:
                await asyncio.sleep(self._latency.uniform(lo, hi) / 1000)
            limited = self._rate_limit(provider, start) if provider else None
            response = _to_response(limited) if limited else await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            entry = LogEntry(
                start,
                time.monotonic(),
                request.method,
                request.path_qs,
                request.headers.get("User-Agent", ""),
                status,
            )
            self.stats.end(host, entry, address)

    def _rate_limit(self, provider: Provider, arrived: float) -> Reply | None:
        """The provider's limiter: every n-th request gets a 429 and a reset ahead.

        A request that arrived after a 429 was sent and before its reset is `early`; one already
        on its way when the 429 left is throttled, not early. A client that honours the 429 for
        the whole address sends at most one early request per other slot it had in use (those
        it started before it read the 429); `address_early_max` is the most after one 429.
        """
        address = provider.address
        now = time.monotonic()
        sent, reset = self._reset_at.get(address, (0.0, 0.0))
        if now < reset:
            if sent < arrived < reset - EARLY_SLACK:
                self.stats.address_early[address] += 1
                self._episode_early[address] += 1
                most = self.stats.address_early_max
                most[address] = max(most[address], self._episode_early[address])
            return _limited(reset - now)
        every = provider.rate_limit_every
        if every and self.stats.address_requests[address] % every == 0:
            self._reset_at[address] = (now, now + provider.reset_seconds)
            self._episode_early[address] = 0
            self.stats.address_limited[address] += 1
            return _limited(provider.reset_seconds)
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        name = host_key(request.host)
        if self.hostile is not None and self.hostile.owns(name):
            return await self.hostile.handle(request)
        h = self.world.host(name)
        if h is None or h.failure == "dead":
            return _drop(request)
        if h.failure == "hang":
            return await self._hang(request)
        early = self._failure_reply(h, request)
        if early is not None:
            return _to_response(early)
        body = await request.read() if request.method == "POST" else b""
        reply = self._reply(h, name, request, body)
        if reply.status == 200 and request.method == "GET" and h.platform in ETAG_PLATFORMS:
            reply = self._conditional(reply, request.headers.get("If-None-Match"))
        return _to_response(reply)

    def _conditional(self, reply: Reply, if_none_match: str | None) -> Reply:
        """Rack::ETag then Rack::ConditionalGet: tag the answer, 304 when the tag matches."""
        etag = dict(reply.headers).get("ETag")
        if etag is None:
            etag = _weak_etag(reply.body)
            reply = dataclasses.replace(reply, headers=(*reply.headers, ("ETag", etag)))
        if if_none_match and etag in (tag.strip() for tag in if_none_match.split(",")):
            self.stats.not_modified += 1
            # Rack::ConditionalGet keeps the answer's headers on the 304, Cache-Control too.
            kept = tuple((k, v) for k, v in reply.headers if k in ("ETag", "Cache-Control"))
            return Reply(304, b"", None, kept, cacheable=False)
        return reply

    async def _hang(self, request: web.Request) -> web.StreamResponse:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), self.config.hang_seconds)
        return _drop(request)

    def _failure_reply(self, h: Host, request: web.Request) -> Reply | None:
        failure, path = h.failure, request.path
        if failure == "gone":
            return Reply(410, b"<h1>410 Gone</h1>", "text/html; charset=utf-8")
        if failure == "html":
            return Reply(200, PARKED.encode(), "text/html; charset=utf-8")
        if failure == "moved" and h.moved_to is not None:
            target = self.world.hosts[h.moved_to].domain
            return Reply(301, b"", None, (("Location", f"https://{target}{request.path_qs}"),))
        if failure == "error500":
            if path == "/robots.txt":
                return Reply(404, b"", "text/html; charset=utf-8")
            return Reply(500, b"<h1>500 Internal Server Error</h1>", "text/html; charset=utf-8")
        if failure == "no_nodeinfo":
            return Reply(404, b"<h1>Not Found</h1>", "text/html; charset=utf-8")
        if failure == "spa_html":  # no NodeInfo; a single-page app answers every other path
            if path == "/robots.txt" or path.startswith(("/.well-known/", "/nodeinfo")):
                return Reply(404, b"<h1>Not Found</h1>", "text/html; charset=utf-8")
            return Reply(200, PARKED.encode(), "text/html; charset=utf-8")
        if failure == "rate_limited" and (h.idx, path) not in self._rate_seen:
            self._rate_seen.add((h.idx, path))
            return Reply(
                429,
                b'{"error":"Too many requests"}',
                "application/json",
                (("Retry-After", str(round(self.config.pace))),),
            )
        return None

    def _reply(self, h: Host, name: str, request: web.Request, body: bytes) -> Reply:
        key = (self.world.epoch, h.idx, name, request.method, request.path_qs, body)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        ctx = Ctx(self.world, h, name, request.method, request.path, request.query, body)
        reply = respond(ctx)
        if reply.status == 200 and request.method == "GET" and h.platform in ETAG_PLATFORMS:
            # Tagged once per cached answer; peer lists (not cached) are hashed per request.
            etag = ("ETag", _weak_etag(reply.body))
            reply = dataclasses.replace(reply, headers=(*reply.headers, etag))
        if reply.cacheable and len(reply.body) <= CACHE_BODY_LIMIT:
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = reply
        return reply


def _weak_etag(body: bytes) -> str:
    """Rack::ETag's tag: W/ and the first 32 hex digits of the body's SHA-256."""
    return f'W/"{hashlib.sha256(body).hexdigest()[:32]}"'


def _limited(seconds: float) -> Reply:
    """Mastodon's throttled answer (Rack::Attack): 429 with an ISO 8601 X-RateLimit-Reset."""
    reset = datetime.now(UTC) + timedelta(seconds=seconds)
    stamp = reset.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return Reply(
        429,
        b'{"error":"Throttled"}',
        "application/json",
        (("X-RateLimit-Reset", stamp),),
        cacheable=False,
    )


def _to_response(reply: Reply) -> web.Response:
    headers = dict(reply.headers)
    if reply.content_type is not None:
        headers["Content-Type"] = reply.content_type
    return web.Response(body=reply.body, status=reply.status, headers=headers)
