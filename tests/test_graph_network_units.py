"""Hops, peer metrics, block-aware federation and block camps on tiny hand-built databases,
against figures worked out by hand (PageRank against networkx, an independent implementation).
"""

from __future__ import annotations

import json

import networkx as nx
import numpy as np
import pytest
from scipy import sparse

from graph.camps import build_block_camps, similarity_edges
from graph.derived import NotAnalysed, require_table
from graph.edges import current_peer_edges, domain_count
from graph.federation import build_federation
from graph.hops import build_hops
from graph.peers import build_peer_metrics, pagerank
from graph.rows import dict_rows
from tests.graph_db import (
    assert_documented,
    crawl,
    domain,
    instance,
    memory_database,
    peer,
    rule,
    table,
)

BLOCK_EDGES = (
    "CREATE TABLE block_edges (blocker TEXT, blocked TEXT, severity TEXT, severity_raw TEXT, "
    "match TEXT, PRIMARY KEY (blocker, blocked, severity_raw))"
)


def block_edges(connection, *edges: tuple[str, str, str]) -> None:
    """`block_edges` as graph.blocks writes it, from (blocker, blocked, severity)."""
    connection.execute(BLOCK_EDGES)
    connection.executemany(
        "INSERT INTO block_edges VALUES (?, ?, ?, ?, 'exact')",
        [(a, b, severity, f"{severity}!{n}") for n, (a, b, severity) in enumerate(edges)],
    )


def test_current_peer_edges_and_domain_count():
    connection = memory_database()
    empty = current_peer_edges(connection)
    assert [a.tolist() for a in empty] == [[], []]
    assert empty[0].dtype == np.int32
    assert domain_count(connection) == 1
    peer(connection, "a.test", "b.test")  # ids 1, 2
    peer(connection, "b.test", "a.test", 1, 2)  # removed
    peer(connection, "b.test", "c.test", 2)  # id 3
    peer(connection, "a.test", "c.test", 3)
    sources, targets = current_peer_edges(connection)
    assert sorted(zip(sources.tolist(), targets.tolist(), strict=True)) == [(1, 2), (1, 3), (2, 3)]
    assert (sources.dtype, targets.dtype) == (np.int32, np.int32)
    connection.execute("INSERT INTO domains (id, name) VALUES (9, 'far.test')")
    assert domain_count(connection) == 10


def hops_world():
    """Seeds s.test (and a name never seen). s lists a and p (a domain only); a lists b and t;
    b's edge to c was removed; a blocks t (an inactive rule blocks z); b moved to m."""
    connection = memory_database()
    crawl(connection, 1, seeds='["s.test", "unknown.test"]')
    crawl(connection, 2, seeds=None)
    for name in ("s.test", "a.test", "b.test", "c.test", "t.test", "z.test", "m.test"):
        instance(connection, name)
    connection.execute("UPDATE instances SET hops = 9")
    connection.execute("UPDATE instances SET moved_to = 'm.test' WHERE domain = 'b.test'")
    peer(connection, "s.test", "a.test")
    peer(connection, "s.test", "p.test")
    peer(connection, "a.test", "b.test")
    peer(connection, "a.test", "t.test")  # and blocks it: two links, still one hop
    peer(connection, "b.test", "c.test", 1, 2)
    rule(connection, "a.test", "t.test")
    rule(connection, "a.test", "z.test", active=0)
    return connection


def test_hops_follow_current_peers_clear_rules_and_moves():
    connection = hops_world()
    assert build_hops(connection) == 6  # s, a, p, b, t, m
    assert dict(table(connection, "SELECT domain, hops FROM instances")) == {
        "s.test": 0,
        "a.test": 1,
        "b.test": 2,
        "t.test": 2,
        "m.test": 3,
        "c.test": None,
        "z.test": None,
    }


def test_hops_use_the_edges_given():
    connection = hops_world()
    ids = dict(table(connection, "SELECT name, id FROM domains"))
    given = (np.array([ids["s.test"]], np.int32), np.array([ids["c.test"]], np.int32))
    assert build_hops(connection, given) == 2  # s and c: these edges replace the peer graph
    assert dict(table(connection, "SELECT domain, hops FROM instances WHERE hops IS NOT NULL")) == {
        "s.test": 0,
        "c.test": 1,
    }


def test_no_seeds_no_hops():
    connection = hops_world()
    connection.execute("UPDATE crawls SET seeds = NULL")
    assert build_hops(connection) == 0
    assert table(connection, "SELECT DISTINCT hops FROM instances") == [(None,)]


