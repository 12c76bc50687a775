"""Nothing lost under load: overload detection, fewer requests in flight, timeouts retried.

The verdicts are pure functions of (time, lag, answer counts) and checked with hand-made
numbers; the request limit and the retry are checked on loopback servers.
"""

from __future__ import annotations

import asyncio
import gc
from collections import Counter
from datetime import timedelta

import pytest
from aiohttp import web

from crawler.crawl_summary import CrawlSummary
from crawler.domains import SANDBOX
from crawler.engine import Crawl, CrawlSettings
from crawler.fetch import Fetcher, FetchSettings
from crawler.fetch.gate import Gate
from crawler.fetch.wire import AnswerTimes
from crawler.gc_pauses import (
    FULL_THRESHOLD,
    MIDDLE_THRESHOLD,
    YOUNG_THRESHOLD,
    crawl_collections,
)
from crawler.load import (
    BLAME_SHARE,
    HISTORY,
    LAG_LIMIT,
    LAG_WINDOW,
    QUIET,
    TICK,
    LoadMonitor,
    Throttle,
)
from tests.support import FAST, nodeinfo_answer, rows, serve

UA = "fediscope-test (+tests)"


def test_sustained_lag_is_overload_and_is_remembered():
    monitor = LoadMonitor()
    times = AnswerTimes()
    assert not monitor.sample(10.0, LAG_LIMIT / 2, Counter(ok=100), times)
    assert monitor.overloaded_share(5.0, 10.0) == 0.0
    # one long pause (a full garbage collection) is not overload ...
    assert not monitor.sample(10.25, LAG_LIMIT * LAG_WINDOW / 2, Counter(ok=150), times)
    for moment in (10.5, 10.75):
        assert not monitor.sample(moment, 0.0, Counter(ok=200), times)
    # ... the loop late on every look is: the mean of the last LAG_WINDOW lags passes the limit
    for moment in (11.0, 11.25, 11.5):
        assert not monitor.sample(moment, LAG_LIMIT * 1.2, Counter(ok=200), times)
    assert monitor.sample(11.75, LAG_LIMIT * 1.2, Counter(ok=200), times)
    assert not monitor.quiet(12.0) and monitor.quiet(11.75 + QUIET)
    # The overloaded look stands for the quarter second since the look before it.
    assert monitor.overloaded_share(5.0, 11.5) == 0.0
    assert monitor.overloaded_share(11.5, 11.75) == 1.0
    assert monitor.overloaded_share(11.0, 12.0) == 0.25
    assert monitor.overloaded_share(12.0, 13.0) == 0.0  # a request that waited after it


def test_a_timeout_is_blamed_on_the_crawler_only_if_overload_filled_a_share_of_its_wait():
    monitor = LoadMonitor()
    times = AnswerTimes()
    lags = [0.0] * 8 + [LAG_LIMIT * 3] * 8 + [0.0] * 8  # looks at 10.0, 10.25, ... 15.75
    verdicts = {
        10.0 + i * TICK: monitor.sample(10.0 + i * TICK, lag, Counter(ok=100), times)
        for i, lag in enumerate(lags)
    }
    # The mean of the last LAG_WINDOW lags passes LAG_LIMIT from the second late look (12.25)
    # until the second prompt one (14.25); each verdict stands for the quarter second before it.
    over = [moment for moment, verdict in verdicts.items() if verdict]
    assert over == [12.25 + i * TICK for i in range(9)]
    assert monitor.overloaded_share(12.0, 14.25) == 1.0
    assert monitor.overloaded_share(14.25, 16.0) == 0.0
    # 2.25 s of overload: the crawler's fault for a request that waited 4 s, not for one that
    # waited 10 s; the limit is BLAME_SHARE of the wait.
    assert monitor.overloaded_share(11.0, 15.0) == 0.5625 and monitor.explains_timeout(11.0, 15.0)
    assert monitor.overloaded_share(5.0, 15.0) == pytest.approx(0.225)
    assert not monitor.explains_timeout(5.0, 15.0)
    waited = 2.25 / BLAME_SHARE
    assert monitor.explains_timeout(14.25 - waited, 14.25)
    assert not monitor.explains_timeout(14.25 - waited - 0.5, 14.25)
    # Looks older than HISTORY are forgotten.
    monitor.sample(14.0 + HISTORY + 1, 0.0, Counter(ok=100), times)
    assert monitor.overloaded_share(12.0, 15.0) == 0.0


