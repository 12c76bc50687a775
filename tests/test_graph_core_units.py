"""Platform share, block tables and change over time on tiny hand-built databases.

Each test writes a handful of rows into an in-memory database, runs one analysis step and
compares the whole table with figures worked out by hand (the comments show the arithmetic).
"""

from __future__ import annotations

import math

import pytest

from crawler.blocks import digest_of
from graph.blocked_reach import build_blocked_reach
from graph.blocks import (
    _MaskIndex,
    _mutual_pairs,
    build_block_tables,
    damping_weight,
    resolve_rules,
)
from graph.history import build_history, crawl_dates
from graph.platforms import build_platform_share
from tests.graph_db import (
    assert_documented,
    crawl,
    digest_rule,
    instance,
    memory_database,
    peer,
    rule,
    stats,
    table,
)


def test_platform_and_software_share_by_hand():
    connection = memory_database()
    instance(connection, "a.test", family="mastodon", software="mastodon", users_total=100,
             users_active_month=40)  # fmt: skip
    instance(connection, "b.test", family="mastodon", software="hometown", users_total=50)
    instance(connection, "c.test", family="misskey", software="misskey", users_active_month=10)
    # Not in any share: it did not answer, or it has no family and no software.
    instance(connection, "d.test", status="unreachable", family="lemmy", software="lemmy",
             users_total=999, users_active_month=999)  # fmt: skip
    instance(connection, "e.test", users_total=5, users_active_month=5)
    assert build_platform_share(connection, 7) == 2
    assert_documented(connection, "platform_share", "software_share")
    # 3 servers, 150 users (a 100 + b 50), 50 active (a 40 + c 10).
    assert table(connection, "SELECT * FROM platform_share") == [
        ("mastodon", 2, 66.67, 150, 100.0, 40, 80.0, 0, 1, 7),
        ("misskey", 1, 33.33, 0, 0.0, 10, 20.0, 1, 0, 7),
    ]
    # Ties in servers go by name.
    assert table(connection, "SELECT * FROM software_share") == [
        ("hometown", 1, 33.33, 50, 33.33, 0, 0.0, 0, 1, 7),
        ("mastodon", 1, 33.33, 100, 66.67, 40, 80.0, 0, 0, 7),
        ("misskey", 1, 33.33, 0, 0.0, 10, 20.0, 1, 0, 7),
    ]


def test_shares_of_nothing_reported_are_empty_and_a_rebuild_replaces_the_tables():
    connection = memory_database()
    instance(connection, "a.test", family="lemmy", software="lemmy")
    assert build_platform_share(connection, None) == 1
    instance(connection, "b.test", family="lemmy", software="lemmy")
    assert build_platform_share(connection, 2) == 1
    # No server reported users: the user shares are unknown, not 0%.
    assert table(connection, "SELECT * FROM platform_share") == [
        ("lemmy", 2, 100.0, 0, None, 0, None, 2, 2, 2)
    ]
    assert table(connection, "SELECT * FROM software_share") == [
        ("lemmy", 2, 100.0, 0, None, 0, None, 2, 2, 2)
    ]


def test_damping_weight():
    assert damping_weight(1) == 1.0
    assert damping_weight(0) == 1.0  # never more than one rule's weight
    assert damping_weight(3) == 0.5
    assert damping_weight(7) == 1 / 3


def test_mask_index_fits_only_names_of_the_same_length_label_by_label():
    index = _MaskIndex(["bad.test", "bed.test", "b.d.test", "bad.tests", "baad.test"])
    assert index.names("b*d.test") == ["bad.test", "bed.test"]
    assert index.names("B?D.TEST") == ["bad.test", "bed.test"]  # case does not matter
    assert index.names("b*d.t.st") == []  # a dot in the pattern is a dot, not any letter
    assert index.names("nothing") == []
    assert index.names("****") == []  # no known name of that length