def test_pagerank_by_hand():
    assert pagerank(sparse.csr_matrix((0, 0))).shape == (0,)
    assert pagerank(sparse.csr_matrix((1, 1))).tolist() == [1.0]  # one node holds everything
    cycle = sparse.csr_matrix(np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0]], dtype=float))
    assert np.allclose(pagerank(cycle), [1 / 3] * 3)
    # a -> b, b dangling: r_a = 0.075 + 0.425 r_b and r_a + r_b = 1, so r_b = 0.925 / 1.425.
    chain = sparse.csr_matrix(np.array([[0, 1], [0, 0]], dtype=float))
    assert np.allclose(pagerank(chain), [1 - 0.925 / 1.425, 0.925 / 1.425], atol=1e-9)
    # Index 0 is no node: it holds no rank and takes no part in the jumps.
    padded = sparse.csr_matrix(np.array([[0, 0, 0], [0, 0, 1], [0, 0, 0]], dtype=float))
    mask = np.array([False, True, True])
    assert np.allclose(pagerank(padded, nodes=mask), [0, 1 - 0.925 / 1.425, 0.925 / 1.425])
    # Without damping every node keeps its jump share.
    assert np.allclose(pagerank(chain, damping=0.0), [0.5, 0.5])
    # r_a = 0.25 + 0.25 r_b and r_a + r_b = 1.
    assert np.allclose(pagerank(chain, damping=0.5), [0.4, 0.6])


def test_peer_metrics_by_hand():
    connection = memory_database()
    for name in ("a.test", "b.test", "c.test"):  # ids 1, 2, 3; id 4 is no domain
        domain(connection, name)
    connection.execute("INSERT INTO domains (id, name) VALUES (5, 'e.test'), (6, 'd.test')")
    domain(connection, "lonely.test")  # id 7: in no edge
    peer(connection, "a.test", "b.test")
    peer(connection, "b.test", "a.test")
    peer(connection, "c.test", "a.test")
    peer(connection, "d.test", "e.test")
    peer(connection, "c.test", "e.test", 1, 2)  # removed
    assert build_peer_metrics(connection, 4) == "5 domains, 4 peer edges"
    assert_documented(connection, "instance_metrics")
    graph = nx.DiGraph()
    graph.add_nodes_from(["a.test", "b.test", "c.test", "d.test", "e.test", "lonely.test"])
    graph.add_edges_from([("a.test", "b.test"), ("b.test", "a.test"), ("c.test", "a.test"),
                          ("d.test", "e.test")])  # fmt: skip
    expected = nx.pagerank(graph, alpha=0.85, tol=1e-13, max_iter=10_000)
    got = {row[0]: row[1:] for row in table(connection, "SELECT * FROM instance_metrics")}
    assert {name: (r[0], r[1], r[3], r[4], r[5]) for name, r in got.items()} == {
        "a.test": (2, 1, 1, 3, 4),
        "b.test": (1, 1, 1, 3, 4),
        "c.test": (0, 1, 1, 3, 4),
        "d.test": (0, 1, 3, 2, 4),
        "e.test": (1, 0, 3, 2, 4),
    }
    for name, row in got.items():
        assert row[2] == pytest.approx(expected[name], abs=1e-9)


def test_peer_metrics_use_the_edges_given():
    connection = memory_database()
    for name in ("a.test", "b.test"):
        domain(connection, name)
    peer(connection, "a.test", "b.test")
    given = (np.array([2], np.int32), np.array([1], np.int32))  # b -> a instead
    assert build_peer_metrics(connection, None, given) == "2 domains, 1 peer edges"
    assert table(connection, "SELECT domain, in_degree, out_degree FROM instance_metrics") == [
        ("a.test", 1, 0),
        ("b.test", 0, 1),
    ]


