"""A crawl of the sandbox Fediverse, compared with the sandbox's ground truth.

The sandbox (crawler/sandbox) was written independently of the crawler from the protocol
notes; its truth says what a correct, polite crawler must end up with. One crawl is shared by
the tests of this module.
"""

from __future__ import annotations

import itertools

import pytest
import pytest_asyncio

from crawler.sandbox import SandboxConfig
from observatory.who_blocks import coverage_line, who_blocks
from tests.support import CONTRACT_FLAGS, QUICK_PACE, canned, crawl_sandbox, rows, truth_blockers

pytestmark = pytest.mark.asyncio(loop_scope="module")

FARM_CAP = 50


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def crawled(tmp_path_factory):
    db = tmp_path_factory.mktemp("sandbox") / "crawl.db"
    world = SandboxConfig(instances=400, seed=7, pace=QUICK_PACE)
    sandbox, summary = await crawl_sandbox(world, db, contact="tests@fediscope.invalid")
    return sandbox, sandbox.truth(), db, summary


def stored_instances(db):
    return {r["domain"]: r for r in rows(db, "SELECT * FROM instances")}


def flags(row) -> set[str]:
    return set((row["quality_flags"] or "").split(",")) & CONTRACT_FLAGS


async def test_every_reachable_instance_is_found_two_hop_ones_included(crawled):
    _sandbox, truth, db, summary = crawled
    assert summary.errors == 0
    stored = stored_instances(db)
    reachable = {d for d, t in truth["instances"].items() if t["hops"] is not None}
    assert reachable <= set(stored)
    assert any(t["hops"] == 2 for t in truth["instances"].values()), "no two-hop host in world"
    unknown = set(stored) - set(truth["instances"])
    assert unknown == set(), "the crawl invented domains"


async def test_status_software_counts_and_lists_match_the_truth(crawled):
    _sandbox, truth, db, _summary = crawled
    stored = stored_instances(db)
    peers: dict[str, set[str]] = {}
    for edge in rows(db, "SELECT source, target FROM peer_edges"):
        peers.setdefault(edge["source"], set()).add(edge["target"])
    problems = []
    for domain, t in truth["instances"].items():
        row = stored.get(domain)
        if row is None or (t["farm"] and row["status"] == "pending"):
            continue  # unreachable in truth, or a farm host beyond the cap (checked below)
        want = {
            "status": t["expected_status"],
            "reason": t["error_kind"] or t["opt_out"],
            "moved_to": t["moved_to"],
        }
        got = {"status": row["status"], "reason": row["status_reason"], "moved_to": row["moved_to"]}
        if t["expected_status"] == "alive":
            for column in ("software", "family", "version", "users_total", "users_active_month"):
                want[column], got[column] = t[column], row[column]
            want["local_posts"], got["local_posts"] = t["local_posts"], row["local_posts"]
            registrations = t["open_registrations"]
            want["open_registrations"] = None if registrations is None else int(registrations)
            got["open_registrations"] = row["open_registrations"]
            want["flags"], got["flags"] = set(t["quality_flags"]), flags(row)
            want["peers_visibility"] = t["peers_visibility"]
            got["peers_visibility"] = row["peers_visibility"]
            want["blocks_visibility"] = t["blocks_visibility"]
            got["blocks_visibility"] = row["blocks_visibility"]
            want["peers"], got["peers"] = set(t["peers"]), peers.get(domain, set())
        if got != want:
            diff = {k: (got[k], want[k]) for k in want if got.get(k) != want[k]}
            problems.append(f"{domain}: {diff}")
    assert not problems, "\n".join(problems[:20])


async def test_software_family_of_every_sandbox_instance(crawled):
    _sandbox, truth, db, _summary = crawled
    stored = stored_instances(db)
    alive = {d: t for d, t in truth["instances"].items() if t["expected_status"] == "alive"}
    families = {t["family"] for t in alive.values()}
    assert len(families) >= 10
    wrong = [
        d
        for d, t in alive.items()
        if d in stored and stored[d]["status"] == "alive" and stored[d]["family"] != t["family"]
    ]
    assert wrong == []


async def test_block_rules_are_stored_exactly_as_published(crawled):
    _sandbox, truth, db, _summary = crawled
    stored: dict[str, set[tuple]] = {}
    for r in rows(db, "SELECT * FROM blocks WHERE active = 1"):
        key = (
            r["blocked_pattern"],
            r["severity"],
            r["severity_raw"],
            r["reason"],
            r["blocked_digest"],
            r["blocked"],
            r["kind"],
        )
        stored.setdefault(r["blocker"], set()).add(key)
    expected = {
        d: {
            (
                b["pattern"],
                b["severity"],
                b["severity_raw"],
                b["reason"],
                b["digest"],
                b["blocked"],
                b["kind"],
            )
            for b in t["blocks"]
        }
        for d, t in truth["instances"].items()
        if t["blocks"]
    }
    assert stored == expected
    kinds = {r["kind"] for r in rows(db, "SELECT kind FROM blocks")}
    assert {"clear", "masked", "wildcard"} <= kinds


