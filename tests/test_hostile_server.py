"""Tests for the hostile hosts (`crawler.sandbox.hostile`), served on loopback.

A plain aiohttp application delegates every request to `HostileHosts.handle`; each case is
probed with a raw aiohttp client that sets the ``Host`` header, as the crawler's ``--via`` mode
does.
"""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import itertools
import json
import logging
import time
import tracemalloc
import urllib.robotparser
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import idna
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from crawler.sandbox.hostile import HUGE_CONTENT_LENGTH, HostileHosts, host_key
from crawler.sandbox.hostile_cases import MASTODON_PLAN, TRAP_HOSTS
from crawler.sandbox.hostile_payloads import (
    ENDLESS_PREFIX,
    JUNK_PEER_TABLE,
    JUNK_PEERS_DOMAIN,
    WRONG_TYPES_NODEINFO,
    GiB,
    GzipBomb,
    MiB,
    jrd,
    junk_peers_raw,
)

UA = "fediscope-test/0.1 (+https://example.test/hostile-tests)"
STATUSES = {"pending", "alive", "unreachable", "dead", "gone", "moved", "opted_out", "invalid"}
ERROR_KINDS = set(
    "dns connect tls timeout http_5xx http_429 http_4xx too_large not_json bad_json bad_shape"
    " redirect_loop redirect_offsite unsafe_address invalid_url robots_unavailable"
    " crawl_delay_too_long budget_exhausted no_nodeinfo".split()
)
VISIBILITIES = {"public", "restricted", "hidden", "disallowed", "unsupported", "error", None}
STREAMING = {"gzip-bomb.hostile.test", "endless-body.hostile.test", "slow-drip.hostile.test"}
REQUIRED = (
    "gzip-bomb endless-body slow-drip redirect-private redirect-metadata nodeinfo-localhost"
    " nodeinfo-private redirect-loop html-200 truncated-json wrong-types wrong-counts"
    " deep-nesting robots-deny-all robots-deny-fediscope nobot gone rate-limited moved-away"
    " moved-target junk-peers huge-peers-header retry-after-huge"
).split()