def test_federation_by_hand():
    connection = memory_database()
    for name in ("a.test", "b.test", "c.test", "d.test"):
        domain(connection, name)
    peer(connection, "a.test", "b.test")
    peer(connection, "b.test", "a.test")
    peer(connection, "a.test", "c.test", 2)
    peer(connection, "c.test", "d.test")
    peer(connection, "d.test", "a.test")
    peer(connection, "b.test", "c.test", 1, 2)  # removed: nothing to sever
    block_edges(
        connection,
        ("a.test", "b.test", "suspend"),
        ("b.test", "a.test", "suspend"),
        ("c.test", "d.test", "silence"),  # not a suspension
        ("b.test", "c.test", "suspend"),
        ("d.test", "a.test", "suspend"),
        ("d.test", "a.test", "suspend"),
        ("x.test", "a.test", "suspend"),  # no known domain
    )
    assert build_federation(connection) == (
        "3 peer edges severed by suspensions, touching 3 servers"
    )
    assert_documented(connection, "severed_links", "federation_edges", "instance_severed_links")
    assert table(connection, "SELECT * FROM severed_links") == [
        ("a.test", "b.test", 1, 2, 1, 1),
        ("b.test", "a.test", 2, 1, 1, 1),
        ("d.test", "a.test", 4, 1, 1, 0),
    ]
    assert table(connection, "SELECT * FROM federation_edges ORDER BY source") == [
        ("a.test", "c.test", 2),
        ("c.test", "d.test", 1),
    ]
    # a: its two links with b (cut by both sides) and d's link to it (cut by d).
    assert table(connection, "SELECT * FROM instance_severed_links") == [
        ("a.test", 3, 2, 3),
        ("b.test", 2, 2, 2),
        ("d.test", 1, 1, 0),
    ]
    build_federation(connection)  # again: the same tables, rebuilt
    assert len(table(connection, "SELECT * FROM severed_links")) == 3


def test_similarity_edges_by_hand():
    # Sets: 0 {0, 1, 2}, 1 {0, 1, 2, 3}, 2 {4, 5, 6}, 3 {0, 4}.
    # Jaccard: (0, 1) 3/4, (0, 3) 1/4, (2, 3) 1/4, (1, 3) 1/5, (0, 2) = (1, 2) = 0.
    dense = np.zeros((4, 7))
    for row, columns in enumerate([[0, 1, 2], [0, 1, 2, 3], [4, 5, 6], [0, 4]]):
        dense[row, columns] = 1
    matrix = sparse.csr_matrix(dense)
    rows, cols, values = similarity_edges(matrix)
    assert (rows.tolist(), cols.tolist(), values.tolist()) == ([0], [1], [0.75])
    rows, cols, values = similarity_edges(matrix, threshold=0.2)
    assert list(zip(rows.tolist(), cols.tolist(), values.tolist(), strict=True)) == [
        (0, 1, 0.75),
        (0, 3, 0.25),
        (1, 3, 0.2),
        (2, 3, 0.25),
    ]
    # One partner each: 3's best are 0 and 2 (1/4 both), the smaller index wins.
    rows, cols, values = similarity_edges(matrix, threshold=0.2, neighbours=1)
    assert list(zip(rows.tolist(), cols.tolist(), values.tolist(), strict=True)) == [
        (0, 1, 0.75),
        (0, 3, 0.25),
        (2, 3, 0.25),
    ]
    assert (rows.dtype, cols.dtype) == (np.int64, np.int64)
    rows, cols, values = similarity_edges(sparse.csr_matrix((0, 3)))
    assert (rows.shape, cols.shape, values.shape) == ((0,), (0,), (0,))
    assert (rows.dtype, cols.dtype) == (np.int64, np.int64)


def test_a_pair_is_kept_when_only_one_side_picks_it():
    # 0 {a, b, c}, 1 and 2 {a, b, c, d}: 0's best is 1 (3/4, tied with 2: the smaller index);
    # 1's and 2's best are each other (1.0). With one partner each, (0, 1) comes from row 0 only.
    matrix = sparse.csr_matrix(np.array([[1, 1, 1, 0], [1, 1, 1, 1], [1, 1, 1, 1]], dtype=float))
    rows, cols, values = similarity_edges(matrix, neighbours=1)
    assert list(zip(rows.tolist(), cols.tolist(), values.tolist(), strict=True)) == [
        (0, 1, 0.75),
        (1, 2, 1.0),
    ]


def test_similarity_edges_across_row_chunks():
    # 600 servers (two chunks of 512 rows): i and i + 300 block the same two targets, nobody
    # else's; every pair is (i, i + 300) with Jaccard 1.
    dense = np.zeros((600, 600))
    for i in range(600):
        dense[i, [i % 300, 300 + i % 300]] = 1
    rows, cols, values = similarity_edges(sparse.csr_matrix(dense))
    assert rows.tolist() == list(range(300))
    assert cols.tolist() == list(range(300, 600))
    assert set(values.tolist()) == {1.0}


