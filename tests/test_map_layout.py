"""The /map layout (`map_nodes`, `map_edges`): who is on it, where, and that it is repeatable."""

from __future__ import annotations

import json
import sqlite3
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from crawler.store.schema import open_database
from graph.analyze import analyze
from graph.map_languages import map_languages, primary
from graph.map_layout import build_map_layout
from tests.support import rows

# Two tight communities joined by one bridge (a1 - b1), a server without an active-user count,
# a dead server and one with no peers. Active users decide the ranking.
WORLD = {
    # domain: (family, active users, total users, status)
    "a1.test": ("mastodon", 900, 5000, "alive"),
    "a2.test": ("mastodon", 800, 4000, "alive"),
    "a3.test": ("mastodon", 700, 3000, "alive"),
    "a4.test": ("mastodon", 600, 2000, "alive"),
    "b1.test": ("misskey", 500, 1000, "alive"),
    "b2.test": ("misskey", 400, 900, "alive"),
    "b3.test": ("misskey", 300, 800, "alive"),
    "b4.test": ("misskey", 300, 700, "alive"),
    "lonely.test": ("lemmy", 10, 20, "alive"),
    "quiet.test": ("gotosocial", None, 50, "alive"),
    "gone.test": ("mastodon", 10_000, 90_000, "unreachable"),
}
A = ["a1.test", "a2.test", "a3.test", "a4.test"]
B = ["b1.test", "b2.test", "b3.test", "b4.test"]


def build_world(path: Path, suspend_bridge: bool) -> Path:
    db = open_database(str(path))
    connection = db.conn
    ids = {name: index for index, name in enumerate(WORLD, start=1)}
    connection.executemany("INSERT INTO domains (name, id) VALUES (?, ?)", list(ids.items()))
    for name, (family, active, users, status) in WORLD.items():
        connection.execute(
            "INSERT INTO instances (domain, domain_id, family, software, users_active_month, "
            "users_total, status, name) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (name, ids[name], family, family, active, users, status, f"Server {name}"),
        )
    pairs = [*combinations(A, 2), *combinations(B, 2), ("a1.test", "b1.test")]
    pairs.append(("gone.test", "a1.test"))
    edges = [(ids[s], ids[t]) for a, b in pairs for s, t in ((a, b), (b, a))]
    connection.executemany(
        "INSERT INTO peer_intervals (source_id, target_id, first_crawl) VALUES (?, ?, 1)", edges
    )
    connection.execute(
        "CREATE TABLE block_edges (blocker TEXT, blocked TEXT, severity TEXT, severity_raw TEXT, "
        "match TEXT)"
    )
    connection.execute(
        "INSERT INTO block_edges VALUES (?, 'b1.test', ?, ?, 'exact')",
        ("a1.test", "suspend" if suspend_bridge else "silence", "x"),
    )
    connection.execute(
        "INSERT INTO block_edges VALUES ('b2.test', 'a2.test', 'silence', 'x', 'exact')"
    )
    connection.execute(
        "INSERT INTO block_edges VALUES ('b2.test', 'a2.test', 'suspend', 'y', 'exact')"
    )
    connection.execute(
        "INSERT INTO block_edges VALUES ('a3.test', 'gone.test', 'suspend', 'x', 'exact')"
    )
    connection.close()
    return path


def layout(path: Path, limit: int = 1500) -> dict[str, dict]:
    connection = sqlite3.connect(path)
    build_map_layout(connection, 1, limit=limit)
    connection.commit()
    connection.close()
    return {r["domain"]: r for r in rows(path, "SELECT * FROM map_nodes")}


