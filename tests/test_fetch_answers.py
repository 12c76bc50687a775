"""What `Fetcher` makes of answers: redirects (same host, other host, port, scheme, address),
the body cap with and without Content-Length and with compression, timeouts and transport
failures as error kinds, conditional requests across 304s, and the headers every request
carries. Driven against the scripted loopback server (tests/fetch_harness.py).
"""

from __future__ import annotations

import asyncio
import ssl

import aiohttp
import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from crawler.domains import REAL_NETWORK
from crawler.fetch import Response, errors
from crawler.fetch.errors import BodyTooLarge, UnsafeAddress, classify
from crawler.fetch.validators import MAX_VALIDATOR_CHARS, conditional_headers, validator_header
from crawler.fetch.wire import ERROR_BODY_BYTES
from tests.fetch_harness import UA, Answer, FakeClock, ScriptedServer, redirect

ROBOTS = "/robots.txt"
REQUEST = aiohttp.RequestInfo(URL("https://a.test/"), "GET", CIMultiDictProxy(CIMultiDict()))


@pytest.fixture
async def server():
    async with ScriptedServer(FakeClock()) as running:
        yield running


# --- redirects -----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_within_the_host_is_followed(server, status):
    server.on("/old", redirect("new?page=2", status))
    server.on("/new?page=2", Answer(body={"n": 2}))
    async with server.fetcher() as fetcher:
        response = await fetcher.request("a.test", "/old")
    assert response.ok and response.json() == ({"n": 2}, None)
    assert (response.path, response.final_path, response.requests) == ("/old", "/new?page=2", 2)
    assert (response.moved_to, response.status) == (None, 200)
    assert server.paths() == [ROBOTS, "/old", "/new?page=2"]


@pytest.mark.parametrize("status", [301, 308])
async def test_a_permanent_redirect_to_another_host_is_a_move(server, status):
    server.on("/x", redirect("https://new.test/x", status))
    async with server.fetcher() as fetcher:
        response = await fetcher.request("a.test", "/x")
    assert (response.moved_to, response.error, response.status) == ("new.test", None, status)
    assert server.paths("new.test") == []


@pytest.mark.parametrize("status", [302, 303, 307])
async def test_a_temporary_redirect_to_another_host_is_refused(server, status):
    server.on("/x", redirect("https://elsewhere.test/y", status))
    async with server.fetcher() as fetcher:
        response = await fetcher.request("a.test", "/x")
    assert (response.error, response.detail, response.moved_to) == (
        "redirect_offsite", "elsewhere.test", None)  # fmt: skip
    assert response.status == status and response.requests == 1
    assert server.paths("elsewhere.test") == []


@pytest.mark.parametrize(
    ("location", "kind"),
    [
        ("https://a.test:8443/y", "invalid_url"),  # another port, even on the same host
        ("https://a.test:443/y", None),  # the https port, spelled out
        ("http://a.test/y", "invalid_url"),  # not https
        ("ftp://a.test/y", "invalid_url"),
        ("https://10.0.0.1/y", "unsafe_address"),
        ("https://127.0.0.1:8443/y", "unsafe_address"),
        ("https://[::1]/y", "unsafe_address"),
        ("https://169.254.169.254/latest/meta-data/", "unsafe_address"),
        ("https://8.8.8.8/y", "invalid_url"),  # a public address is still not a host name
        ("https://bad_name!/y", "invalid_url"),
        ("https://a.test:99999/y", "invalid_url"),  # no such port
    ],
)
async def test_redirect_targets_are_checked_before_anything_is_sent(server, location, kind):
    server.on("/x", redirect(location))
    server.on("/y", Answer(body={}))
    async with server.fetcher() as fetcher:
        response = await fetcher.request("a.test", "/x")
    if kind is None:
        assert response.ok and server.paths() == [ROBOTS, "/x", "/y"]
        return
    assert (response.error, response.status, response.requests) == (kind, 302, 1)
    assert (response.domain, response.path, response.method) == ("a.test", "/x", "GET")
    assert location[:40] in (response.detail or "")
    assert [seen.path for seen in server.log] == [ROBOTS, "/x"]


