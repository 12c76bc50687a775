"""The store's history logic on hand-computed cases: block events and peer intervals."""

from __future__ import annotations

import sqlite3

import pytest

from crawler.domains import SANDBOX
from crawler.observation import BlockRule
from crawler.store.blocks import apply_block_list
from crawler.store.peers import replace_peers
from crawler.store.schema import open_database


@pytest.fixture
def connection(tmp_path) -> sqlite3.Connection:
    db = open_database(str(tmp_path / "store.db"))
    return db.conn


def rule(pattern: str, raw: str = "suspend", reason: str | None = None) -> BlockRule:
    severity = {"suspend": "suspend", "silence": "silence", "reject": "suspend"}.get(raw, "other")
    blocked = SANDBOX.check(pattern)[0]
    return BlockRule(
        pattern, severity, raw, blocked, None, reason, "clear" if blocked else "masked"
    )


def events(connection: sqlite3.Connection, crawl_id: int) -> set[tuple]:
    return set(
        connection.execute(
            "SELECT blocked_pattern, event, severity_raw, previous_severity, reason, "
            "previous_reason FROM block_events WHERE crawl_id = ?",
            (crawl_id,),
        )
    )


def active(connection: sqlite3.Connection) -> set[tuple]:
    return set(
        connection.execute(
            "SELECT blocked_pattern, severity_raw, reason FROM blocks WHERE active = 1"
        )
    )


def test_first_reading_adds_every_rule_and_marks_first_observation(connection):
    counts = apply_block_list(connection, "a.test", [rule("x.test"), rule("y.test")], 1, "t1")
    assert counts == {"added": 2, "removed": 0, "changed": 0}
    flags = {r[0] for r in connection.execute("SELECT first_observation FROM block_events")}
    assert flags == {1}


def test_added_removed_and_changed_between_two_readings(connection):
    apply_block_list(
        connection,
        "a.test",
        [rule("keep.test"), rule("drop.test"), rule("worse.test", "silence"), rule("why.test")],
        1,
        "t1",
    )
    second = [
        rule("keep.test"),
        rule("worse.test", "suspend"),
        rule("why.test", reason="spam"),
        rule("new.test"),
    ]
    counts = apply_block_list(connection, "a.test", second, 2, "t2")
    assert counts == {"added": 1, "removed": 1, "changed": 2}
    assert events(connection, 2) == {
        ("new.test", "added", "suspend", None, None, None),
        ("drop.test", "removed", "suspend", None, None, None),
        ("worse.test", "changed", "suspend", "silence", None, None),
        ("why.test", "changed", "suspend", "suspend", "spam", None),
    }
    assert active(connection) == {
        ("keep.test", "suspend", None),
        ("worse.test", "suspend", None),
        ("why.test", "suspend", "spam"),
        ("new.test", "suspend", None),
    }
    first_seen = connection.execute(
        "SELECT first_seen FROM blocks WHERE blocked_pattern = 'worse.test'"
    ).fetchone()
    assert first_seen == ("t1",), "a changed rule keeps its first_seen"


def test_same_list_again_changes_nothing_but_last_seen(connection):
    rules = [rule("x.test"), rule("exa***le.test")]
    apply_block_list(connection, "a.test", rules, 1, "t1")
    assert apply_block_list(connection, "a.test", rules, 2, "t2") == {
        "added": 0,
        "removed": 0,
        "changed": 0,
    }
    assert {r[0] for r in connection.execute("SELECT last_seen FROM blocks")} == {"t2"}


def test_removed_then_readded_rule_is_reactivated_not_duplicated(connection):
    apply_block_list(connection, "a.test", [rule("x.test")], 1, "t1")
    apply_block_list(connection, "a.test", [], 2, "t2")
    apply_block_list(connection, "a.test", [rule("x.test")], 3, "t3")
    assert connection.execute("SELECT count(*), sum(active) FROM blocks").fetchone() == (1, 1)
    kinds = [r[0] for r in connection.execute("SELECT event FROM block_events ORDER BY id")]
    assert kinds == ["added", "removed", "added"]


def test_one_pattern_under_several_mrf_actions(connection):
    # Pleroma can list one host under reject and media_removal at once: two rules.
    apply_block_list(
        connection, "p.test", [rule("x.test", "reject"), rule("x.test", "media_removal")], 1, "t1"
    )
    counts = apply_block_list(connection, "p.test", [rule("x.test", "reject")], 2, "t2")
    assert counts == {"added": 0, "removed": 1, "changed": 0}
    assert active(connection) == {("x.test", "reject", None)}


def test_peer_intervals_record_additions_and_removals(connection):
    assert replace_peers(connection, 1, [5, 3, 4], 1) == (3, 0)
    assert replace_peers(connection, 1, [3, 4, 6], 2) == (1, 1)
    assert replace_peers(connection, 1, [3, 4, 6], 3) == (0, 0)
    rows = set(
        connection.execute(
            "SELECT target_id, first_crawl, removed_crawl FROM peer_intervals WHERE source_id = 1"
        )
    )
    assert rows == {(3, 1, None), (4, 1, None), (5, 1, 2), (6, 2, None)}
    # The graph as of crawl 1: first_crawl <= 1 and not removed by then.
    as_of_1 = {
        r[0]
        for r in connection.execute(
            "SELECT target_id FROM peer_intervals WHERE first_crawl <= 1 "
            "AND (removed_crawl IS NULL OR removed_crawl > 1)"
        )
    }
    assert as_of_1 == {3, 4, 5}