def test_nodes_are_the_largest_alive_servers_in_order(tmp_path):
    nodes = layout(build_world(tmp_path / "w.db", suspend_bridge=True))
    ranked = sorted(nodes.values(), key=lambda n: n["rank"])
    assert [n["domain"] for n in ranked] == [*A, *B[:2], "b3.test", "b4.test", "lonely.test",
                                             "quiet.test"]  # fmt: skip
    assert "gone.test" not in nodes  # not alive: never on the map
    top = layout(build_world(tmp_path / "w5.db", suspend_bridge=True), limit=5)
    assert sorted(top) == sorted([*A, "b1.test"])
    assert nodes["quiet.test"]["users_active_month"] is None
    assert nodes["b1.test"]["colour_group"] == "misskey"
    assert nodes["lonely.test"]["links"] == 0


def test_communities_sit_apart_and_a_suspend_severs_the_bridge(tmp_path):
    nodes = layout(build_world(tmp_path / "w.db", suspend_bridge=True))
    xy = {d: np.array([n["x"], n["y"]]) for d, n in nodes.items()}
    inside = np.mean([np.linalg.norm(xy[p] - xy[q]) for g in (A, B) for p, q in combinations(g, 2)])
    across = np.mean([np.linalg.norm(xy[p] - xy[q]) for p in A for q in B])
    assert inside * 2 < across
    assert all(0 <= n["x"] <= 1000 and 0 <= n["y"] <= 1000 for n in nodes.values())
    # a1 lists its 3 neighbours and b1; the public suspend removes b1.
    assert nodes["a1.test"]["links"] == 3
    unsevered = layout(build_world(tmp_path / "w2.db", suspend_bridge=False))
    assert unsevered["a1.test"]["links"] == 4


def test_block_edges_between_map_servers_carry_positions(tmp_path):
    path = build_world(tmp_path / "w.db", suspend_bridge=True)
    nodes = layout(path)
    edges = rows(path, "SELECT * FROM map_edges ORDER BY source")
    assert [(e["source"], e["target"], e["severity"]) for e in edges] == [
        ("a1.test", "b1.test", "suspend"),
        ("b2.test", "a2.test", "suspend"),  # the strongest of its two rules
    ]  # a3 -> gone.test: gone is not on the map
    for edge in edges:
        assert (edge["x"], edge["y"]) == (nodes[edge["source"]]["x"], nodes[edge["source"]]["y"])
        assert (edge["x2"], edge["y2"]) == (nodes[edge["target"]]["x"], nodes[edge["target"]]["y"])


def test_layout_is_deterministic(tmp_path):
    first = layout(build_world(tmp_path / "one.db", suspend_bridge=True))
    second = layout(build_world(tmp_path / "two.db", suspend_bridge=True))
    assert first == second


def _copy(source: Path, target: Path) -> Path:
    with sqlite3.connect(source) as origin, sqlite3.connect(target) as copy:
        origin.backup(copy)
    return target


