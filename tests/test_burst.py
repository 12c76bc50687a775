"""The opening burst of a visit: at most `burst` requests back to back, then `min_gap`.

Real servers limit requests per address over minutes (Mastodon: 300 per 5 minutes for the
unauthenticated API), not the spacing of the first few, so a visit may send its first requests
back to back; after them, and always once robots.txt sets a Crawl-delay, every request waits
the host's gap. The schedule is checked exactly on `HostState` with explicit times, and on the
wire against a loopback server (there only the gaps the pacer guarantees are asserted: lower
bounds, which hold however slow the machine is).
"""

from __future__ import annotations

import itertools
import time

from aiohttp import web

from crawler.domains import SANDBOX
from crawler.fetch import Fetcher, FetchSettings
from crawler.fetch.pacing import HostState
from tests.support import serve

UA = "fediscope-test (+tests)"
PATHS = [f"/api/{n}" for n in range(5)]


def schedule(state: HostState, requests: int, took: float = 0.01) -> list[float]:
    """Start times of `requests` requests sent as soon as the state allows, from t=0."""
    starts, now = [], 0.0
    for _ in range(requests):
        now = max(now, state.next_allowed)
        starts.append(now)
        now += took
        state.sent(now)
    return starts


def test_burst_then_the_sustained_gap_exactly():
    starts = schedule(HostState(gap=1.0, burst=3), 7)
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(starts)]
    # three requests back to back (each waits only for the previous answer), then 1 s apart
    assert gaps == [0.01, 0.01, 1.01, 1.01, 1.01, 1.01]


def test_burst_of_one_is_no_burst():
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(schedule(HostState(gap=1.0), 4))]
    assert gaps == [1.01, 1.01, 1.01]


def test_a_crawl_delay_ends_the_burst_from_the_next_request():
    state = HostState(gap=1.0, burst=3)
    state.sent(0.01)  # robots.txt answered at 0.01 ...
    state.strict(5.0, 0.01)  # ... with Crawl-delay: 5
    assert state.next_allowed == 5.01
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(schedule(state, 4))]
    assert gaps == [5.01, 5.01, 5.01]


def settings(port: int, **overrides) -> FetchSettings:
    values = {
        "user_agent": UA,
        "via": f"127.0.0.1:{port}",
        "total_timeout": 5.0,
        "domain_policy": SANDBOX,
        **overrides,
    }
    return FetchSettings(**values)


async def arrivals(robots: str, **overrides) -> list[float]:
    """Arrival times at a loopback server of robots.txt and then every path in PATHS."""
    seen: list[float] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(time.monotonic())
        if request.path == "/robots.txt":
            return web.Response(text=robots)
        return web.json_response({"path": request.path})

    async with serve(answer) as port, Fetcher(settings(port, **overrides)) as fetcher:
        for path in PATHS:
            assert (await fetcher.request("a.test", path)).ok
    assert len(seen) == 1 + len(PATHS)
    return seen


async def test_on_the_wire_the_burst_never_exceeds_its_size():
    gap = 0.2
    seen = await arrivals("User-agent: *\nAllow: /\n", min_gap=gap, burst=3)
    gaps = [b - a for a, b in itertools.pairwise(seen)]
    # robots.txt and two more may go back to back; every later request waits the full gap
    assert all(g >= gap for g in gaps[2:]), gaps
    assert sum(g < gap for g in gaps) <= 2


async def test_on_the_wire_no_burst_once_robots_sets_a_crawl_delay():
    seen = await arrivals("User-agent: *\nCrawl-delay: 0.2\n", min_gap=0.01, burst=5)
    gaps = [b - a for a, b in itertools.pairwise(seen)]
    assert all(g >= 0.2 for g in gaps), gaps


async def test_on_the_wire_without_burst_every_request_waits_the_gap():
    seen = await arrivals("User-agent: *\nAllow: /\n", min_gap=0.2)
    assert all(b - a >= 0.2 for a, b in itertools.pairwise(seen))
