"""Two crawls of a sandbox whose block lists change in between: the events must be exactly
the changes the sandbox made, and a list that turned unreadable must not read as removals."""

from __future__ import annotations

from datetime import timedelta

import pytest
import pytest_asyncio

from crawler.sandbox import Sandbox, SandboxConfig
from tests.support import PATIENT, QUICK_PACE, canned, crawl_via, rows

pytestmark = pytest.mark.asyncio(loop_scope="module")

EVENT_OF = {
    "block_added": "added",
    "block_removed": "removed",
    "block_severity": "changed",
    "block_reason": "changed",
}


#: Hosts that hang drop the connection after a second instead of waiting for the crawler's
#: timeout, so the timeouts (PATIENT) can be generous: every visit ends the same way on every run.
WORLD = SandboxConfig(instances=400, seed=7, hang_seconds=1.0, pace=QUICK_PACE)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def two_crawls(tmp_path_factory):
    sandbox = Sandbox(WORLD)
    port = await sandbox.start()
    db = tmp_path_factory.mktemp("history") / "history.db"
    try:
        first = await crawl_via(port, db, sandbox.seeds, **PATIENT)
        # Which farm hosts the first crawl let under the farm cap depends on the order in
        # which visits were parsed; the second crawl picks by stored order, so read it now.
        visited_first = {
            r["domain"] for r in rows(db, "SELECT domain FROM instances WHERE status != 'pending'")
        }
        sandbox.set_epoch(1)
        # The epoch stands for time passing: nothing read before may be reused as still fresh.
        second = await crawl_via(
            port, db, sandbox.seeds, recrawl_after=timedelta(0), revalidate=True, **PATIENT
        )
    finally:
        await sandbox.stop()
    return sandbox.truth(), db, first, second, visited_first


@pytest.fixture(scope="module")
def truth_before():
    """The same world's truth at epoch 0, what the first crawl saw."""
    return Sandbox(WORLD).truth()


def rule_of(truth, blocker: str, pattern: str) -> dict:
    (rule,) = [r for r in truth["instances"][blocker]["blocks"] if r["pattern"] == pattern]
    return rule


async def test_second_crawl_events_are_exactly_the_sandbox_changes(two_crawls):
    truth, db, first, second, _visited = two_crawls
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


async def test_severity_and_reason_changes_are_recorded_with_before_and_after(
    two_crawls, truth_before
):
    truth, db, _first, second, _visited = two_crawls
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
            before = rule_of(truth_before, change["domain"], change["pattern"])
            after = rule_of(truth, change["domain"], change["pattern"])
            assert (before["severity_raw"], after["severity_raw"]) == (change["old"], change["new"])
            assert event[0]["severity_raw"] == change["new"]
            assert (event[0]["severity"], event[0]["previous_severity"]) == (
                after["severity"],
                before["severity"],
            )
            assert before["severity"] != after["severity"]
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


async def test_a_list_that_turned_unreadable_is_not_a_removal(two_crawls, truth_before):
    truth, db, _first, second, _visited = two_crawls
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
        readable_before = len(truth_before["instances"][domain]["blocks"])
        assert readable_before > 0
        assert still[0]["n"] == readable_before, "the last readable list stays the best knowledge"


async def test_peer_changes_become_intervals(two_crawls, truth_before):
    truth, db, _first, second, visited_first = two_crawls
    changed = {c["domain"] for c in truth["changes"] if c["change"] == "peers_changed"}
    assert changed
    for domain in changed:
        current = {
            r["target"] for r in rows(db, "SELECT target FROM peer_edges WHERE source = ?", domain)
        }
        assert current == set(truth["instances"][domain]["peers"])
    # Which farm hosts fit under the farm cap depends on visit order, so farms are left out.
    farms = {d for d, i in truth["instances"].items() if i.get("farm")}
    moved = [
        r
        for r in rows(
            db,
            "SELECT d.name AS source FROM peer_intervals p JOIN domains d ON d.id = p.source_id"
            " WHERE p.removed_crawl = ? OR p.first_crawl = ?",
            second.crawl_id,
            second.crawl_id,
        )
        if r["source"] not in farms
    ]
    # Every list that differs between the epochs' truths, not only the logged peer changes: a
    # Mastodon list also drops a domain its server newly suspends.
    differing = sum(
        len(set(before["peers"]) ^ set(truth["instances"][domain]["peers"]))
        for domain, before in truth_before["instances"].items()
        if domain in truth["instances"] and domain not in farms
    )
    logged = [c for c in truth["changes"] if c["change"] == "peers_changed"]
    assert differing > sum(len(c["added"]) + len(c["removed"]) for c in logged)
    assert len(moved) == differing
    # Crawl 1 wrote every list it read once (farm hosts: only those within the cap were read).
    first_lists = sum(
        len(t["peers"])
        for d, t in truth_before["instances"].items()
        if t["hops"] is not None and (not t["farm"] or d in visited_first)
    )
    unchanged = rows(db, "SELECT count(*) AS n FROM peer_intervals WHERE first_crawl = 1")
    assert unchanged[0]["n"] == first_lists, "unchanged lists are not written again"


