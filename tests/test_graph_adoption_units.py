"""Shared block-list adoption (graph.adoption) on tiny hand-built databases: which servers
apply which imported list, and how much of it, against figures worked out by hand."""

from __future__ import annotations

from crawler.blocks import digest_of
from graph.adoption import (
    ListEntry,
    build_shared_list_adoption,
    compute_adoption,
    entry_covered,
    shared_lists,
)
from tests.graph_db import (
    assert_documented,
    crawl,
    digest_rule,
    instance,
    memory_database,
    rule,
    table,
)

# Shared-list adoption. The list `tier0`: bad.test, spam.test, *.evil.test (wide), a.test and
# the masked `b*d.test` (not an entry); the list `tier1`: sub.farm.test only.
LISTS = {
    "tier0": [
        ("bad.test", "bad.test", "clear"),
        ("spam.test", "spam.test", "clear"),
        ("*.evil.test", None, "wildcard"),
        ("a.test", "a.test", "clear"),
        ("b*d.test", None, "masked"),
    ],
    "tier1": [("sub.farm.test", "sub.farm.test", "clear")],
}


def adoption_world():
    """Readable servers: a.test (mastodon, 50 active), c.test (misskey, 10), e.test (pleroma,
    2), g.test (gotosocial, none). Not read: n.test (list not public), x.test (unreachable)."""
    connection = memory_database()
    crawl(connection, 3, "2026-01-19T10:00:00Z")
    readable = [("a.test", "mastodon", 50), ("c.test", "misskey", 10), ("e.test", "pleroma", 2),
                ("g.test", "gotosocial", None)]  # fmt: skip
    for name, family, active in readable:
        instance(connection, name, family=family, users_active_month=active,
                 blocks_visibility="public")  # fmt: skip
    instance(connection, "n.test", family="mastodon", users_active_month=1000)
    instance(connection, "x.test", status="unreachable", family="mastodon",
             blocks_visibility="public")  # fmt: skip
    for source, entries in LISTS.items():
        connection.execute(
            "INSERT INTO imported_blocklists (source, rows) VALUES (?, ?)", (source, len(entries))
        )
        for pattern, blocked, kind in entries:
            connection.execute(
                "INSERT INTO imported_blocks (source, blocked_pattern, blocked, kind) "
                "VALUES (?, ?, ?, ?)",
                (source, pattern, blocked, kind),
            )
    # a.test (mastodon): bad.test in clear; evil.test in clear covers *.evil.test (Mastodon
    # rules cover subdomains); farm.test covers sub.farm.test (parent).
    rule(connection, "a.test", "bad.test")
    rule(connection, "a.test", "evil.test")
    rule(connection, "a.test", "farm.test")
    # c.test (misskey): evil.test in clear does not cover *.evil.test; spam.test's digest does
    # cover spam.test; a removed rule covers nothing.
    rule(connection, "c.test", "evil.test")
    digest_rule(connection, "c.test", "spam.test")
    rule(connection, "c.test", "bad.test", active=0)
    # e.test (pleroma): *.evil.test by a wildcard; a.test by a suffix rule over `test`; a mask
    # that fits bad.test (a candidate) covers nothing.
    rule(connection, "e.test", "*.evil.test", kind="wildcard")
    rule(connection, "e.test", "*.test", kind="suffix")
    rule(connection, "e.test", "b*d.test", kind="masked")
    # g.test (gotosocial): sub.farm.test by a parent rule on farm.test, a.test in clear.
    rule(connection, "g.test", "farm.test")
    rule(connection, "g.test", "a.test")
    # n.test's and x.test's lists were not read in this crawl: they count for nobody.
    rule(connection, "n.test", "bad.test")
    rule(connection, "x.test", "bad.test")
    return connection


def test_shared_lists_and_entry_matching():
    connection = adoption_world()
    lists = shared_lists(connection)
    assert [(s.source, [e.pattern for e in s.entries], s.masked_entries) for s in lists] == [
        ("tier0", ["*.evil.test", "a.test", "bad.test", "spam.test"], 1),
        ("tier1", ["sub.farm.test"], 0),
    ]
    wide = lists[0].entries[0]
    assert wide == ListEntry("*.evil.test", "evil.test", True, digest_of("evil.test"))
    assert wide.keys() == ["evil.test", digest_of("evil.test"), "test"]
    clear = ("evil.test", "evil.test", None, "clear")
    assert entry_covered(wide, "mastodon", clear)
    assert entry_covered(wide, "gotosocial", clear)
    assert not entry_covered(wide, "misskey", clear)
    assert entry_covered(wide, "misskey", (None, "*.evil.test", None, "wildcard"))
    assert not entry_covered(wide, "misskey", (None, "e**l.test", None, "masked"))
    assert not entry_covered(wide, "misskey", ("other.test", "other.test", None, "clear"))
    named = lists[0].entries[2]
    assert named == ListEntry("bad.test", "bad.test", False, digest_of("bad.test"))
    assert not entry_covered(named, "misskey", (None, "b*d.test", None, "masked"))  # candidate
    assert not entry_covered(named, "misskey", ("other.test", "other.test", None, "clear"))
    assert entry_covered(named, "misskey", ("bad.test", "bad.test", None, "clear"))


