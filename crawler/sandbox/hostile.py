"""Hostile hosts: servers built to hurt a crawler, mounted into the sandbox.

Every case is one host under ``hostile.test``; hostile_cases.py is the contract (what each host
does and what a correct crawler records and requests), and this module makes it real. The
sandbox server hands any request whose ``Host`` it `owns` to `HostileHosts.handle`; the
behaviours are real (a genuine gzip bomb, endless and one-byte-per-second bodies, a 10 GiB
``Content-Length`` on a tiny body, ...). `expected()` says, per host, what a correct crawler
stores and exactly which requests it makes, in order; `log` records what it actually did.

Besides the cases, a few *trap hosts* (``10.0.0.1``, ``169.254.169.254``, ``10.1.2.3``,
``localhost``) are owned too: they are where hostile redirects and NodeInfo links point. A
correct crawler never sends them anything, so their `log` entries must stay empty.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import itertools
import math
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson
from aiohttp import web

from crawler.sandbox.hostile_cases import SUFFIX, TRAP_HOSTS, CaseSpec, case_specs, profiles
from crawler.sandbox.hostile_payloads import (
    ENDLESS_PREFIX,
    MASTODON_ROBOTS,
    PARKED_HTML,
    ROBOTS_DENY_ALL,
    ROBOTS_DENY_FEDISCOPE,
    WRONG_TYPES_NODEINFO,
    GiB,
    GzipBomb,
    MastodonProfile,
    deep_nesting_body,
    endless_chunk,
    jrd,
)

__all__ = [
    "HOSTILE_SUFFIX",
    "CaseSpec",
    "HostileCase",
    "HostileHosts",
    "RequestRecord",
    "host_key",
]

HOSTILE_SUFFIX = SUFFIX
JSON_TYPE = "application/json; charset=utf-8"
HUGE_CONTENT_LENGTH = 10 * GiB
RATE_LIMIT_RETRY_AFTER = 2
HUGE_RETRY_AFTER = 86_400
DRIP_INTERVAL = 1.0

Handler = Callable[[web.Request, str], Awaitable[web.StreamResponse]]


class RequestRecord(NamedTuple):
    """One request as the hostile server saw it."""

    monotonic_start: float  # time.monotonic() when the handler started
    method: str
    path_qs: str  # raw request target: path plus query, as sent
    user_agent: str


@dataclass(frozen=True)
class HostileCase:
    """One hostile host: its name, what it does, and what a correct crawler ends up with."""

    domain: str
    description: str
    expected: dict[str, Any]


def host_key(host: str) -> str:
    """Normalise a ``Host`` header value: lowercase, no ``:port``, no trailing dot."""
    h = host.strip().lower()
    if h.startswith("["):
        end = h.find("]")
        return h[1:end] if end > 0 else h
    if h.count(":") == 1:
        h = h.split(":", 1)[0]
    return h[:-1] if h.endswith(".") else h


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=orjson.dumps(data),
        headers={"Content-Type": JSON_TYPE, **(headers or {})},
    )


def _text(text: str, status: int = 200, ctype: str = "text/plain; charset=utf-8") -> web.Response:
    return web.Response(status=status, body=text.encode(), headers={"Content-Type": ctype})


def _not_found() -> web.Response:
    return _text("<!DOCTYPE html><title>Not Found</title>\n", 404, "text/html; charset=utf-8")


def _redirect(status: int, location: str) -> web.Response:
    return web.Response(status=status, headers={"Location": location, "Content-Length": "0"})


def _reset_time(seconds: int) -> str:
    """An ``X-RateLimit-Reset`` value (ISO 8601, Rack::Attack style) at least `seconds` ahead."""
    at = dt.datetime.fromtimestamp(math.ceil(time.time()) + seconds, tz=dt.UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def _too_many(retry_after: int) -> web.Response:
    return _json(
        {"error": "Too many requests"},
        429,
        {
            "Retry-After": str(retry_after),
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": _reset_time(retry_after),
        },
    )


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


class HostileHosts:
    """The hostile cases, served by `handle` for any ``Host`` that `owns` accepts.

    Attributes:
        cases: every case by domain.
        trap_hosts: addresses hostile documents point at; a correct crawler never asks them.
        log: per host (cases and traps), every request in arrival order.
        streams_open: number of endless / dripping / bomb responses currently streaming.
    """

    def __init__(self) -> None:
        specs = case_specs()
        self.cases: dict[str, HostileCase] = {
            s.domain: HostileCase(s.domain, s.description, s.expected) for s in specs
        }
        self.trap_hosts: frozenset[str] = frozenset(TRAP_HOSTS)
        self.log: dict[str, list[RequestRecord]] = {}
        self.streams_open = 0
        self._profiles: dict[str, MastodonProfile] = {p.domain: p for p in profiles()}
        self._handlers: dict[str, Handler] = {
            s.domain: getattr(self, f"_h_{s.behaviour}") for s in specs
        }
        self._bomb = GzipBomb(prefix=b'{"links":[', suffix=b"]}")
        self._deep: bytes | None = None
        self._closing = False
        self._streaming: set[asyncio.Transport] = set()
        self._rate_seen: set[tuple[str, str]] = set()
        self.reset()

    # -- public API -------------------------------------------------------------------------

    def owns(self, host: str) -> bool:
        """True if requests for `host` (a ``Host`` header value, port allowed) come here."""
        key = host_key(host)
        return key in self.cases or key in self.trap_hosts

    def expected(self) -> dict[str, dict[str, Any]]:
        """JSON-serialisable expectations per case domain (a deep copy; traps not included)."""
        return {d: copy.deepcopy(c.expected) for d, c in self.cases.items()}

    def reset(self) -> None:
        """Forget the request log and per-path state (which 429s were sent; a past `close`)."""
        self._closing = False
        for host in itertools.chain(self.cases, sorted(self.trap_hosts)):
            self.log.setdefault(host, []).clear()  # in place: held references stay valid
        self._rate_seen.clear()

    def close(self) -> None:
        """Abort every streaming response now and refuse new ones (call before shutdown).

        Without it, a server shutdown waits for its own timeout on connections whose client
        still holds an endless or dripping response open.
        """
        self._closing = True
        for transport in list(self._streaming):
            transport.abort()

    def retry_gaps(self, host: str) -> dict[str, float]:
        """Per path, seconds between the first and the second request (paths asked twice)."""
        first: dict[str, float] = {}
        gaps: dict[str, float] = {}
        for rec in self.log.get(host_key(host), []):
            if rec.path_qs in first:
                gaps.setdefault(rec.path_qs, rec.monotonic_start - first[rec.path_qs])
            else:
                first[rec.path_qs] = rec.monotonic_start
        return gaps

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer one request for an owned host (421 for a host this module does not own)."""
        host = host_key(request.headers.get("Host", ""))
        if not self.owns(host):
            return _text("misdirected request\n", 421)
        self.log[host].append(
            RequestRecord(
                time.monotonic(),
                request.method,
                request.raw_path,
                request.headers.get("User-Agent", ""),
            )
        )
        if host in self.trap_hosts:
            return _text(f"{host} must never be requested by a crawler\n")
        return await self._handlers[host](request, host)

    # -- streaming machinery ------------------------------------------------------------------

    async def _stream(
        self,
        request: web.Request,
        resp: web.StreamResponse,
        chunks: Iterable[bytes],
        interval: float = 0.0,
    ) -> web.StreamResponse:
        """Send `chunks` until exhausted, the client disconnects or `close()` is called."""
        transport = request.transport
        if transport is not None:
            self._streaming.add(transport)
        self.streams_open += 1
        try:
            await resp.prepare(request)
            for chunk in chunks:
                if self._closing or _client_gone(request):
                    if request.transport is not None:
                        request.transport.abort()
                    break
                await resp.write(chunk)
                await asyncio.sleep(interval)
            else:
                await resp.write_eof()
        except ConnectionError:
            pass  # the client gave up: exactly what these hosts are for
        finally:
            self.streams_open -= 1
            if transport is not None:
                self._streaming.discard(transport)
        return resp

    # -- case behaviours (selected by CaseSpec.behaviour) --------------------------------------

    async def _h_gzip_bomb(self, request: web.Request, host: str) -> web.StreamResponse:
        if request.path == "/.well-known/nodeinfo":
            resp = web.StreamResponse(
                headers={"Content-Type": JSON_TYPE, "Content-Encoding": "gzip"}
            )
            return await self._stream(request, resp, self._bomb.chunks())
        return _not_found()

    async def _h_endless_body(self, request: web.Request, host: str) -> web.StreamResponse:
        if request.path == "/.well-known/nodeinfo":
            return _json(jrd(f"https://{host}/nodeinfo/2.0"))
        if request.path == "/nodeinfo/2.0":
            resp = web.StreamResponse(headers={"Content-Type": JSON_TYPE})
            chunk = endless_chunk()
            return await self._stream(
                request, resp, itertools.chain([ENDLESS_PREFIX], itertools.repeat(chunk))
            )
        return _not_found()

    async def _h_slow_drip(self, request: web.Request, host: str) -> web.StreamResponse:
        if request.path == "/.well-known/nodeinfo":
            resp = web.StreamResponse(headers={"Content-Type": JSON_TYPE})
            doc = orjson.dumps(jrd(f"https://{host}/nodeinfo/2.0"))
            drops = itertools.chain(
                (doc[i : i + 1] for i in range(len(doc))), itertools.repeat(b" ")
            )
            return await self._stream(request, resp, drops, DRIP_INTERVAL)
        return _not_found()

    async def _h_redirect_private(self, request: web.Request, host: str) -> web.StreamResponse:
        if request.path == "/.well-known/nodeinfo":
            return _redirect(302, "https://10.0.0.1/.well-known/nodeinfo")
        return _not_found()

    async def _h_redirect_metadata(self, request: web.Request, host: str) -> web.StreamResponse:
        if request.path == "/.well-known/nodeinfo":
            return _redirect(301, "http://169.254.169.254/latest/meta-data/")
        return _not_found()

    async def _nodeinfo_elsewhere(self, request: web.Request, href: str) -> web.StreamResponse:
        if request.path == "/.well-known/nodeinfo":
            return _json(jrd(href))
        if request.path == "/nodeinfo/2.0":  # bait: only a wrong fallback would find this
            return _json(self._profiles["moved-target.hostile.test"].nodeinfo())
        return _not_found()

    async def _h_nodeinfo_localhost(self, request: web.Request, host: str) -> web.StreamResponse:
        return await self._nodeinfo_elsewhere(request, "https://localhost/nodeinfo/2.0")

    async def _h_nodeinfo_private(self, request: web.Request, host: str) -> web.StreamResponse:
        return await self._nodeinfo_elsewhere(request, "https://10.1.2.3/nodeinfo/2.0")

    async def _h_redirect_loop(self, request: web.Request, host: str) -> web.StreamResponse:
        if request.path == "/.well-known/nodeinfo":
            return _redirect(302, "/loop/1")
        if request.path.startswith("/loop/") and request.path[6:].isdigit():
            n = int(request.path[6:]) + 1
            # alternate relative and absolute (same-host) Location values
            return _redirect(302, f"https://{host}/loop/{n}" if n % 2 == 0 else f"/loop/{n}")
        return _not_found()

    async def _h_html_200(self, request: web.Request, host: str) -> web.StreamResponse:
        return _text(PARKED_HTML, 200, "text/html; charset=utf-8")

    async def _h_truncated_json(self, request: web.Request, host: str) -> web.StreamResponse:
        if request.path == "/.well-known/nodeinfo":
            return _json(jrd(f"https://{host}/nodeinfo/2.0"))
        if request.path == "/nodeinfo/2.0":
            doc = orjson.dumps(self._profiles["moved-target.hostile.test"].nodeinfo())
            return web.Response(body=doc[: len(doc) // 2], headers={"Content-Type": JSON_TYPE})
        return _not_found()

    async def _h_wrong_types(self, request: web.Request, host: str) -> web.StreamResponse:
        if request.path == "/.well-known/nodeinfo":
            return _json(jrd(f"https://{host}/nodeinfo/2.0"))
        if request.path == "/nodeinfo/2.0":
            return _json(WRONG_TYPES_NODEINFO)
        return _not_found()

    async def _h_deep_nesting(self, request: web.Request, host: str) -> web.StreamResponse:
        if request.path == "/.well-known/nodeinfo":
            return _json(jrd(f"https://{host}/nodeinfo/2.0"))
        if request.path == "/nodeinfo/2.0":
            if self._deep is None:
                self._deep = deep_nesting_body()
            return web.Response(body=self._deep, headers={"Content-Type": JSON_TYPE})
        return _not_found()

    async def _h_robots_deny_all(self, request: web.Request, host: str) -> web.StreamResponse:
        if request.path == "/robots.txt":
            return _text(ROBOTS_DENY_ALL)
        return await self._h_mastodon(request, host)

    async def _h_robots_deny_fediscope(self, request: web.Request, host: str) -> web.StreamResponse:
        if request.path == "/robots.txt":
            return _text(ROBOTS_DENY_FEDISCOPE)
        return await self._h_mastodon(request, host)

    async def _h_gone(self, request: web.Request, host: str) -> web.StreamResponse:
        return _text("Gone\n", 410)

    async def _h_rate_limited(self, request: web.Request, host: str) -> web.StreamResponse:
        key = (host, request.raw_path)
        if key not in self._rate_seen:
            self._rate_seen.add(key)
            return _too_many(RATE_LIMIT_RETRY_AFTER)
        return await self._h_mastodon(request, host)

    async def _h_moved_away(self, request: web.Request, host: str) -> web.StreamResponse:
        return _redirect(301, f"https://moved-target.hostile.test{request.raw_path}")

    async def _h_huge_peers_header(self, request: web.Request, host: str) -> web.StreamResponse:
        if request.path != "/api/v1/instance/peers":
            return await self._h_mastodon(request, host)
        resp = web.StreamResponse(headers={"Content-Type": JSON_TYPE})
        resp.content_length = HUGE_CONTENT_LENGTH
        resp.force_close()  # the body will fall 10 GiB short: never reuse this connection
        try:
            await resp.prepare(request)
            await resp.write(orjson.dumps(self._profiles[host].peers))
        except ConnectionError:
            pass
        return resp

    async def _h_retry_after_huge(self, request: web.Request, host: str) -> web.StreamResponse:
        if request.path == "/nodeinfo/2.0":
            return _too_many(HUGE_RETRY_AFTER)
        return await self._h_mastodon(request, host)

    async def _h_mastodon(self, request: web.Request, host: str) -> web.StreamResponse:
        """A small, well-behaved Mastodon 4.3 (also the base of the quieter cases)."""
        p = self._profiles[host]
        path = request.path
        if path == "/robots.txt":
            return _text(MASTODON_ROBOTS)
        if path == "/.well-known/nodeinfo":
            return _json(jrd(f"https://{host}/nodeinfo/2.0"))
        if path == "/nodeinfo/2.0":
            return _json(p.nodeinfo())
        if path == "/api/v2/instance":
            return _json(p.instance_v2())
        if path == "/api/v1/instance/peers":
            return _json(p.peers)
        if path == "/api/v1/instance/domain_blocks":
            return web.Response(status=404)  # Mastodon's default: block list not published
        if path == "/api/v1/instance/activity":
            return _json(p.activity())
        if path.startswith("/api/"):
            return _json({"error": "Record not found"}, 404)
        return _not_found()