def block_world():
    """Four servers and their rules (each server's rule count decides its damping weight).

    - a.test, mastodon, 100 active users, public list; 4 rules: bad.test suspend (also covers
      sub.bad.test: Mastodon blocks cover subdomains), spam.test silence, b.test silence and
      b.test suspend.
    - b.test, misskey, 10 active, public; 3 rules (+1 inactive): bad.test silence, *.evil.test
      suspend, a.test silence.
    - c.test, pleroma, 1 active, list not readable; 7 rules: the digest of sub.bad.test, the
      mask b*d.test (fits bad.test and bed.test: candidates), itself, and one rule per lesser
      severity.
    - d.test, no family and no counts; 1 rule: u.test suspend.
    - h.test, pleroma, 3 active, list not readable; no rules.
    - z.test, not a known server; 1 rule: bad.test suspend.
    """
    connection = memory_database()
    instance(connection, "a.test", family="mastodon", users_active_month=100,
             blocks_visibility="public")  # fmt: skip
    instance(connection, "b.test", family="misskey", users_active_month=10,
             blocks_visibility="public")  # fmt: skip
    instance(connection, "c.test", family="pleroma", users_active_month=1)
    instance(connection, "d.test")
    instance(connection, "h.test", family="pleroma", users_active_month=3, blocks_visibility="none")
    instance(connection, "gone.test", status="unreachable", family="mastodon",
             users_active_month=1000)  # fmt: skip
    for name in ("bad.test", "sub.bad.test", "spam.test", "evil.test", "x.evil.test",
                 "bed.test", "u.test", "q.test", "m.test", "r.test", "o.test"):  # fmt: skip
        connection.execute("INSERT INTO domains (name) VALUES (?)", (name,))
    rule(connection, "a.test", "bad.test", "suspend", raw="Suspend!")
    rule(connection, "a.test", "spam.test", "silence")
    rule(connection, "a.test", "b.test", "silence")
    rule(connection, "a.test", "b.test", "suspend")
    rule(connection, "b.test", "bad.test", "silence")
    rule(connection, "b.test", "*.evil.test", "suspend", kind="wildcard")
    rule(connection, "b.test", "a.test", "silence")
    rule(connection, "b.test", "gone.test", "silence", active=0)
    digest_rule(connection, "c.test", "sub.bad.test")
    rule(connection, "c.test", "b*d.test", "suspend", kind="masked")
    rule(connection, "c.test", "c.test", "suspend")
    rule(connection, "c.test", "q.test", "quarantine")
    rule(connection, "c.test", "m.test", "reject_media")
    rule(connection, "c.test", "r.test", "reject_reports")
    rule(connection, "c.test", "o.test", "other")
    rule(connection, "d.test", "u.test", "suspend")
    rule(connection, "z.test", "bad.test", "suspend")
    return connection


A, B, C = 1 / math.log2(5), 1 / math.log2(4), 1 / math.log2(8)  # damping: 4, 3 and 7 rules


def test_resolved_rules_by_hand():
    targets, pairs = resolve_rules(block_world())
    assert {name: sorted(t.blockers) for name, t in targets.items()} == {
        "a.test": ["b.test"],
        "b.test": ["a.test"],
        "bad.test": ["a.test", "b.test", "z.test"],
        "bed.test": [],
        "sub.bad.test": ["a.test", "c.test"],
        "spam.test": ["a.test"],
        "evil.test": ["b.test"],
        "x.evil.test": ["b.test"],
        "u.test": ["d.test"],
        "q.test": ["c.test"],
        "m.test": ["c.test"],
        "r.test": ["c.test"],
        "o.test": ["c.test"],
    }
    # The digest names sub.bad.test to the counts, never as a public pair.
    assert sorted(targets["sub.bad.test"].public_blockers) == ["a.test"]
    assert dict(targets["sub.bad.test"].via) == {"parent": 1, "digest": 1}
    assert sorted(targets["bad.test"].candidates) == ["c.test"]
    assert sorted(targets["bed.test"].candidates) == ["c.test"]
    assert sorted(pairs) == [
        ("a.test", "b.test", "silence", "silence", "exact"),
        ("a.test", "b.test", "suspend", "suspend", "exact"),
        ("a.test", "bad.test", "suspend", "Suspend!", "exact"),
        ("a.test", "spam.test", "silence", "silence", "exact"),
        ("a.test", "sub.bad.test", "suspend", "Suspend!", "parent"),
        ("b.test", "a.test", "silence", "silence", "exact"),
        ("b.test", "bad.test", "silence", "silence", "exact"),
        ("b.test", "evil.test", "suspend", "suspend", "wildcard"),
        ("b.test", "x.evil.test", "suspend", "suspend", "wildcard"),
        ("c.test", "m.test", "reject_media", "reject_media", "exact"),
        ("c.test", "o.test", "other", "other", "exact"),
        ("c.test", "q.test", "quarantine", "quarantine", "exact"),
        ("c.test", "r.test", "reject_reports", "reject_reports", "exact"),
        ("d.test", "u.test", "suspend", "suspend", "exact"),
        ("z.test", "bad.test", "suspend", "suspend", "exact"),
    ]