def test_adoption_by_hand():
    connection = adoption_world()
    rows, published = compute_adoption(connection)
    got = {(r.source, r.server): (r.entries, r.covered, r.coverage) for r in rows}
    # tier0 has 4 entries; a.test's own name is not one of its entries.
    assert got == {
        ("tier0", "a.test"): (3, 2, round(2 / 3, 6)),  # bad, *.evil
        ("tier0", "c.test"): (4, 1, 0.25),  # spam (digest)
        ("tier0", "e.test"): (4, 4, 1.0),  # everything under the suffix `test`
        ("tier0", "g.test"): (4, 1, 0.25),  # a.test
        ("tier1", "a.test"): (1, 1, 1.0),
        ("tier1", "c.test"): (1, 0, 0.0),
        ("tier1", "e.test"): (1, 1, 1.0),
        ("tier1", "g.test"): (1, 1, 1.0),
    }
    assert [r.server for r in rows[:2]] == ["a.test", "a.test"]
    assert published == {"tier0": 4, "tier1": 1}


def test_adoption_tables_runs_and_summary_over_crawls():
    connection = adoption_world()
    assert build_shared_list_adoption(connection, 3) == (
        "2 shared lists, 8 list-server rows, 4 with coverage >= 90%"
    )
    assert_documented(
        connection, "shared_list_adoption", "shared_list_adoption_runs", "shared_list_summary"
    )
    assert table(connection, "SELECT * FROM shared_list_adoption WHERE server = 'c.test'") == [
        ("tier0", "c.test", 4, 1, 0.25, 3),
        ("tier1", "c.test", 1, 0, 0.0, 3),
    ]
    # servers, active users, >= 90% (servers, users), >= 50%, changes (none before).
    assert table(connection, "SELECT * FROM shared_list_summary ORDER BY source") == [
        (3, "2026-01-19", "tier0", 4, 1, 4, 4, 62, 1, 2, 2, 52, None, None),
        (3, "2026-01-19", "tier1", 1, 0, 1, 4, 62, 3, 52, 3, 52, None, None),
    ]
    # Crawl 4 changes nothing; in crawl 5 c.test's digest rule goes and g.test adds spam.test.
    crawl(connection, 4, "2026-01-26T10:00:00Z")
    build_shared_list_adoption(connection, 4)
    crawl(connection, 5, "2026-02-02T10:00:00Z")
    connection.execute("UPDATE blocks SET active = 0 WHERE blocker = 'c.test'")
    rule(connection, "g.test", "spam.test")
    build_shared_list_adoption(connection, 5)
    build_shared_list_adoption(connection, 5)  # the same crawl again replaces its rows
    assert table(
        connection,
        "SELECT server, covered, first_crawl, last_crawl FROM shared_list_adoption_runs "
        "WHERE source = 'tier0' ORDER BY server, first_crawl",
    ) == [
        ("a.test", 2, 3, 5),
        ("c.test", 1, 3, 4),
        ("c.test", 0, 5, 5),
        ("e.test", 4, 3, 5),
        ("g.test", 1, 3, 4),
        ("g.test", 2, 5, 5),
    ]
    assert table(
        connection,
        "SELECT crawl_id, source, servers_90, servers_50, servers_90_change, servers_50_change "
        "FROM shared_list_summary ORDER BY crawl_id, source",
    ) == [
        (3, "tier0", 1, 2, None, None),
        (3, "tier1", 3, 3, None, None),
        (4, "tier0", 1, 2, 0, 0),
        (4, "tier1", 3, 3, 0, 0),
        (5, "tier0", 1, 3, 0, 1),
        (5, "tier1", 3, 3, 0, 0),
    ]


def test_adoption_without_lists_or_readable_servers():
    connection = memory_database()
    assert compute_adoption(connection) == ([], {})
    assert build_shared_list_adoption(connection, None) == (
        "0 shared lists, 0 list-server rows, 0 with coverage >= 90%"
    )
    connection.execute("INSERT INTO imported_blocklists (source) VALUES ('empty')")
    assert compute_adoption(connection) == ([], {"empty": 0})
    assert table(connection, "SELECT * FROM shared_list_summary") == []


