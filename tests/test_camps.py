"""Blocking camps on a hand-made world of block lists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawler.store.schema import open_database
from graph.analyze import analyze
from tests.support import rows

LISTS = {
    "s1.test": ["t1.test", "t2.test", "t3.test", "t4.test"],
    "s2.test": ["t1.test", "t2.test", "t3.test", "t4.test"],
    "s3.test": ["t1.test", "t2.test", "t3.test", "t4.test", "t5.test"],
    "s4.test": ["u1.test", "u2.test", "u3.test"],
    "s5.test": ["u1.test", "u2.test", "u3.test", "u4.test"],
    "s6.test": ["t1.test", "u1.test", "v1.test"],  # like nobody: J <= 1/5
    "s7.test": ["t1.test", "t2.test"],  # too short a list to compare
}
ACTIVE = {"s1.test": 10, "s2.test": 20, "s3.test": 30, "s4.test": 1, "s5.test": 2, "s6.test": 3}


def build(path: Path) -> Path:
    db = open_database(str(path))
    connection = db.conn
    connection.execute("BEGIN")
    for blocker, targets in LISTS.items():
        connection.execute(
            "INSERT INTO instances (domain, family, status, users_total, users_active_month, "
            "blocks_visibility) VALUES (?, ?, 'alive', ?, ?, 'public')",
            (blocker, "misskey" if blocker == "s3.test" else "mastodon", 100, ACTIVE.get(blocker)),
        )
        for target in targets:
            connection.execute(
                "INSERT INTO blocks (blocker, blocked, blocked_pattern, kind, severity, "
                "severity_raw, active) VALUES (?, ?, ?, 'clear', 'suspend', 'suspend', 1)",
                (blocker, target, target),
            )
    connection.execute("COMMIT")
    connection.close()
    analyze(str(path))
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("camps") / "camps.db")


def test_camps_by_hand(world):
    members = {r["domain"]: r for r in rows(world, "SELECT * FROM block_camp_members")}
    assert {d: r["camp"] for d, r in members.items()} == {
        "s1.test": 1, "s2.test": 1, "s3.test": 1, "s4.test": 2, "s5.test": 2,
    }  # fmt: skip
    assert (members["s3.test"]["targets"], members["s3.test"]["family"]) == (5, "misskey")
    camps = {r["camp"]: r for r in rows(world, "SELECT * FROM block_camps")}
    first = camps[1]
    assert (first["servers"], first["users"], first["active_users"]) == (3, 300, 60)
    assert json.loads(first["families"]) == {"mastodon": 2, "misskey": 1}
    # t1..t4 are blocked by all three, t5 by one of three (less than half).
    assert first["shared_targets"] == 4
    assert json.loads(first["top_targets"]) == ["t1.test", "t2.test", "t3.test", "t4.test"]
    assert first["mean_similarity"] == pytest.approx((1 + 0.8 + 0.8) / 3, abs=1e-6)
    second = camps[2]
    assert (second["servers"], second["shared_targets"]) == (2, 4)  # u4: one of two is half
    assert second["mean_similarity"] == pytest.approx(0.75, abs=1e-6)


def test_camps_are_deterministic(tmp_path, world):
    again = build(tmp_path / "again.db")
    for table in ("block_camps", "block_camp_members"):
        assert rows(again, f"SELECT * FROM {table}") == rows(world, f"SELECT * FROM {table}")
