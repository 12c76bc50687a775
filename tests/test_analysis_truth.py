"""The new analysis tables on the demo database: shares against the sandbox truth, determinism."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections import defaultdict

from graph.analyze import analyze
from tests.support import crawler_family, rows

DERIVED = [
    "platform_share_history", "crawl_changes", "instance_uptime", "concentration",
    "weekly_activity", "weekly_activity_totals", "blocked_domains", "blocked_reach",
    "block_camps", "block_camp_members", "severed_links", "instance_severed_links",
    "version_share", "platform_share", "instance_metrics", "block_edges", "mutual_blocks",
]  # fmt: skip


def test_latest_platform_shares_match_the_truth(demo_db):
    truth = json.loads(demo_db.with_suffix(".truth.json").read_text())["instances"]
    (last,) = rows(demo_db, "SELECT max(id) AS id FROM crawls")
    visited = {r["domain"] for r in rows(demo_db, "SELECT domain FROM instance_stats "
               "WHERE crawl_id = ?", last["id"])}  # fmt: skip
    reachable = {d for d, t in truth.items() if t["expected_status"] == "alive"
                 and t["hops"] is not None and not t["farm"]}  # fmt: skip
    assert reachable <= visited
    want: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for domain, t in truth.items():
        if t["expected_status"] == "alive" and domain in visited:
            # The family table is the crawler's (the sandbox calls Fedired its own family, the
            # crawler files it under misskey); what is checked here is the per-crawl sums.
            entry = want[crawler_family(t) or "unknown"]
            entry[0] += 1
            entry[1] += t["users_total"] or 0
            entry[2] += t["users_active_month"] or 0
    got = {
        r["family"]: [r["servers"], r["users"], r["active_users"]]
        for r in rows(
            demo_db, "SELECT * FROM platform_share_history WHERE crawl_id = ?", last["id"]
        )
    }
    assert got == dict(want)
    crawls = rows(demo_db, "SELECT * FROM crawl_changes ORDER BY crawl_id")
    assert len(crawls) == last["id"] and crawls[0]["servers_new"] == crawls[0]["servers_answered"]


def dump(db) -> dict[str, list[tuple]]:
    connection = sqlite3.connect(db)
    try:
        return {t: connection.execute(f"SELECT * FROM {t}").fetchall() for t in DERIVED}
    finally:
        connection.close()


def test_two_analyze_runs_give_identical_tables(demo_db, tmp_path):
    copy = tmp_path / "copy.db"
    shutil.copy(demo_db, copy)
    analyze(str(copy))
    first = dump(copy)
    analyze(str(copy))
    assert dump(copy) == first
    assert all(first[t] for t in ("concentration", "weekly_activity", "blocked_reach"))