def test_blocked_domains_by_hand():
    connection = block_world()
    assert build_block_tables(connection) == (
        "13 blocked domains, 15 public block edges, 1 mutual pairs, 27 blocked-reach rows"
    )
    assert_documented(
        connection, "blocked_domains", "block_edges", "mutual_blocks", "blocks_by_platform",
        "blocked_reach",
    )  # fmt: skip
    got = {row[0]: row[1:] for row in table(connection, "SELECT * FROM blocked_domains")}
    # blockers, suspend, silence, reject_media, reject_reports, quarantine, other,
    # blockers' active users, via exact, digest, rule, candidates, damped, the three ranks
    # (by blockers: 3 > 2 > 1 > 0; by users: 110 > 101 > 100 > 10 > 1 > 0; by damped weight:
    # 1.93 > 1.0 > 0.76 > 0.5 > 0.43 > 0.33 > 0).
    assert got == {
        "bad.test": (3, 2, 1, 0, 0, 0, 0, 110, 3, 0, 0, 1, round(A + B + 1, 6), 1, 1, 1),
        "sub.bad.test": (2, 2, 0, 0, 0, 0, 0, 101, 0, 1, 1, 0, round(A + C, 6), 2, 2, 3),
        "a.test": (1, 0, 1, 0, 0, 0, 0, 10, 1, 0, 0, 0, round(B, 6), 3, 5, 4),
        "b.test": (1, 1, 1, 0, 0, 0, 0, 100, 2, 0, 0, 0, round(A, 6), 3, 3, 7),
        "spam.test": (1, 0, 1, 0, 0, 0, 0, 100, 1, 0, 0, 0, round(A, 6), 3, 3, 7),
        "evil.test": (1, 1, 0, 0, 0, 0, 0, 10, 0, 0, 1, 0, round(B, 6), 3, 5, 4),
        "x.evil.test": (1, 1, 0, 0, 0, 0, 0, 10, 0, 0, 1, 0, round(B, 6), 3, 5, 4),
        "u.test": (1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1.0, 3, 12, 2),
        "q.test": (1, 0, 0, 0, 0, 1, 0, 1, 1, 0, 0, 0, round(C, 6), 3, 8, 9),
        "m.test": (1, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0, round(C, 6), 3, 8, 9),
        "r.test": (1, 0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 0, round(C, 6), 3, 8, 9),
        "o.test": (1, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, round(C, 6), 3, 8, 9),
        "bed.test": (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0.0, 13, 12, 13),
    }


