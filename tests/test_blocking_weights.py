"""Blocking weighted three ways and blocked_reach, against tests/small_world.py by hand."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.small_world import analysed_world
from tests.support import rows

# Live servers' monthly actives at the latest crawl: a 50, b 12 (mastodon), c 10 (misskey),
# e 2 (pleroma): 74 in all. Rule counts: a 3, b 1, c 10, e 1.
W = {"a": 1 / math.log2(4), "b": 1.0, "c": 1 / math.log2(11), "e": 1.0}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    return analysed_world(tmp_path_factory.mktemp("blocks") / "world.db")


def test_blocked_three_ways(world):
    got = {r["domain"]: r for r in rows(world, "SELECT * FROM blocked_domains")}
    bad = got["bad.test"]  # a, b, c in clear; e through its digest
    assert (bad["blockers"], bad["blockers_active_users"]) == (4, 74)
    assert bad["damped_blockers"] == pytest.approx(W["a"] + W["b"] + W["c"] + W["e"], abs=1e-6)
    assert got["d.test"]["damped_blockers"] == pytest.approx(W["a"] + W["c"], abs=1e-6)
    assert got["x3.example"]["damped_blockers"] == pytest.approx(W["c"], abs=1e-6)
    ranks = {
        d: (r["rank_blockers"], r["rank_active_users"], r["rank_damped"]) for d, r in got.items()
    }
    assert ranks["bad.test"] == (1, 1, 1)
    assert ranks["d.test"] == (2, 2, 2)
    assert ranks["spam.test"] == (3, 3, 3)  # one blocker, 50 users, weight 0.5
    assert ranks["x1.example"] == (3, 4, 4)  # one blocker too, but c is small and blocks much


def test_blocked_reach_overall_and_per_platform(world):
    got = {(r["domain"], r["family"]): r for r in rows(world, "SELECT * FROM blocked_reach")}
    bad = got[("bad.test", "all")]
    assert (bad["servers_suspending"], bad["active_users_suspending"]) == (3, 72)
    assert (bad["servers_limiting"], bad["active_users_limiting"], bad["active_users"]) == (
        4,
        74,
        74,
    )
    assert bad["share_suspending"] == round(72 / 74, 6)
    assert got[("bad.test", "mastodon")]["share_suspending"] == 1.0
    pleroma = got[("bad.test", "pleroma")]  # e silences it (digest): limits, not suspends
    assert (pleroma["share_suspending"], pleroma["share_limiting"]) == (0.0, 1.0)
    assert got[("d.test", "all")]["share_suspending"] == round(50 / 74, 6)
    assert got[("d.test", "mastodon")]["share_suspending"] == round(50 / 62, 6)
    assert got[("d.test", "misskey")]["share_limiting"] == 1.0
    assert ("d.test", "pleroma") not in got  # no pleroma server blocks it: no row, share 0
    assert {r["active_users_unreadable"] for r in got.values()} == {0}


def test_unreadable_lists_are_counted_apart(tmp_path):
    db = analysed_world(
        tmp_path / "hidden.db",
        "UPDATE instances SET blocks_visibility = 'hidden' WHERE domain = 'b.ops.test'",
    )
    got = {(r["domain"], r["family"]): r for r in rows(db, "SELECT * FROM blocked_reach")}
    assert got[("d.test", "all")]["active_users_unreadable"] == 12
    assert got[("d.test", "mastodon")]["active_users_unreadable"] == 12
    assert got[("d.test", "misskey")]["active_users_unreadable"] == 0