def test_block_camps_by_hand():
    connection = memory_database()
    instance(connection, "a.test", family="mastodon", users_total=100, users_active_month=10)
    instance(connection, "zb.test", family="mastodon", users_total=50)
    instance(connection, "c.test", family="misskey", users_total=7, users_active_month=5)
    lists = {
        "a.test": ["x1.test", "x2.test", "x3.test"],
        "zb.test": ["x3.test", "x2.test", "x1.test"],
        "c.test": ["y1.test", "y2.test", "y3.test", "w4.test"],
        "d.test": ["y1.test", "y2.test", "y3.test"],
        "e.test": ["x1.test", "y1.test"],  # too short a list
        "f.test": ["z1.test", "z2.test", "z3.test"],  # like nobody
    }
    edges = [(a, b, "suspend") for a, targets in lists.items() for b in targets]
    block_edges(connection, *edges, ("a.test", "x1.test", "silence"))  # one pair, two rules
    assert build_block_camps(connection) == "2 camps of 4 servers, 2 similarity edges"
    assert_documented(connection, "block_camps", "block_camp_members")
    # Camps of one size go by their first member's name: a.test before c.test.
    assert table(connection, "SELECT * FROM block_camps") == [
        (1, 2, 150, 10, '{"mastodon": 2}', 3, '["x1.test", "x2.test", "x3.test"]', 1.0),
        # Jaccard of c and d: 3/4; w4.test is blocked by half the camp, after the others.
        (2, 2, 7, 5, '{"misskey": 1, "unknown": 1}', 4,
         '["y1.test", "y2.test", "y3.test", "w4.test"]', 0.75),
    ]  # fmt: skip
    assert table(connection, "SELECT * FROM block_camp_members ORDER BY domain") == [
        ("a.test", 1, "mastodon", 10, 3),
        ("c.test", 2, "misskey", 5, 4),
        ("d.test", 2, None, None, 3),
        ("zb.test", 1, "mastodon", None, 3),
    ]


def test_a_bigger_camp_comes_first_and_top_targets_are_the_most_shared():
    connection = memory_database()
    lists = {
        "z1.test": ["t1.test", "t2.test", "t3.test"],
        "z2.test": ["t1.test", "t2.test", "t3.test"],
        "z3.test": ["t1.test", "t2.test", "t3.test", "t4.test"],
        "a1.test": ["u1.test", "u2.test", "u3.test"],
        "a2.test": ["u1.test", "u2.test", "u3.test"],
    }
    families = {"z1.test": "pleroma", "z2.test": "pleroma", "z3.test": "mastodon",
                "a1.test": "pleroma", "a2.test": "akkoma"}  # fmt: skip
    for name, family in families.items():
        instance(connection, name, family=family)
    block_edges(connection, *[(a, b, "suspend") for a, targets in lists.items() for b in targets])
    build_block_camps(connection)
    assert build_block_camps(connection) == "2 camps of 5 servers, 4 similarity edges"  # again
    camps = table(
        connection,
        "SELECT camp, servers, families, shared_targets, top_targets, mean_similarity "
        "FROM block_camps",
    )
    # t4.test: 1 of 3 members, less than half. Families: most servers first, then by name.
    # Similarity in camp 1: z1-z2 1, z1-z3 and z2-z3 3/4: a mean of 2.5 / 3.
    assert camps == [
        (1, 3, '{"pleroma": 2, "mastodon": 1}', 3, json.dumps(["t1.test", "t2.test", "t3.test"]),
         round(2.5 / 3, 6)),
        (2, 2, '{"akkoma": 1, "pleroma": 1}', 3, json.dumps(["u1.test", "u2.test", "u3.test"]),
         1.0),
    ]  # fmt: skip
    assert table(connection, "SELECT domain, targets FROM block_camp_members WHERE camp = 1") == [
        ("z1.test", 3),
        ("z2.test", 3),
        ("z3.test", 4),
    ]


def test_require_table_and_dict_rows():
    connection = memory_database()
    with pytest.raises(NotAnalysed) as raised:
        require_table(connection, "map_nodes")
    assert str(raised.value) == (
        "map_nodes is not built yet: run `fediscope analyze` on this database"
    )
    require_table(connection, "domains")
    with pytest.raises(NotAnalysed):
        require_table(connection, "peer_edges")  # a view, not a table
    domain(connection, "a.test")
    domain(connection, "b.test")
    assert dict_rows(connection, "SELECT name, id FROM domains WHERE id > ? ORDER BY id", (0,)) == [
        {"name": "a.test", "id": 1},
        {"name": "b.test", "id": 2},
    ]
    assert dict_rows(connection, "SELECT name FROM domains ORDER BY id DESC") == [
        {"name": "b.test"},
        {"name": "a.test"},
    ]
