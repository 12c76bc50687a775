"""Derived block tables on a hand-built world whose answers are computed by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crawler.blocks import digest_of, make_rule
from crawler.domains import SANDBOX
from crawler.observation import Observation
from crawler.store.writer import StoreWriter
from graph.analyze import analyze
from observatory.who_blocks import who_blocks
from tests.support import rows

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def server(domain: str, family: str, peers=(), rules=(), users: int = 10) -> Observation:
    observation = Observation(
        domain, status="alive", software=family, software_raw=family, family=family
    )
    observation.counts = {"users_total": users * 3, "users_active_month": users}
    observation.peers = list(peers)
    observation.peers_visibility = "public"
    observation.blocks = [
        make_rule(SANDBOX, family, pattern, word, None, digest) for pattern, word, digest in rules
    ]
    observation.blocks_visibility = "public"
    return observation


def small_world(tmp_path, observations: list[Observation]):
    """One analysed crawl of these servers."""
    db = tmp_path / "small.db"
    writer = StoreWriter(str(db), SANDBOX)
    crawl_id, _ = writer.begin_crawl(["a.test"], {}, NOW)
    for observation in observations:
        writer.record_visit(observation, crawl_id, 0, NOW, timedelta(hours=20))
    writer.finish_crawl(crawl_id, NOW)
    writer.close()
    analyze(str(db))
    return db


@pytest.fixture
def world(tmp_path):
    observations = [
        # a suspends b in clear while b still lists a: a suspends-while-peered pair
        server(
            "a.test", "mastodon", peers=["b.test"], rules=[("b.test", "suspend", None)], users=100
        ),
        # b rejects a (Pleroma): a and b block each other
        server("b.test", "pleroma", peers=["a.test", "c.test"], rules=[("a.test", "reject", None)]),
        # c masks d with Mastodon's obfuscation and a digest: counted, never listed as a pair
        server("c.test", "mastodon", rules=[("d.****", "silence", digest_of("d.test"))]),
        # e blocks g.test: Mastodon blocks cover x.g.test too (parent match)
        server("e.test", "mastodon", rules=[("g.test", "suspend", None)], users=7),
        # h rejects *.w.test: covers w.test and y.w.test
        server("h.test", "pleroma", rules=[("*.w.test", "reject", None)]),
        server("d.test", "mastodon"),
        server("x.g.test", "mastodon"),
        server("w.test", "misskey"),
        server("y.w.test", "misskey"),
    ]
    return small_world(tmp_path, observations)


def test_blocked_domain_counts(world):
    counts = {r["domain"]: r for r in rows(world, "SELECT * FROM blocked_domains")}
    assert {d: r["blockers"] for d, r in counts.items()} == {
        "a.test": 1,
        "b.test": 1,
        "d.test": 1,
        "g.test": 1,
        "x.g.test": 1,
        "w.test": 1,
        "y.w.test": 1,
    }
    assert counts["d.test"]["via_digest"] == 1 and counts["d.test"]["silence"] == 1
    assert counts["x.g.test"]["via_rule"] == 1 and counts["y.w.test"]["via_rule"] == 1
    assert counts["b.test"]["blockers_active_users"] == 100


def test_public_pairs_leave_digest_matches_out(world):
    pairs = {
        (r["blocker"], r["blocked"], r["match"]) for r in rows(world, "SELECT * FROM block_edges")
    }
    assert pairs == {
        ("a.test", "b.test", "exact"),
        ("b.test", "a.test", "exact"),
        ("e.test", "g.test", "exact"),
        ("e.test", "x.g.test", "parent"),
        ("h.test", "w.test", "wildcard"),
        ("h.test", "y.w.test", "wildcard"),
    }
    assert not any(r["blocked"] == "d.test" for r in rows(world, "SELECT * FROM block_edges"))


def test_mutual_blocks_and_suspends_while_peered(world):
    assert rows(world, "SELECT * FROM mutual_blocks") == [
        {
            "domain_a": "a.test",
            "domain_b": "b.test",
            "a_blocks_b": "suspend",
            "b_blocks_a": "suspend",
        }
    ]
    peered = {
        (r["blocker"], r["blocked"]) for r in rows(world, "SELECT * FROM suspends_while_peered")
    }
    # a suspends b while b lists a; b rejects a (a suspension) while a lists b
    assert peered == {("a.test", "b.test"), ("b.test", "a.test")}


def test_blocks_by_platform(world):
    by = {
        (r["family"], r["severity"]): r["rules"]
        for r in rows(world, "SELECT * FROM blocks_by_platform")
    }
    assert by == {
        ("mastodon", "suspend"): 2,
        ("mastodon", "silence"): 1,
        ("pleroma", "suspend"): 2,
    }


def test_who_blocks_each_kind_of_match(world):
    matches = {
        domain: {(b.blocker, b.match) for b in who_blocks(str(world), domain).blockers}
        for domain in ("d.test", "x.g.test", "y.w.test", "b.test")
    }
    assert matches == {
        "d.test": {("c.test", "digest")},
        "x.g.test": {("e.test", "parent")},
        "y.w.test": {("h.test", "wildcard")},
        "b.test": {("a.test", "exact")},
    }
    coverage = who_blocks(str(world), "nobody.test").coverage
    assert coverage.lists_read == 9 and coverage.not_readable == {}


def test_a_masked_rule_without_digest_only_names_candidates(tmp_path):
    # m*.test fits mx.test (the blocker itself: never) and my.test, not m.test or myy.test
    # (another length) nor mz.other (other letters).
    db = small_world(
        tmp_path,
        [
            server("mx.test", "mastodon", peers=["m.test", "myy.test", "mz.other"],
                   rules=[("m*.test", "suspend", None)]),
            server("my.test", "mastodon"),
        ],
    )  # fmt: skip
    assert rows(db, "SELECT kind FROM blocks") == [{"kind": "masked"}]
    assert rows(db, "SELECT domain, blockers, candidate_blockers FROM blocked_domains") == [
        {"domain": "my.test", "blockers": 0, "candidate_blockers": 1}
    ]
    assert rows(db, "SELECT * FROM block_edges") == []


def test_a_pair_under_two_rules_counts_its_strongest_severity(tmp_path):
    # Pleroma lists one host under several MRF actions; the mutual pair shows the strongest,
    # whichever order the list gives them in.
    db = small_world(
        tmp_path,
        [
            server("p.test", "pleroma",
                   rules=[("q.test", "media_removal", None), ("q.test", "reject", None)]),
            server("q.test", "mastodon",
                   rules=[("p.test", "silence", None), ("r.test", "suspend", None)]),
            server("r.test", "pleroma",
                   rules=[("q.test", "reject", None), ("q.test", "media_removal", None)]),
        ],
    )  # fmt: skip
    assert rows(db, "SELECT * FROM mutual_blocks") == [
        {"domain_a": "p.test", "domain_b": "q.test", "a_blocks_b": "suspend",
         "b_blocks_a": "silence"},
        {"domain_a": "q.test", "domain_b": "r.test", "a_blocks_b": "suspend",
         "b_blocks_a": "suspend"},
    ]  # fmt: skip
