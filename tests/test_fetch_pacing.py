"""The politeness rules of `Fetcher`, driven against a scripted loopback server on a fake clock.

Each test pins one rule of README's politeness section or the crawler/fetch docstrings:
Crawl-delay from the first request after robots.txt, one request in flight per host, the
minimum gap, the per-address cap and pause, the retry limits and waits, the host budget. Waits
are asserted exactly (the fake clock records them); nothing sleeps. robots.txt first and its
status semantics: test_fetch_robots.py.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from tests.fetch_harness import AddressResolver, Answer, FakeClock, redirect

ROBOTS = "/robots.txt"


def robots(text: str) -> Answer:
    return Answer(body=text)


# --- the gap between requests, and Crawl-delay ---------------------------------------------


async def test_requests_to_a_host_are_at_least_the_minimum_gap_apart(server):
    async with server.fetcher(min_gap=1.5) as fetcher:
        for n in range(3):
            await fetcher.request("a.test", f"/{n}")
        await fetcher.request("b.test", "/0")  # another host waits for nobody
    assert server.clock.waits == [1.5, 1.5, 1.5, 1.5]  # robots, /0, /1, /2 | b: robots, /0


async def test_the_gap_counts_from_the_end_of_the_previous_answer(server, clock):
    server.on("/slow", Answer(body={}, elapse=5.0))
    async with server.fetcher(min_gap=2.0) as fetcher:
        await fetcher.request("a.test", "/slow")
        await fetcher.request("a.test", "/next")
    assert clock.waits == [2.0, 2.0]


async def test_without_a_gap_nothing_waits(server, clock):
    async with server.fetcher(min_gap=0.0) as fetcher:
        await fetcher.request("a.test", "/0")
        await fetcher.request("a.test", "/1")
    assert clock.waits == []


async def test_crawl_delay_paces_from_the_first_request_after_robots_txt(server, clock):
    server.on(ROBOTS, robots("User-agent: *\nCrawl-delay: 3\n"))
    async with server.fetcher(min_gap=1.0) as fetcher:
        await fetcher.request("a.test", "/0")
        await fetcher.request("a.test", "/1")
    assert clock.waits == [3.0, 3.0]


async def test_a_crawl_delay_below_the_minimum_gap_is_the_minimum_gap(server, clock):
    server.on(ROBOTS, robots("User-agent: fediscope\nCrawl-delay: 0.5\n"))
    async with server.fetcher(min_gap=1.0) as fetcher:
        await fetcher.request("a.test", "/0")
        await fetcher.request("a.test", "/1")
    assert clock.waits == [1.0, 1.0]


@pytest.mark.parametrize(("delay", "refused"), [(60, False), (61, True)])
async def test_a_host_asking_for_more_than_the_longest_crawl_delay_is_skipped(
    server, delay, refused
):
    server.on(ROBOTS, robots(f"User-agent: *\nCrawl-delay: {delay}\n"))
    async with server.fetcher(max_crawl_delay=60.0) as fetcher:
        response = await fetcher.request("a.test", "/x")
    if refused:
        assert (response.error, response.detail, response.requests) == (
            "crawl_delay_too_long", "61s", 0)  # fmt: skip
        assert server.paths() == [ROBOTS]
    else:
        assert response.status == 404 and server.clock.waits == [60.0]


# --- one request in flight per host, the global and the per-address caps ----------------------


async def test_one_request_in_flight_per_host(server):
    release = asyncio.Event()
    for path in ("/a1", "/a2", "/b1"):
        server.on(path, Answer(body={}, hold=release), host=path[1] + ".test")
    async with server.fetcher() as fetcher:
        await fetcher.robots("a.test")
        await fetcher.robots("b.test")
        tasks = [
            asyncio.create_task(fetcher.request(path[1] + ".test", path))
            for path in ("/a1", "/a2", "/b1")
        ]
        await server.arrived(4)  # both robots, then a1 and b1
        assert fetcher.in_flight == 2 and server.paths("a.test") == [ROBOTS, "/a1"]
        release.set()
        results = await asyncio.gather(*tasks)
    assert all(r.ok for r in results)
    assert server.host_max_in_flight == {"a.test": 1, "b.test": 1} and server.max_in_flight == 2


async def test_the_global_cap_bounds_requests_in_flight_over_all_hosts(server):
    release = asyncio.Event()
    hosts = [f"h{n}.test" for n in range(3)]
    for host in hosts:
        server.on("/x", Answer(body={}, hold=release), host=host)
    async with server.fetcher(concurrency=2) as fetcher:
        for host in hosts:
            await fetcher.robots(host)
        tasks = [asyncio.create_task(fetcher.request(host, "/x")) for host in hosts]
        await server.arrived(5)
        assert fetcher.in_flight == 2
        release.set()
        results = await asyncio.gather(*tasks)
    assert all(r.ok for r in results) and server.max_in_flight == 2


async def test_the_oldest_visit_gets_the_next_free_slot(server, clock):
    """Requests waiting for a global slot go oldest visit first, not first come first served:
    a long walk begun early is not starved by the visits begun after it."""
    release = asyncio.Event()
    server.on("/hold", Answer(body={}, hold=release), host="blocker.test")
    for host in ("old.test", "new.test"):
        server.on("/y", Answer(body={}), host=host)
    async with server.fetcher(concurrency=1) as fetcher:
        await fetcher.robots("old.test")
        clock.now += 10
        await fetcher.robots("new.test")
        await fetcher.robots("blocker.test")
        holding = asyncio.create_task(fetcher.request("blocker.test", "/hold"))
        await server.arrived(4)
        newer = asyncio.create_task(fetcher.request("new.test", "/y"))
        for _ in range(100):  # the newer visit queues for the slot first
            if fetcher._semaphore._waiters:
                break
            await asyncio.sleep(0)
        older = asyncio.create_task(fetcher.request("old.test", "/y"))
        for _ in range(100):
            if len(fetcher._semaphore._waiters) == 2:
                break
            await asyncio.sleep(0)
        assert len(fetcher._semaphore._waiters) == 2
        release.set()
        await asyncio.gather(holding, newer, older)
    assert [seen.host for seen in server.log if seen.path == "/y"] == ["old.test", "new.test"]


async def test_a_request_unanswered_for_a_while_gives_its_slot_to_another(server):
    """A server that hangs holds its request, not one of the --concurrency slots; at most
    `max_parked` requests wait outside it."""
    release = asyncio.Event()
    hosts = ["hang1.test", "hang2.test", "quick.test"]
    for host in hosts[:2]:
        server.on("/x", Answer(body={}, hold=release), host=host)
    server.on("/x", Answer(body={}), host="quick.test")
    async with server.fetcher(concurrency=1, park_after=0.05, max_parked=1) as fetcher:
        for host in hosts:
            await fetcher.robots(host)
        first = asyncio.create_task(fetcher.request("hang1.test", "/x"))
        second = asyncio.create_task(fetcher.request("hang2.test", "/x"))
        await server.arrived(5)  # the first hangs, was parked, and the second went out
        assert fetcher.parked == 1 and fetcher._semaphore.in_use == 1
        third = asyncio.create_task(fetcher.request("quick.test", "/x"))
        await asyncio.sleep(0.2)  # the second cannot be parked: the bound holds the third
        assert not third.done() and fetcher.parked == 1
        release.set()
        results = await asyncio.gather(first, second, third)
        assert all(result.ok for result in results)
        assert fetcher.parked == 0 and fetcher._semaphore.in_use == 0
        assert fetcher.parked_total == 1  # the second found the outside full: it kept its slot
    assert [seen.host for seen in server.log if seen.path == "/x"] == hosts


async def test_parked_requests_leave_connections_for_the_slots_they_freed(server):
    """A parked request still holds its connection: the pool has room for three parked
    requests per slot next to a full bound in flight, or parking frees nothing."""
    release = asyncio.Event()
    hanging = [f"hang{n}.test" for n in range(45)]  # 36 parked, then 9 of 12 slots in flight
    for host in hanging:
        server.on("/x", Answer(body={}, hold=release), host=host)
    server.on("/x", Answer(body={}), host="quick.test")
    async with server.fetcher(concurrency=12, park_after=0.05) as fetcher:
        for host in [*hanging, "quick.test"]:
            await fetcher.robots(host)
        held = [asyncio.create_task(fetcher.request(host, "/x")) for host in hanging]
        await server.arrived(46 + 45)
        assert fetcher.parked == 36 and fetcher._semaphore.in_use == 9
        quick = await asyncio.wait_for(fetcher.request("quick.test", "/x"), 5)
        assert quick.ok and not any(task.done() for task in held)
        release.set()
        assert all(result.ok for result in await asyncio.gather(*held))


async def test_without_parking_a_hanging_request_keeps_its_slot(server):
    release = asyncio.Event()
    server.on("/x", Answer(body={}, hold=release), host="hang.test")
    server.on("/x", Answer(body={}), host="quick.test")
    async with server.fetcher(concurrency=1, park_after=None) as fetcher:
        for host in ("hang.test", "quick.test"):
            await fetcher.robots(host)
        hanging = asyncio.create_task(fetcher.request("hang.test", "/x"))
        await server.arrived(3)
        waiting = asyncio.create_task(fetcher.request("quick.test", "/x"))
        await asyncio.sleep(0.2)
        assert not waiting.done() and fetcher.parked_total == 0
        release.set()
        assert all(r.ok for r in await asyncio.gather(hanging, waiting))


SHARED = "93.184.216.34"  # never contacted: `--via` sends everything to loopback


def provider(*hosts: str, **others: str) -> AddressResolver:
    return AddressResolver({**dict.fromkeys(hosts, SHARED), **others})


async def test_hosts_on_one_address_share_its_slots(server):
    release = asyncio.Event()
    hosts = [f"h{n}.test" for n in range(3)]
    for host in hosts:
        server.on("/x", Answer(body={}, hold=release), host=host)
    resolver = provider(*hosts, **{"own.test": "8.8.8.8"})
    server.on("/x", Answer(body={}, hold=release), host="own.test")
    async with server.fetcher(resolver, per_address=2) as fetcher:
        for host in [*hosts, "own.test"]:
            await fetcher.robots(host)
        tasks = [asyncio.create_task(fetcher.request(h, "/x")) for h in [*hosts, "own.test"]]
        await server.arrived(7)  # four robots, two of the shared address, own.test's
        assert fetcher.in_flight == 3
        assert "own.test" in [seen.host for seen in server.log[4:]]
        release.set()
        results = await asyncio.gather(*tasks)
        group = await fetcher.address_of("h0.test")
        assert group is not None and (group.hosts, group.requests) == (3, 6)
        assert group.max_in_flight == 2
        assert fetcher.addresses.busiest() == [group.report()]
    assert all(r.ok for r in results)
    assert sorted(resolver.asked) == sorted([*hosts, "own.test"])  # once per host and visit


@pytest.mark.parametrize("status", [429, 503])
async def test_a_429_or_503_pauses_every_host_on_the_address(server, status):
    clock = FakeClock(auto=False)
    server.clock = clock
    server.on("/x", Answer(status=status, headers={"Retry-After": "5"}), Answer(body={}))
    server.on("/y", Answer(body={}), host="b.test")
    server.on("/z", Answer(body={}), host="c.test")
    resolver = provider("a.test", "b.test", **{"c.test": "8.8.8.8"})
    async with server.fetcher(resolver) as fetcher:
        for host in ("a.test", "b.test", "c.test"):
            await fetcher.robots(host)
        first = asyncio.create_task(fetcher.request("a.test", "/x"))
        await clock.sleeping(1)  # a.test waits for its Retry-After
        other = asyncio.create_task(fetcher.request("b.test", "/y"))
        await clock.sleeping(2)  # so does b.test, on the same address
        elsewhere = await fetcher.request("c.test", "/z")  # another address does not
        assert elsewhere.ok and clock.waits == [5.0, 5.0]
        assert server.paths("b.test") == [ROBOTS]
        await clock.advance(5)
        results = await asyncio.gather(first, other)
        group = await fetcher.address_of("a.test")
        assert group is not None and group.backoffs == 1 and group.queue_seconds == 5.0
    assert [r.ok for r in results] == [True, True]
    assert server.paths("b.test") == [ROBOTS, "/y"]


@pytest.mark.parametrize(("retry_after", "pause"), [("5", 5.0), ("3600", 60.0)])
async def test_a_429_given_up_still_pauses_the_host_and_its_address(
    server, clock, retry_after, pause
):
    server.on("/x", limited(**{"Retry-After": retry_after}))
    server.on("/next", Answer(body={}))
    server.on("/y", Answer(body={}), host="b.test")
    resolver = provider("a.test", "b.test")
    async with server.fetcher(resolver, max_retries=0, max_retry_wait=60.0) as fetcher:
        await fetcher.robots("b.test")
        given_up = await fetcher.request("a.test", "/x")
        clock.waits.clear()
        neighbour = await fetcher.request("b.test", "/y")
        assert clock.waits == [pause]  # the address waited as asked, at most the longest wait
        clock.waits.clear()
        again = await fetcher.request("a.test", "/next")
        group = await fetcher.address_of("a.test")
    assert given_up.error == "http_429" and neighbour.ok and again.ok
    assert group is not None and group.backoffs == 1
    assert clock.waits == []  # the host's own pause has passed meanwhile


async def test_an_address_pause_under_a_second_is_waited_and_frees_every_slot(server, clock):
    slow_down = limited(503, **{"X-RateLimit-Reset": "0.5"})
    server.on("/x", slow_down, slow_down, Answer(body={}))
    server.on("/list", Answer(body={}), host="b.test")
    resolver = provider("a.test", "b.test")
    async with server.fetcher(resolver, concurrency=3) as fetcher:
        first = await fetcher.request("a.test", "/x")
        group = await fetcher.address_of("a.test")
        assert group is not None
        group.next_allowed = clock.now + 0.25  # as if another host's 429 had just paused it
        fetcher.validators = {"b.test": {"/list": ('"v"', None)}}
        posted = await fetcher.request("b.test", "/list", method="POST", json_body={"a": 1})
        listed = await fetcher.request("b.test", "/list", conditional=True)
        assert fetcher._semaphore.in_use == 0  # every global slot given back
        assert group.queue_seconds == 0.25 and group.requests == 7  # b.test waited once
        assert group.backoffs == 2
    assert first.ok and posted.ok and listed.ok
    assert clock.waits == [0.5, 0.5, 0.25]
    assert server.log[-2].body == b'{"a": 1}'
    assert server.log[-1].headers.get("If-None-Match") == '"v"'


async def test_a_host_whose_address_is_unknown_is_its_own_group(server):
    resolver = AddressResolver({})
    async with server.fetcher(resolver) as fetcher:
        response = await fetcher.request("a.test", "/x")
        assert await fetcher.address_of("a.test") is None
    assert response.status == 404
    # Asked as the connector would ask in production: the https port, every address family.
    assert resolver.queries == [("a.test", 443, socket.AF_UNSPEC)]


async def test_a_released_host_is_resolved_again_on_its_next_visit(server):
    resolver = provider("a.test")
    async with server.fetcher(resolver) as fetcher:
        await fetcher.request("a.test", "/x")
        fetcher.release("a.test")
        fetcher.release("never.test")  # nothing to forget: no error
        await fetcher.request("a.test", "/x")
    assert resolver.asked == ["a.test", "a.test"]


async def test_a_hosts_address_is_asked_again_after_the_dns_lifetime(server, clock):
    resolver = provider("a.test")
    async with server.fetcher(resolver) as fetcher:
        await fetcher.request("a.test", "/x")
        clock.now += 301  # past the 300 s an answer is kept, on the fetch clock
        fetcher._host("a.test").grouped = False  # as on the host's next visit
        await fetcher.address_of("a.test")
    assert resolver.asked == ["a.test", "a.test"]


async def test_leaving_the_fetcher_closes_its_session_and_resolvers(server):
    class Closing(AddressResolver):
        closed = False

        async def close(self) -> None:
            self.closed = True

    resolver = Closing({})
    async with server.fetcher(resolver) as fetcher:
        session = fetcher._session
    assert session is not None and session.closed and resolver.closed


async def test_without_a_resolver_via_mode_groups_no_host(server):
    async with server.fetcher() as fetcher:
        await fetcher.request("a.test", "/x")
        assert await fetcher.address_of("a.test") is None
        assert fetcher.addresses.addresses == {}


# --- 429/503: retry limits and waits -------------------------------------------------------


def limited(status: int = 429, **headers: str) -> Answer:
    return Answer(status=status, headers=headers, body="slow down")


async def test_retry_after_seconds_is_waited_then_retried(server, clock):
    server.on("/x", limited(**{"Retry-After": "5"}), Answer(body={"ok": True}))
    async with server.fetcher() as fetcher:
        response = await fetcher.request("a.test", "/x")
        assert fetcher.stats == {"http_4xx": 1, "http_429": 1, "http_200": 1}  # robots: 404
    assert response.ok and response.requests == 2 and response.retry_after is None
    assert clock.waits == [5.0]


async def test_x_ratelimit_reset_is_waited_then_retried(server, clock):
    server.on("/x", limited(503, **{"X-RateLimit-Reset": "7"}), Answer(body={}))
    async with server.fetcher() as fetcher:
        response = await fetcher.request("a.test", "/x")
    assert response.ok and clock.waits == [7.0]


async def test_the_retry_wait_is_at_least_the_gap(server, clock):
    server.on("/x", limited(**{"Retry-After": "0"}), Answer(body={}))
    async with server.fetcher(min_gap=2.0) as fetcher:
        await fetcher.request("a.test", "/x")
    assert clock.waits == [2.0, 2.0]  # after robots.txt, then after the 429


async def test_without_a_header_the_backoff_is_jittered_and_doubles(server, clock, monkeypatch):
    drawn: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        drawn.append((low, high))
        return 1.25

    monkeypatch.setattr("crawler.fetch.client.random.uniform", uniform)
    server.on("/x", limited(503))
    async with server.fetcher(backoff_base=2.0, max_retries=2) as fetcher:
        response = await fetcher.request("a.test", "/x")
        assert fetcher.stats["http_5xx"] == 3  # counted per attempt
    assert clock.waits == [2.5, 5.0]  # 2 * 2**attempt * 1.25, for attempts 0 and 1
    assert drawn == [(0.5, 1.5)] * 3
    assert (response.error, response.status, response.requests) == ("http_5xx", 503, 3)
    assert response.retry_after == 10.0  # what a third retry would have waited
    assert server.paths() == [ROBOTS, "/x", "/x", "/x"]


async def test_a_503_backed_off_twice_then_answered_is_an_answer(server, clock, monkeypatch):
    monkeypatch.setattr("crawler.fetch.client.random.uniform", lambda low, high: low)
    server.on("/x", limited(503), limited(503), Answer(body={"ok": True}))
    async with server.fetcher(backoff_base=2.0) as fetcher:
        response = await fetcher.request("a.test", "/x")
    assert response.ok and response.requests == 3 and response.json() == ({"ok": True}, None)
    assert clock.waits == [1.0, 2.0]


@pytest.mark.parametrize(("retries", "asked"), [(0, 1), (1, 2), (3, 4)])
async def test_retries_stop_at_the_limit(server, retries, asked):
    server.on("/x", limited(**{"Retry-After": "1"}))
    async with server.fetcher(max_retries=retries) as fetcher:
        response = await fetcher.request("a.test", "/x")
    assert (response.error, response.requests) == ("http_429", asked)
    assert server.paths().count("/x") == asked and server.clock.waits == [1.0] * (asked - 1)


@pytest.mark.parametrize(("wait", "retried"), [("60", True), ("61", False)])
async def test_a_host_asking_to_wait_longer_than_the_longest_retry_wait_is_left(
    server, wait, retried
):
    server.on("/x", limited(**{"Retry-After": wait}), Answer(body={}))
    async with server.fetcher(max_retry_wait=60.0) as fetcher:
        response = await fetcher.request("a.test", "/x")
    if retried:
        assert response.ok and server.clock.waits == [60.0]
    else:
        assert (response.error, response.retry_after, response.requests) == ("http_429", 61.0, 1)
        assert server.clock.waits == [] and server.paths().count("/x") == 1


async def test_a_backoff_longer_than_the_longest_retry_wait_is_left(server, monkeypatch):
    monkeypatch.setattr("crawler.fetch.client.random.uniform", lambda low, high: high)
    server.on("/x", limited(503))
    async with server.fetcher(backoff_base=30.0, max_retry_wait=60.0) as fetcher:
        response = await fetcher.request("a.test", "/x")
    assert (response.error, response.retry_after, response.requests) == ("http_5xx", 90.0, 2)
    assert server.clock.waits == [45.0]


@pytest.mark.parametrize(("status", "kind"), [(500, "http_5xx"), (502, "http_5xx"),
                                              (404, "http_4xx"), (418, "http_4xx"),
                                              (300, "http_4xx")])  # fmt: skip
async def test_other_failures_are_not_retried(server, status, kind):
    server.on("/x", Answer(status=status, body="no"))
    async with server.fetcher() as fetcher:
        response = await fetcher.request("a.test", "/x")
    assert (response.error, response.detail, response.requests) == (kind, f"HTTP {status}", 1)
    assert response.body == b"no" and server.clock.waits == []


# --- the request budget per host -------------------------------------------------------------


async def test_retries_and_redirects_spend_the_hosts_budget(server):
    server.on("/moved", redirect("/x"))
    server.on("/x", limited(**{"Retry-After": "1"}))
    async with server.fetcher(host_budget=4) as fetcher:
        response = await fetcher.request("a.test", "/moved")
        after = await fetcher.request("a.test", "/y")
        other = await fetcher.request("b.test", "/y")  # the budget is per host
    # robots.txt, /moved, /x, /x: the third try of /x finds the budget spent
    assert (response.error, response.requests) == ("budget_exhausted", 3)
    assert (after.error, after.requests) == ("budget_exhausted", 0)
    assert (after.domain, after.path, after.method) == ("a.test", "/y", "GET")
    assert other.status == 404
    assert server.paths() == [ROBOTS, "/moved", "/x", "/x"]
