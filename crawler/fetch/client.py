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
import random
import socket
from collections import Counter
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp

from crawler.fetch import errors
from crawler.fetch.addresses import AddressBook, AddressState, SharedAnswers
from crawler.fetch.clock import REAL_CLOCK, Clock
from crawler.fetch.descriptors import room_for_parked
from crawler.fetch.gate import Gate
from crawler.fetch.guard import GuardedResolver, is_public_address
from crawler.fetch.pacing import HostState
from crawler.fetch.response import Response, refused
from crawler.fetch.robots import ROBOTS_TTL_SECONDS, RobotsRules, StoredRobots
from crawler.fetch.settings import FetchSettings, connection_limit
from crawler.fetch.validators import Validator
from crawler.fetch.wire import REDIRECT_STATUSES, AnswerTimes, exchange

PERMANENT_REDIRECTS = frozenset({301, 308})
_ROBOTS_UNREACHABLE = frozenset(
    {errors.HTTP_5XX, errors.HTTP_429, errors.TIMEOUT, errors.CONNECT, errors.DNS, errors.TLS}
)


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
        self.parked_limit = 0  # at most this many at once (set when the pool is made)
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
        self.parked_limit = room_for_parked(s.concurrency, s.parked_wanted)
        connector = aiohttp.TCPConnector(
            limit=connection_limit(s.concurrency, self.parked_limit),
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

    async def fewer_waiting_than(self, count: int) -> None:
        """Return once fewer than `count` requests wait for a slot under the global bound."""
        await self._semaphore.fewer_waiting_than(count)

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
            return refused(domain, path, method, None, moved_to=robots_response.moved_to)
        if rules.mode == "disallow_all":
            if robots_response.status is None and robots_response.error:
                # No answer at all: the host's own failure (DNS, connect, unsafe address, ...).
                return refused(domain, path, method, robots_response.error, robots_response.detail)
            return refused(domain, path, method, errors.ROBOTS_UNAVAILABLE, robots_response.error)
        delay = rules.crawl_delay
        if delay is not None and delay > self.settings.max_crawl_delay:
            return refused(domain, path, method, errors.CRAWL_DELAY_TOO_LONG, f"{delay:g}s")
        if not rules.allows(path):
            return refused(domain, path, method, errors.ROBOTS_DISALLOWED)
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
                    return refused(domain, original, method, errors.ROBOTS_DISALLOWED, path)
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
            return refused(domain, path, response.method, errors.INVALID_URL, location[:200])
        if host and _looks_like_address(host):
            kind = errors.UNSAFE_ADDRESS if not is_public_address(host) else errors.INVALID_URL
            return refused(domain, path, response.method, kind, location[:200])
        target, reason = self.settings.domain_policy.check(host)
        if parts.scheme != "https" or port not in (None, 443) or target is None:
            detail = f"{location[:200]} ({reason or 'not https'})"
            return refused(domain, path, response.method, errors.INVALID_URL, detail)
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
                response = refused(domain, path, method, errors.BUDGET_EXHAUSTED)
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
            if self.parked < self.parked_limit:
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
            assert self._session is not None, "use Fetcher as an async context manager"
            return await exchange(
                self._session, self.settings, domain, path, method, json_body, validator
            )
        finally:
            self.in_flight -= 1


def _looks_like_address(host: str) -> bool:
    return host.replace(".", "").isdigit() or ":" in host
