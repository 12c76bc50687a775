"""who-blocks on a hand-built world: every kind of match, masked-name candidates with their
confidence, the strongest match per blocker, the coverage by reason and the printed answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crawler.blocks import digest_of, make_rule
from crawler.domains import SANDBOX
from crawler.observation import Observation
from crawler.store.writer import StoreWriter
from observatory.who_blocks import (
    Blocker,
    Coverage,
    InvalidQuery,
    WhoBlocksAnswer,
    format_answer,
    who_blocks,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
TARGET = "cat.test"


def server(domain, family, rules=(), users=None, visibility="public", peers=()):
    seen = Observation(domain, status="alive", software=family, software_raw=family)
    seen.family = family
    seen.counts = {"users_active_month": users}
    seen.peers, seen.peers_visibility = list(peers), "public"
    seen.blocks_visibility = visibility
    if visibility == "public":
        seen.blocks = [
            make_rule(SANDBOX, family, pattern, word, reason, digest)
            for pattern, word, reason, digest in rules
        ]
    return seen


@pytest.fixture
def world(tmp_path_factory):
    # Per test, not per module: mutmut attributes the code a fixture runs to the tests that
    # set it up, and a world costs a fraction of a second.
    db = tmp_path_factory.mktemp("who") / "who.db"
    writer = StoreWriter(str(db), SANDBOX)
    crawl_id, _ = writer.begin_crawl(["exact.test"], {}, NOW)
    servers = [
        # exact, and a masked rule of the same blocker and word: the exact one wins
        server(
            "exact.test",
            "pleroma",
            [("cat.test", "reject", "spam", None), ("c*t.test", "reject", None, None)],
            users=50,
            peers=["cat.test", "cot.test", "cut.test", "sub.cat.test", "dog.test"],
        ),
        # a digest proves the masked name is cat.test
        server("digest.test", "mastodon", [("c*t.test", "silence", None, digest_of(TARGET))], 40),
        # a digest of another name proves it is not cat.test
        server("other.test", "mastodon", [("c*t.test", "suspend", None, digest_of("cot.test"))]),
        # no digest: a candidate; c*t.test fits cat, cot and cut (three known names)
        server("masked.test", "mastodon", [("c*t.test", "suspend", "bots", None)], users=30),
        # fits only cat.test among known names of that shape: confidence 1
        server("narrow.test", "gotosocial", [("ca*.test", "suspend", None, None)], users=20),
        # a parent rule covers subdomains on Mastodon ...
        server("parent.test", "mastodon", [("test.cat.test", "suspend", None, None)], users=10),
        # ... a wildcard on Pleroma
        server("wild.test", "pleroma", [("*.cat.test", "reject", None, None)], users=5),
        # two words of one blocker are two lines
        server(
            "twice.test",
            "misskey",
            [("cat.test", "silenced", None, None), ("cat.test", "suspended", None, None)],
        ),
        # a rule against itself is no answer; for its subdomains the wildcard beats the
        # parent rule of the same word (the stronger match per blocker and word)
        server(
            "cat.test",
            "mastodon",
            [("cat.test", "suspend", None, None), ("*.cat.test", "suspend", None, None)],
            users=7,
        ),
        # one active user sorts before a blocker that gave no count
        server("wee.test", "mastodon", [("cat.test", "silence", None, None)], users=1),
        # lists that cannot be read, by reason, and software without a list
        server("r1.test", "mastodon", users=100, visibility="restricted"),
        server("r2.test", "mastodon", users=1, visibility="restricted"),
        server("h1.test", "mastodon", users=3, visibility="hidden"),
        server("d1.test", "mastodon", users=4, visibility="disallowed"),
        server("e1.test", "mastodon", users=2, visibility="error"),
        server("e2.test", "mastodon", users=1, visibility="unexpected"),  # counted as error
        server("u1.test", "lemmy", users=9, visibility="unsupported"),
        server("u2.test", "lemmy", visibility="unsupported"),
    ]
    for seen in servers:
        writer.record_visit(seen, crawl_id, 0, NOW, timedelta(hours=20))
    gone = Observation("down.test", status="unreachable", error_kind="connect")
    writer.record_visit(gone, crawl_id, 1, NOW, timedelta(hours=20))
    writer.finish_crawl(crawl_id, NOW)
    writer.close()
    return db


def lines(answer):
    return [
        (b.blocker, b.match, b.pattern, b.severity, b.severity_raw, b.confidence)
        for b in answer.blockers
    ]


def test_every_match_kind_with_candidates_and_their_confidence(world):
    answer = who_blocks(str(world), "CAT.test.")
    assert answer.domain == TARGET
    assert lines(answer) == [
        ("exact.test", "exact", "cat.test", "suspend", "reject", 1.0),
        ("digest.test", "digest", "c*t.test", "silence", "silence", 1.0),
        ("masked.test", "candidate", "c*t.test", "suspend", "suspend", round(1 / 3, 4)),
        ("narrow.test", "candidate", "ca*.test", "suspend", "suspend", 1.0),
        ("wild.test", "wildcard", "*.cat.test", "suspend", "reject", 1.0),  # covers its base
        ("wee.test", "exact", "cat.test", "silence", "silence", 1.0),
        # no user count sorts last; Misskey's "suspended" stops delivery: "other"
        ("twice.test", "exact", "cat.test", "silence", "silenced", 1.0),
        ("twice.test", "exact", "cat.test", "other", "suspended", 1.0),
    ]
    exact = answer.blockers[0]
    assert (exact.first_seen, exact.last_seen) == ("2026-01-01T00:00:00Z",) * 2
    assert (exact.software, exact.family, exact.users_active_month) == ("pleroma", "pleroma", 50)
    reasons = {b.blocker: b.reason for b in answer.blockers}
    assert reasons["exact.test"] == "spam" and reasons["masked.test"] == "bots"
    assert {b.blocker: b.users_active_month for b in answer.blockers}["digest.test"] == 40


def test_subdomains_parent_and_wildcard(world):
    # cat.test's rules against itself are no answer for cat.test, but cover its subdomains.
    own = ("cat.test", "wildcard", "*.cat.test", "suspend", "suspend", 1.0)
    wildcard = ("wild.test", "wildcard", "*.cat.test", "suspend", "reject", 1.0)
    parent = ("wee.test", "parent", "cat.test", "silence", "silence", 1.0)
    assert lines(who_blocks(str(world), "sub.cat.test")) == [own, wildcard, parent]
    deeper = lines(who_blocks(str(world), "x.test.cat.test"))
    assert deeper == [
        ("parent.test", "parent", "test.cat.test", "suspend", "suspend", 1.0),
        own,
        wildcard,
        parent,
    ]
    assert lines(who_blocks(str(world), "dog.test")) == []
    assert lines(who_blocks(str(world), "mastodon.social")) == []  # a real-network name


def test_coverage_by_reason_with_the_users_behind_each(world):
    coverage = who_blocks(str(world), "dog.test").coverage
    # alive with a readable list: exact, digest, other, masked, narrow, parent, wild, twice, cat
    assert (coverage.lists_read, coverage.users_read) == (10, 50 + 40 + 30 + 20 + 10 + 5 + 7 + 1)
    assert coverage.not_readable == {"restricted": 2, "hidden": 1, "disallowed": 1, "error": 2}
    assert coverage.users_not_readable == {
        "restricted": 101,
        "hidden": 3,
        "disallowed": 4,
        "error": 3,
    }
    assert coverage.lists_not_readable == 6
    assert (coverage.unsupported, coverage.users_unsupported) == (2, 9)
    # pending names from the peer list (cot, cut, sub.cat, dog) and a block rule
    # (test.cat.test), and the unreachable one
    assert coverage.not_reached == 6


COVERAGE = (
    "coverage: 10 block lists read (163 active users behind them); not readable: 6 "
    "[1 disallowed by robots.txt (4 active users), 2 unreadable (errors) (3 active users), "
    "1 hidden (not published) (3 active users), 2 restricted (shown to logged-in users only) "
    "(101 active users)]; "
    "2 instances run software that publishes no block list (9 active users); "
    "6 known instances not reached"
)


def test_the_printed_answer(world):
    text = format_answer(who_blocks(str(world), "x.test.cat.test"))
    assert text.splitlines() == [
        "x.test.cat.test: blocked by 4 instances (3 suspend, 1 silence)",
        "BLOCKER      SEVERITY  RAW      ACTIVE USERS  SOFTWARE  FIRST SEEN  MATCH",
        "parent.test  suspend   suspend  10            mastodon  2026-01-01  parent (test.cat.test)",  # noqa: E501
        "cat.test     suspend   suspend  7             mastodon  2026-01-01  wildcard (*.cat.test)",
        "wild.test    suspend   reject   5             pleroma   2026-01-01  wildcard (*.cat.test)",
        "wee.test     silence   silence  1             mastodon  2026-01-01  parent (cat.test)",
        COVERAGE,
    ]
    lines_ = format_answer(who_blocks(str(world), TARGET)).splitlines()
    # Candidates count among the instances of the summary (shown with their confidence).
    assert lines_[0] == "cat.test: blocked by 7 instances (4 suspend, 3 silence, 1 other)"
    assert lines_[2].split() == [
        "exact.test", "suspend", "reject", "50", "pleroma", "2026-01-01", "exact"
    ]  # fmt: skip
    assert lines_[4].endswith("candidate 33% (c*t.test)")
    assert lines_[5].endswith("candidate 100% (ca*.test)")
    assert lines_[8].split() == [
        "twice.test", "silence", "silenced", "misskey", "2026-01-01", "exact"
    ]  # fmt: skip
    assert lines_[10:] == ["public reasons:", "  exact.test: spam", "  masked.test: bots", COVERAGE]
    nobody = format_answer(who_blocks(str(world), "dog.test")).splitlines()
    assert nobody == ["dog.test: no published block list that we could read blocks it", COVERAGE]


def test_absent_values_print_as_blanks_and_an_empty_coverage_has_no_brackets():
    blocker = Blocker(
        "quiet.test", "silence", "limit", None, None, None, None, None, None, "exact", "x.test"
    )
    answer = WhoBlocksAnswer("x.test", [blocker], Coverage(lists_read=1, users_read=0))
    assert format_answer(answer).splitlines() == [
        "x.test: blocked by 1 instances (1 silence)",
        "BLOCKER     SEVERITY  RAW    ACTIVE USERS  SOFTWARE  FIRST SEEN  MATCH",
        "quiet.test  silence   limit                                      exact",
        "coverage: 1 block lists read (0 active users behind them); not readable: 0; "
        "0 instances run software that publishes no block list (0 active users); "
        "0 known instances not reached",
    ]


def test_to_dict_carries_the_summary_and_totals(world):
    data = who_blocks(str(world), "sub.cat.test").to_dict()
    assert data["summary"] == "sub.cat.test: blocked by 3 instances (2 suspend, 1 silence)"
    assert data["coverage"]["lists_not_readable"] == 6
    assert data["coverage"]["not_readable"]["disallowed"] == 1
    assert [b["blocker"] for b in data["blockers"]] == ["cat.test", "wild.test", "wee.test"]


@pytest.mark.parametrize("bad", ["", "not a domain", "-x-.test", "a..test"])
def test_invalid_names_are_refused(world, bad):
    with pytest.raises(InvalidQuery, match="is not a valid domain name"):
        who_blocks(str(world), bad)


def test_a_rule_against_a_whole_suffix(tmp_path):
    db = tmp_path / "suffix.db"
    writer = StoreWriter(str(db), SANDBOX)
    crawl_id, _ = writer.begin_crawl(["wide.test"], {}, NOW)
    blocker = server("wide.test", "pleroma", [(".test", "reject", None, None)], users=2)
    writer.record_visit(blocker, crawl_id, 0, NOW, timedelta(hours=20))
    writer.finish_crawl(crawl_id, NOW)
    writer.close()
    assert lines(who_blocks(str(db), "any.test")) == [
        ("wide.test", "suffix", ".test", "suspend", "reject", 1.0)
    ]