def test_block_edges_mutual_pairs_and_rules_by_platform():
    connection = block_world()
    build_block_tables(connection)
    assert len(table(connection, "SELECT * FROM block_edges")) == 15
    assert table(
        connection, "SELECT * FROM block_edges WHERE blocker = 'a.test' ORDER BY blocked, severity"
    ) == [
        ("a.test", "b.test", "silence", "silence", "exact"),
        ("a.test", "b.test", "suspend", "suspend", "exact"),
        ("a.test", "bad.test", "suspend", "Suspend!", "exact"),
        ("a.test", "spam.test", "silence", "silence", "exact"),
        ("a.test", "sub.bad.test", "suspend", "Suspend!", "parent"),
    ]
    # a.test's strongest rule on b.test is the suspension listed after its silence.
    assert table(connection, "SELECT * FROM mutual_blocks") == [
        ("a.test", "b.test", "suspend", "silence")
    ]
    assert sorted(table(connection, "SELECT * FROM blocks_by_platform")) == [
        ("mastodon", "silence", 2, 1, 0, 0),
        ("mastodon", "suspend", 2, 1, 0, 0),
        ("misskey", "silence", 2, 1, 0, 0),
        ("misskey", "suspend", 1, 1, 0, 1),
        ("pleroma", "other", 1, 1, 0, 0),
        ("pleroma", "quarantine", 1, 1, 0, 0),
        ("pleroma", "reject_media", 1, 1, 0, 0),
        ("pleroma", "reject_reports", 1, 1, 0, 0),
        ("pleroma", "suspend", 3, 1, 2, 0),
        ("unknown", "suspend", 2, 2, 0, 0),
    ]


def test_blocked_reach_by_hand():
    connection = block_world()
    build_block_tables(connection)
    # Alive: a (mastodon 100, public), b (misskey 10, public), c (pleroma 1, not readable),
    # d (unknown, none), h (pleroma 3, not readable): 114 active users, 4 of them behind
    # unreadable lists (all of pleroma's).
    wanted = "('bad.test', 'bed.test', 'u.test', 'sub.bad.test')"
    reach = table(
        connection, f"SELECT * FROM blocked_reach WHERE domain IN {wanted} ORDER BY domain, family"
    )
    assert reach == [
        # z.test is no live server: it does not count.
        ("bad.test", "all", 1, 100, 2, 110, 114, round(100 / 114, 6), round(110 / 114, 6), 4),
        ("bad.test", "mastodon", 1, 100, 1, 100, 100, 1.0, 1.0, 0),
        ("bad.test", "misskey", 0, 0, 1, 10, 10, 0.0, 1.0, 0),
        ("bed.test", "all", 0, 0, 0, 0, 114, 0.0, 0.0, 4),
        ("sub.bad.test", "all", 2, 101, 2, 101, 114, round(101 / 114, 6), round(101 / 114, 6), 4),
        ("sub.bad.test", "mastodon", 1, 100, 1, 100, 100, 1.0, 1.0, 0),
        ("sub.bad.test", "pleroma", 1, 1, 1, 1, 4, 0.25, 0.25, 4),
        ("u.test", "all", 1, 0, 1, 0, 114, 0.0, 0.0, 4),
        ("u.test", "unknown", 1, 0, 1, 0, 0, None, None, 0),
    ]


def test_blocked_reach_counts_the_live_blockers_among_many_dead_ones():
    # The blockers are a set: whatever order it gives, the dead ones are passed over and the
    # live one still counts.
    connection = memory_database()
    instance(
        connection, "live.test", family="lemmy", users_active_month=7, blocks_visibility="public"
    )
    connection.execute("INSERT INTO domains (name) VALUES ('target.test')")
    rule(connection, "live.test", "target.test")
    for n in range(30):
        rule(connection, f"dead{n}.test", "target.test")
    targets, _ = resolve_rules(connection)
    build_blocked_reach(connection, targets)
    assert table(connection, "SELECT * FROM blocked_reach") == [
        ("target.test", "all", 1, 7, 1, 7, 7, 1.0, 1.0, 0),
        ("target.test", "lemmy", 1, 7, 1, 7, 7, 1.0, 1.0, 0),
    ]


def test_blocked_reach_without_live_servers_has_no_denominator():
    connection = memory_database()
    targets, _ = resolve_rules(connection)
    assert build_blocked_reach(connection, targets) == 0
    rule(connection, "z.test", "bad.test")
    connection.execute("INSERT INTO domains (name) VALUES ('bad.test')")
    targets, _ = resolve_rules(connection)
    assert build_blocked_reach(connection, targets) == 1
    assert table(connection, "SELECT * FROM blocked_reach") == [
        ("bad.test", "all", 0, 0, 0, 0, 0, None, None, 0)
    ]


