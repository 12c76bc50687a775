"""Two crawls of a sandbox whose block lists change in between: the events must be exactly
the changes the sandbox made, and a list that turned unreadable must not read as removals."""

from __future__ import annotations

from datetime import timedelta

import pytest
import pytest_asyncio

from crawler.sandbox import Sandbox, SandboxConfig
from tests.support import crawl_via, rows

pytestmark = pytest.mark.asyncio(loop_scope="module")

EVENT_OF = {
    "block_added": "added",
    "block_removed": "removed",
    "block_severity": "changed",
    "block_reason": "changed",
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def two_crawls(tmp_path_factory):
    sandbox = Sandbox(SandboxConfig(instances=400, seed=7))
    port = await sandbox.start()
    db = tmp_path_factory.mktemp("history") / "history.db"
    try:
        first = await crawl_via(port, db, sandbox.seeds)
        sandbox.set_epoch(1)
        second = await crawl_via(port, db, sandbox.seeds, recrawl_after=timedelta(0))
    finally:
        await sandbox.stop()
    return sandbox.truth(), db, first, second


async def test_second_crawl_events_are_exactly_the_sandbox_changes(two_crawls):
    truth, db, first, second = two_crawls
    assert second.crawl_id == first.crawl_id + 1
    expected = {
        (c["domain"], c["pattern"], EVENT_OF[c["change"]])
        for c in truth["changes"]
        if c["change"] in EVENT_OF
    }
    assert expected, "the sandbox made no block changes"
    got = {
        (r["blocker"], r["blocked_pattern"], r["event"])
        for r in rows(db, "SELECT * FROM block_events WHERE crawl_id = ?", second.crawl_id)
    }
    assert got == expected


async def test_severity_and_reason_changes_are_recorded_with_before_and_after(two_crawls):
    truth, db, _first, second = two_crawls
    for change in truth["changes"]:
        if change["change"] not in ("block_severity", "block_reason"):
            continue
        event = rows(
            db,
            "SELECT * FROM block_events WHERE crawl_id = ? AND blocker = ? AND blocked_pattern = ?",
            second.crawl_id,
            change["domain"],
            change["pattern"],
        )
        assert len(event) == 1
        if change["change"] == "block_severity":
            assert event[0]["severity_raw"] == change["new"]
            assert event[0]["previous_severity"] is not None
        else:
            assert (event[0]["reason"], event[0]["previous_reason"]) == (
                change["new"],
                change["old"],
            )
        current = rows(
            db,
            "SELECT first_crawl, active FROM blocks WHERE blocker = ? AND blocked_pattern = ?",
            change["domain"],
            change["pattern"],
        )
        assert current == [{"first_crawl": 1, "active": 1}], "a change keeps the rule's history"


async def test_a_list_that_turned_unreadable_is_not_a_removal(two_crawls):
    truth, db, _first, second = two_crawls
    restricted = [c["domain"] for c in truth["changes"] if c["change"] == "blocks_restricted"]
    assert restricted
    for domain in restricted:
        assert rows(db, "SELECT blocks_visibility FROM instances WHERE domain = ?", domain) == [
            {"blocks_visibility": "restricted"}
        ]
        assert (
            rows(
                db,
                "SELECT * FROM block_events WHERE blocker = ? AND crawl_id = ?",
                domain,
                second.crawl_id,
            )
            == []
        )
        still = rows(
            db, "SELECT count(*) AS n FROM blocks WHERE blocker = ? AND active = 1", domain
        )
        assert still[0]["n"] > 0, "the last readable list stays the best knowledge"


async def test_peer_changes_become_intervals(two_crawls):
    truth, db, _first, second = two_crawls
    changed = {c["domain"] for c in truth["changes"] if c["change"] == "peers_changed"}
    assert changed
    for domain in changed:
        current = {
            r["target"] for r in rows(db, "SELECT target FROM peer_edges WHERE source = ?", domain)
        }
        assert current == set(truth["instances"][domain]["peers"])
    moved = rows(
        db,
        "SELECT count(*) AS n FROM peer_intervals WHERE removed_crawl = ? OR first_crawl = ?",
        second.crawl_id,
        second.crawl_id,
    )
    assert moved[0]["n"] > 0
    unchanged = rows(db, "SELECT count(*) AS n FROM peer_intervals WHERE first_crawl = 1")
    assert unchanged[0]["n"] > 1000, "unchanged lists are not written again"
