"""version_share by hand (tests/small_world.py) and against the sandbox truth."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from graph.analyze import analyze
from graph.versions import major_version
from tests.small_world import analysed_world, build_world
from tests.support import crawler_family, rows


@pytest.mark.parametrize(
    ("version", "major"),
    [("4.2.1", "4"), ("4.3.0+glitch", "4"), ("v2.7", "2"), ("0.19.3", "0.19"), ("0", "0"),
     ("2024.11.0", "2024"), (None, "unknown"), ("", "unknown"), ("nightly", "unknown")],
)  # fmt: skip
def test_major_version(version, major):
    assert major_version(version) == major


def test_version_share_by_hand(tmp_path):
    db = build_world(tmp_path / "world.db")
    analyze(str(db))
    got = {(r["family"], r["major"]): r for r in rows(db, "SELECT * FROM version_share")}
    # Live at the latest crawl: a 4.2.1 (50 active) and b 4.3.0+glitch (12) mastodon, c misskey
    # 2024.11.0, e pleroma v2.7; d (lemmy 0.19.3) is unreachable now.
    columns = ("servers", "servers_share", "active_users", "active_users_share")
    assert {k: tuple(r[c] for c in columns) for k, r in got.items()} == {
        ("mastodon", "4"): (2, 100.0, 62, 100.0),
        ("misskey", "2024"): (1, 100.0, 10, 100.0),
        ("pleroma", "2"): (1, 100.0, 2, 100.0),
    }


def test_version_shares_split_a_family_by_hand(tmp_path):
    # Every family above runs one major, so every share is 100 whatever the arithmetic; with
    # b on Mastodon 3 the two majors split 1:1 by servers and 50:12 by active users.
    db = analysed_world(
        tmp_path / "world.db", "UPDATE instances SET version = '3.5.3' WHERE domain = 'b.ops.test'"
    )
    got = {
        (r["family"], r["major"]): (
            r["servers"],
            r["servers_share"],
            r["active_users"],
            r["active_users_share"],
        )
        for r in rows(db, "SELECT * FROM version_share WHERE family = 'mastodon'")
    }
    assert got == {("mastodon", "4"): (1, 50.0, 50, 80.65), ("mastodon", "3"): (1, 50.0, 12, 19.35)}


def test_version_share_matches_the_sandbox_truth(demo_db):
    truth = json.loads(demo_db.with_suffix(".truth.json").read_text())["instances"]
    stored = {
        r["domain"] for r in rows(demo_db, "SELECT domain FROM instances WHERE status = 'alive'")
    }
    want = Counter(
        (crawler_family(t) or "unknown", major_version(t["version"]))
        for d, t in truth.items()
        if t["expected_status"] == "alive" and d in stored
    )
    got = {
        (r["family"], r["major"]): r["servers"]
        for r in rows(demo_db, "SELECT * FROM version_share")
    }
    assert got == dict(want)