def test_a_timeout_spike_with_slow_answers_is_overload():
    monitor = LoadMonitor()
    times = AnswerTimes()
    # the usual 4% of answers time out (hanging servers), the rest take 0.1 s: not overload
    times.answers, times.seconds = 96, 9.6
    assert not monitor.sample(1.0, 0.0, Counter(http_200=96, timeout=4), times)
    times.answers, times.seconds = 192, 19.2
    assert not monitor.sample(2.0, 0.0, Counter(http_200=192, timeout=8), times)
    # 30 of the next 60 answers time out and the 30 that arrive took 0.5 s each: the crawler
    times.answers, times.seconds = 222, 19.2 + 30 * 0.5
    assert monitor.sample(3.0, 0.0, Counter(http_200=222, timeout=38), times)
    # too few answers to judge
    assert not monitor.sample(4.0, 0.0, Counter(http_200=222, timeout=48), times)


def test_a_timeout_spike_with_quick_answers_is_the_servers():
    """The hanging servers of a wave of visits time out together, and the last answers of a
    crawl are mostly theirs: the servers that do answer still answer as quickly as usual."""
    monitor = LoadMonitor()
    times = AnswerTimes(answers=192, seconds=19.2)
    assert not monitor.sample(1.0, 0.0, Counter(http_200=192, timeout=8), times)
    times.answers, times.seconds = 197, 19.2 + 5 * 0.1
    assert not monitor.sample(2.0, 0.0, Counter(http_200=197, timeout=33), times)
    # the same spike with answers 3.5 times slower than usual is overload
    times.answers, times.seconds = 202, 19.7 + 5 * 0.35
    assert monitor.sample(3.0, 0.0, Counter(http_200=202, timeout=58), times)


def test_throttle_cuts_by_a_third_and_climbs_back_slowly():
    throttle = Throttle(ceiling=512)
    assert [throttle.next_limit(True) for _ in range(3)] == [341, 227, 151]
    assert throttle.next_limit(False) == 159
    for _ in range(200):
        throttle.next_limit(False)
    assert throttle.limit == 512 and throttle.lowest == 151  # the crawl reports the lowest
    for _ in range(50):
        throttle.next_limit(True)
    assert throttle.limit == 64  # never below an eighth of the ceiling
    assert Throttle(ceiling=32).floor == 8 and Throttle(ceiling=4).floor == 4


async def test_the_request_limit_bounds_requests_in_flight():
    in_flight = peak = 0

    async def answer(request: web.Request) -> web.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.05)
        in_flight -= 1
        return web.json_response([])

    settings = FetchSettings(
        user_agent=UA, via="", min_gap=0.0, concurrency=16, domain_policy=SANDBOX
    )
    async with serve(answer) as port:
        settings.via = f"127.0.0.1:{port}"
        async with Fetcher(settings) as fetcher:
            fetcher.limit_requests(3)
            await asyncio.sleep(0)  # let the permits be held back
            assert fetcher.request_limit == 3
            hosts = [f"h{n}.test" for n in range(12)]
            await asyncio.gather(*(fetcher.request(host, "/x") for host in hosts))
            assert peak <= 3
            fetcher.limit_requests(16)
            assert fetcher.request_limit == 16
            peak = 0
            await asyncio.gather(*(fetcher.request(host, "/y") for host in hosts))
    assert peak > 3


def small_network(hangs: Counter[str]):
    """seed.test lists slow.test; slow.test's first robots.txt hangs past the timeout."""

    async def answer(request: web.Request) -> web.Response:
        host = request.headers["Host"]
        if request.path == "/robots.txt":
            hangs[host] += 1
            if host == "slow.test" and hangs[host] == 1:
                await asyncio.sleep(3)
            return web.Response(text="User-agent: *\nAllow: /\n")
        nodeinfo = nodeinfo_answer(request, "mastodon", 5, nodeDescription="hello")
        if nodeinfo is not None:
            return nodeinfo
        if request.path == "/api/v1/instance/peers":
            return web.json_response(["slow.test"] if host == "seed.test" else [])
        return web.json_response({})

    return answer