def test_a_gotosocial_parent_rule_covers_subdomains_and_a_misskey_one_does_not():
    connection = memory_database()
    instance(connection, "g.test", family="gotosocial")
    instance(connection, "k.test", family="misskey")
    for name in ("x.test", "a.x.test", "b.a.x.test", "ax.test"):
        connection.execute("INSERT INTO domains (name) VALUES (?)", (name,))
    rule(connection, "g.test", "x.test", "silence")
    rule(connection, "k.test", "a.x.test", "suspend")
    rule(connection, "w.test", "*.x.test", "silence", kind="wildcard")  # the same base as g's
    targets, pairs = resolve_rules(connection)
    assert sorted(pairs) == [
        ("g.test", "a.x.test", "silence", "silence", "parent"),
        ("g.test", "b.a.x.test", "silence", "silence", "parent"),
        ("g.test", "x.test", "silence", "silence", "exact"),
        ("k.test", "a.x.test", "suspend", "suspend", "exact"),
        ("w.test", "a.x.test", "silence", "silence", "wildcard"),
        ("w.test", "b.a.x.test", "silence", "silence", "wildcard"),
        ("w.test", "x.test", "silence", "silence", "wildcard"),
    ]
    assert sorted(targets) == ["a.x.test", "b.a.x.test", "x.test"]
    assert sorted(targets["x.test"].blockers) == ["g.test", "w.test"]


def test_a_suffix_rule_and_a_digest_of_an_unknown_name():
    connection = memory_database()
    for name in ("one.example", "two.one.example", "example", "other.test"):
        connection.execute("INSERT INTO domains (name) VALUES (?)", (name,))
    rule(connection, "s.test", ".example", "silence", kind="suffix")
    rule(connection, "s.test", "*", "suspend", kind="wildcard")  # no base: covers nothing
    rule(connection, "s.test", "u*n.test", kind="masked", digest=digest_of("unknown.test"))
    rule(connection, "t.test", "*.one.example", "silence", kind="wildcard")
    targets, pairs = resolve_rules(connection)
    assert sorted(pairs) == [
        ("s.test", "example", "silence", "silence", "suffix"),
        ("s.test", "one.example", "silence", "silence", "suffix"),
        ("s.test", "two.one.example", "silence", "silence", "suffix"),
        ("t.test", "one.example", "silence", "silence", "wildcard"),
        ("t.test", "two.one.example", "silence", "silence", "wildcard"),
    ]
    assert sorted(targets) == ["example", "one.example", "two.one.example"]
    assert dict(targets["example"].via) == {"suffix": 1}
    build_block_tables(connection)
    # via_rule: the wildcard and the suffix rule both cover two.one.example.
    assert table(connection, "SELECT domain, via_rule FROM blocked_domains ORDER BY domain") == [
        ("example", 1),
        ("one.example", 2),
        ("two.one.example", 2),
    ]


def test_mutual_pairs_keep_each_sides_strongest_severity():
    pairs = [
        ("a.test", "b.test", "suspend", "x", "exact"),
        ("a.test", "b.test", "silence", "x", "exact"),  # weaker, after: a's stays suspend
        ("b.test", "a.test", "silence", "x", "exact"),
        ("b.test", "a.test", "reject_media", "x", "exact"),
        ("c.test", "a.test", "suspend", "x", "exact"),  # one way only
        ("e.test", "d.test", "silence", "x", "exact"),
        ("e.test", "d.test", "suspend", "x", "wildcard"),  # stronger, after: e's is suspend
        ("d.test", "e.test", "other", "x", "exact"),
    ]
    assert _mutual_pairs(pairs) == [
        ("a.test", "b.test", "suspend", "silence"),
        ("d.test", "e.test", "other", "suspend"),
    ]