def expected_history(truth_before, truth_after, domain: str) -> tuple[list, list]:
    """block_history rows for `domain` from the two truths: (second crawl's, first crawl's)."""

    def row(event, rule, previous=None, first=0):
        return (rule["blocker"], event, rule["severity"], previous, rule["reason"], first)

    first = [
        row("added", {**rule, "blocker": blocker}, first=1)
        for blocker, t in truth_before["instances"].items()
        for rule in t["blocks"]
        if rule["blocked"] == domain
    ]
    second = []
    for change in truth_after["changes"]:
        if change["change"] not in EVENT_OF:
            continue
        blocker, pattern = change["domain"], change["pattern"]
        truth = truth_before if change["change"] == "block_removed" else truth_after
        rule = {**rule_of(truth, blocker, pattern), "blocker": blocker}
        if rule["blocked"] != domain:
            continue
        previous = None
        if EVENT_OF[change["change"]] == "changed":
            previous = rule_of(truth_before, blocker, pattern)["severity"]
        second.append(row(EVENT_OF[change["change"]], rule, previous))
    return second, first


async def test_block_history_query_lists_each_event_newest_first(two_crawls, truth_before):
    truth, db, _first, _second, _visited = two_crawls
    domains = {
        c["pattern"]
        for c in truth["changes"]
        if c["change"] in EVENT_OF and "*" not in c["pattern"]
    }
    assert len(domains) >= 8
    for domain in sorted(domains):
        second, first = expected_history(truth_before, truth, domain)
        got = [
            (
                r["blocker"],
                r["event"],
                r["severity"],
                r["previous_severity"],
                r["reason"],
                r["first_observation"],
            )
            for r in await canned(db, "block_history", domain=domain.upper())
        ]
        assert sorted(got[: len(second)]) == sorted(second), domain
        assert sorted(got[len(second) :]) == sorted(first), domain
        stamps = [r["at"] for r in await canned(db, "block_history", domain=domain)]
        assert stamps == sorted(stamps, reverse=True)


async def test_instance_history_query_is_one_row_per_crawl_as_the_truths_say(
    two_crawls, truth_before
):
    truth, db, _first, _second, _visited = two_crawls
    restricted = next(c["domain"] for c in truth["changes"] if c["change"] == "blocks_restricted")
    grown = next(c["domain"] for c in truth["changes"] if c["change"] == "peers_changed")
    for domain in (restricted, grown):
        want = []
        for crawl_id, t in ((1, truth_before), (2, truth)):
            entry = t["instances"][domain]
            readable = entry["blocks_visibility"] == "public"
            peers_read = entry["peers_visibility"] == "public"
            want.append(
                {
                    "crawl_id": crawl_id,
                    "status": entry["expected_status"],
                    "software": entry["software"],
                    "version": entry["version"],
                    "users_total": entry["users_total"],
                    "users_active_month": entry["users_active_month"],
                    "local_posts": entry["local_posts"],
                    "peers_count": len(entry["peers"]) if peers_read else None,
                    "blocks_count": len(entry["blocks"]) if readable else None,
                }
            )
        got = await canned(db, "instance_history", domain=domain)
        assert [{k: r[k] for k in want[0]} for r in got] == want
    assert (
        truth_before["instances"][grown]["users_total"] != truth["instances"][grown]["users_total"]
    ), "the world did not grow between the crawls"
