"""`Fetcher`: the one path by which fediscope talks to servers.

Politeness: robots.txt is fetched first for every host and checked for every path (redirect
targets included); at most one request is in flight per host; after a short opening burst
(the first `burst` requests of a visit back to back; none once robots.txt sets a Crawl-delay)
requests keep a minimum gap (the host's Crawl-delay when larger); 429/503 answers are retried a
few times after Retry-After / X-RateLimit-Reset or a jittered exponential backoff; each host
has a request budget per crawl; a global semaphore bounds the requests in flight. Hosts that
resolve to one address (shared hosting) share `per_address` slots and its backoff
(`addresses.py`). Every one of these waits reads and sleeps on the fetcher's `clock`
(`clock.py`; real time unless a test injects a fake one).

Conditional requests: for a request made with `conditional=True`, the validators kept from the
previous crawl (`Fetcher.validators`: ETag, Last-Modified) are sent as If-None-Match /
If-Modified-Since (`validators.py`); a 304 then comes back as a `Response` with `not_modified`
set and no body.

Safety: HTTPS URLs only; every host name is validated; resolved addresses must be public
(`guard.py`); redirects are followed only within the same host (at most 5) and a permanent
redirect to another host is reported as a move; bodies are capped after decompression; connect,
read and total timeouts apply. Failures never raise: they come back as a `Response` whose
`error` is one of the kinds in `errors.py`.

`--via HOST:PORT` sends `https://example.social/path` as plain HTTP to `HOST:PORT/path` with
`Host: example.social`; everything else above stays the same.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
import orjson

from crawler.domains import REAL_NETWORK, DomainPolicy
from crawler.fetch import errors
from crawler.fetch.addresses import AddressBook, AddressState, SharedAnswers
from crawler.fetch.clock import REAL_CLOCK, Clock
from crawler.fetch.errors import BodyTooLarge, classify
from crawler.fetch.freshness import fresh_until
from crawler.fetch.gate import Gate
from crawler.fetch.guard import GuardedResolver, is_public_address
from crawler.fetch.robots import ROBOTS_MAX_BYTES, ROBOTS_TTL_SECONDS, RobotsRules, StoredRobots
from crawler.fetch.validators import Validator, conditional_headers, validator_header

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECTS = frozenset({301, 308})
_ROBOTS_UNREACHABLE = frozenset(
    {errors.HTTP_5XX, errors.HTTP_429, errors.TIMEOUT, errors.CONNECT, errors.DNS, errors.TLS}
)
ERROR_BODY_BYTES = 64 * 1024
CHUNK = 64 * 1024


def utc_now(timespec: str = "seconds") -> str:
    """The current time as ISO 8601 UTC text (the store's time format)."""
    return datetime.now(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


@dataclass
class AnswerTimes:
    """How many answers arrived (any status) and their seconds in all: how quickly servers
    answer now, which tells the crawler's own overload from servers that hang."""

    answers: int = 0
    seconds: float = 0.0

    def add(self, seconds: float) -> None:
        self.answers += 1
        self.seconds += seconds


@dataclass
class FetchSettings:
    """Knobs of the fetch layer; defaults are the polite production values."""

    user_agent: str
    via: str | None = None
    concurrency: int = 64
    per_address: int = 4
    min_gap: float = 1.0
    #: The first `burst` requests of a visit go back to back, then `min_gap` applies; 1 means
    #: no burst. A robots.txt Crawl-delay ends the burst (every later request keeps the gap).
    burst: int = 1
    max_crawl_delay: float = 60.0
    host_budget: int = 100
    max_body: int = 16 * 1024 * 1024
    total_timeout: float = 30.0
    connect_timeout: float = 10.0
    read_timeout: float = 15.0
    max_redirects: int = 5
    max_retries: int = 2
    max_retry_wait: float = 60.0
    backoff_base: float = 2.0
    #: A request still unanswered after this many seconds waits outside the `concurrency`
    #: bound (at most `concurrency` such requests): a server that hangs would otherwise hold a
    #: slot for the whole read timeout. None: every request counts until it ends.
    park_after: float | None = 2.0
    robots_token: str = "fediscope"
    domain_policy: DomainPolicy = REAL_NETWORK
    #: The wall clock (Unix seconds) that freshness and a stored robots.txt's age are measured
    #: on: the crawl's own clock, which tests move by days between crawls.
    now: Callable[[], float] = time.time


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


@dataclass
class HostState:
    """Per-host politeness state; dropped when the engine is done with the host."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    next_allowed: float = 0.0
    gap: float = 1.0
    burst: int = 1  # requests left that may go without a gap (robots.txt counts as one)
    requests: int = 0
    robots: RobotsRules | None = None
    robots_response: Response | None = None
    robots_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    grouped: bool = False
    group: AddressState | None = None
    began: float = 0.0  # when the host's first request was asked for: its place at the Gate

    def sent(self, now: float) -> None:
        """A request to this host just ended at `now`: when may the next one start?"""
        self.burst -= 1
        self.next_allowed = now if self.burst > 0 else now + self.gap

    def strict(self, gap: float, now: float) -> None:
        """A Crawl-delay (or the server's push-back): no more burst, `gap` from `now` on."""
        self.gap, self.burst = gap, 0
        self.next_allowed = max(self.next_allowed, now + gap)


class Fetcher:
    """Polite, guarded HTTP for the crawler. Use as an async context manager."""

    def __init__(
        self,
        settings: FetchSettings,
        resolver: aiohttp.abc.AbstractResolver | None = None,
        clock: Clock = REAL_CLOCK,
    ):
        self.settings = settings
        #: What every pacing, backoff and Crawl-delay wait reads and sleeps on (tests fake it).
        self.clock = clock
        self._resolver = resolver
        self._session: aiohttp.ClientSession | None = None
        self._hosts: dict[str, HostState] = {}
        self._semaphore = Gate(settings.concurrency)
        self._answers: SharedAnswers | None = None
        self._grouping: SharedAnswers | None = None
        self.addresses = AddressBook(settings.per_address)
        #: domain -> path -> validator of the answer stored last time (set by the engine).
        self.validators: dict[str, dict[str, Validator]] = {}
        #: domain -> path -> until when the stored answer may be reused without asking.
        self.fresh: dict[str, dict[str, float]] = {}
        #: domain -> robots.txt answer stored by a recent crawl, reused while under a day old.
        self.stored_robots: dict[str, StoredRobots] = {}
        self.in_flight = 0
        self.parked = 0  # requests unanswered for `park_after`, now outside the global bound
        self.parked_total = 0
        self.stats: Counter[str] = Counter()
        self.answer_times = AnswerTimes()

    async def __aenter__(self) -> Fetcher:
        s = self.settings
        if s.via:
            # Nothing is resolved to connect; only an injected resolver groups hosts.
            inner: aiohttp.abc.AbstractResolver = aiohttp.resolver.ThreadedResolver()
            if self._resolver is not None:
                self._grouping = SharedAnswers(GuardedResolver(self._resolver), clock=self.clock)
            self._answers = SharedAnswers(GuardedResolver(inner), clock=self.clock)
        else:
            inner = self._resolver or aiohttp.resolver.DefaultResolver()
            self._answers = self._grouping = SharedAnswers(GuardedResolver(inner), clock=self.clock)
        connector = aiohttp.TCPConnector(
            limit=s.concurrency + 8,
            limit_per_host=0,  # one-per-host is enforced per *name* by HostState, not per IP
            ttl_dns_cache=300,
            resolver=self._answers,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=s.total_timeout, sock_connect=s.connect_timeout, sock_read=s.read_timeout
            ),
            headers={"User-Agent": s.user_agent, "Accept": "application/json"},
            auto_decompress=True,
        )
        # aiohttp silently re-sends an idempotent request once when a reused keep-alive
        # connection drops. That second request would bypass the per-host pacer (seen: two
        # robots.txt requests 1 ms apart to a host that drops connections), so it is turned
        # off: every request goes through the pacer, and a drop is a recorded failure.
        if hasattr(self._session, "_retry_connection"):
            self._session._retry_connection = False
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()
        if self._grouping is not None and self._grouping is not self._answers:
            await self._grouping.close()

    @property
    def request_limit(self) -> int:
        """Requests allowed in flight now (lowered while the crawler is overloaded)."""
        return self._semaphore.limit

    def limit_requests(self, limit: int) -> None:
        """Allow at most `limit` requests in flight (1 to the configured concurrency); requests
        already sent finish, new ones wait."""
        self._semaphore.limit = max(1, min(limit, self.settings.concurrency))

    def _host(self, domain: str) -> HostState:
        state = self._hosts.get(domain)
        if state is None:
            settings = self.settings
            state = self._hosts[domain] = HostState(
                gap=settings.min_gap, burst=settings.burst, began=self.clock.monotonic()
            )
        return state

    def release(self, domain: str) -> None:
        """Forget a host's politeness state once its visit is over (bounds memory)."""
        self._hosts.pop(domain, None)
        self.validators.pop(domain, None)
        self.fresh.pop(domain, None)
        self.stored_robots.pop(domain, None)
        if self._grouping is not None:
            self._grouping.forget(domain)

    async def address_of(self, domain: str) -> AddressState | None:
        """The address group of a host (resolved once per visit), None when unknown."""
        state = self._host(domain)
        if not state.grouped:
            group = None
            if self._grouping is not None:
                try:
                    answer = await self._grouping.resolve(domain, 443, socket.AF_UNSPEC)
                except Exception:  # the request itself will report the failure
                    answer = []
                if answer:
                    group = self.addresses.get(answer[0]["host"])
                    group.hosts += 1
            state.group, state.grouped = group, True
        return state.group

    def address_reached(self, domain: str) -> str | None:
        """The address a host's requests were grouped by and sent to, if it was resolved.

        Only public addresses get here (the guard refuses the others before grouping)."""
        state = self._hosts.get(domain)
        return state.group.address if state is not None and state.group is not None else None

    def requests_made(self, domain: str) -> int:
        state = self._hosts.get(domain)
        return state.requests if state else 0

    async def robots(self, domain: str) -> tuple[RobotsRules, Response]:
        """The host's robots rules (RFC 9309 semantics): fetched once per host and visit, or
        the answer a crawl stored less than a day ago (RFC 9309 section 2.4 lets crawlers
        cache it that long), which then costs no request."""
        state = self._host(domain)
        async with state.robots_lock:
            stored = self.stored_robots.pop(domain, None)
            if (
                state.robots is None
                and stored is not None
                and 0 <= (age := stored.age(self.settings.now())) < ROBOTS_TTL_SECONDS
            ):
                rules = RobotsRules.from_answer(
                    stored.status,
                    stored.body,
                    self.settings.robots_token,
                    self.clock.monotonic() - age,
                )
                response = Response(
                    domain,
                    "/robots.txt",
                    status=stored.status,
                    body=stored.body,
                    fetched_at=stored.fetched_at,
                    reused=True,
                )
                self._take_robots(state, rules, response, asked=False)
            elif state.robots is None or state.robots.expired_at(self.clock.monotonic()):
                response = await self._follow(domain, "/robots.txt", "GET", None, check=False)
                token, now = self.settings.robots_token, self.clock.monotonic()
                if response.moved_to:
                    rules = RobotsRules("allow_all", token, fetched_at=now, status=response.status)
                elif response.status is None or response.error in _ROBOTS_UNREACHABLE:
                    rules = RobotsRules.from_answer(None, None, token, now)
                else:
                    # Other 3xx outcomes (offsite temporary redirect, loop) count as
                    # "unavailable" in RFC 9309 terms: allow everything.
                    rules = RobotsRules.from_answer(response.status, response.body, token, now)
                self._take_robots(state, rules, response, asked=True)
            assert state.robots_response is not None
            return state.robots, state.robots_response

    def _take_robots(
        self, state: HostState, rules: RobotsRules, response: Response, *, asked: bool
    ) -> None:
        """Take a host's robots rules; a Crawl-delay paces every later request. `asked`: the
        rules came from a request just made (not from a stored answer)."""
        state.robots, state.robots_response = rules, response
        delay = rules.crawl_delay
        if delay is None:
            return
        gap = max(self.settings.min_gap, delay)
        if asked:
            # The pause after robots.txt itself was set before its Crawl-delay was known.
            state.strict(gap, self.clock.monotonic())
        else:
            state.gap, state.burst = gap, 0

    async def request(
        self,
        domain: str,
        path: str,
        *,
        method: str = "GET",
        json_body: Any = None,
        conditional: bool = False,
    ) -> Response:
        """One logical request, robots-checked, paced, retried and redirect-guarded.

        `conditional`: send the validators kept for this URL, if any (GET only).
        """
        rules, robots_response = await self.robots(domain)
        if robots_response.moved_to:
            return _refused(domain, path, method, None, moved_to=robots_response.moved_to)
        if rules.mode == "disallow_all":
            if robots_response.status is None and robots_response.error:
                # No answer at all: the host's own failure (DNS, connect, unsafe address, ...).
                return _refused(domain, path, method, robots_response.error, robots_response.detail)
            return _refused(domain, path, method, errors.ROBOTS_UNAVAILABLE, robots_response.error)
        delay = rules.crawl_delay
        if delay is not None and delay > self.settings.max_crawl_delay:
            return _refused(domain, path, method, errors.CRAWL_DELAY_TOO_LONG, f"{delay:g}s")
        if not rules.allows(path):
            return _refused(domain, path, method, errors.ROBOTS_DISALLOWED)
        validator = None
        if conditional and method == "GET":
            validator = self.validators.get(domain, {}).get(path)
            still_fresh = self.fresh.get(domain, {}).get(path)
            if still_fresh is not None and still_fresh > self.settings.now():
                return Response(
                    domain,
                    path,
                    not_modified=True,
                    validator=validator,
                    fresh_until=still_fresh,
                    reused=True,
                )
        return await self._follow(domain, path, method, json_body, check=True, validator=validator)

    async def _follow(
        self,
        domain: str,
        path: str,
        method: str,
        json_body: Any,
        *,
        check: bool,
        validator: Validator | None = None,
    ) -> Response:
        """Send, following same-host redirects only; report moves and refuse everything else."""
        original = path
        total_requests = 0
        for _ in range(self.settings.max_redirects + 1):
            # Validators belong to the URL they were sent for, not to a redirect target.
            condition = validator if path == original else None
            response = await self._send(domain, path, method, json_body, condition)
            total_requests += response.requests
            response.requests = total_requests
            response.path, response.final_path = original, path
            if response.status not in REDIRECT_STATUSES or response.error:
                return response
            target = self._redirect_target(domain, path, response)
            if target.error:
                target.requests, target.status = total_requests, response.status
                return target
            if target.domain != domain:
                if response.status in PERMANENT_REDIRECTS:
                    response.moved_to = target.domain
                    response.error = None
                    return response
                response.error, response.detail = errors.REDIRECT_OFFSITE, target.domain
                return response
            path = target.path
            if check:
                state = self._host(domain)
                if state.robots is not None and not state.robots.allows(path):
                    return _refused(domain, original, method, errors.ROBOTS_DISALLOWED, path)
            if response.status == 303 or (response.status in (301, 302) and method == "POST"):
                method, json_body = "GET", None
        response.error, response.detail = errors.REDIRECT_LOOP, f"> {self.settings.max_redirects}"
        return response

    def _redirect_target(self, domain: str, path: str, response: Response) -> Response:
        """Validate a Location header: https, a valid public host name, never an address."""
        location = response.detail or ""
        try:
            parts = urlsplit(urljoin(f"https://{domain}{path}", location))
            host = parts.hostname or ""
            port = parts.port
        except ValueError:
            return _refused(domain, path, response.method, errors.INVALID_URL, location[:200])
        if host and _looks_like_address(host):
            kind = errors.UNSAFE_ADDRESS if not is_public_address(host) else errors.INVALID_URL
            return _refused(domain, path, response.method, kind, location[:200])
        target, reason = self.settings.domain_policy.check(host)
        if parts.scheme != "https" or port not in (None, 443) or target is None:
            detail = f"{location[:200]} ({reason or 'not https'})"
            return _refused(domain, path, response.method, errors.INVALID_URL, detail)
        new_path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return Response(domain=target, path=new_path)

    async def _send(
        self,
        domain: str,
        path: str,
        method: str,
        json_body: Any,
        validator: Validator | None = None,
    ) -> Response:
        """One request with pacing, budget and 429/503 retries (no redirect handling)."""
        s = self.settings
        state = self._host(domain)
        used = 0
        for attempt in range(s.max_retries + 1):
            if state.requests >= s.host_budget:
                response = _refused(domain, path, method, errors.BUDGET_EXHAUSTED)
                response.requests = used
                return response
            async with state.lock:
                wait = state.next_allowed - self.clock.monotonic()
                if wait > 0:
                    await self.clock.sleep(wait)
                group = state.group if state.grouped else await self.address_of(domain)
                state.requests += 1
                used += 1
                if group is None:
                    response = await self._slot(domain, path, method, json_body, validator)
                else:
                    response = await self._address_slot(
                        group, domain, path, method, json_body, validator
                    )
                state.sent(self.clock.monotonic())
            response.requests = used
            self.stats[response.error or f"http_{response.status}"] += 1
            if response.status is not None and response.elapsed is not None:
                self.answer_times.add(response.elapsed)
            if response.status not in (429, 503):
                return response
            delay = response.retry_after
            if delay is None:
                delay = s.backoff_base * 2**attempt * random.uniform(0.5, 1.5)
            response.retry_after = delay
            # The host and its address wait even when this request is given up: the visit's
            # next request, and the address's other hosts, must not come sooner than asked
            # (at most the longest wait a crawl makes; a host asking more is left anyway).
            now, pause = self.clock.monotonic(), min(delay, s.max_retry_wait)
            state.strict(state.gap, now)  # a server pushing back ends the burst
            state.next_allowed = max(state.next_allowed, now + pause)
            if group is not None:
                group.backoffs += 1
                group.next_allowed = max(group.next_allowed, now + pause)
            if attempt == s.max_retries or delay > s.max_retry_wait:
                response.error = errors.HTTP_429 if response.status == 429 else errors.HTTP_5XX
                return response
        raise AssertionError("unreachable")

    async def _address_slot(
        self,
        group: AddressState,
        domain: str,
        path: str,
        method: str,
        json_body: Any,
        validator: Validator | None,
    ) -> Response:
        """Wait for one of the address's slots and its backoff, then send."""
        queued = self.clock.monotonic()
        async with group.slots:
            while True:
                if (pause := group.next_allowed - self.clock.monotonic()) > 0:
                    await self.clock.sleep(pause)
                    continue
                await self._semaphore.acquire(self._host(domain).began)
                # A 429 may have paused the address while this waited for the global slot.
                if group.next_allowed <= self.clock.monotonic():
                    break
                self._semaphore.release()
            group.queue_seconds += self.clock.monotonic() - queued
            group.requests += 1
            group.in_flight += 1
            group.max_in_flight = max(group.max_in_flight, group.in_flight)
            try:
                return await self._counted(domain, path, method, json_body, validator)
            finally:
                group.in_flight -= 1
                self._semaphore.release()

    async def _slot(
        self, domain: str, path: str, method: str, json_body: Any, validator: Validator | None
    ) -> Response:
        """Send within the global bound on requests in flight (the oldest visit first); after
        `park_after` seconds without an answer the request gives its slot to another."""
        gate, after = self._semaphore, self.settings.park_after
        await gate.acquire(self._host(domain).began)
        parked = False

        def park() -> None:
            nonlocal parked
            if self.parked < self.settings.concurrency:
                parked = True
                self.parked += 1
                self.parked_total += 1
                gate.release()

        timer = None if after is None else asyncio.get_running_loop().call_later(after, park)
        try:
            return await self._counted(domain, path, method, json_body, validator)
        finally:
            if timer is not None:
                timer.cancel()
            if parked:
                self.parked -= 1
            else:
                gate.release()

    async def _counted(
        self, domain: str, path: str, method: str, json_body: Any, validator: Validator | None
    ) -> Response:
        self.in_flight += 1
        try:
            return await self._exchange(domain, path, method, json_body, validator)
        finally:
            self.in_flight -= 1

    async def _exchange(
        self,
        domain: str,
        path: str,
        method: str,
        json_body: Any,
        validator: Validator | None = None,
    ) -> Response:
        """The wire exchange: build the URL (or the via URL), read a capped body."""
        s = self.settings
        assert self._session is not None, "use Fetcher as an async context manager"
        headers: dict[str, str] = {}
        if validator is not None:
            headers.update(conditional_headers(validator))
        if s.via:
            url = f"http://{s.via}{path}"
            headers["Host"] = domain
        else:
            url = f"https://{domain}{path}"
        result = Response(
            domain=domain, path=path, method=method, fetched_at=utc_now("milliseconds")
        )
        started = time.perf_counter()
        try:
            async with self._session.request(
                method,
                url,
                headers=headers,
                json=json_body,
                allow_redirects=False,
            ) as answer:
                result.status = answer.status
                result.content_type = answer.headers.get("Content-Type", "")
                result.retry_after = _retry_after(answer.headers)
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
                    result.error = _status_error(answer.status)
                    result.detail = f"HTTP {answer.status}"
        except Exception as exc:  # every failure becomes an error kind for this host
            result.error, result.detail = classify(exc)
        result.elapsed = round(time.perf_counter() - started, 4)
        return result


def _refused(
    domain: str,
    path: str,
    method: str,
    error: str | None,
    detail: str | None = None,
    moved_to: str | None = None,
) -> Response:
    return Response(
        domain=domain,
        path=path,
        method=method,
        error=error,
        detail=detail,
        moved_to=moved_to,
        fetched_at=utc_now(),
    )


def _looks_like_address(host: str) -> bool:
    return host.replace(".", "").isdigit() or ":" in host


def _status_error(status: int) -> str:
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


def _retry_after(headers: Any) -> float | None:
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
