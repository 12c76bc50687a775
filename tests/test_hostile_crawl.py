"""The crawler against hostile hosts: per host, what it requested and what it stored.

The expectations come from `crawler.sandbox.hostile` (written independently of the crawler).
"""

from __future__ import annotations

import pytest
import pytest_asyncio

from crawler.sandbox.hostile import HostileHosts
from crawler.sandbox.hostile_payloads import JUNK_PEER_TABLE, JUNK_PEERS_SELF
from tests.support import crawl_via, instance, peers_of, rows, serve

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hostile_crawl(tmp_path_factory):
    """One crawl of every hostile host, shared by the tests of this module."""
    hosts = HostileHosts()
    db = tmp_path_factory.mktemp("hostile") / "hostile.db"
    seeds = sorted(hosts.cases)
    async with serve(hosts.handle) as port:
        try:
            # adapt=False: the plan is exact, and a busy test machine must not make the crawl
            # visit a timed-out host again (what it does when it is itself overloaded).
            summary = await crawl_via(port, db, seeds, adapt=False)
        finally:
            hosts.close()
    return hosts, db, summary


async def test_every_hostile_host_is_recorded_as_expected(hostile_crawl):
    hosts, db, summary = hostile_crawl
    assert summary.errors == 0
    problems = []
    for domain, expected in hosts.expected().items():
        row = instance(db, domain)
        got = {
            "status": row["status"],
            "reason": row["status_reason"],
            "moved_to": row["moved_to"],
        }
        want = {
            "status": expected["status"],
            "reason": expected["error_kind"] or expected["opt_out"],
            "moved_to": expected["moved_to"],
        }
        if got != want:
            problems.append(f"{domain}: stored {got}, expected {want}")
    assert not problems, "\n".join(problems)


async def test_requests_per_host_are_exactly_the_plan(hostile_crawl):
    hosts, _db, _summary = hostile_crawl
    problems = []
    for domain, expected in hosts.expected().items():
        made = [record.path_qs for record in hosts.log[domain]]
        if made != expected["requests"]:
            problems.append(f"{domain}: made {made}, expected {expected['requests']}")
    assert not problems, "\n".join(problems)


async def test_nothing_reaches_private_or_local_addresses(hostile_crawl):
    hosts, _db, _summary = hostile_crawl
    for trap in hosts.trap_hosts:
        assert hosts.log.get(trap, []) == [], f"a request reached {trap}"


async def test_stored_values_lists_and_flags(hostile_crawl):
    hosts, db, _summary = hostile_crawl
    for domain, expected in hosts.expected().items():
        row = instance(db, domain)
        stored = expected["stored"]
        for column in ("software", "family", "version", "users_total", "users_active_month"):
            if column in stored:
                assert row[column] == stored[column], (domain, column)
        if "open_registrations" in stored:
            want = stored["open_registrations"]
            assert row["open_registrations"] == (None if want is None else int(want)), domain
        if "quality_flags" in stored:
            flags = set((row["quality_flags"] or "").split(",")) - {""}
            assert flags == set(stored["quality_flags"]), domain
        if expected["status"] == "alive":
            assert peers_of(db, domain) == set(expected["peers"]), domain
            assert row["peers_visibility"] == expected["peers_visibility"], domain
            assert row["blocks_visibility"] == expected["blocks_visibility"], domain


async def test_opted_out_hosts_keep_only_domain_status_and_reason(hostile_crawl):
    hosts, db, _summary = hostile_crawl
    opted = [d for d, e in hosts.expected().items() if e["status"] == "opted_out"]
    assert opted
    for domain in opted:
        row = instance(db, domain)
        assert row["software"] is None and row["users_total"] is None and row["name"] is None
        assert rows(db, "SELECT * FROM document_log WHERE domain = ?", domain) == []
        exclusion = rows(db, "SELECT reason FROM exclusions WHERE domain = ?", domain)
        assert exclusion == [{"reason": row["status_reason"]}]


async def test_retry_waits_for_retry_after(hostile_crawl):
    hosts, _db, _summary = hostile_crawl
    gaps = hosts.retry_gaps("rate-limited.hostile.test")
    assert gaps, "the rate-limited host was never retried"
    assert min(gaps.values()) >= 2.0


async def test_junk_peer_names_are_counted_not_crawled(hostile_crawl):
    _hosts, db, _summary = hostile_crawl
    rejected = {r["reason"]: r["count"] for r in rows(db, "SELECT * FROM rejected_names")}
    # Every entry the table marks for rejection, except the host itself (valid, dropped).
    junk = [raw for raw, norm in JUNK_PEER_TABLE if norm is None and raw != JUNK_PEERS_SELF]
    assert sum(rejected.values()) == len(junk)
    assert {"ip_literal", "port", "url", "wildcard", "userinfo"} <= set(rejected)
    crawled = {r["domain"] for r in rows(db, "SELECT domain FROM instances")}
    assert all(name.endswith(".test") for name in crawled)