async def test_per_domain_blocker_counts_equal_the_truth(crawled):
    _sandbox, truth, db, _summary = crawled
    want = {d: len(b) for d, b in truth_blockers(truth).items()}
    got = {
        r["domain"]: r["blockers"]
        for r in rows(db, "SELECT domain, blockers FROM blocked_domains")
        # A row with no certain blocker only says a masked rule could match the name by chance.
        if r["domain"] in truth["instances"] and r["blockers"]
    }
    assert got == want


async def test_who_blocks_finds_digest_and_wildcard_matches(crawled):
    _sandbox, truth, db, _summary = crawled
    by_domain = truth_blockers(truth)
    digest_target = next(
        b["true_domain"]
        for t in truth["instances"].values()
        for b in t["blocks"]
        if b["digest"] and b["kind"] == "masked" and b["true_domain"] in by_domain
    )
    answer = who_blocks(str(db), digest_target)
    assert {b.blocker for b in answer.blockers if b.match != "candidate"} == by_domain[
        digest_target
    ]
    assert "digest" in {b.match for b in answer.blockers}
    wildcard = next(
        (b["true_domain"], blocker)
        for blocker, t in truth["instances"].items()
        for b in t["blocks"]
        if b["kind"] == "wildcard" and b["true_domain"] in truth["instances"]
    )
    answer = who_blocks(str(db), wildcard[0])
    assert wildcard[1] in {b.blocker for b in answer.blockers if b.match == "wildcard"}
    web = await canned(db, "who_blocks", domain=digest_target)
    assert {r["blocker"] for r in web if r["match"] != "candidate"} == by_domain[digest_target]
    assert "digest" in {r["match"] for r in web}


def crawled_truth(truth, db) -> dict[str, dict]:
    """Truth entries of the instances the crawl visited: every reachable one, except the farm
    hosts beyond the cap (which of them were visited depends on arrival order)."""
    stored = stored_instances(db)
    return {
        d: t
        for d, t in truth["instances"].items()
        if t["hops"] is not None and not (t["farm"] and stored[d]["status"] == "pending")
    }


async def test_who_blocks_coverage_per_reason_equals_the_truth(crawled):
    _sandbox, truth, db, _summary = crawled
    want_lists: dict[str, int] = {}
    want_users: dict[str, int] = {}
    not_reached = 0
    for t in crawled_truth(truth, db).values():
        if t["expected_status"] in ("pending", "unreachable"):
            not_reached += 1
        if t["expected_status"] != "alive":
            continue
        visibility = t["blocks_visibility"]
        want_lists[visibility] = want_lists.get(visibility, 0) + 1
        want_users[visibility] = want_users.get(visibility, 0) + (t["users_active_month"] or 0)
    farm_beyond_cap = sum(1 for t in truth["instances"].values() if t["farm"]) - FARM_CAP
    coverage = who_blocks(str(db), "anything.test").coverage
    assert (coverage.lists_read, coverage.users_read) == (
        want_lists.pop("public"),
        want_users.pop("public"),
    )
    assert (coverage.unsupported, coverage.users_unsupported) == (
        want_lists.pop("unsupported"),
        want_users.pop("unsupported"),
    )
    assert len(want_lists) >= 2, "the world has fewer than two reasons for unreadable lists"
    assert coverage.not_readable == want_lists
    assert coverage.users_not_readable == want_users
    assert coverage.not_reached == not_reached + farm_beyond_cap
    line = coverage_line(coverage)
    for reason, lists in want_lists.items():
        assert f"{lists:,} " in line and f"({want_users[reason]:,} active users)" in line


async def test_hops_are_the_truths_breadth_first_distances(crawled):
    _sandbox, truth, db, _summary = crawled
    got = {r["domain"]: r["hops"] for r in rows(db, "SELECT domain, hops FROM instances")}
    want = {d: t["hops"] for d, t in truth["instances"].items() if t["hops"] is not None}
    assert got == want
    # Block targets and moves are discovery links: some hosts are reached only through them.
    assert max(want.values()) >= 2


