"""Block-aware federation on tests/small_world.py plus a few peer edges, by hand."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from graph.analyze import analyze
from tests.small_world import build_world
from tests.support import rows


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    db = build_world(tmp_path_factory.mktemp("federation") / "world.db")
    connection = sqlite3.connect(db)
    connection.execute("INSERT INTO domains (id, name) VALUES (20, 'x1.example')")
    ids = dict(connection.execute("SELECT name, id FROM domains"))
    # a suspends d; c suspends x1.example; c only silences d; b will suspend c.
    for source, target in [("a.test", "d.test"), ("d.test", "a.test"), ("c.test", "x1.example"),
                           ("b.ops.test", "c.test"), ("c.test", "d.test")]:  # fmt: skip
        connection.execute(
            "INSERT INTO peer_intervals VALUES (?, ?, 2, NULL)", (ids[source], ids[target])
        )
    connection.execute(
        "INSERT INTO blocks (blocker, blocked, blocked_pattern, kind, severity, severity_raw, "
        "active) VALUES ('b.ops.test', 'c.test', 'c.test', 'clear', 'suspend', 'suspend', 1)"
    )
    connection.commit()
    connection.close()
    analyze(str(db))
    return db


def test_severed_links(world):
    got = {(r["source"], r["target"]): (r["source_suspends_target"], r["target_suspends_source"])
           for r in rows(world, "SELECT * FROM severed_links")}  # fmt: skip
    assert got == {
        ("a.test", "d.test"): (1, 0),
        ("d.test", "a.test"): (0, 1),
        ("c.test", "x1.example"): (1, 0),
        ("b.ops.test", "c.test"): (1, 0),
    }


def test_federation_edges_view(world):
    got = {(r["source"], r["target"]) for r in rows(world, "SELECT * FROM federation_edges")}
    assert got == {("a.test", "b.ops.test"), ("b.ops.test", "a.test"), ("c.test", "d.test")}


def test_severed_links_per_server(world):
    got = {
        r["domain"]: (r["severed_links"], r["severed_by_own_rules"], r["severed_by_others_rules"])
        for r in rows(world, "SELECT * FROM instance_severed_links")
    }
    assert got == {
        "a.test": (2, 2, 0),
        "d.test": (2, 0, 2),
        "c.test": (2, 1, 1),
        "b.ops.test": (1, 1, 0),
        "x1.example": (1, 0, 1),
    }
