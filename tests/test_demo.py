"""`fediscope demo --no-serve` builds what the Quickstart promises: a crawl of the demo world
that equals the ground truth written next to the database."""

from __future__ import annotations

import json

from tests.support import rows, truth_blockers


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
    assert blocks == {
        (d, b["pattern"], b["severity_raw"]) for d, t in reached.items() for b in t["blocks"]
    }
    families = {r["family"]: r["instances"] for r in rows(demo_db, "SELECT * FROM platform_share")}
    want_families: dict[str, int] = {}
    for t in alive:
        want_families[t["family"]] = want_families.get(t["family"], 0) + 1
    assert families == want_families
    blocked = {r["domain"]: r["blockers"] for r in rows(demo_db, "SELECT * FROM blocked_domains")}
    want_blocked = {d: len(b) for d, b in truth_blockers(truth).items()}
    # (rows with no certain blocker carry masked-name candidates only)
    assert {d: n for d, n in blocked.items() if n and d in truth["instances"]} == want_blocked