def share_rows(entries, group: str) -> dict[str, tuple]:
    """platform_share / software_share rows computed from truth entries alone."""
    alive = [t for t in entries if t["expected_status"] == "alive" and t[group] is not None]
    total = len(alive)
    users = sum(t["users_total"] or 0 for t in alive)
    active = sum(t["users_active_month"] or 0 for t in alive)
    result: dict[str, tuple] = {}
    for key in {t[group] for t in alive}:
        mine = [t for t in alive if t[group] == key]
        u = sum(t["users_total"] or 0 for t in mine)
        a = sum(t["users_active_month"] or 0 for t in mine)
        result[key] = (
            len(mine),
            round(100.0 * len(mine) / total, 2),
            u,
            round(100.0 * u / users, 2),
            a,
            round(100.0 * a / active, 2),
            sum(1 for t in mine if t["users_total"] is None),
            sum(1 for t in mine if t["users_active_month"] is None),
        )
    return result


async def test_platform_and_software_share_rows_equal_the_truth(crawled):
    _sandbox, truth, db, summary = crawled
    entries = list(crawled_truth(truth, db).values())
    columns = (
        "servers, servers_share, users, users_share, active_users, active_users_share, "
        "servers_without_users, servers_without_active_users"
    )
    for table, group in (("platform_share", "family"), ("software_share", "software")):
        stored = rows(db, f"SELECT {group}, {columns}, crawl_id FROM {table}")
        got = {r[group]: tuple(r[c.strip()] for c in columns.split(",")) for r in stored}
        want = share_rows(entries, group)
        assert got == want, table
        assert {r["crawl_id"] for r in stored} == {summary.crawl_id}
        order = [r[group] for r in rows(db, f"SELECT {group} FROM {table} ORDER BY rowid")]
        assert order == sorted(want, key=lambda k: (-want[k][0], k)), table
        assert any(w[6] for w in want.values()), "no instance without a user count"


async def test_most_blocked_query_ranks_like_the_truth(crawled):
    _sandbox, truth, db, _summary = crawled
    users = {d: t["users_active_month"] or 0 for d, t in truth["instances"].items()}
    want = sorted(
        (
            (-len(blockers), -sum(users[b] for b in blockers), domain)
            for domain, blockers in truth_blockers(truth).items()
        )
    )
    got = await canned(db, "most_blocked")
    assert len(got) == min(100, len(want))
    keys = [(-r["blockers"], -r["blockers_active_users"]) for r in got]
    assert keys == [w[:2] for w in want[: len(got)]]
    last = keys[-1]
    assert {r["domain"] for r in got if (-r["blockers"], -r["blockers_active_users"]) < last} == {
        w[2] for w in want if w[:2] < last
    }


async def test_subdomain_farm_is_capped_and_the_rest_recorded(crawled):
    _sandbox, truth, db, _summary = crawled
    farm = {d for d, t in truth["instances"].items() if t["farm"]}
    assert len(farm) > FARM_CAP
    visited = {
        r["domain"] for r in rows(db, "SELECT domain FROM instances WHERE status != 'pending'")
    }
    assert len(farm & visited) == FARM_CAP
    excluded = {
        r["domain"]
        for r in rows(db, "SELECT domain FROM exclusions WHERE reason = 'subdomain_farm'")
    }
    assert excluded == farm - visited


async def test_politeness_one_request_in_flight_per_host_with_a_gap(crawled):
    sandbox, _truth, _db, _summary = crawled
    stats = sandbox.stats
    assert stats.total > 1000
    assert max(stats.max_in_flight.values()) == 1
    gaps = []
    for entries in stats.log.values():
        starts = sorted(entry.monotonic_start for entry in entries)
        gaps += [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 0.02 * 0.9  # the configured minimum gap (tests use 20 ms)
    agents = {e.user_agent for entries in stats.log.values() for e in entries}
    assert agents == {
        "fediscope/0.1.0 (+https://github.com/fediscope/fediscope; tests@fediscope.invalid)"
    }


async def test_platform_share_is_computed_from_the_crawled_instances(crawled):
    _sandbox, _truth, db, _summary = crawled
    stored = stored_instances(db)
    share = {r["family"]: r for r in rows(db, "SELECT * FROM platform_share")}
    # Shares are per family: an alive server whose family nothing showed (NodeInfo names no
    # software and no platform API answered) has no bucket.
    crawled_alive = [r for r in stored.values() if r["status"] == "alive" and r["family"]]
    assert sum(r["servers"] for r in share.values()) == len(crawled_alive)
    mastodon = [r for r in crawled_alive if r["family"] == "mastodon"]
    assert share["mastodon"]["servers"] == len(mastodon)
    assert share["mastodon"]["users"] == sum(r["users_total"] or 0 for r in mastodon)
    assert abs(sum(r["servers_share"] for r in share.values()) - 100) < 0.1