@dataclass
class Served:
    """A running hostile server and a client session pointed at it."""

    hosts: HostileHosts
    port: int
    session: aiohttp.ClientSession

    def url(self, path: str) -> str:
        """The loopback URL for `path`."""
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, host: str, path: str, **kw: Any) -> Any:
        """GET `path` on `host` (no redirects followed, no decompression)."""
        headers = {"Host": host, "User-Agent": UA}
        return self.session.get(self.url(path), headers=headers, allow_redirects=False, **kw)

    async def fetch(self, host: str, path: str) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and whole body of one small response."""
        async with self.get(host, path) as resp:
            return resp.status, dict(resp.headers), await resp.read()

    async def wait_streams(self, count: int) -> None:
        """Until `count` streams are open (bounded only so a broken host cannot hang the run)."""
        for _ in range(3000):
            if self.hosts.streams_open == count:
                return
            await asyncio.sleep(0.01)
        assert self.hosts.streams_open == count

    async def wait_streams_closed(self, timeout: float = 3.0) -> None:
        """Wait until no hostile response is streaming any more."""
        deadline = time.monotonic() + timeout
        while self.hosts.streams_open and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert self.hosts.streams_open == 0


@pytest.fixture(params=["app_runner", "test_server"])
async def served(request: pytest.FixtureRequest) -> AsyncIterator[Served]:
    """The hostile hosts behind a catch-all aiohttp app on 127.0.0.1:0.

    Served both by a plain `web.AppRunner` (handlers are not cancelled when a client goes
    away; writes fail instead) and by `TestServer` (handlers are cancelled).
    """
    hosts = HostileHosts()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", hosts.handle)
    if request.param == "app_runner":
        runner = web.AppRunner(app, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        stop = runner.cleanup
    else:
        server = TestServer(app, host="127.0.0.1", port=0)
        await server.start_server()
        assert server.port is not None
        port = server.port
        stop = server.close
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as session:
        yield Served(hosts, port, session)
    hosts.close()
    await stop()


def _no_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not bad, [r.getMessage() for r in bad]


# ---------------------------------------------------------------------------------------------
# the case table and its expectations


def test_case_table_and_expectations_are_complete() -> None:
    hosts = HostileHosts()
    exp = hosts.expected()
    json.dumps(exp, allow_nan=False)  # JSON-serialisable, strictly
    for label in REQUIRED:
        assert f"{label}.hostile.test" in exp
    for domain, e in exp.items():
        assert domain.endswith(".hostile.test") and domain == e["domain"]
        assert hosts.cases[domain].expected == e
        assert e["status"] in STATUSES
        assert e["error_kind"] is None or e["error_kind"] in ERROR_KINDS
        assert (e["error_kind"] is None) == (e["status"] in {"alive", "gone", "moved", "opted_out"})
        assert e["requests"][0] == "/robots.txt"
        assert e["peers_visibility"] in VISIBILITIES and e["blocks_visibility"] in VISIBILITIES
        assert set(e["forbidden_hosts"]) <= set(TRAP_HOSTS)
        assert e["peers"] == sorted(set(e["peers"]))
        if e["status"] == "alive":
            assert e["stored"]["family"] == "mastodon"
            plan = list(dict.fromkeys(e["requests"]))  # rate-limited asks each path twice
            assert plan[-len(MASTODON_PLAN) :] == MASTODON_PLAN
        if e["status"] == "moved":
            assert e["moved_to"] in exp
    assert exp["rate-limited.hostile.test"]["requests"] == [p for p in MASTODON_PLAN for _ in "ab"]
    assert exp["redirect-loop.hostile.test"]["requests"][2:] == [f"/loop/{i}" for i in range(1, 6)]
    wc = exp["wrong-counts.hostile.test"]["stored"]
    assert wc["users_total"] is wc["users_active_month"] is wc["local_posts"] is None
    assert wc["quality_flags"] == [
        "absurd_count",
        "bool_wrong_type",
        "count_wrong_type",
        "negative_count",
    ]


def _reference_normalise(raw: Any, own: str) -> str | None:
    """The contract's peer normalisation, written independently of the crawler."""
    if not isinstance(raw, str):
        return None
    s = raw.strip().lower()
    s = s.removesuffix(".")
    if not s or any(c in s for c in "/:@*?[]"):
        return None
    try:
        ipaddress.ip_address(s)
        return None
    except ValueError:
        pass
    try:
        name = idna.encode(s, uts46=True).decode("ascii")
    except idna.IDNAError:
        return None
    labels = name.split(".")
    if len(labels) < 2 or labels[-1] != "test" or len(name) > 253:
        return None
    if any(not label or len(label) > 63 for label in labels):
        return None
    return None if name == own else name


def test_junk_peer_table_agrees_with_an_independent_normaliser() -> None:
    for raw, norm in JUNK_PEER_TABLE:
        assert _reference_normalise(raw, JUNK_PEERS_DOMAIN) == norm, raw
    exp = HostileHosts().expected()[JUNK_PEERS_DOMAIN]
    valid = {n for _, n in JUNK_PEER_TABLE if n}
    assert exp["peers"] == sorted(valid) and len(valid) >= 5
    assert sum(1 for _, n in JUNK_PEER_TABLE if n is None) >= 30
    assert any(
        len(r) == 300 + len(".hostile.test") for r, _ in JUNK_PEER_TABLE if isinstance(r, str)
    )


def test_owns_and_host_key() -> None:
    hosts = HostileHosts()
    assert host_key("Gzip-Bomb.Hostile.Test:443") == "gzip-bomb.hostile.test"
    assert host_key("[::1]:8080") == "::1"
    assert hosts.owns("GZIP-BOMB.hostile.test:8443")
    assert hosts.owns("nobot.hostile.test.")
    assert hosts.owns("10.0.0.1:443") and hosts.owns("localhost")
    assert not hosts.owns("example.test") and not hosts.owns("hostile.test")