async def test_a_refused_redirect_says_why_in_at_most_200_characters_of_its_target(server):
    long_path = "/" + "p" * 300
    server.on("/scheme", redirect("http://a.test/y"))
    server.on("/address", redirect("https://10.0.0.1" + long_path))
    server.on("/port", redirect("https://a.test:8443" + long_path))
    server.on("/nameless", redirect("https://:443/y"))
    server.on("/badport", redirect("https://a.test:99999" + long_path))
    async with server.fetcher() as fetcher:
        nameless = await fetcher.request("a.test", "/nameless")
        badport = await fetcher.request("a.test", "/badport")
        scheme = await fetcher.request("a.test", "/scheme")
        address = await fetcher.request("a.test", "/address")
        port = await fetcher.request("a.test", "/port")
    assert (nameless.error, nameless.detail) == ("invalid_url", "https://:443/y (empty)")
    assert badport.detail == ("https://a.test:99999" + long_path)[:200]
    assert scheme.detail == "http://a.test/y (not https)"
    assert address.detail == ("https://10.0.0.1" + long_path)[:200]
    assert port.detail == ("https://a.test:8443" + long_path)[:200] + " (not https)"


async def test_a_redirect_without_a_location_loops_on_itself(server):
    server.on("/x", Answer(status=302))
    async with server.fetcher(max_redirects=2) as fetcher:
        response = await fetcher.request("a.test", "/x")
    assert response.error == "redirect_loop" and server.paths() == [ROBOTS, "/x", "/x", "/x"]


async def test_a_redirect_to_the_bare_host_asks_for_the_root(server):
    server.on("/x", redirect("https://a.test?page=1"))
    server.on("/?page=1", Answer(body={}))
    async with server.fetcher() as fetcher:
        response = await fetcher.request("a.test", "/x")
    assert response.ok and response.final_path == "/?page=1"


async def test_a_redirect_host_name_must_pass_the_domain_policy(server):
    server.on("/x", redirect("https://other.test/y", 301))
    async with server.fetcher(domain_policy=REAL_NETWORK) as fetcher:
        response = await fetcher.request("a.test", "/x")
    assert (response.error, response.detail) == (
        "invalid_url",
        "https://other.test/y (unknown_suffix)",
    )


@pytest.mark.parametrize(("hops", "error"), [(2, None), (3, "redirect_loop")])
async def test_at_most_max_redirects_are_followed(server, hops, error):
    for n in range(hops):
        server.on(f"/r{n}", redirect(f"/r{n + 1}"))
    server.on(f"/r{hops}", Answer(body={}))
    async with server.fetcher(max_redirects=2) as fetcher:
        response = await fetcher.request("a.test", "/r0")
    assert response.error == error
    if error:
        assert (response.detail, response.requests, response.status) == ("> 2", 3, 302)
        assert server.paths()[-1] == "/r2"
    else:
        assert response.ok and response.requests == 3


@pytest.mark.parametrize(
    ("status", "method", "body"),
    [(301, "GET", b""), (302, "GET", b""), (303, "GET", b""), (307, "POST", b"{}"),
     (308, "POST", b"{}")],
)  # fmt: skip
async def test_a_redirected_post_is_sent_again_as_the_status_says(server, status, method, body):
    server.on("/api/meta", redirect("/api/meta2", status))
    server.on("/api/meta2", Answer(body={}))
    async with server.fetcher() as fetcher:
        response = await fetcher.request("a.test", "/api/meta", method="POST", json_body={})
    assert response.ok and response.method == method
    assert [(s.method, s.body) for s in server.log[1:]] == [("POST", b"{}"), (method, body)]


async def test_a_303_after_a_get_stays_a_get(server):
    server.on("/x", redirect("/y", 303))
    async with server.fetcher() as fetcher:
        await fetcher.request("a.test", "/x")
    assert [s.method for s in server.log] == ["GET"] * 3


