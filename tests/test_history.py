"""Change over time and concentration against the hand-built world in tests/small_world.py."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.small_world import analysed_world
from tests.support import rows


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    return analysed_world(tmp_path_factory.mktemp("world") / "world.db")


def test_platform_share_history_per_crawl_and_family(world):
    got = {
        (r["crawl_id"], r["family"]): r for r in rows(world, "SELECT * FROM platform_share_history")
    }
    # Crawl 1: a (100/40) and b (50/10) are mastodon, c (30/30) misskey; d did not answer.
    first = got[(1, "mastodon")]
    assert (first["servers"], first["users"], first["active_users"]) == (2, 150, 50)
    assert first["crawl_date"] == "2026-01-05"
    assert first["servers_share"] == round(100 * 2 / 3, 2)
    assert first["users_share"] == round(100 * 150 / 180, 2)
    assert first["active_users_share"] == round(100 * 50 / 80, 2)
    # Crawl 2: c's activity was stored empty (suspect), so it is a server without active users.
    assert got[(2, "misskey")]["servers_without_active_users"] == 1
    assert {f for c, f in got if c == 2} == {"mastodon", "misskey", "lemmy"}
    assert got[(3, "pleroma")]["servers"] == 1
    assert sum(r["servers"] for (c, _), r in got.items() if c == 3) == 4


def test_crawl_changes(world):
    got = {r["crawl_id"]: r for r in rows(world, "SELECT * FROM crawl_changes")}
    servers = {c: (r["servers_visited"], r["servers_answered"], r["servers_new"],
                   r["servers_gone"], r["servers_came_back"]) for c, r in got.items()}  # fmt: skip
    # 1: a, b, c new. 2: d new, b gone. 3: e new, d gone, b back.
    assert servers == {1: (4, 3, 3, 0, 0), 2: (4, 3, 1, 1, 0), 3: (5, 4, 1, 1, 1)}
    rules = {c: (r["block_rules_added"], r["block_rules_first_seen"], r["block_rules_removed"],
                 r["block_rules_changed"]) for c, r in got.items()}  # fmt: skip
    assert rules == {1: (0, 3, 0, 0), 2: (2, 0, 1, 0), 3: (0, 0, 0, 1)}
    edges = {c: (r["peer_edges_added"], r["peer_edges_removed"]) for c, r in got.items()}
    assert edges == {1: (2, 0), 2: (1, 0), 3: (0, 1)}


def test_instance_uptime(world):
    got = {r["domain"]: r for r in rows(world, "SELECT * FROM instance_uptime")}
    assert {d: r["uptime"] for d, r in got.items()} == {
        "a.test": 1.0,
        "b.ops.test": round(2 / 3, 4),
        "c.test": 1.0,
        "d.test": round(1 / 3, 4),
        "e.test": 1.0,  # first seen in the last crawl: one answer out of one
    }
    assert (got["d.test"]["crawls_visited"], got["d.test"]["last_answered_crawl"]) == (3, 2)
    assert got["e.test"]["crawls_since_first"] == 1


def _entropy(counts: list[int]) -> float:
    total = sum(counts)
    return -sum(c / total * math.log(c / total) for c in counts)


def test_concentration_hand_computed(world):
    got = {
        (r["crawl_id"], r["unit"], r["measure"]): r
        for r in rows(world, "SELECT * FROM concentration")
    }
    servers = got[(1, "server", "active_users")]  # a 40, b 10, c 30 of 80
    assert servers["units"] == 3 and servers["total"] == 80
    assert servers["hhi"] == pytest.approx(0.5**2 + 0.125**2 + 0.375**2, abs=1e-6)
    assert servers["entropy_normalised"] == pytest.approx(
        _entropy([40, 10, 30]) / math.log(3), abs=1e-6
    )
    assert (servers["top1_share"], servers["top5_share"], servers["half_count"]) == (0.5, 0.5, 1)
    operators = got[(1, "operator", "active_users")]  # ops.test 50 (a + b), c.test 30
    assert operators["hhi"] == pytest.approx((50 / 80) ** 2 + (30 / 80) ** 2, abs=1e-6)
    platforms = got[(3, "platform", "users")]  # mastodon 180, misskey 40, pleroma 10
    assert platforms["hhi"] == pytest.approx((180**2 + 40**2 + 10**2) / 230**2, abs=1e-6)
    assert platforms["half_count"] == 1
    # Crawl 2: c's counts are flagged suspect, so not even its 30 users count.
    suspect = got[(2, "server", "users")]
    assert (suspect["units"], suspect["total"], suspect["servers_excluded_suspect"]) == (2, 130, 1)
    assert got[(1, "server", "users")]["servers_excluded_suspect"] == 0


def test_one_crawl_gives_one_point(tmp_path):
    db = analysed_world(
        tmp_path / "one.db",
        "DELETE FROM crawls WHERE id > 1",
        "DELETE FROM instance_stats WHERE crawl_id > 1",
    )
    assert len(rows(db, "SELECT * FROM crawl_changes")) == 1
    assert {r["crawl_id"] for r in rows(db, "SELECT * FROM concentration")} == {1}
    assert {r["uptime"] for r in rows(db, "SELECT * FROM instance_uptime")} == {1.0, 0.0}


def test_crawl_ids_with_a_gap_count_crawls_not_ids(tmp_path):
    # Crawl 2 is gone: ids 1 and 3 are two crawls. By hand from small_world.STATS: a, b, c
    # answered both, d neither, e only 3 (its first).
    db = analysed_world(
        tmp_path / "gap.db",
        "DELETE FROM crawls WHERE id = 2",
        "DELETE FROM instance_stats WHERE crawl_id = 2",
    )
    got = {r["domain"]: r for r in rows(db, "SELECT * FROM instance_uptime")}
    assert {d: (r["crawls_since_first"], r["crawls_answered"], r["uptime"])
            for d, r in got.items()} == {
        "a.test": (2, 2, 1.0), "b.ops.test": (2, 2, 1.0), "c.test": (2, 2, 1.0),
        "d.test": (2, 0, 0.0), "e.test": (1, 1, 1.0),
    }  # fmt: skip
    changes = rows(db, "SELECT * FROM crawl_changes ORDER BY crawl_id")
    assert [(r["crawl_id"], r["servers_visited"], r["servers_answered"], r["servers_new"],
             r["servers_gone"], r["servers_came_back"]) for r in changes] == [
        (1, 4, 3, 3, 0, 0), (3, 5, 4, 1, 0, 0),
    ]  # fmt: skip


def test_a_crawl_without_counts_is_a_row_not_an_error(tmp_path):
    db = analysed_world(
        tmp_path / "empty.db",
        "INSERT INTO crawls (id, started_at, status) "
        "VALUES (4, '2026-01-26T10:00:00Z', 'finished')",
    )
    got = rows(db, "SELECT * FROM concentration WHERE crawl_id = 4")
    assert len(got) == 6 and {r["units"] for r in got} == {0}
    assert rows(db, "SELECT servers_visited FROM crawl_changes WHERE crawl_id = 4") == [
        {"servers_visited": 0}
    ]


def test_peer_edge_changes_come_from_the_crawl_counters_when_recorded(tmp_path):
    db = analysed_world(
        tmp_path / "counted.db",
        "UPDATE crawls SET peer_edges_added = 7 * id, peer_edges_removed = id",
    )
    got = rows(
        db, "SELECT peer_edges_added, peer_edges_removed FROM crawl_changes ORDER BY crawl_id"
    )
    assert [(r["peer_edges_added"], r["peer_edges_removed"]) for r in got] == [
        (7, 1),
        (14, 2),
        (21, 3),
    ]