class FixedLoad(LoadMonitor):
    """Overloaded for a fixed share of any wait; remembers the waits it was asked about."""

    def __init__(self, share: float) -> None:
        super().__init__()
        self.share = share
        self.waits: list[tuple[float, float]] = []

    def overloaded_share(self, start: float, end: float) -> float:
        self.waits.append((start, end))
        return self.share


TIMEOUT = 1.0


async def crawl_small(
    tmp_path, load: LoadMonitor | None
) -> tuple[list[dict], CrawlSummary, Counter[str]]:
    hangs: Counter[str] = Counter()
    async with serve(small_network(hangs)) as port:
        settings = CrawlSettings(
            db=str(tmp_path / "load.db"),
            seeds=["seed.test"],
            via=f"127.0.0.1:{port}",
            progress=False,
            min_gap=0.0,
            recrawl_after=timedelta(hours=20),
            # no load: no monitor at all, so a slow test machine cannot look busy
            adapt=load is not None,
            **{**FAST, "total_timeout": TIMEOUT, "read_timeout": TIMEOUT},
        )
        crawl = Crawl(settings)
        if load is not None:
            crawl.monitor = load
        summary = await crawl.run()
    found = rows(tmp_path / "load.db", "SELECT status, status_reason FROM instances "
                 "WHERE domain = 'slow.test'")  # fmt: skip
    return found, summary, hangs


async def test_a_timeout_while_overloaded_is_visited_again_not_called_unreachable(tmp_path):
    load = FixedLoad(share=BLAME_SHARE)
    found, summary, hangs = await crawl_small(tmp_path, load)
    assert found == [{"status": "alive", "status_reason": None}]
    assert summary.retried == 1 and hangs["slow.test"] == 2
    # The wait judged is the timed-out request's: the last TIMEOUT seconds of the visit.
    ((start, end),) = load.waits
    assert end - start == pytest.approx(TIMEOUT)


async def test_a_timeout_with_overload_in_a_small_share_of_its_wait_is_the_servers(tmp_path):
    load = FixedLoad(share=BLAME_SHARE * 0.9)
    found, summary, hangs = await crawl_small(tmp_path, load)
    assert found == [{"status": "unreachable", "status_reason": "timeout"}]
    assert summary.retried == 0 and hangs["slow.test"] == 1 and len(load.waits) == 1


async def test_a_timeout_while_not_overloaded_is_the_servers(tmp_path):
    found, summary, hangs = await crawl_small(tmp_path, None)
    assert found == [{"status": "unreachable", "status_reason": "timeout"}]
    assert summary.retried == 0 and hangs["slow.test"] == 1
    assert summary.lowest_request_limit == CrawlSettings.concurrency


class AlwaysOverloaded(LoadMonitor):
    """Every look finds the crawler overloaded."""

    def sample(self, now: float, lag: float, stats: Counter[str], times: AnswerTimes) -> bool:
        super().sample(now, lag, stats, times)
        return True


async def test_the_summary_reports_every_cut_of_the_request_limit(tmp_path):
    """The crawl waits for the hanging server for a second: four looks, each a cut by a third
    (the engine's main loop, waiting for visits, never looks at the limit itself)."""
    _, summary, _ = await crawl_small(tmp_path, AlwaysOverloaded())
    ceiling = CrawlSettings.concurrency
    assert summary.lowest_request_limit <= int(int(ceiling * 2 / 3) * 2 / 3)
    assert "overloaded: down to" in "\n".join(summary.lines(ceiling))


def test_the_summary_says_after_how_long_requests_were_parked():
    summary = CrawlSummary(crawl_id=1, resumed=False, requests_parked=7, park_after=1.5)
    assert "7 requests still unanswered after 1.5 s waited outside" in "\n".join(summary.lines(64))


