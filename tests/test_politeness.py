"""Politeness and safety rules not covered by the sandbox and hostile crawls.

Exclusion and seed files, the per-host budget, Crawl-delay, the address guard
after DNS, and incremental re-crawls that visit only what is due.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
from datetime import timedelta

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver

from crawler.domains import SANDBOX
from crawler.fetch import Fetcher, FetchSettings
from crawler.operator_lists import read_seed_file
from crawler.sandbox import Sandbox, SandboxConfig
from tests.support import QUICK_PACE, crawl_via, loopback_only, rows, serve

UA = "fediscope-test (+tests)"


def fetch_settings(port: int, **overrides) -> FetchSettings:
    values = {
        "user_agent": UA,
        "via": f"127.0.0.1:{port}",
        "min_gap": 0.0,
        "total_timeout": 3.0,
        "domain_policy": SANDBOX,
        **overrides,
    }
    return FetchSettings(**values)


async def test_request_budget_per_host(tmp_path):
    async def answer(request: web.Request) -> web.Response:
        return web.json_response({"path": request.path})

    async with serve(answer) as port, Fetcher(fetch_settings(port, host_budget=3)) as fetcher:
        results = [await fetcher.request("a.test", f"/{n}") for n in range(4)]
    # robots.txt is the first of the three requests
    assert [r.error for r in results] == [None, None, "budget_exhausted", "budget_exhausted"]


class PrivateResolver(AbstractResolver):
    """Resolves every name to a private or loopback address (what a hostile DNS could do).

    No real DNS is asked; the tests using it also refuse, at the socket, any connection
    beyond loopback, so a regressed guard fails the test without sending anything out."""

    def __init__(self, address: str):
        self.address = address

    async def resolve(self, host, port=0, family=socket.AF_INET):
        return [
            {
                "hostname": host,
                "host": self.address,
                "port": port,
                "family": family,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        return None


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.5", "169.254.169.254", "::1"])
async def test_names_resolving_to_private_addresses_are_refused(address, monkeypatch):
    refused = loopback_only(monkeypatch)
    touched: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        touched.append(request.host)
        return web.json_response({})

    async with serve(answer):
        settings = FetchSettings(user_agent=UA, total_timeout=3.0, domain_policy=SANDBOX)
        async with Fetcher(settings, resolver=PrivateResolver(address)) as fetcher:
            result = await fetcher.request("inside.test", "/.well-known/nodeinfo")
    assert result.error == "unsafe_address"
    assert touched == [] and refused == []


def test_seed_file_lines_and_csv(tmp_path):
    lines = tmp_path / "seeds.txt"
    lines.write_text("# my seeds\nmastodon.social\n\npixelfed.social\n")
    assert read_seed_file(str(lines)) == ["mastodon.social", "pixelfed.social"]
    table = tmp_path / "seeds.csv"
    table.write_text("software,domain,users\nmastodon,mastodon.social,10\nlemmy,lemmy.ml,5\n")
    assert read_seed_file(str(table)) == ["mastodon.social", "lemmy.ml"]


@pytest.fixture
async def small_world():
    sandbox = Sandbox(SandboxConfig(instances=120, seed=5, pace=QUICK_PACE))
    port = await sandbox.start()
    yield sandbox, port
    await sandbox.stop()


async def test_exclusion_file_is_honoured_before_any_request(small_world, tmp_path):
    sandbox, port = small_world
    truth = sandbox.truth()["instances"]
    alive = [d for d, t in truth.items() if t["expected_status"] == "alive" and t["hops"] == 1]
    exact, parent_of = alive[0], alive[1]
    suffix = ".".join(parent_of.split(".")[-2:])  # a registrable domain: covers subdomains
    exclude = tmp_path / "exclude.txt"
    exclude.write_text(f"{exact}\n*.{suffix}  # everything under it\n")
    db = tmp_path / "x.db"
    await crawl_via(port, db, sandbox.seeds, exclude_file=str(exclude))
    excluded = {
        r["domain"]: r for r in rows(db, "SELECT * FROM exclusions WHERE reason = 'exclusion_file'")
    }
    assert exact in excluded and parent_of in excluded
    for domain in excluded:
        assert sandbox.stats.requests.get(domain, 0) == 0, f"{domain} was requested"


async def test_a_second_crawl_visits_only_what_is_due(small_world, tmp_path):
    sandbox, port = small_world
    db = tmp_path / "x.db"
    await crawl_via(port, db, sandbox.seeds)
    alive_before = {
        r["domain"] for r in rows(db, "SELECT domain FROM instances WHERE status = 'alive'")
    }
    due = rows(db, "SELECT count(*) AS n FROM instances WHERE next_visit IS NULL")[0]["n"]
    requests_before = sandbox.stats.total
    second = await crawl_via(port, db, sandbox.seeds)
    assert second.crawl_id == 2 and second.visited == due
    revisited = rows(
        db, "SELECT domain FROM instances WHERE last_crawl_id = 2 AND status = 'alive'"
    )
    assert {r["domain"] for r in revisited} & alive_before == set()
    assert sandbox.stats.total > requests_before
    counted = dict(sandbox.stats.requests)
    third = await crawl_via(port, db, sandbox.seeds, recrawl_after=timedelta(0))
    visited = {
        r["domain"] for r in rows(db, "SELECT domain FROM instances WHERE last_crawl_id = 3")
    }
    assert alive_before <= visited  # with recrawl_after=0 every alive server is due
    assert third.visited == len(visited)
    asked = {host for host, n in sandbox.stats.requests.items() if n != counted.get(host, 0)}
    assert visited <= asked, "every visited domain was asked"
    # and nothing else, except endpoints a visited server delegates to (api.<domain>)
    assert all(any(h.endswith("." + v) for v in visited) for h in asked - visited)


async def test_crawl_delay_is_the_hosts_gap(tmp_path):
    """A crawl keeps the Crawl-delay its robots.txt asks for (0.5 s: a quarter of the default
    pace, still 25 times the crawl's minimum gap) between any two requests to the host."""
    sandbox = Sandbox(SandboxConfig(instances=400, seed=7, pace=0.25))
    port = await sandbox.start()
    try:
        slow = [
            d for d, t in sandbox.truth()["instances"].items() if t["failure"] == "crawl_delay_2"
        ]
        assert slow
        await crawl_via(port, tmp_path / "x.db", slow)
    finally:
        await sandbox.stop()
    for domain in slow:
        starts = sorted(entry.monotonic_start for entry in sandbox.stats.log[domain])
        assert len(starts) > 2
        assert min(b - a for a, b in itertools.pairwise(starts)) >= 0.5


async def test_via_mode_sends_the_real_host_header_and_user_agent():
    seen: list[tuple[str, str]] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append((request.host, request.headers.get("User-Agent", "")))
        return web.json_response({})

    async with serve(answer) as port, Fetcher(fetch_settings(port)) as fetcher:
        await fetcher.request("b.test", "/x")
    assert seen == [("b.test", UA), ("b.test", UA)]  # robots.txt, then the path


async def test_robots_is_checked_again_after_a_same_host_redirect():
    seen: list[str] = []

    async def answer(request: web.Request) -> web.StreamResponse:
        seen.append(request.path)
        if request.path == "/robots.txt":
            return web.Response(text="User-agent: *\nDisallow: /private/\n")
        if request.path == "/public":
            raise web.HTTPFound("/private/data")
        return web.json_response({"secret": True})

    async with serve(answer) as port, Fetcher(fetch_settings(port)) as fetcher:
        result = await fetcher.request("a.test", "/public")
        allowed = await fetcher.request("a.test", "/elsewhere")
    assert (result.error, result.detail) == ("robots_disallowed", "/private/data")
    assert allowed.ok
    assert seen == ["/robots.txt", "/public", "/elsewhere"]  # /private/data never asked


async def test_the_global_concurrency_cap_holds_across_hosts(tmp_path):
    """--concurrency 2: never more than two requests in flight over all hosts, as the server
    counts them (each answer waits for a second request to arrive, then a little longer, so
    that an uncapped crawler would show more)."""
    in_flight = 0
    most = 0
    hosts: set[str] = set()
    arrived = asyncio.Condition()

    async def answer(request: web.Request) -> web.Response:
        nonlocal in_flight, most
        async with arrived:
            in_flight += 1
            most = max(most, in_flight)
            hosts.add(request.host)
            arrived.notify_all()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(arrived.wait_for(lambda: in_flight >= 2), 0.5)
        await asyncio.sleep(0.05)
        in_flight -= 1
        return web.Response(status=404)

    seeds = [f"s{n}.test" for n in range(8)]
    async with serve(answer) as port:
        await crawl_via(port, tmp_path / "x.db", seeds, concurrency=2, min_gap=0.0)
    assert hosts == set(seeds)
    assert most == 2