@pytest.fixture(scope="module")
def analysed_twice(demo_db, tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("map")
    first, second = _copy(demo_db, folder / "a.db"), _copy(demo_db, folder / "b.db")
    analyze(str(first))
    analyze(str(second))
    return first, second


def test_two_analyze_runs_give_identical_maps(analysed_twice):
    first, second = analysed_twice
    for table in ("map_nodes", "map_edges"):
        sql = f"SELECT * FROM {table} ORDER BY 1, 2"
        assert rows(first, sql) == rows(second, sql)
        assert rows(first, sql), f"{table} is empty"


def test_sandbox_map_holds_the_true_top_servers(demo_db, analysed_twice, tmp_path):
    """Against the sandbox truth: the top 40 by true active users, exactly, in order."""
    path = _copy(analysed_twice[0], tmp_path / "top.db")
    truth = json.loads(demo_db.with_suffix(".truth.json").read_text())
    reached = {r["domain"] for r in rows(path, "SELECT domain FROM instances WHERE status='alive'")}
    alive = {d: t for d, t in truth["instances"].items() if t["expected_status"] == "alive"}
    expected = sorted(
        (d for d in alive if d in reached),
        key=lambda d: (
            alive[d]["users_active_month"] is None,
            -(alive[d]["users_active_month"] or 0),
            alive[d]["users_total"] is None,
            -(alive[d]["users_total"] or 0),
            d,
        ),
    )
    nodes = layout(path, limit=40)
    assert [d for d, _n in sorted(nodes.items(), key=lambda item: item[1]["rank"])] == expected[:40]
    for domain, node in nodes.items():
        assert node["users_active_month"] == alive[domain]["users_active_month"]
        assert node["family"] == alive[domain]["family"]
    everything = {r["domain"] for r in rows(analysed_twice[0], "SELECT domain FROM map_nodes")}
    assert everything == reached  # the demo world is smaller than the map's limit


def silhouette(points: np.ndarray, labels: list[str]) -> float:
    """Mean silhouette (Rousseeuw 1987) with Euclidean distances; singletons score 0."""
    names = sorted(set(labels))
    index = np.array([names.index(label) for label in labels])
    members = np.eye(len(names))[index]  # n x groups, one 1 per row
    distance = np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(axis=2))
    sums, sizes = distance @ members, members.sum(axis=0)
    rows_ = np.arange(len(labels))
    own = sums[rows_, index] / np.maximum(sizes[index] - 1, 1)
    mean_to = sums / sizes
    mean_to[rows_, index] = np.inf
    nearest = mean_to.min(axis=1)
    score = (nearest - own) / np.maximum(np.maximum(own, nearest), 1e-12)
    return float(np.where(sizes[index] > 1, score, 0.0).mean())


def test_silhouette_by_hand():
    points = np.array([[0.0, 0.0], [0.0, 2.0], [10.0, 0.0]])
    # a: own 2, nearest 10 -> 0.8; b: own 2, nearest sqrt(104) -> 1 - 2/sqrt(104); c: alone -> 0
    expected = (0.8 + 1 - 2 / np.sqrt(104) + 0.0) / 3
    assert silhouette(points, ["x", "x", "y"]) == pytest.approx(expected)


def test_map_separates_the_planted_communities(demo_db):
    """The sandbox's language groups and its two block camps are islands on the map."""
    truth = json.loads(demo_db.with_suffix(".truth.json").read_text())["instances"]
    nodes = rows(demo_db, "SELECT domain, x, y, language, camp FROM map_nodes ORDER BY rank")
    assert len(nodes) > 500
    points = np.array([[n["x"], n["y"]] for n in nodes])
    groups = [truth[n["domain"]]["language_group"] for n in nodes]
    assert len(set(groups)) >= 8
    assert silhouette(points, groups) >= 0.5
    in_camp = [i for i, n in enumerate(nodes) if truth[n["domain"]]["block_camp"]]
    camps = [truth[nodes[i]["domain"]]["block_camp"] for i in in_camp]
    assert set(camps) == {"strict", "rival"} and len(camps) >= 12
    assert silhouette(points[in_camp], camps) >= 0.5
    # The colourings read what the servers declared and what the analysis found.
    declared = [n for n in nodes if n["language"]]
    assert len(declared) > len(nodes) / 2
    assert all(n["language"] == truth[n["domain"]]["language_group"] for n in declared)
    found = {truth[n["domain"]]["block_camp"]: n["camp"] for n in nodes if n["camp"]}
    assert found["strict"] != found["rival"]


def test_declared_language_is_the_first_tags_primary_subtag(tmp_path):
    path = build_world(tmp_path / "w.db", suspend_bridge=True)
    connection = sqlite3.connect(path)
    declared = {"a1.test": '["fr-ca", "en"]', "a2.test": "{broken", "b2.test": '["ja"]'}
    for domain, languages in declared.items():
        connection.execute(
            "UPDATE instances SET languages = ? WHERE domain = ?", (languages, domain)
        )
    assert map_languages(connection, list(WORLD)) == {"a1.test": "fr", "b2.test": "ja"}
    assert map_languages(connection, ["b2.test"]) == {"b2.test": "ja"}
    connection.close()
    assert primary(["EN-us"]) == "en" and primary("en") is None and primary([]) is None