def test_adoption_edge_cases_by_hand():
    """Two Misskey servers, m1 and m2 (public lists), and five lists:
    - `masked`: two masked entries only (no entries to cover);
    - `orphan`: rows without an imported_blocklists row: one masked entry and `*.sfx.example`
      (a suffix entry);
    - `self`: a0.test, m2.test and x.test; `solo`: `*.evil.test` only; `ten`: t0..t9.test;
    - `zzz`: nobody.test, which nobody blocks.
    m1: clear rules on evil.test (on Misskey it does not cover *.evil.test), x.test, m2.test,
    t0..t8.test (9 of 10) and sfx.example. m2: wildcards *.evil.test, *.m2.test (its own name:
    never counted) and *.other.org (no list's key).
    """
    connection = memory_database()
    for name in ("m1.test", "m2.test"):
        instance(connection, name, family="misskey", blocks_visibility="public")
    lists = {
        "masked": [("a*b.test", None, "masked"), ("c*d.test", None, "masked")],
        "orphan": [("e*f.test", None, "masked"), ("*.sfx.example", None, "suffix")],
        "self": [
            ("a0.test", "a0.test", "clear"),
            ("m2.test", "m2.test", "clear"),
            ("x.test", "x.test", "clear"),
        ],
        "solo": [("*.evil.test", None, "wildcard")],
        "ten": [(f"t{n}.test", f"t{n}.test", "clear") for n in range(10)],
        "zzz": [("nobody.test", "nobody.test", "clear")],
    }
    for source, entries in lists.items():
        if source != "orphan":
            connection.execute("INSERT INTO imported_blocklists (source) VALUES (?)", (source,))
        connection.executemany(
            "INSERT INTO imported_blocks (source, blocked_pattern, blocked, kind) "
            "VALUES (?, ?, ?, ?)",
            [(source, *entry) for entry in entries],
        )
    for name in (
        "evil.test",
        "x.test",
        "m2.test",
        "sfx.example",
        *(f"t{n}.test" for n in range(9)),
    ):
        rule(connection, "m1.test", name)
    for pattern in ("*.evil.test", "*.m2.test", "*.other.org"):
        rule(connection, "m2.test", pattern, kind="wildcard")
    assert [(s.source, len(s.entries), s.masked_entries) for s in shared_lists(connection)] == [
        ("masked", 0, 2),
        ("self", 3, 0),
        ("solo", 1, 0),
        ("ten", 10, 0),
        ("zzz", 1, 0),
        ("orphan", 1, 1),
    ]
    rows, published = compute_adoption(connection)
    assert {(r.source, r.server): (r.entries, r.covered) for r in rows} == {
        ("masked", "m1.test"): (0, 0),
        ("masked", "m2.test"): (0, 0),
        ("self", "m1.test"): (3, 2),
        ("self", "m2.test"): (2, 0),  # its own name is no entry for it
        ("solo", "m1.test"): (1, 0),
        ("solo", "m2.test"): (1, 1),
        ("ten", "m1.test"): (10, 9),
        ("ten", "m2.test"): (10, 0),
        ("zzz", "m1.test"): (1, 0),
        ("zzz", "m2.test"): (1, 0),
        ("orphan", "m1.test"): (1, 0),  # sfx.example in clear: not its subdomains on Misskey
        ("orphan", "m2.test"): (1, 0),
    }
    assert published == {"masked": 0, "self": 2, "solo": 1, "ten": 9, "zzz": 0, "orphan": 0}
    # 90% exactly is adopted: ten (m1), solo (m2).
    assert build_shared_list_adoption(connection, None) == (
        "6 shared lists, 12 list-server rows, 2 with coverage >= 90%"
    )


def test_a_list_of_one_entry_alone():
    connection = memory_database()
    instance(connection, "m.test", family="misskey", blocks_visibility="public")
    instance(connection, "n.test", family="misskey", blocks_visibility="public")
    connection.execute("INSERT INTO imported_blocklists (source) VALUES ('one')")
    connection.execute(
        "INSERT INTO imported_blocks (source, blocked_pattern, blocked, kind) "
        "VALUES ('one', 'x.test', 'x.test', 'clear')"
    )
    rule(connection, "m.test", "x.test")
    rule(connection, "n.test", "x.test")
    rows, published = compute_adoption(connection)
    assert [(r.source, r.server, r.entries, r.covered) for r in rows] == [
        ("one", "m.test", 1, 1),
        ("one", "n.test", 1, 1),
    ]
    assert published == {"one": 1}


def test_lists_of_masked_entries_only_have_nothing_to_cover():
    connection = memory_database()
    instance(connection, "m.test", family="misskey", blocks_visibility="public")
    connection.execute("INSERT INTO imported_blocklists (source) VALUES ('masked')")
    connection.execute(
        "INSERT INTO imported_blocks (source, blocked_pattern, kind) "
        "VALUES ('masked', 'a*b.test', 'masked')"
    )
    rule(connection, "m.test", "a*b.test", kind="masked")
    rows, published = compute_adoption(connection)
    assert [(r.source, r.server, r.entries, r.covered, r.coverage) for r in rows] == [
        ("masked", "m.test", 0, 0, 0.0)
    ]
    assert published == {"masked": 0}