# ---------------------------------------------------------------------------------------------
# gzip bomb


def test_gzip_bomb_small_instance_is_exact_gzip() -> None:
    bomb = GzipBomb(b'{"links":[', b"]}", segment_size=1000, segments=37, batch=5)
    data = b"".join(bomb.chunks())
    assert len(data) == bomb.compressed_size
    assert gzip.decompress(data) == b'{"links":[' + b" " * 37_000 + b"]}"
    assert bomb.expanded_size == 37_000 + 12


def test_gzip_bomb_is_generated_lazily() -> None:
    bomb = HostileHosts()._bomb
    assert bomb.expanded_size > GiB and bomb.compressed_size < 4 * MiB
    tracemalloc.start()
    try:
        total = sum(len(c) for c in bomb.chunks())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == bomb.compressed_size
    assert peak < 2 * MiB  # never anything close to the expansion


async def test_gzip_bomb_served(served: Served) -> None:
    bomb = served.hosts._bomb
    async with served.get("gzip-bomb.hostile.test", "/.well-known/nodeinfo") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Encoding"] == "gzip"
        assert resp.headers["Content-Type"].startswith("application/json")
        first = await resp.content.readexactly(MiB // 4)
        rest = await resp.read()
    inflater = zlib.decompressobj(wbits=31)
    expanded, data = 0, first
    head = inflater.decompress(data, 16 * MiB)
    assert head.startswith(b'{"links":[')
    expanded += len(head)
    data = inflater.unconsumed_tail
    while data:
        out = inflater.decompress(data, 16 * MiB)
        assert not out.strip(b" ")
        expanded += len(out)
        data = inflater.unconsumed_tail
    assert expanded > 200 * MiB  # a quarter MiB on the wire, hundreds of MiB in memory
    whole = first + rest
    assert len(whole) == bomb.compressed_size
    assert int.from_bytes(whole[-4:], "little") == bomb.expanded_size % 2**32
    await served.wait_streams_closed()


async def test_gzip_bomb_client_abort_is_quiet(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with served.get("gzip-bomb.hostile.test", "/.well-known/nodeinfo") as resp:
        await resp.content.readexactly(64 * 1024)
        resp.close()
    await served.wait_streams_closed()
    _no_errors_logged(caplog)


# ---------------------------------------------------------------------------------------------
# endless and dripping bodies


async def test_endless_body_streams_fast_and_stops_on_disconnect(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    host = "endless-body.hostile.test"
    status, _, body = await served.fetch(host, "/.well-known/nodeinfo")
    assert status == 200
    assert orjson.loads(body)["links"][0]["href"] == f"https://{host}/nodeinfo/2.0"
    async with served.get(host, "/nodeinfo/2.0") as resp:
        assert resp.headers["Content-Type"].startswith("application/json")
        assert resp.headers.get("Transfer-Encoding") == "chunked"
        got = b""
        received = 0
        async for chunk in resp.content.iter_any():
            if not got:
                got = chunk
            received += len(chunk)
            if received > 20 * MiB:
                break
        resp.close()
    assert got.startswith(ENDLESS_PREFIX)
    assert received > 20 * MiB  # it does not end: only a body cap stops a reader
    assert served.hosts.streams_open <= 1
    await served.wait_streams_closed()
    _no_errors_logged(caplog)


async def test_slow_drip_one_byte_per_second_until_timeout(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    timeout = aiohttp.ClientTimeout(total=3, sock_read=2)  # the crawler's test settings
    arrivals: list[bytes] = []
    with pytest.raises(asyncio.TimeoutError):
        async with served.get(
            "slow-drip.hostile.test", "/.well-known/nodeinfo", timeout=timeout
        ) as resp:
            assert resp.status == 200  # headers at once: only the total timeout can fire
            while True:
                arrivals.append(await resp.content.readany())
    # One byte at a time, in order: the start of a valid JRD that never completes in time.
    assert arrivals and all(len(chunk) == 1 for chunk in arrivals)
    document = orjson.dumps(jrd("https://slow-drip.hostile.test/nodeinfo/2.0"))
    assert document.startswith(b"".join(arrivals))
    assert len(arrivals) < len(document)
    await served.wait_streams_closed(2.0)
    _no_errors_logged(caplog)


async def test_close_aborts_streams_even_when_the_client_stalls(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    opened = []
    for host, path in (
        ("endless-body.hostile.test", "/nodeinfo/2.0"),  # client never reads: server blocks
        ("slow-drip.hostile.test", "/.well-known/nodeinfo"),
        ("gzip-bomb.hostile.test", "/.well-known/nodeinfo"),
    ):
        resp = await served.get(host, path)
        opened.append(resp)
    await served.wait_streams(3)
    served.hosts.close()
    await served.wait_streams_closed(1.0)
    for resp in opened:
        resp.close()
    _no_errors_logged(caplog)


# ---------------------------------------------------------------------------------------------
# redirects and links to forbidden places


async def test_redirects_to_private_addresses(served: Served) -> None:
    status, headers, _ = await served.fetch(
        "redirect-private.hostile.test", "/.well-known/nodeinfo"
    )
    assert status == 302 and headers["Location"] == "https://10.0.0.1/.well-known/nodeinfo"
    status, headers, _ = await served.fetch(
        "redirect-metadata.hostile.test", "/.well-known/nodeinfo"
    )
    assert status == 301
    assert headers["Location"] == "http://169.254.169.254/latest/meta-data/"
    for host in ("redirect-private.hostile.test", "redirect-metadata.hostile.test"):
        assert (await served.fetch(host, "/robots.txt"))[0] == 404


async def test_nodeinfo_links_to_localhost_and_private(served: Served) -> None:
    for host, href in (
        ("nodeinfo-localhost.hostile.test", "https://localhost/nodeinfo/2.0"),
        ("nodeinfo-private.hostile.test", "https://10.1.2.3/nodeinfo/2.0"),
    ):
        status, _, body = await served.fetch(host, "/.well-known/nodeinfo")
        assert status == 200 and orjson.loads(body)["links"][0]["href"] == href
        # the bait a wrong fallback would find
        status, _, body = await served.fetch(host, "/nodeinfo/2.0")
        assert status == 200 and orjson.loads(body)["software"]["name"] == "mastodon"


async def test_trap_hosts_answer_and_log(served: Served) -> None:
    assert all(served.hosts.log[t] == [] for t in TRAP_HOSTS)
    status, _, body = await served.fetch("10.0.0.1", "/.well-known/nodeinfo")
    assert status == 200 and b"never" in body
    assert [r.path_qs for r in served.hosts.log["10.0.0.1"]] == ["/.well-known/nodeinfo"]
    assert (await served.fetch("unknown.example.test", "/"))[0] == 421


async def test_redirect_loop_never_ends(served: Served) -> None:
    host = "redirect-loop.hostile.test"
    path = "/.well-known/nodeinfo"
    seen = []
    for _ in range(8):
        status, headers, _ = await served.fetch(host, path)
        assert status == 302
        loc = headers["Location"]
        if loc.startswith("https://"):
            assert loc.startswith(f"https://{host}/")
            loc = loc[len(f"https://{host}") :]
        seen.append(loc)
        path = loc
    assert seen == [f"/loop/{i}" for i in range(1, 9)]


async def test_moved_away_redirects_every_path(served: Served) -> None:
    for path in ("/robots.txt", "/.well-known/nodeinfo", "/api/v1/instance/peers?limit=5"):
        status, headers, _ = await served.fetch("moved-away.hostile.test", path)
        assert status == 301
        assert headers["Location"] == f"https://moved-target.hostile.test{path}"


# ---------------------------------------------------------------------------------------------
# bad documents


async def test_html_everywhere(served: Served) -> None:
    for path in ("/robots.txt", "/.well-known/nodeinfo", "/nodeinfo/2.0", "/x?y=1"):
        status, headers, body = await served.fetch("html-200.hostile.test", path)
        assert status == 200 and headers["Content-Type"].startswith("text/html")
        assert body.lstrip().startswith(b"<!DOCTYPE html>")
    rp = urllib.robotparser.RobotFileParser()
    rp.parse(body.decode().splitlines())
    assert rp.can_fetch("fediscope", "/.well-known/nodeinfo")


async def test_truncated_wrong_types_and_deep_nesting(served: Served) -> None:
    status, headers, body = await served.fetch("truncated-json.hostile.test", "/nodeinfo/2.0")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    full = orjson.dumps(served.hosts._profiles["moved-target.hostile.test"].nodeinfo())
    assert full.startswith(body) and 0 < len(body) < len(full)
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(body)

    status, _, body = await served.fetch("wrong-types.hostile.test", "/nodeinfo/2.0")
    assert status == 200 and orjson.loads(body) == WRONG_TYPES_NODEINFO

    status, _, body = await served.fetch("deep-nesting.hostile.test", "/nodeinfo/2.0")
    assert status == 200
    assert body == b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(body)
    with pytest.raises(RecursionError):
        json.loads(body)


async def test_wrong_counts_published_consistently(served: Served) -> None:
    host = "wrong-counts.hostile.test"
    ni = orjson.loads((await served.fetch(host, "/nodeinfo/2.0"))[2])
    v2 = orjson.loads((await served.fetch(host, "/api/v2/instance"))[2])
    users = ni["usage"]["users"]
    assert users["total"] < 0 and isinstance(users["activeMonth"], dict)
    assert isinstance(users["activeHalfyear"], list) and ni["usage"]["localPosts"] > 10**9
    assert ni["openRegistrations"] == "sometimes" and ni["software"]["name"] == "mastodon"
    assert v2["usage"]["users"]["active_month"] == users["activeMonth"]
    assert v2["registrations"]["enabled"] == ni["openRegistrations"]


# ---------------------------------------------------------------------------------------------
# opt-outs, gone, rate limits


async def test_robots_opt_outs(served: Served) -> None:
    for host, other_allowed in (
        ("robots-deny-all.hostile.test", False),
        ("robots-deny-fediscope.hostile.test", True),
    ):
        status, headers, body = await served.fetch(host, "/robots.txt")
        assert status == 200 and headers["Content-Type"].startswith("text/plain")
        rp = urllib.robotparser.RobotFileParser()
        rp.parse(body.decode().splitlines())
        assert not rp.can_fetch("fediscope", "/.well-known/nodeinfo")
        assert rp.can_fetch("otherbot", "/.well-known/nodeinfo") is other_allowed


async def test_nobot_description(served: Served) -> None:
    ni = orjson.loads((await served.fetch("nobot.hostile.test", "/nodeinfo/2.0"))[2])
    assert "#nobot" in ni["metadata"]["nodeDescription"]


async def test_gone_everywhere(served: Served) -> None:
    for path in ("/robots.txt", "/.well-known/nodeinfo", "/api/v2/instance"):
        assert (await served.fetch("gone.hostile.test", path))[0] == 410


async def test_rate_limited_then_normal(served: Served) -> None:
    host = "rate-limited.hostile.test"
    for path in ("/robots.txt", "/.well-known/nodeinfo", "/api/v1/instance/peers"):
        status, headers, body = await served.fetch(host, path)
        assert status == 429 and headers["Retry-After"] == "2"
        assert headers["X-RateLimit-Remaining"] == "0" and "error" in orjson.loads(body)
        await asyncio.sleep(0.1)
        assert (await served.fetch(host, path))[0] == 200
        assert (await served.fetch(host, path))[0] == 200
    gaps = served.hosts.retry_gaps(host)
    assert set(gaps) == {"/robots.txt", "/.well-known/nodeinfo", "/api/v1/instance/peers"}
    # the server's own clock saw the early retries (a crawler test asserts >= Retry-After)
    assert all(g >= 0.09 for g in gaps.values())
    served.hosts.reset()
    assert (await served.fetch(host, "/robots.txt"))[0] == 429


async def test_retry_after_huge(served: Served) -> None:
    host = "retry-after-huge.hostile.test"
    assert (await served.fetch(host, "/.well-known/nodeinfo"))[0] == 200
    for _ in range(2):
        status, headers, _ = await served.fetch(host, "/nodeinfo/2.0")
        assert status == 429 and headers["Retry-After"] == "86400"


# ---------------------------------------------------------------------------------------------
# huge Content-Length


async def test_huge_content_length_small_body(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    host = "huge-peers-header.hostile.test"
    async with served.get(host, "/api/v1/instance/peers") as resp:
        assert resp.status == 200
        assert resp.content_length == HUGE_CONTENT_LENGTH == 10 * GiB
        resp.close()  # refuse before reading, as the crawler must
    # on the wire: the announced length, a small body, then the server hangs up
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    writer.write(f"GET /api/v1/instance/peers HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    raw = await asyncio.wait_for(reader.read(), 2.0)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"Content-Length: 10737418240" in head and b"Connection: close" in head
    assert orjson.loads(body) == ["moved-target.hostile.test", "nobot.hostile.test"]
    # the server is still fine, and the rest of the instance is normal
    assert (await served.fetch(host, "/nodeinfo/2.0"))[0] == 200
    _no_errors_logged(caplog)


# ---------------------------------------------------------------------------------------------
# normal Mastodons and the request log


async def test_normal_mastodons_are_consistent(served: Served) -> None:
    exp = served.hosts.expected()
    for domain, e in exp.items():
        if e["status"] != "alive" or domain.startswith("rate-limited"):
            continue
        jrd = orjson.loads((await served.fetch(domain, "/.well-known/nodeinfo"))[2])
        assert jrd["links"][0]["href"] == f"https://{domain}/nodeinfo/2.0"
        ni = orjson.loads((await served.fetch(domain, "/nodeinfo/2.0"))[2])
        v2 = orjson.loads((await served.fetch(domain, "/api/v2/instance"))[2])
        assert v2["domain"] == domain and v2["version"] == ni["software"]["version"]
        assert v2["usage"]["users"]["active_month"] == ni["usage"]["users"]["activeMonth"]
        if domain.startswith("wrong-counts"):
            continue
        stored = e["stored"]
        assert ni["usage"]["users"]["total"] == stored["users_total"]
        assert ni["usage"]["users"]["activeMonth"] == stored["users_active_month"]
        assert ni["usage"]["localPosts"] == stored["local_posts"]
        assert ni["openRegistrations"] is stored["open_registrations"]
        status, _, body = await served.fetch(domain, "/api/v1/instance/domain_blocks")
        assert status == 404 and body == b""
        status, _, body = await served.fetch(domain, "/api/v1/instance/activity")
        activity = orjson.loads(body)
        assert status == 200 and len(activity) == 12
        assert all(isinstance(v, str) for week in activity for v in week.values())
        if not domain.startswith("huge-peers"):
            status, _, body = await served.fetch(domain, "/api/v1/instance/peers")
            peers = orjson.loads(body)
            if domain == JUNK_PEERS_DOMAIN:
                assert peers == junk_peers_raw()
            else:
                assert sorted(peers) == e["peers"]


async def test_replaying_expected_requests_fills_the_log(served: Served) -> None:
    exp = served.hosts.expected()
    for domain, e in exp.items():
        if domain in STREAMING:
            continue
        for path in e["requests"]:
            async with served.get(domain, path) as resp:
                resp.close()  # headers only: the huge Content-Length body is never read
        log = served.hosts.log[domain]
        assert [r.path_qs for r in log] == e["requests"]
        assert all(r.method == "GET" and r.user_agent == UA for r in log)
        assert all(a.monotonic_start <= b.monotonic_start for a, b in itertools.pairwise(log))
    assert all(served.hosts.log[t] == [] for t in TRAP_HOSTS)
