"""Drive `Fetcher` at unit-test speed: a loopback server that answers from a script, and a
fake clock on which every politeness wait is recorded instead of slept.

    clock = FakeClock()
    async with ScriptedServer(clock) as server:
        server.on("/robots.txt", Answer(body="User-agent: *\\nCrawl-delay: 3\\n"))
        server.on("/x", Answer(status=429, headers={"Retry-After": "5"}), Answer(body={}))
        async with server.fetcher() as fetcher:
            await fetcher.request("a.test", "/x")
    assert clock.waits == [3.0, 5.0]

The server serves every host name (the `Host` header `--via` sends) on one loopback port; a
script is per (host, path with query), its answers are used in order and the last one repeats;
anything unscripted is a 404. Every request is logged with its headers and the answers it got.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from aiohttp.abc import AbstractResolver

from crawler.domains import SANDBOX
from crawler.fetch import Fetcher, FetchSettings

UA = "fediscope-test/1.0 (+tests)"
#: Generous real-time guard for waits on events that must happen (never a timed assertion).
GUARD_SECONDS = 10.0


class FakeClock:
    """A monotonic clock that moves only when the fetch layer sleeps on it.

    `auto` (the default): a sleep records its length and moves the clock at once, so sequential
    requests run without waiting and `waits` is the exact list of pauses. With `auto=False` a
    sleep blocks until the test calls `advance`, so a test can start other requests while one
    is paused and see them wait too (`sleeping(n)` waits until n sleeps are pending)."""

    def __init__(self, start: float = 1000.0, *, auto: bool = True):
        self.now = start
        self.auto = auto
        self.waits: list[float] = []
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []
        self._changed = asyncio.Event()

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.auto:
            self.now += seconds
            await asyncio.sleep(0)
            return
        woken = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.now + seconds, woken))
        self._changed.set()
        await woken

    @property
    def pending(self) -> int:
        return sum(1 for _, woken in self._sleepers if not woken.done())

    async def sleeping(self, count: int) -> None:
        """Return once `count` sleeps are pending (a guard fails the test after 10 s)."""
        async with asyncio.timeout(GUARD_SECONDS):
            while self.pending < count:
                self._changed.clear()
                await self._changed.wait()

    async def advance(self, seconds: float) -> None:
        """Move the clock and wake the sleeps that are due."""
        self.now += seconds
        for deadline, woken in self._sleepers:
            if deadline <= self.now and not woken.done():
                woken.set_result(None)
        self._sleepers = [(d, w) for d, w in self._sleepers if not w.done()]
        await asyncio.sleep(0)


@dataclass
class Answer:
    """One scripted answer. A dict or list body is sent as JSON, text as text/plain.

    `gzip` compresses the body (Content-Encoding: gzip); `chunked` sends it without a
    Content-Length; `hold` makes the server wait for the event before answering; `stall`
    sends the headers and half the body, then waits for the event; `elapse` moves the server's
    fake clock while answering (a slow answer, in clock time only)."""

    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    gzip: bool = False
    chunked: bool = False
    hold: asyncio.Event | None = None
    elapse: float = 0.0
    stall: asyncio.Event | None = None

    def payload(self) -> tuple[bytes, str]:
        if isinstance(self.body, dict | list):
            return orjson.dumps(self.body), self.content_type or "application/json"
        if isinstance(self.body, str):
            return self.body.encode(), self.content_type or "text/plain"
        return bytes(self.body), self.content_type or "application/octet-stream"


def redirect(location: str, status: int = 302) -> Answer:
    return Answer(status=status, headers={"Location": location})


#: A script entry: fixed answers, or a function of the request (for conditional answers).
Scripted = Answer | Callable[[web.Request], Answer]


@dataclass
class Seen:
    """One request as the server received it."""

    host: str
    method: str
    path: str  # with the query
    headers: dict[str, str]
    body: bytes
    status: int = 0


class ScriptedServer(AbstractAsyncContextManager["ScriptedServer"]):
    """A loopback aiohttp server answering from per-(host, path) scripts; logs every request
    and counts the requests in flight (per host and overall)."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock
        self.scripts: dict[tuple[str, str], list[Scripted]] = {}
        self.log: list[Seen] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.host_in_flight: dict[str, int] = {}
        self.host_max_in_flight: dict[str, int] = {}
        self._arrived = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    def on(self, path: str, *answers: Scripted, host: str = "a.test") -> None:
        """Script `path` of `host`: these answers in order, then the last one again."""
        self.scripts[(host, path)] = list(answers)

    def paths(self, host: str = "a.test") -> list[str]:
        """The paths asked of `host`, in order."""
        return [seen.path for seen in self.log if seen.host == host]

    async def arrived(self, count: int) -> None:
        """Return once `count` requests have arrived (a guard fails the test after 10 s)."""
        async with asyncio.timeout(GUARD_SECONDS):
            while len(self.log) < count:
                self._arrived.clear()
                await self._arrived.wait()

    async def __aenter__(self) -> ScriptedServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    def settings(self, **overrides: Any) -> FetchSettings:
        """Test settings for this server: no gap unless asked, short timeouts."""
        values: dict[str, Any] = {
            "user_agent": UA,
            "via": f"127.0.0.1:{self.port}",
            "min_gap": 0.0,
            "total_timeout": 5.0,
            "domain_policy": SANDBOX,
            **overrides,
        }
        return FetchSettings(**values)

    def fetcher(self, resolver: AbstractResolver | None = None, **overrides: Any) -> Fetcher:
        """A `Fetcher` for this server on the server's clock."""
        assert self.clock is not None, "give the server the fake clock"
        return Fetcher(self.settings(**overrides), resolver=resolver, clock=self.clock)

    def _answer_for(self, request: web.Request, host: str) -> Answer:
        script = self.scripts.get((host, request.path_qs))
        if not script:
            return Answer(status=404, body="not found")
        entry = script.pop(0) if len(script) > 1 else script[0]
        return entry(request) if callable(entry) else entry

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        host = request.host.split(":")[0]
        seen = Seen(host, request.method, request.path_qs, dict(request.headers), b"")
        seen.body = await request.read()
        self.log.append(seen)
        self._arrived.set()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.host_in_flight[host] = self.host_in_flight.get(host, 0) + 1
        self.host_max_in_flight[host] = max(
            self.host_max_in_flight.get(host, 0), self.host_in_flight[host]
        )
        try:
            answer = self._answer_for(request, host)
            seen.status = answer.status
            if answer.hold is not None:
                await answer.hold.wait()
            if answer.elapse and self.clock is not None:
                self.clock.now += answer.elapse
            return await self._send(request, answer)
        finally:
            self.in_flight -= 1
            self.host_in_flight[host] -= 1

    @staticmethod
    async def _send(request: web.Request, answer: Answer) -> web.StreamResponse:
        body, content_type = answer.payload()
        headers = {"Content-Type": content_type, **answer.headers}
        if answer.gzip:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        if answer.status in (204, 304):
            return web.Response(status=answer.status, headers=answer.headers)
        response = web.StreamResponse(status=answer.status, headers=headers)
        if answer.chunked:
            response.enable_chunked_encoding()
        elif "Content-Length" not in answer.headers:  # a scripted one may lie
            response.content_length = len(body)
        await response.prepare(request)
        if answer.stall is not None:
            await response.write(body[: len(body) // 2])
            await answer.stall.wait()
            return response
        await response.write(body)
        await response.write_eof()
        return response


class AddressResolver(AbstractResolver):
    """Resolves host names to the (public, never contacted) addresses given: in `--via` mode
    this only groups hosts by address, as a hosting provider's DNS would."""

    def __init__(self, addresses: dict[str, str]):
        self.addresses = addresses
        self.asked: list[str] = []
        self.queries: list[tuple[str, int, socket.AddressFamily]] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[dict[str, Any]]:
        self.asked.append(host)
        self.queries.append((host, port, family))
        if host not in self.addresses:
            raise OSError(f"no address for {host}")
        return [
            {"hostname": host, "host": self.addresses[host], "port": port, "family": family,
             "proto": 0, "flags": socket.AI_NUMERICHOST}
        ]  # fmt: skip

    async def close(self) -> None:
        return None