def history_world():
    """Crawls 1, 2, 4 and 5 (ids with a gap), six servers.

    - a: alive in 1 (mastodon 100/40), 2 (hometown 110/-), 4 (mastodon 120/50).
    - b: alive in 1 (misskey 50/10), unreachable in 2, alive in 4 (misskey 60/12): back.
    - c: alive in 2 (no software; its instance row says lemmy; -/5), unreachable in 4: gone.
    - d: alive in 4 (no software, no instance row: unknown; 7/3).
    - e: unreachable in 1 and 2, alive in 4 (sharkey, no counts): new in 4, never back.
    - f: unreachable in 5 only.
    """
    connection = memory_database()
    crawl(connection, 1, "2026-01-05T10:00:00Z", peer_edges_added=5, peer_edges_removed=4)
    crawl(connection, 2, "2026-01-12T10:00:00Z")
    crawl(connection, 4, "2026-01-26T10:00:00Z", peer_edges_added=3)
    crawl(connection, 5, "2026-02-02T10:00:00Z", finished_at=None, peer_edges_added=0,
          peer_edges_removed=0)  # fmt: skip
    instance(connection, "c.test", family="lemmy")
    stats(connection, "a.test", 1, software="mastodon", users_total=100, users_active_month=40)
    stats(connection, "a.test", 2, software="hometown", users_total=110)
    stats(connection, "a.test", 4, software="mastodon", users_total=120, users_active_month=50)
    stats(connection, "b.test", 1, software="misskey", users_total=50, users_active_month=10)
    stats(connection, "b.test", 2, "unreachable")
    stats(connection, "b.test", 4, software="misskey", users_total=60, users_active_month=12)
    stats(connection, "c.test", 2, users_active_month=5)
    stats(connection, "c.test", 4, "unreachable")
    stats(connection, "d.test", 4, users_total=7, users_active_month=3)
    stats(connection, "e.test", 1, "unreachable")
    stats(connection, "e.test", 2, "unreachable")
    stats(connection, "e.test", 4, software="sharkey")
    stats(connection, "f.test", 5, "unreachable")
    events = [(1, "added", 1), (1, "added", 1), (2, "added", 0), (2, "added", None),
              (2, "removed", 0), (2, "removed", 0), (2, "removed", 1), (2, "changed", 0),
              (2, "changed", 0), (2, "changed", 1)]  # fmt: skip
    for number, (crawl_id, event, first) in enumerate(events):
        connection.execute(
            "INSERT INTO block_events (blocker, blocked_pattern, event, crawl_id, "
            "first_observation) VALUES ('a.test', ?, ?, ?, ?)",
            (f"x{number}.test", event, crawl_id, first),
        )
    # Crawl 2 has no counters and crawl 4 no removal count: those come from the intervals,
    # which add 2 edges in crawl 2 and remove 1 in crawl 2 and 1 in crawl 4.
    peer(connection, "x.test", "y.test", 1)
    peer(connection, "y.test", "x.test", 1, 2)
    peer(connection, "x.test", "z.test", 2, 4)
    peer(connection, "y.test", "z.test", 2)
    peer(connection, "z.test", "x.test", 4)
    return connection


