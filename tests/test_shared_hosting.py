"""Shared hosting: hosts on one address share a cap on requests in flight and its backoff.

The sandbox puts 200 instances on one hosting provider's simulated address (only
`Sandbox.resolver()` knows it) and counts, on its own side, how many requests to that address
are in flight, how many 429s it sent and how many requests arrived before the reset it
announced (after the 429 had left). Nothing here measures durations: the cap and the backoff
are counted by the server, and "hosts elsewhere are not slowed" is an order in the server's
request log.
"""

from __future__ import annotations

import socket
import statistics

import pytest
from aiohttp.abc import AbstractResolver

from crawler.fetch.addresses import SharedAnswers
from crawler.fetch.guard import GuardedResolver
from crawler.sandbox import Provider, Sandbox, SandboxConfig
from tests.support import crawl_via, rows

PROVIDER = "23.227.38.1"
GIVEN_UP = ("http_429", "http_5xx", "robots_unavailable", "budget_exhausted")


@pytest.fixture
async def provider_world():
    config = SandboxConfig(
        instances=260,
        seed=3,
        failures=False,
        hidden_fraction=0.0,
        farm_size=0,
        latency_ms=(5, 20),  # so that requests overlap at the server
        providers=[Provider(PROVIDER, hosts=200, rate_limit_every=60, reset_seconds=0.3)],
    )
    sandbox = Sandbox(config)
    port = await sandbox.start()
    yield sandbox, port
    await sandbox.stop()


async def test_a_provider_never_sees_more_than_the_cap_and_others_are_not_slowed(
    provider_world, tmp_path
):
    sandbox, port = provider_world
    db = tmp_path / "x.db"
    # Fewer visit slots than the provider has hosts: without the per-address turn-taking its
    # hosts would fill every slot and everything else would wait behind them.
    summary = await crawl_via(
        port, db, sandbox.seeds, resolver=sandbox.resolver(), per_address=4, hosts_in_flight=32
    )
    on_provider = sandbox.hosting.hosts_of(PROVIDER)
    assert len(on_provider) == 200
    stats = sandbox.stats

    # The cap, counted by the provider itself: reached, never exceeded.
    assert stats.address_max_in_flight[PROVIDER] == 4
    # Its 429s were honoured for the whole address: after each one, at most the requests the
    # other 3 slots started before the crawler read it arrived before the announced reset.
    assert stats.address_limited[PROVIDER] >= 5, dict(stats.address_requests)
    assert stats.address_early_max[PROVIDER] <= 3

    # Backing off worked: every host of the provider was visited and none was given up on
    # because of the provider's 429s (they would be unreachable with http_429 or
    # robots_unavailable).
    truth = sandbox.truth()["instances"]
    expected_alive = {d for d, t in truth.items() if t["expected_status"] == "alive"}
    visited = {
        r["domain"]: r
        for r in rows(db, "SELECT domain, status, status_reason FROM instances "
                          "WHERE last_crawl_id = ?", summary.crawl_id)
    }  # fmt: skip
    assert set(on_provider) <= set(visited)
    given_up = [d for d, r in visited.items() if r["status_reason"] in GIVEN_UP]
    assert given_up == []
    # Each host of the provider ends with exactly the status the sandbox gives it (a floor of
    # "150 of 200 alive" let up to 50 hosts be lost to the backoff).
    assert {d: visited[d]["status"] for d in on_provider} == {
        d: truth[d]["expected_status"] for d in on_provider
    }

    # Hosts elsewhere were not queued behind the provider: each of them had made its last
    # request before the provider had received half of its requests.
    starts = {host: [entry.monotonic_start for entry in log] for host, log in stats.log.items()}
    provider_starts = sorted(t for host in on_provider for t in starts.get(host, []))
    halfway = statistics.median(provider_starts)
    elsewhere = [h for h in starts if h not in set(on_provider) and h in expected_alive]
    assert len(elsewhere) >= 40
    late = [h for h in elsewhere if max(starts[h]) > halfway]
    assert late == []

    busiest = summary.busiest_addresses[0]
    assert busiest["address"] == PROVIDER
    assert busiest["hosts"] >= 200  # and the api.<domain> helper hosts of its instances
    assert busiest["max_in_flight"] == 4
    # Every 429 paused the address: the limiter's own and those of requests already under way.
    assert busiest["backoffs"] >= stats.address_limited[PROVIDER]
    assert busiest["requests"] == stats.address_requests[PROVIDER]
    stored = rows(db, "SELECT busiest_addresses FROM crawls WHERE id = ?", summary.crawl_id)
    assert PROVIDER in stored[0]["busiest_addresses"]


async def test_without_a_resolver_via_mode_groups_nothing(provider_world, tmp_path):
    sandbox, port = provider_world
    summary = await crawl_via(port, tmp_path / "x.db", sandbox.seeds, max_instances=40)
    assert summary.busiest_addresses == []


class CountingResolver(AbstractResolver):
    """Answers public.test with a public address and private.test with a private one."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def resolve(self, host, port=0, family=socket.AF_INET):
        self.calls.append(host)
        if host == "missing.test":
            raise OSError(socket.EAI_NONAME, "no such name")
        address = "10.1.2.3" if host == "private.test" else "23.0.0.9"
        return [
            {"hostname": host, "host": address, "port": port, "family": family, "proto": 0,
             "flags": socket.AI_NUMERICHOST}
        ]  # fmt: skip

    async def close(self) -> None:
        return None


async def test_one_dns_answer_serves_the_grouping_and_the_connection():
    inner = CountingResolver()
    shared = SharedAnswers(GuardedResolver(inner))
    first = await shared.resolve("public.test", 443)
    again = await shared.resolve("public.test", 80)
    assert first[0]["host"] == again[0]["host"] == "23.0.0.9"
    assert again[0]["port"] == 80
    # The private-address guard runs before the answer is shared; failures are shared too.
    for name in ("private.test", "missing.test"):
        for _ in range(2):
            with pytest.raises(OSError):
                await shared.resolve(name, 443)
    assert inner.calls == ["public.test", "private.test", "missing.test"]
    shared.forget("public.test")
    await shared.resolve("public.test", 443)
    assert inner.calls.count("public.test") == 2