# --- the body cap ----------------------------------------------------------------------------

CAP = 1000


@pytest.mark.parametrize("chunked", [False, True], ids=["content_length", "chunked"])
@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize(("size", "kind"), [(CAP, None), (CAP + 1, "too_large")])
async def test_bodies_are_capped_after_decompression(server, chunked, compressed, size, kind):
    server.on("/x", Answer(body=b"x" * size, gzip=compressed, chunked=chunked))
    async with server.fetcher(max_body=CAP) as fetcher:
        response = await fetcher.request("a.test", "/x")
    assert response.error == kind
    if kind:
        assert response.body is None and str(CAP) in (response.detail or "")
    else:
        assert response.body == b"x" * size


async def test_a_content_length_over_the_cap_is_refused_before_reading():
    # A server announcing more than the cap, then sending little: refused on the header.
    async with ScriptedServer(FakeClock()) as server:
        answer = Answer(body=b"{}", headers={"Content-Length": str(CAP + 1)})
        server.on("/x", answer)
        async with server.fetcher(max_body=CAP) as fetcher:
            response = await fetcher.request("a.test", "/x")
    assert response.error == "too_large" and f"Content-Length {CAP + 1}" in (response.detail or "")


async def test_an_empty_body_is_empty_not_missing(server):
    server.on("/empty", Answer(body=b""))
    async with server.fetcher() as fetcher:
        response = await fetcher.request("a.test", "/empty")
    assert response.ok and response.body == b""


@pytest.mark.parametrize("compressed", [False, True])
async def test_error_bodies_are_cut_not_refused(server, compressed):
    server.on("/x", Answer(status=404, body=b"e" * (ERROR_BODY_BYTES + 500), gzip=compressed))
    async with server.fetcher(max_body=CAP) as fetcher:
        response = await fetcher.request("a.test", "/x")
    assert (response.error, response.status) == ("http_4xx", 404)
    assert response.body == b"e" * ERROR_BODY_BYTES


# --- timeouts and transport failures ----------------------------------------------------------


async def test_an_answer_that_never_comes_is_a_timeout(server):
    never = asyncio.Event()
    server.on("/x", Answer(body={}, hold=never))
    async with server.fetcher(read_timeout=0.05, total_timeout=5.0) as fetcher:
        response = await fetcher.request("a.test", "/x")
    never.set()
    assert (response.error, response.status) == ("timeout", None)
    assert response.elapsed is not None and response.fetched_at


async def test_answer_times_count_the_answers_that_came_not_the_timeouts(server):
    never = asyncio.Event()
    server.on("/x", Answer(body={}, hold=never))
    server.on("/y", Answer(status=503, body="busy"))
    server.on("/z", Answer(body={}))
    async with server.fetcher(read_timeout=0.05, total_timeout=5.0, max_retries=0) as fetcher:
        _, robots = await fetcher.robots("a.test")
        answered = [robots] + [await fetcher.request("a.test", path) for path in ("/y", "/z")]
        timed_out = await fetcher.request("a.test", "/x")
        times = fetcher.answer_times
    never.set()
    assert timed_out.error == "timeout"
    assert [r.status for r in answered] == [404, 503, 200]
    assert times.answers == 3  # robots.txt, the 503 and the 200; not the timeout
    assert times.seconds == pytest.approx(sum(r.elapsed for r in answered))


