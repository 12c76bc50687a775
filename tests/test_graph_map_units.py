"""The /map's layout steps on tiny hand-built inputs: which servers, their peer and severed
matrices, the similarity and affinities the embedding places them by, and the tables the page
draws. Positions are checked by what they must satisfy (inside the extent, the same for a seed,
islands apart), the rest against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import sparse

from graph import map_embedding
from graph.map_embedding import (
    _attraction,
    _repulsion,
    _row_normalised,
    embed,
    neighbour_affinities,
    similarity,
    specific_peers,
)
from graph.map_languages import map_languages, primary
from graph.map_layout import (
    EXTENT,
    _camps,
    _scaled,
    _suspend_pairs,
    build_map_layout,
    federation_matrix,
    layout,
    listed_matrix,
    map_data,
    map_domains,
    severed_matrix,
)
from tests.graph_db import assert_documented, domain, instance, memory_database, peer, table
from tests.test_graph_network_units import block_edges


def test_primary_language():
    assert primary(["en-GB", "de"]) == "en"
    assert primary([" ", 3, " DE-at "]) == "de"
    assert primary([]) is None
    assert primary("en") is None
    assert primary(None) is None


def test_map_languages():
    connection = memory_database()
    instance(connection, "a.test", languages='["pt-BR"]')
    instance(connection, "b.test", languages="[]")
    instance(connection, "c.test", languages="not json")
    instance(connection, "d.test", languages='["ja"]')  # not on the map
    instance(connection, "e.test", languages="null")
    instance(connection, "f.test", languages=5)
    instance(connection, "g.test")
    on_map = ["a.test", "b.test", "c.test", "e.test", "f.test", "g.test"]
    assert map_languages(connection, on_map) == {"a.test": "pt"}


def test_map_domains_rank_active_users_then_users_then_name():
    connection = memory_database()
    instance(connection, "a.test", users_active_month=5, users_total=10)
    instance(connection, "b.test", users_active_month=50)
    instance(connection, "c.test", users_total=1000)  # reports no active users: after those
    instance(connection, "d.test", users_total=2000)
    instance(connection, "e.test")
    instance(connection, "f.test", users_active_month=5, users_total=20)
    instance(connection, "g.test", users_active_month=5, users_total=20)
    instance(connection, "dead.test", status="unreachable", users_active_month=99)
    instance(connection, "noid.test", domain_id=None, users_active_month=99)
    instance(connection, "h.test", family="mastodon", software="glitch", users_active_month=1)
    got = map_domains(connection)
    assert [row[0] for row in got] == [
        "b.test", "f.test", "g.test", "a.test", "h.test", "d.test", "c.test", "e.test",
    ]  # fmt: skip
    ids = dict(table(connection, "SELECT name, id FROM domains"))
    assert got[4] == ("h.test", ids["h.test"], "mastodon", "glitch", 1, None)
    assert [row[0] for row in map_domains(connection, 2)] == ["b.test", "f.test"]


def test_listed_and_severed_matrices():
    connection = memory_database()
    ids = np.array([domain(connection, n) for n in ("a.test", "b.test", "c.test", "lone.test")])
    peer(connection, "a.test", "b.test")
    peer(connection, "b.test", "a.test")
    peer(connection, "c.test", "b.test")
    peer(connection, "a.test", "a.test")  # itself: no link
    peer(connection, "a.test", "out.test")  # not on the map
    peer(connection, "b.test", "c.test", 1, 2)  # removed
    # lone.test has the largest id and no link.
    assert listed_matrix(connection, ids).toarray().tolist() == [
        [0, 1, 0, 0],
        [1, 0, 0, 0],
        [0, 1, 0, 0],
        [0, 0, 0, 0],
    ]
    ids = ids[:3]
    listed = listed_matrix(connection, ids)
    assert listed.toarray().tolist() == [[0, 1, 0], [1, 0, 0], [0, 1, 0]]
    # The map's own order, not id order.
    reordered = listed_matrix(connection, ids[::-1].copy())
    assert reordered.toarray().tolist() == [[0, 1, 0], [0, 0, 1], [0, 1, 0]]
    assert listed_matrix(connection, np.zeros(0, dtype=np.int64)).shape == (0, 0)
    severed = severed_matrix([(0, 1)], 3)
    assert severed.toarray().tolist() == [[0, 1, 0], [1, 0, 0], [0, 0, 0]]
    assert severed_matrix([(0, 1), (1, 0)], 3).toarray().tolist() == severed.toarray().tolist()
    assert severed_matrix([], 2).toarray().tolist() == [[0, 0], [0, 0]]
    # Both directions count; the severed pair is gone.
    assert federation_matrix(listed, severed).toarray().tolist() == [
        [0, 0, 0],
        [0, 0, 1],
        [0, 1, 0],
    ]
    both = sparse.csr_matrix(np.array([[0, 1], [1, 0]], dtype=float))
    assert federation_matrix(both, severed_matrix([], 2)).toarray().tolist() == [[0, 2], [2, 0]]
    assert federation_matrix(both, severed_matrix([(0, 1)], 2)).nnz == 0


def test_scaled_positions():
    positions = np.array([[0.0, 0.0], [2.0, 1.0], [1.0, 0.5]])
    # The longer side (x: 2) spans the extent; y (1) is centred in it.
    assert _scaled(positions).tolist() == [[0.0, 250.0], [EXTENT, 750.0], [500.0, 500.0]]
    assert _scaled(np.array([[3.0, 4.0]])).tolist() == [[500.0, 500.0]]  # no span: the middle
    assert _scaled(np.array([[0.0, 0.0], [0.0, 3.0]])).tolist() == [[500.0, 0.0], [500.0, EXTENT]]
    assert _scaled(np.zeros((0, 2))).shape == (0, 2)
    assert _scaled(np.array([[0.0, 0.0], [3.0, 0.0]]) / 7).tolist() == [
        [0.0, 500.0],
        [1000.0, 500.0],
    ]
    assert _scaled(np.array([[0.0, 0.0], [3.0, 1.0]])).tolist() == [[0.0, 333.33], [1000.0, 666.67]]


def test_suspend_pairs_and_camps():
    connection = memory_database()
    block_edges(
        connection,
        ("a.test", "b.test", "silence"),
        ("a.test", "b.test", "suspend"),
        ("b.test", "c.test", "silence"),
        ("c.test", "out.test", "suspend"),  # not on the map
        ("out.test", "a.test", "suspend"),
    )
    position = {"a.test": 0, "b.test": 1, "c.test": 2}
    suspended, edges = _suspend_pairs(connection, position)
    assert suspended == [(0, 1)]
    assert edges == [("a.test", "b.test", "suspend"), ("b.test", "c.test", "silence")]
    assert _camps(connection, position).tolist() == [0, 0, 0]
    connection.execute("CREATE TABLE block_camp_members (domain TEXT, camp INTEGER)")
    connection.executemany(
        "INSERT INTO block_camp_members VALUES (?, ?)",
        [("b.test", 2), ("c.test", None), ("out.test", 1), ("a.test", 1)],
    )
    assert _camps(connection, position).tolist() == [1, 2, 0]


def test_row_normalised_and_specific_peers_by_hand():
    normalised = _row_normalised(sparse.csr_matrix(np.array([[3.0, 4.0], [0.0, 0.0]])))
    assert np.allclose(normalised.toarray(), [[0.6, 0.8], [0.0, 0.0]])
    # 0 lists 1, 1 lists 0, 2 lists 1. Columns: "lists j" then "is listed by j".
    listed = sparse.csr_matrix(np.array([[0, 2, 0], [1, 0, 0], [0, 1, 0]], dtype=float))
    # Column counts: lists 0: 1, lists 1: 2, listed by 0: 1, by 1: 1, by 2: 1.
    rare, common = math.log(4 / 2), math.log(4 / 3)
    rows = np.array(
        [
            [0, common, 0, 0, rare, 0],
            [rare, 0, 0, rare, 0, rare],
            [0, common, 0, 0, 0, 0],
        ]
    )
    expected = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    assert np.allclose(specific_peers(listed).toarray(), expected)


def test_similarity_by_hand():
    # 0 and 1 list the same server (2); 3 lists nobody and nobody lists it.
    listed = sparse.csr_matrix(
        np.array([[0, 0, 1, 0], [0, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]], dtype=float)
    )
    no_camps = np.zeros(4, dtype=np.int64)
    similar = similarity(listed, no_camps)
    assert np.allclose(np.diag(similar), 0)
    assert similar[0, 1] == pytest.approx(1.0)
    assert similar[0, 2] == pytest.approx(0.0)
    assert np.allclose(similar[3], 0)
    cut = similarity(listed, no_camps, severed_matrix([(1, 0)], 4))
    assert cut[0, 1] == cut[1, 0] == 0.0
    assert np.allclose(similarity(listed, no_camps, severed_matrix([], 4)), similar)
    # A camp shared by 2 and 3 (nothing else in common): 2's row is its peer part (norm 1) and
    # sqrt(CAMP_WEIGHT) in the camp column, then normalised; 3's row is the camp column only.
    camps = np.array([0, 0, 1, 1])
    with_camps = similarity(listed, camps)
    weight = map_embedding.CAMP_WEIGHT
    assert with_camps[2, 3] == pytest.approx(math.sqrt(weight / (1 + weight)))
    assert with_camps[0, 1] == pytest.approx(1.0)
    assert with_camps[0, 2] == 0.0


def test_neighbour_affinities_by_hand():
    similar = np.array([[0.0, 0.6, 0.2], [0.6, 0.0, 0.0], [0.2, 0.0, 0.0]])
    # One neighbour each: 0 -> 1, 1 -> 0, 2 -> 0 (each row normalised to 1), then symmetric
    # and summed to 1: (0, 1) and (1, 0): 2 / 6 each, (0, 2) and (2, 0): 1 / 6 each.
    one = neighbour_affinities(similar, neighbours=1).toarray()
    assert np.allclose(one, [[0, 1 / 3, 1 / 6], [1 / 3, 0, 0], [1 / 6, 0, 0]])
    # Two neighbours: row 0 splits 0.6 : 0.2; rows 1 and 2 keep only positive similarity.
    two = neighbour_affinities(similar, neighbours=2).toarray()
    joint = np.array([[0, 0.75 + 1, 0.25 + 1], [1.75, 0, 0], [1.25, 0, 0]])
    assert np.allclose(two, joint / joint.sum())
    assert neighbour_affinities(np.zeros((1, 1))).shape == (1, 1)
    assert neighbour_affinities(np.zeros((1, 1))).nnz == 0
    assert neighbour_affinities(np.zeros((3, 3))).nnz == 0


def test_attraction_and_repulsion_by_hand():
    positions = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    rows, cols, weight = np.array([0, 1]), np.array([1, 0]), np.array([0.5, 0.5])
    # 0 and 1 at distance 1: pull 0.5 / (1 + 1) along (y_i - y_j).
    assert np.allclose(_attraction(positions, rows, cols, weight), [[-0.25, 0], [0.25, 0], [0, 0]])
    # Kernel q_ij = 1 / (1 + d^2): (0,1) 1/2, (0,2) 1/5, (1,2) 1/6; Z = 2 (1/2 + 1/5 + 1/6).
    q = np.array([[0, 1 / 2, 1 / 5], [1 / 2, 0, 1 / 6], [1 / 5, 1 / 6, 0]])
    z = q.sum()
    expected = np.array(
        [sum(q[i, j] ** 2 * (positions[i] - positions[j]) for j in range(3)) for i in range(3)]
    )
    assert np.allclose(_repulsion(positions), expected / z, atol=1e-6)
    # Two points 10 apart: q = 1/101 each way, Z = 2/101 (less than 1: no floor applies).
    far = np.array([[0.0, 0.0], [10.0, 0.0]])
    push = (1 / 101) ** 2 * 10 / (2 / 101)
    assert np.allclose(_repulsion(far), [[-push, 0], [push, 0]], rtol=1e-5)


def test_embed_is_seeded_and_pulls_islands_apart():
    # Two islands of 20 servers, each a clique of affinities. (A handful of servers is too
    # few for t-SNE's step size: they scatter.)
    size = 40
    affinity = np.zeros((size, size))
    for island in (range(0, 20), range(20, 40)):
        for i in island:
            for j in island:
                if i != j:
                    affinity[i, j] = 1.0
    affinities = sparse.csr_matrix(affinity / affinity.sum())
    first = embed(affinities, seed=7, iterations=300)
    assert first.shape == (40, 2)
    assert np.array_equal(first, embed(affinities, seed=7, iterations=300))
    assert not np.array_equal(first, embed(affinities, seed=8, iterations=300))
    assert np.allclose(first.mean(axis=0), 0, atol=1e-9)
    distance = np.linalg.norm(first[:, None] - first[None], axis=2)
    within = max(distance[:20, :20].max(), distance[20:, 20:].max())
    across = distance[:20, 20:].min()
    assert across > 100 * within
    # Three servers are placed by t-SNE (centred), two or fewer scattered in the unit square.
    three = embed(sparse.csr_matrix(np.array([[0, 0.25, 0.25], [0.25, 0, 0], [0.25, 0, 0]])), 3)
    assert np.allclose(three.mean(axis=0), 0, atol=1e-9)
    pair = embed(sparse.csr_matrix((2, 2)), seed=1)
    assert pair.shape == (2, 2)
    assert np.array_equal(pair, embed(sparse.csr_matrix((2, 2)), seed=1))
    assert ((pair >= 0) & (pair < 1)).all()


def map_world():
    """Six alive servers by active users f > e > ... > a; a, b, c list each other and d, e, f
    list each other; c suspends a and b silences a (public rules); b and c share block camp 1."""
    connection = memory_database()
    for active, name in enumerate(["a.test", "b.test", "c.test", "d.test", "e.test", "f.test"]):
        instance(
            connection,
            name,
            family="mastodon" if active % 2 else "weirdsoft",
            software="mastodon",
            users_active_month=(active + 1) * 10,
            users_total=(active + 1) * 100,
            languages='["en"]' if name == "a.test" else None,
            name=f"Server {name}",
        )
    for group in (["a.test", "b.test", "c.test"], ["d.test", "e.test", "f.test"]):
        for source in group:
            for target in group:
                if source != target:
                    peer(connection, source, target)
    block_edges(connection, ("c.test", "a.test", "suspend"), ("b.test", "a.test", "silence"))
    connection.execute("CREATE TABLE block_camp_members (domain TEXT, camp INTEGER)")
    connection.executemany(
        "INSERT INTO block_camp_members VALUES (?, 1)", [("b.test",), ("c.test",)]
    )
    return connection


def test_map_layout_tables_by_hand():
    connection = map_world()
    assert build_map_layout(connection, 3) == (
        "6 servers placed, 5 federation links, 1 severed by suspends, 2 block edges, "
        "2 in block camps, 1 with a declared language"
    )
    assert_documented(connection, "map_nodes", "map_edges")
    nodes = table(
        connection,
        "SELECT domain, rank, family, colour_group, software, users_active_month, users_total, "
        "links, language, camp, crawl_id FROM map_nodes ORDER BY rank",
    )
    assert nodes == [
        ("f.test", 1, "mastodon", "mastodon", "mastodon", 60, 600, 2, None, None, 3),
        ("e.test", 2, "weirdsoft", "other", "mastodon", 50, 500, 2, None, None, 3),
        ("d.test", 3, "mastodon", "mastodon", "mastodon", 40, 400, 2, None, None, 3),
        ("c.test", 4, "weirdsoft", "other", "mastodon", 30, 300, 1, None, 1, 3),
        ("b.test", 5, "mastodon", "mastodon", "mastodon", 20, 200, 2, None, 1, 3),
        ("a.test", 6, "weirdsoft", "other", "mastodon", 10, 100, 1, "en", None, 3),
    ]
    xy = dict((d, (x, y)) for d, x, y in table(connection, "SELECT domain, x, y FROM map_nodes"))
    coordinates = np.array(list(xy.values()))
    assert coordinates.min() >= 0 and coordinates.max() <= EXTENT
    assert EXTENT in coordinates.max(axis=0) and 0.0 in coordinates.min(axis=0)
    assert table(connection, "SELECT * FROM map_edges ORDER BY source") == [
        ("b.test", "a.test", "block", "silence", *xy["b.test"], *xy["a.test"]),
        ("c.test", "a.test", "block", "suspend", *xy["c.test"], *xy["a.test"]),
    ]
    # The same database gives the same map.
    build_map_layout(connection, 3)
    again = dict((d, (x, y)) for d, x, y in table(connection, "SELECT domain, x, y FROM map_nodes"))
    assert again == xy
    build_map_layout(connection, 3, seed=7)  # another seed, another map
    other = dict((d, (x, y)) for d, x, y in table(connection, "SELECT domain, x, y FROM map_nodes"))
    assert other != xy


def test_the_layout_never_draws_a_suspending_pair_together(monkeypatch):
    # a, b and c (0, 1, 2) list d and d lists them: alike, but c suspends a. What t-SNE is
    # given: no affinity for (a, c).
    given = []
    monkeypatch.setattr(map_embedding, "embed", lambda affinities, seed: given.append(affinities))
    listed = np.zeros((4, 4))
    listed[:3, 3] = listed[3, :3] = 1
    layout(sparse.csr_matrix(listed), np.zeros(4, dtype=np.int64), severed_matrix([(2, 0)], 4))
    affinities = given[0].toarray()
    assert affinities[0, 2] == affinities[2, 0] == 0.0
    assert affinities[0, 1] > 0 and affinities[1, 2] > 0
    assert given[0].sum() == pytest.approx(1.0)


def test_map_layout_of_a_limited_map_without_block_tables():
    connection = memory_database()
    instance(connection, "a.test", users_active_month=2)
    instance(connection, "b.test", users_active_month=1)
    instance(connection, "c.test")
    peer(connection, "a.test", "b.test")
    assert build_map_layout(connection, None, limit=2, seed=5) == (
        "2 servers placed, 1 federation links, 0 severed by suspends, 0 block edges, "
        "0 in block camps, 0 with a declared language"
    )
    assert table(connection, "SELECT domain, rank, links, camp FROM map_nodes") == [
        ("a.test", 1, 1, None),
        ("b.test", 2, 1, None),
    ]
    assert table(connection, "SELECT * FROM map_edges") == []


def test_map_data_puts_suspends_first_and_caps_the_edges():
    connection = memory_database()
    assert map_data(connection) == ([], [], 0)
    connection = map_world()
    connection.execute("UPDATE instances SET name = 'Eff' WHERE domain = 'f.test'")
    build_map_layout(connection, 3)
    nodes, edges, total = map_data(connection)
    assert [n["domain"] for n in nodes] == ["f.test", "e.test", "d.test", "c.test", "b.test",
                                            "a.test"]  # fmt: skip
    assert (nodes[0]["name"], nodes[0]["rank"], nodes[0]["links"]) == ("Eff", 1, 2)
    assert set(nodes[0]) == {
        "domain", "rank", "x", "y", "colour_group", "family", "software", "users_active_month",
        "users_total", "name", "links", "language", "camp",
    }  # fmt: skip
    assert total == 2
    assert [(e["source"], e["severity"]) for e in edges] == [
        ("c.test", "suspend"),
        ("b.test", "silence"),
    ]
    assert set(edges[0]) == {"source", "target", "severity", "x", "y", "x2", "y2"}
    _, capped, total = map_data(connection, max_edges=1)
    assert ([e["source"] for e in capped], total) == (["c.test"], 2)
