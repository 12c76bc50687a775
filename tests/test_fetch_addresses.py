"""The pieces under the fetcher's politeness: the shared DNS answers and their lifetime, the
private-address guard as a resolver, the address book's report of busy shared addresses, and
the default settings README promises.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from aiohttp.abc import AbstractResolver

from crawler.fetch import FetchSettings, Response
from crawler.fetch.addresses import ANSWER_TTL, AddressBook, SharedAnswers
from crawler.fetch.clock import REAL_CLOCK
from crawler.fetch.errors import UnsafeAddress
from crawler.fetch.guard import GuardedResolver
from crawler.fetch.robots import RobotsRules
from tests.fetch_harness import FakeClock


class ListResolver(AbstractResolver):
    """Answers each name with the given addresses; counts lookups; can be held."""

    def __init__(self, answers: dict[str, list[str]], gate: asyncio.Event | None = None):
        self.answers = answers
        self.gate = gate
        self.calls: list[str] = []
        self.closed = False

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[dict[str, Any]]:
        self.calls.append(host)
        if self.gate is not None:
            await self.gate.wait()
        if host not in self.answers:
            raise OSError(socket.EAI_NONAME, f"no such name {host}")
        return [
            {"hostname": host, "host": a, "port": port, "family": family, "proto": 0, "flags": 0}
            for a in self.answers[host]
        ]

    async def close(self) -> None:
        self.closed = True


async def test_a_dns_answer_lives_for_its_lifetime_on_the_fetch_clock():
    clock = FakeClock()
    inner = ListResolver({"a.test": ["8.8.8.8"]})
    shared = SharedAnswers(inner, ttl=ANSWER_TTL, clock=clock)
    await shared.resolve("a.test", 443)
    clock.now += ANSWER_TTL
    await shared.resolve("a.test", 443)
    assert inner.calls == ["a.test"]
    clock.now += 0.5
    await shared.resolve("a.test", 443)
    assert inner.calls == ["a.test", "a.test"]


async def test_concurrent_lookups_of_one_name_ask_once():
    gate = asyncio.Event()
    inner = ListResolver({"a.test": ["8.8.8.8"]}, gate)
    shared = SharedAnswers(inner, clock=FakeClock())
    lookups = [asyncio.create_task(shared.resolve("a.test", port)) for port in (443, 80)]
    await asyncio.sleep(0)
    gate.set()
    first, second = await asyncio.gather(*lookups)
    assert inner.calls == ["a.test"]
    assert (first[0]["port"], second[0]["port"]) == (443, 80)
    failing = [asyncio.create_task(shared.resolve("gone.test")) for _ in range(2)]
    results = await asyncio.gather(*failing, return_exceptions=True)
    assert all(isinstance(r, OSError) for r in results) and inner.calls.count("gone.test") == 1
    await shared.close()
    assert inner.closed


async def test_the_guard_keeps_public_addresses_and_refuses_a_name_with_none():
    inner = ListResolver({"mixed.test": ["10.0.0.1", "8.8.8.8", "::1"],
                          "inside.test": ["10.0.0.1", "127.0.0.1"]})  # fmt: skip
    guard = GuardedResolver(inner)
    assert [r["host"] for r in await guard.resolve("mixed.test", 443)] == ["8.8.8.8"]
    with pytest.raises(UnsafeAddress) as refused:
        await guard.resolve("inside.test", 443)
    assert str(refused.value) == (
        "inside.test resolves only to non-public addresses (10.0.0.1, 127.0.0.1)"
    )
    await guard.close()
    assert inner.closed


async def test_port_and_family_reach_the_inner_resolver():
    asked: list[tuple[str, int, socket.AddressFamily]] = []

    class Recording(ListResolver):
        async def resolve(self, host, port=0, family=socket.AF_INET):
            asked.append((host, port, family))
            return await super().resolve(host, port, family)

    inner = Recording({"a.test": ["8.8.8.8"], "b.test": ["8.8.4.4"]})
    shared = SharedAnswers(GuardedResolver(inner), clock=FakeClock())
    answer = await shared.resolve("a.test", 443, socket.AF_INET6)
    default = await shared.resolve("b.test")
    assert answer[0]["port"] == 443 and default[0]["port"] == 0
    assert asked == [("a.test", 443, socket.AF_INET6), ("b.test", 0, socket.AF_INET)]
    assert [r["port"] for r in await GuardedResolver(inner).resolve("a.test")] == [0]
    shared.forget("never.test")  # nothing to forget: no error


async def test_the_guards_refusal_names_at_most_200_characters_of_addresses():
    private = [f"10.0.{n // 256}.{n % 256}" for n in range(40)]
    with pytest.raises(UnsafeAddress) as refused:
        await GuardedResolver(ListResolver({"farm.test": private})).resolve("farm.test")
    shown = str(refused.value).split("(", 1)[1].rstrip(")")
    assert shown == ", ".join(sorted(private))[:200]


def test_the_busiest_shared_addresses_lead_the_report():
    book = AddressBook(per_address=3)
    counts = {"1.1.1.1": (2, 5), "2.2.2.2": (3, 9), "3.3.3.3": (1, 50), "4.4.4.4": (2, 9)}
    for address, (hosts, requests) in counts.items():
        state = book.get(address)
        state.hosts, state.requests, state.queue_seconds = hosts, requests, 1.26
    assert book.get("2.2.2.2") is book.addresses["2.2.2.2"]
    assert book.get("1.1.1.1").slots._value == 3
    busiest = book.busiest(2)
    assert [b["address"] for b in busiest] == ["2.2.2.2", "4.4.4.4"]  # 3.3.3.3 is not shared
    assert [b["address"] for b in book.busiest()] == ["2.2.2.2", "4.4.4.4", "1.1.1.1"]
    for n in range(5, 9):
        book.get(f"9.9.9.{n}").hosts = 2
    assert len(book.busiest()) == 5  # by default, the five busiest
    assert busiest[0] == {"address": "2.2.2.2", "hosts": 3, "requests": 9, "max_in_flight": 0,
                          "queue_seconds": 1.3, "backoffs": 0}  # fmt: skip


def test_the_defaults_are_the_polite_values_readme_states():
    s = FetchSettings(user_agent="x")
    assert (s.min_gap, s.max_crawl_delay, s.concurrency, s.per_address) == (1.0, 60.0, 64, 4)
    assert (s.max_retries, s.max_retry_wait, s.backoff_base) == (2, 60.0, 2.0)
    assert (s.host_budget, s.max_redirects, s.max_body) == (100, 5, 16 * 1024 * 1024)
    assert (s.total_timeout, s.connect_timeout, s.read_timeout) == (30.0, 10.0, 15.0)
    assert (s.via, s.robots_token) == (None, "fediscope")


@pytest.mark.parametrize(("status", "ok"), [(199, False), (200, True), (204, True),
                                            (299, True), (300, False), (None, False)])  # fmt: skip
def test_ok_means_a_2xx_answer_without_an_error(status, ok):
    assert Response("a.test", "/", status=status).ok is ok
    assert Response("a.test", "/", status=status, error="too_large").ok is False


def test_a_json_body_may_start_with_a_byte_order_mark():
    response = Response("a.test", "/", status=200, content_type="application/json",
                        body=b'\xef\xbb\xbf{"a": 1}')  # fmt: skip
    assert response.json() == ({"a": 1}, None)


def test_validators_of_an_answer():
    assert Response("a.test", "/").validators is None
    assert Response("a.test", "/", etag='"e"').validators == ('"e"', None)
    assert Response("a.test", "/", last_modified="d").validators == (None, "d")


def test_robots_rules_expire_on_the_clock_they_were_fetched_by():
    rules = RobotsRules.from_answer(200, b"", "fediscope", now=100.0)
    assert rules.fetched_at == 100.0
    assert not rules.expired_at(100.0 + 24 * 3600) and rules.expired_at(100.0 + 24 * 3600 + 1)


async def test_the_real_clock_is_monotonic_time_and_asyncio_sleep():
    before = REAL_CLOCK.monotonic()
    await REAL_CLOCK.sleep(0)  # yields only
    assert REAL_CLOCK.monotonic() >= before