async def test_the_session_uses_the_configured_timeouts_and_headers(server):
    async with server.fetcher(total_timeout=7.0, connect_timeout=3.0, read_timeout=4.0) as f:
        timeout = f._session.timeout  # type: ignore[union-attr]
        assert (timeout.total, timeout.sock_connect, timeout.sock_read) == (7.0, 3.0, 4.0)


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (BodyTooLarge("more"), "too_large"),
        (TimeoutError(), "timeout"),
        (ssl.SSLError("bad"), "tls"),
        (aiohttp.TooManyRedirects(REQUEST, ()), "redirect_loop"),
        (aiohttp.ClientPayloadError("cut"), "connect"),
        (ConnectionResetError("reset"), "connect"),
        (aiohttp.ServerDisconnectedError(), "connect"),
        (ValueError("odd"), "connect"),
    ],
)
def test_failures_become_error_kinds(exc, kind):
    found, detail = classify(exc)
    assert found == kind
    assert detail.startswith(type(exc).__name__ + ":") and len(detail) <= 300


def test_dns_failures_and_the_address_guard_are_told_apart():
    key = aiohttp.client_reqrep.ConnectionKey("a.test", 443, True, True, None, None, None)
    unsafe = aiohttp.ClientConnectorDNSError(key, UnsafeAddress("only private"))
    plain = aiohttp.ClientConnectorDNSError(key, OSError("no such name"))
    assert classify(unsafe)[0] == "unsafe_address"
    assert classify(plain)[0] == "dns"
    assert classify(aiohttp.ClientResponseError(REQUEST, (), status=502))[0] == "http_5xx"
    assert classify(aiohttp.ClientResponseError(REQUEST, (), status=404))[0] == "http_4xx"
    for status, kind in ((301, "connect"), (399, "connect"), (400, "http_4xx"),
                         (499, "http_4xx"), (500, "http_5xx")):  # fmt: skip
        assert classify(aiohttp.ClientResponseError(REQUEST, (), status=status))[0] == kind
    assert classify(ValueError("x" * 500))[1] == ("ValueError: " + "x" * 500)[:300]


def test_network_errors_are_the_ones_a_host_may_recover_from():
    assert {
        "dns", "connect", "tls", "timeout", "http_5xx", "http_429", "robots_unavailable",
        "budget_exhausted"} == errors.NETWORK_ERRORS  # fmt: skip


# --- conditional requests -------------------------------------------------------------------

ETAG = 'W/"4f1a"'
STAMP = "Wed, 21 Oct 2025 07:28:00 GMT"


def rails_list(request) -> Answer:
    """A list that answers 304 when the client's If-None-Match is its ETag (what Rails does)."""
    if request.headers.get("If-None-Match") == ETAG:
        return Answer(status=304, headers={"ETag": ETAG})
    return Answer(body=["peer.test"], headers={"ETag": ETAG, "Last-Modified": STAMP})


def kept(response: Response):
    """The validator an adapter keeps for the next crawl (crawler/adapters/base.py)."""
    return response.validator if response.not_modified else response.validators


async def test_validators_survive_a_run_of_304s(server):
    server.on("/peers", rails_list)
    async with server.fetcher() as fetcher:
        answers = []
        for _ in range(3):  # three crawls; the engine loads what the last one kept
            response = await fetcher.request("a.test", "/peers", conditional=True)
            answers.append(response)
            fetcher.validators = {"a.test": {"/peers": kept(response)}}
    first, second, third = answers
    assert first.ok and first.validators == (ETAG, STAMP) and not first.not_modified
    for unchanged in (second, third):
        assert (unchanged.status, unchanged.error, unchanged.body) == (304, None, None)
        assert unchanged.not_modified and unchanged.validator == (ETAG, STAMP)
        assert unchanged.etag == ETAG and unchanged.elapsed is not None
    sent = [(s.headers.get("If-None-Match"), s.headers.get("If-Modified-Since"))
            for s in server.log if s.path == "/peers"]  # fmt: skip
    assert sent == [(None, None), (ETAG, STAMP), (ETAG, STAMP)]


async def test_a_validator_is_not_sent_to_a_redirect_target(server):
    server.on("/old", redirect("/peers"))
    server.on("/peers", rails_list)
    async with server.fetcher() as fetcher:
        fetcher.validators = {"a.test": {"/old": (ETAG, STAMP)}}
        response = await fetcher.request("a.test", "/old", conditional=True)
    assert response.ok and not response.not_modified
    sent = [s.headers.get("If-None-Match") for s in server.log[1:]]
    assert sent == [ETAG, None]


