"""robots.txt in `Fetcher`, against a scripted loopback server on a fake clock: fetched first and
once per host, refetched after its lifetime, RFC 9309's status semantics (4xx allows all, 5xx
and 429 allow nothing), its redirects, and its size cap. Nothing sleeps.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from crawler.fetch.robots import ROBOTS_MAX_BYTES, ROBOTS_TTL_SECONDS
from tests.fetch_harness import Answer, FakeClock, ScriptedServer, redirect

ROBOTS = "/robots.txt"


def robots(text: str) -> Answer:
    return Answer(body=text)


# --- robots.txt first, once, with RFC 9309 status semantics ---------------------------------


async def test_robots_txt_comes_first_and_once_per_host(server):
    async with server.fetcher() as fetcher:
        await fetcher.request("a.test", "/one")
        await fetcher.request("a.test", "/two")
        await fetcher.request("b.test", "/three")
        assert fetcher.requests_made("a.test") == 3
        assert fetcher.requests_made("c.test") == 0
    assert server.paths("a.test") == [ROBOTS, "/one", "/two"]
    assert server.paths("b.test") == [ROBOTS, "/three"]


async def test_concurrent_first_requests_share_one_robots_fetch(server):
    async with server.fetcher() as fetcher:
        await asyncio.gather(*(fetcher.request("a.test", f"/{n}") for n in range(3)))
    assert server.paths().count(ROBOTS) == 1 and server.paths()[0] == ROBOTS


async def test_robots_txt_is_fetched_again_after_its_lifetime_or_a_release(server, clock):
    async with server.fetcher() as fetcher:
        await fetcher.request("a.test", "/one")
        clock.now += ROBOTS_TTL_SECONDS  # not yet older than the lifetime
        await fetcher.request("a.test", "/two")
        clock.now += 1
        await fetcher.request("a.test", "/three")
        fetcher.release("a.test")
        await fetcher.request("a.test", "/four")
    assert server.paths() == [ROBOTS, "/one", "/two", ROBOTS, "/three", ROBOTS, "/four"]


@pytest.mark.parametrize(
    "answer",
    [redirect("https://b.test/robots.txt", 301), Answer(status=503), Answer(body="Allow: /")],
    ids=["moved", "unavailable", "parsed"],
)
async def test_every_robots_outcome_lasts_the_visit_on_the_fetch_clock(answer):
    clock = FakeClock(start=1e7)  # far from real monotonic time: a real-time stamp would expire
    async with ScriptedServer(clock) as server:
        server.on(ROBOTS, answer)
        async with server.fetcher(max_retries=0) as fetcher:
            await fetcher.request("a.test", "/x")
            await fetcher.request("a.test", "/y")
            rules, _ = await fetcher.robots("a.test")
        assert rules.fetched_at == 1e7
        assert server.paths().count(ROBOTS) == 1


async def test_a_robots_txt_whose_body_never_ends_means_nothing_is_fetched(server):
    stalled = asyncio.Event()
    server.on(ROBOTS, Answer(body="User-agent: *\nAllow: /\n", stall=stalled))
    async with server.fetcher(read_timeout=0.05) as fetcher:
        response = await fetcher.request("a.test", "/x")
    stalled.set()
    assert (response.error, response.detail) == ("robots_unavailable", "timeout")
    assert server.paths() == [ROBOTS]


async def test_a_refused_request_names_what_was_asked(server):
    server.on(ROBOTS, Answer(body="User-agent: *\nDisallow: /private\n"), host="a.test")
    server.on("/open", redirect("/private/x"), host="a.test")
    server.on(ROBOTS, Answer(status=500), host="down.test")
    server.on(ROBOTS, redirect("https://new.test/robots.txt", 301), host="moved.test")
    server.on(ROBOTS, Answer(body="User-agent: *\nCrawl-delay: 900\n"), host="slow.test")
    async with server.fetcher(max_retries=0) as fetcher:
        refused = [
            await fetcher.request(host, path, method="POST", json_body={})
            for host, path in [("a.test", "/private/y"), ("a.test", "/open"),
                               ("down.test", "/z"), ("moved.test", "/z"), ("slow.test", "/z")]
        ]  # fmt: skip
        _, robots_answer = await fetcher.robots("a.test")
        with socket.socket() as probe:  # a loopback port nobody listens on: no answer at all
            probe.bind(("127.0.0.1", 0))
            server.port = probe.getsockname()[1]
        async with server.fetcher() as unreachable:
            refused.append(await unreachable.request("gone.test", "/z", method="POST"))
    assert [(r.domain, r.path, r.method) for r in refused] == [
        ("a.test", "/private/y", "POST"), ("a.test", "/open", "POST"), ("down.test", "/z", "POST"),
        ("moved.test", "/z", "POST"), ("slow.test", "/z", "POST"), ("gone.test", "/z", "POST"),
    ]  # fmt: skip
    assert [r.error for r in refused] == [
        "robots_disallowed", "robots_disallowed", "robots_unavailable", None,
        "crawl_delay_too_long", "connect"]  # fmt: skip
    assert robots_answer.method == "GET"


async def test_a_disallowed_path_is_refused_without_a_request(server):
    server.on(ROBOTS, robots("User-agent: *\nDisallow: /private\n\nUser-agent: other\nDisallow: /"))
    async with server.fetcher() as fetcher:
        refused = await fetcher.request("a.test", "/private/list")
        allowed = await fetcher.request("a.test", "/public")
    assert (refused.error, refused.requests, refused.status) == ("robots_disallowed", 0, None)
    assert refused.fetched_at and refused.path == "/private/list"
    assert allowed.status == 404  # asked (and unscripted)
    assert server.paths() == [ROBOTS, "/public"]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
async def test_a_4xx_robots_txt_allows_everything(server, status):
    server.on(ROBOTS, Answer(status=status, body="User-agent: *\nDisallow: /\n"))
    async with server.fetcher() as fetcher:
        response = await fetcher.request("a.test", "/x")
    assert response.status == 404 and response.error == "http_4xx"  # /x itself is unscripted
    assert server.paths() == [ROBOTS, "/x"]


@pytest.mark.parametrize(("status", "kind"), [(500, "http_5xx"), (502, "http_5xx"),
                                              (503, "http_5xx"), (429, "http_429")])  # fmt: skip
async def test_a_5xx_or_429_robots_txt_means_nothing_is_fetched(server, status, kind):
    server.on(ROBOTS, Answer(status=status))
    async with server.fetcher(max_retries=0) as fetcher:
        first = await fetcher.request("a.test", "/x")
        second = await fetcher.request("a.test", "/y")
    for response in (first, second):
        assert (response.error, response.detail) == ("robots_unavailable", kind)
        assert response.requests == 0
    assert server.paths() == [ROBOTS]


async def test_an_unreachable_robots_txt_reports_the_hosts_own_failure(clock):
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ScriptedServer(clock)
    server.port = port
    async with server.fetcher() as fetcher:
        response = await fetcher.request("a.test", "/x")
    assert response.error == "connect" and response.status is None
    assert response.detail and "Connect" in response.detail


async def test_a_robots_txt_moved_to_another_host_moves_every_request(server):
    server.on(ROBOTS, redirect("https://b.test/robots.txt", 301))
    async with server.fetcher() as fetcher:
        rules, answer = await fetcher.robots("a.test")
        response = await fetcher.request("a.test", "/x")
    assert (rules.mode, rules.status, answer.moved_to) == ("allow_all", 301, "b.test")
    assert (response.moved_to, response.error, response.requests) == ("b.test", None, 0)
    assert server.log and server.paths("b.test") == [] and server.paths() == [ROBOTS]


async def test_a_robots_txt_redirect_within_the_host_is_followed(server):
    server.on(ROBOTS, redirect("/real-robots.txt", 301))
    server.on("/real-robots.txt", robots("User-agent: *\nDisallow: /x\n"))
    async with server.fetcher() as fetcher:
        response = await fetcher.request("a.test", "/x")
    assert response.error == "robots_disallowed"
    assert server.paths() == [ROBOTS, "/real-robots.txt"]


@pytest.mark.parametrize(
    "location",
    ["https://b.test/robots.txt", "https://10.0.0.1/robots.txt", "http://a.test/robots.txt"],
)
async def test_a_robots_txt_temporary_redirect_elsewhere_allows_everything(server, location):
    server.on(ROBOTS, redirect(location, 302))
    async with server.fetcher() as fetcher:
        rules, _ = await fetcher.robots("a.test")
        response = await fetcher.request("a.test", "/x")
    assert rules.mode == "parsed" and rules.status == 302
    assert response.status == 404 and server.paths() == [ROBOTS, "/x"]


async def test_robots_txt_is_read_to_512_kib_and_cut_there(server):
    rules = "User-agent: *\nDisallow: /early\n"
    padding = "#" * 1000 + "\n"
    body = rules + padding * (ROBOTS_MAX_BYTES // len(padding) + 1) + "Disallow: /late\n"
    assert len(body) > ROBOTS_MAX_BYTES
    server.on(ROBOTS, robots(body))
    async with server.fetcher(max_body=1000) as fetcher:  # the body cap is not robots.txt's
        early = await fetcher.request("a.test", "/early")
        late = await fetcher.request("a.test", "/late")
        _, answer = await fetcher.robots("a.test")
    assert early.error == "robots_disallowed" and late.status == 404
    assert answer.ok and len(answer.body or b"") == ROBOTS_MAX_BYTES