def test_history_tables_by_hand():
    connection = history_world()
    assert crawl_dates(connection) == {
        1: "2026-01-05",
        2: "2026-01-12",
        4: "2026-01-26",
        5: "2026-02-02",
    }
    assert build_history(connection) == "4 crawls, 7 crawl-family rows, uptime of 6 servers"
    assert_documented(connection, "platform_share_history", "crawl_changes", "instance_uptime")
    assert table(connection, "SELECT * FROM platform_share_history") == [
        # Crawl 1: 2 servers, 150 users, 50 active.
        (1, "2026-01-05", "mastodon", 1, 50.0, 100, 66.67, 40, 80.0, 0, 0),
        (1, "2026-01-05", "misskey", 1, 50.0, 50, 33.33, 10, 20.0, 0, 0),
        # Crawl 2: 2 servers, 110 users (a), 5 active (c).
        (2, "2026-01-12", "lemmy", 1, 50.0, 0, 0.0, 5, 100.0, 1, 0),
        (2, "2026-01-12", "mastodon", 1, 50.0, 110, 100.0, 0, 0.0, 0, 1),
        # Crawl 4: 4 servers, 187 users (120 + 60 + 7), 65 active (50 + 12 + 3).
        (4, "2026-01-26", "mastodon", 1, 25.0, 120, 64.17, 50, 76.92, 0, 0),
        (4, "2026-01-26", "misskey", 2, 50.0, 60, 32.09, 12, 18.46, 1, 1),
        (4, "2026-01-26", "unknown", 1, 25.0, 7, 3.74, 3, 4.62, 0, 0),
    ]
    # visited, answered, new, gone, back; rules added, first seen, removed, changed; edges.
    assert table(connection, "SELECT * FROM crawl_changes") == [
        (1, "2026-01-05", "2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z",
         3, 2, 2, 0, 0, 0, 2, 0, 0, 5, 4),
        (2, "2026-01-12", "2026-01-12T10:00:00Z", "2026-01-12T11:00:00Z",
         4, 2, 1, 1, 0, 2, 0, 3, 3, 2, 1),
        (4, "2026-01-26", "2026-01-26T10:00:00Z", "2026-01-26T11:00:00Z",
         5, 4, 2, 1, 1, 0, 0, 0, 0, 3, 1),
        # f's first visit failed: not gone (it never answered), 0 and not unknown.
        (5, "2026-02-02", "2026-02-02T10:00:00Z", None, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    ]  # fmt: skip
    # first crawl, last answered, crawls since first (4 crawls: 1, 2, 4, 5), visited, answered.
    assert table(connection, "SELECT * FROM instance_uptime") == [
        ("a.test", 1, 4, 4, 3, 3, 0.75, 1.0),
        ("b.test", 1, 4, 4, 3, 2, 0.5, 0.6667),
        ("c.test", 2, 2, 3, 2, 1, 0.3333, 0.5),
        ("d.test", 4, 4, 2, 1, 1, 0.5, 1.0),
        ("e.test", 1, 4, 4, 3, 1, 0.25, 0.3333),
        ("f.test", 5, None, 1, 1, 0, 0.0, 0.0),
    ]


def test_peer_edge_counts_come_from_the_counters_when_every_crawl_has_them():
    connection = memory_database()
    crawl(connection, 1, peer_edges_added=4, peer_edges_removed=1)
    peer(connection, "x.test", "y.test", 1, 1)  # what a scan would count: 1 added, 1 removed
    build_history(connection)
    # A crawl without observations: nothing visited, nothing new.
    assert table(connection, "SELECT * FROM crawl_changes") == [
        (1, "2026-01-05", "2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z",
         0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 1)
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("added", "removed", "expected"),
    [(None, 2, (1, 2)), (3, None, (3, 1)), (None, None, (1, 1))],
)
def test_a_missing_peer_edge_counter_comes_from_the_intervals(added, removed, expected):
    connection = memory_database()
    crawl(connection, 1, peer_edges_added=added, peer_edges_removed=removed)
    peer(connection, "x.test", "y.test", 1, 1)  # added and removed in crawl 1
    build_history(connection)
    assert table(connection, "SELECT peer_edges_added, peer_edges_removed FROM crawl_changes") == [
        expected
    ]


def test_a_crawl_without_peer_changes_or_counters_adds_and_removes_none():
    connection = memory_database()
    crawl(connection, 1)
    crawl(connection, 2)
    peer(connection, "x.test", "y.test", 1, 1)
    build_history(connection)
    assert table(connection, "SELECT peer_edges_added, peer_edges_removed FROM crawl_changes") == [
        (1, 1),
        (0, 0),
    ]


def test_history_of_an_empty_database():
    connection = memory_database()
    assert build_history(connection) == "0 crawls, 0 crawl-family rows, uptime of 0 servers"
    for name in ("platform_share_history", "crawl_changes", "instance_uptime"):
        assert table(connection, f"SELECT * FROM {name}") == []