async def test_a_conditional_request_answered_in_full_is_a_new_answer(server):
    server.on("/peers", Answer(body=["new.test"], headers={"ETag": '"v2"'}))
    async with server.fetcher() as fetcher:
        fetcher.validators = {"a.test": {"/peers": (ETAG, None)}}
        response = await fetcher.request("a.test", "/peers", conditional=True)
    assert response.ok and not response.not_modified and response.validator is None
    assert response.body == b'["new.test"]' and response.validators == ('"v2"', None)


@pytest.mark.parametrize("path", ["/answer", "/moved", "/unchanged"])
async def test_every_answer_says_how_long_it_took(server, path):
    server.on("/answer", Answer(body={}))
    server.on("/moved", redirect("https://b.test/", 302))
    server.on("/unchanged", Answer(status=304))
    async with server.fetcher() as fetcher:
        fetcher.validators = {"a.test": {"/unchanged": (ETAG, None)}}
        response = await fetcher.request("a.test", path, conditional=True)
    assert isinstance(response.elapsed, float) and 0.0 <= response.elapsed < 60.0


async def test_only_conditional_gets_send_validators(server):
    server.on("/peers", rails_list)
    server.on("/api/meta", Answer(body={}))
    async with server.fetcher() as fetcher:
        fetcher.validators = {"a.test": {"/peers": (ETAG, None), "/api/meta": (ETAG, None)}}
        plain = await fetcher.request("a.test", "/peers")
        posted = await fetcher.request("a.test", "/api/meta", method="POST", conditional=True)
        other_host = await fetcher.request("b.test", "/peers", conditional=True)
    assert plain.ok and posted.ok and other_host.status == 404
    assert all("If-None-Match" not in s.headers for s in server.log)


def test_validator_headers_are_taken_only_when_short_and_printable():
    long = "x" * (MAX_VALIDATOR_CHARS + 1)
    assert validator_header({"ETag": ' "abc" '}, "ETag") == '"abc"'
    assert validator_header({"ETag": "y" * MAX_VALIDATOR_CHARS}, "ETag") == "y" * 200
    for bad in (long, "a\nb", "", None):
        assert validator_header({"ETag": bad}, "ETag") is None
    assert conditional_headers((None, None)) == {}
    assert conditional_headers(("e", None)) == {"If-None-Match": "e"}
    assert conditional_headers((None, STAMP)) == {"If-Modified-Since": STAMP}


# --- what every request carries ---------------------------------------------------------------


async def test_every_request_names_the_host_and_the_crawler(server):
    server.on("/x", Answer(status=429, headers={"Retry-After": "1"}), redirect("/y"))
    async with server.fetcher() as fetcher:
        await fetcher.request("a.test", "/x")
    assert [s.path for s in server.log] == [ROBOTS, "/x", "/x", "/y"]
    for seen in server.log:
        assert seen.headers["User-Agent"] == UA
        assert seen.headers["Host"] == "a.test"
        assert seen.headers["Accept"] == "application/json"


async def test_a_response_says_when_and_where(server):
    server.on("/x", Answer(body={"a": 1}, content_type="application/activity+json"))
    async with server.fetcher() as fetcher:
        response = await fetcher.request("a.test", "/x")
    assert response.url == "https://a.test/x" and response.method == "GET"
    assert response.content_type == "application/activity+json"
    assert response.fetched_at.endswith("Z") and "." in response.fetched_at
    assert response.json() == ({"a": 1}, None)


async def test_release_forgets_a_hosts_validators(server):
    async with server.fetcher() as fetcher:
        fetcher.validators = {"a.test": {"/x": (ETAG, None)}, "b.test": {}}
        await fetcher.request("a.test", "/x")
        fetcher.release("a.test")
        assert fetcher.validators == {"b.test": {}} and fetcher.requests_made("a.test") == 0