async def test_gate_lowered_and_raised_while_in_use():
    gate = Gate(2)
    await gate.acquire()
    await gate.acquire()
    waiting = [asyncio.ensure_future(gate.acquire()) for _ in range(3)]
    await asyncio.sleep(0)
    assert not any(task.done() for task in waiting)
    gate.limit = 1
    gate.release()  # 1 in use, limit 1: nobody may start
    await asyncio.sleep(0)
    assert gate.in_use == 1 and not any(task.done() for task in waiting)
    gate.limit = 3  # two may start at once, first come first served
    await asyncio.sleep(0)
    assert [task.done() for task in waiting] == [True, True, False]
    assert gate.in_use == 3
    waiting[2].cancel()  # a waiter that gives up leaves the queue
    await asyncio.sleep(0)
    gate.release()
    assert gate.in_use == 2


async def test_gate_slot_granted_then_cancelled_is_passed_on():
    gate = Gate(1)
    await gate.acquire()
    first = asyncio.ensure_future(gate.acquire())
    second = asyncio.ensure_future(gate.acquire())
    await asyncio.sleep(0)
    gate.release()  # granted to `first`, which is cancelled before it runs
    first.cancel()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert second.done() and gate.in_use == 1


async def test_gate_serves_the_lowest_priority_first_and_arrival_order_among_equals():
    gate = Gate(1)
    await gate.acquire()
    order: list[str] = []

    async def wait(name: str, priority: float) -> None:
        await gate.acquire(priority)
        order.append(name)

    tasks = [
        asyncio.ensure_future(wait(name, priority))
        for name, priority in [("late", 5.0), ("old-1", 1.0), ("gone", 0.5), ("old-2", 1.0)]
    ]
    await asyncio.sleep(0)
    tasks[2].cancel()  # gives up while waiting: leaves the queue
    await asyncio.sleep(0)
    for _ in range(3):
        gate.release()
        await asyncio.sleep(0)
    assert order == ["old-1", "old-2", "late"]
    assert gate.in_use == 1


async def test_gate_says_when_fewer_than_so_many_wait():
    gate = Gate(1)
    await gate.acquire()
    await gate.fewer_waiting_than(1)  # nobody waits: at once
    waiting = [asyncio.ensure_future(gate.acquire()) for _ in range(3)]
    await asyncio.sleep(0)
    assert gate.waiting == 3
    shorter = asyncio.ensure_future(gate.fewer_waiting_than(2))
    await asyncio.sleep(0)
    gate.release()  # the first waiter takes the slot: two still wait
    await asyncio.sleep(0)
    assert waiting[0].done() and gate.waiting == 2 and not shorter.done()
    gate.release()
    await asyncio.sleep(0)
    assert gate.waiting == 1 and shorter.done()


def test_a_crawl_collects_garbage_rarely_then_restores_the_settings():
    before = gc.get_threshold()
    with crawl_collections():
        assert gc.get_threshold() == (YOUNG_THRESHOLD, MIDDLE_THRESHOLD, FULL_THRESHOLD)
        assert gc.get_freeze_count() > 0  # what was alive before the crawl is out of sight
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


async def test_new_visits_wait_while_enough_requests_wait_for_a_slot(tmp_path, monkeypatch):
    """Visits begun while the request queue is long only wait too, holding their memory: the
    engine starts the next one once fewer than WAITING_PER_REQUEST_SLOT per slot wait."""
    from aiohttp import web

    from crawler.engine import WAITING_PER_REQUEST_SLOT
    from crawler.fetch.gate import Gate
    from tests.support import crawl_via, rows, serve

    deepest = [0]
    acquire = Gate.acquire

    async def counted(self, priority: float = 0.0) -> None:
        deepest[0] = max(deepest[0], self.waiting + 1)
        await acquire(self, priority)

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(0.03)
        return web.Response(status=404)

    monkeypatch.setattr(Gate, "acquire", counted)
    seeds = [f"s{n}.test" for n in range(30)]
    async with serve(slow) as port:
        # Two slots and 32 visits allowed: without the wait all 32 would queue at once.
        await crawl_via(port, tmp_path / "w.db", seeds, concurrency=2, min_gap=0.0)
    bound = max(8, WAITING_PER_REQUEST_SLOT * 2)
    assert bound - 2 <= deepest[0] <= bound + 2  # full, and no deeper
    visited = "SELECT count(*) AS n FROM instances WHERE status != 'pending'"
    assert rows(tmp_path / "w.db", visited) == [{"n": 30}]
