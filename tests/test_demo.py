"""`fediscope demo --no-serve` builds what the Quickstart promises: a crawl of the demo world
that equals the ground truth written next to the database."""

from __future__ import annotations

import json

from crawler.sandbox import Sandbox, SandboxConfig
from tests.support import rows, truth_blockers

#: `fediscope demo`'s default world size (the truth file holds its seed).
DEMO_INSTANCES = 1000


def test_demo_database_equals_its_truth_file(demo_db):
    truth_file = demo_db.with_suffix(".truth.json")
    assert truth_file.exists(), "the ground truth is written next to the database"
    truth = json.loads(truth_file.read_text())
    stored = {r["domain"]: r for r in rows(demo_db, "SELECT * FROM instances")}
    reached = {
        d: t
        for d, t in truth["instances"].items()
        if t["hops"] is not None and not (t["farm"] and stored[d]["status"] == "pending")
    }
    assert set(stored) - set(truth["instances"]) == set(), "the crawl invented domains"
    problems = []
    for domain, t in reached.items():
        row = stored[domain]
        want = (
            t["expected_status"],
            t["error_kind"] or t["opt_out"],
            t["family"],
            t["users_total"],
        )
        got = (row["status"], row["status_reason"], row["family"], row["users_total"])
        if got != want:
            problems.append(f"{domain}: {got} != {want}")
    assert problems == []
    alive = [t for t in reached.values() if t["expected_status"] == "alive"]
    assert len(alive) >= 500 and len({t["family"] for t in alive}) >= 6
    peers = {(r["source"], r["target"]) for r in rows(demo_db, "SELECT * FROM peer_edges")}
    assert peers == {(d, p) for d, t in reached.items() for p in t["peers"]}
    blocks = {
        (r["blocker"], r["blocked_pattern"], r["severity_raw"])
        for r in rows(demo_db, "SELECT * FROM blocks WHERE active = 1")
    }
    # The demo crawls epochs 0 and 1; a list readable at epoch 0 that turned unreadable at epoch 1
    # keeps its last-known rules active (an unreadable list is not a removal), so those servers'
    # rules are the first crawl's: the same world's truth at epoch 0.
    before = Sandbox(SandboxConfig(instances=DEMO_INSTANCES, seed=truth["seed"])).truth()
    assert before["seeds"] == truth["seeds"] and truth["epoch"] == 1
    became_unreadable = {
        d
        for d, t in reached.items()
        if t["blocks_visibility"] != "public"
        and before["instances"].get(d, {}).get("blocks_visibility") == "public"
    }
    assert became_unreadable == {
        c["domain"] for c in truth["changes"] if c["change"] == "blocks_restricted"
    }
    last_known = {
        d: before["instances"][d] if d in became_unreadable else t for d, t in reached.items()
    }
    assert blocks == {
        (d, b["pattern"], b["severity_raw"]) for d, t in last_known.items() for b in t["blocks"]
    }
    families = {r["family"]: r["servers"] for r in rows(demo_db, "SELECT * FROM platform_share")}
    want_families: dict[str, int] = {}
    # Shares are over the servers of a known family: one whose NodeInfo names no software and
    # whose API no probe recognised (truth family None) is alive but in no family's row.
    for t in alive:
        if t["family"] is not None:
            want_families[t["family"]] = want_families.get(t["family"], 0) + 1
    assert families == want_families
    blocked = {r["domain"]: r["blockers"] for r in rows(demo_db, "SELECT * FROM blocked_domains")}
    # (a list that turned unreadable still blocks with its last-known rules)
    last_truth = {**truth, "instances": {**truth["instances"], **last_known}}
    want_blocked = {d: len(b) for d, b in truth_blockers(last_truth).items()}
    # (rows with no certain blocker carry masked-name candidates only)
    assert {d: n for d, n in blocked.items() if n and d in truth["instances"]} == want_blocked
