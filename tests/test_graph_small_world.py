"""analyze and export on a twelve-server world whose every answer is worked out by hand (or, for
PageRank, by networkx on the same edges): hops, platform and software share, instance_metrics,
and exports that must keep edge direction, attributes and column order."""

from __future__ import annotations

import csv
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import networkx as nx
import pyarrow.parquet as pq
import pytest
from scipy import sparse

from crawler.blocks import make_rule
from crawler.domains import SANDBOX
from crawler.observation import Observation
from crawler.store.writer import StoreWriter
from graph.analyze import analyze
from graph.peers import pagerank
from observatory.dataset import LEFT_OUT
from observatory.export import TABLES, export
from tests.support import rows

NOW = datetime(2026, 1, 1, tzinfo=UTC)

#: domain -> (family, software, users_total, users_active_month, peers, clear block targets)
SERVERS: dict[str, tuple] = {
    "a.test": ("mastodon", "mastodon", 300, 100, ["b.test", "c.test"], []),
    "b.test": ("mastodon", "hometown", 30, 10, ["a.test", "d.test"], []),
    # Misskey's "suspended" (delivery stopped) is severity "other": raw and normalised differ
    "c.test": ("misskey", "misskey", None, None, ["a.test", "b.test", "d.test"], ["e.test"]),
    "d.test": ("misskey", "sharkey", 60, None, [], []),
    "e.test": ("lemmy", "lemmy", 9, 3, ["f.test"], []),
    "f.test": ("lemmy", "lemmy", 1, 1, [], []),
    # reached only through g.test's move to h.test
    "h.test": ("pleroma", "akkoma", 5, 2, [], []),
    # an island: lists each other, nobody reaches it from the seed
    "x.test": ("mastodon", "mastodon", 7, 7, ["y.test"], []),
    "y.test": ("mastodon", "mastodon", 3, 3, ["x.test"], []),
}
SEED = "a.test"
#: d.test's list (set in the fixture): g.test, which moved to h.test, and z.test, which is
#: only ever named (its row stays pending).
D_PEERS = ["g.test", "z.test"]


def observation(domain: str) -> Observation:
    family, software, users, active, peers, blocked = SERVERS[domain]
    seen = Observation(domain, status="alive", software=software, software_raw=software)
    seen.family = family
    seen.counts = {"users_total": users, "users_active_month": active}
    seen.peers = list(peers)
    seen.peers_visibility = "public"
    seen.blocks = [make_rule(SANDBOX, family, target, "suspended") for target in blocked]
    seen.blocks_visibility = "public"
    return seen


@pytest.fixture
def world(tmp_path_factory):
    # Per test, not per module: mutmut attributes the code a fixture runs to the tests that
    # set it up, and a world costs a fraction of a second.
    """Seed a.test; f.test is two links behind a block rule; h.test behind a move."""
    db = tmp_path_factory.mktemp("small") / "small.db"
    writer = StoreWriter(str(db), SANDBOX)
    crawl_id, _ = writer.begin_crawl([SEED], {}, NOW)
    writer.add_seeds([SEED], "seed", NOW)
    observations = [observation(d) for d in SERVERS]
    observations[3].peers = D_PEERS
    moved = Observation("g.test", status="moved", moved_to="h.test")
    for seen in [*observations, moved]:
        writer.record_visit(seen, crawl_id, 0, NOW, timedelta(hours=20))
    writer.finish_crawl(crawl_id, NOW)
    writer.close()
    analyze(str(db))
    return db


def peer_edges() -> list[tuple[str, str]]:
    edges = [(s, t) for s, v in SERVERS.items() for t in v[4] if s != "d.test"]
    return [*edges, *(("d.test", t) for t in D_PEERS)]


def test_hops_follow_peers_block_targets_and_moves(world):
    got = {r["domain"]: r["hops"] for r in rows(world, "SELECT domain, hops FROM instances")}
    assert got == {
        "a.test": 0,
        "b.test": 1,
        "c.test": 1,
        "d.test": 2,  # a -> b -> d (and a -> c -> d)
        "e.test": 2,  # only through c.test's block rule
        "f.test": 3,  # behind e.test
        "g.test": 3,  # d.test's peer
        "z.test": 3,
        "h.test": 4,  # only through g.test's move
        "x.test": None,
        "y.test": None,
    }


def test_platform_and_software_share_by_hand(world):
    columns = (
        "servers, servers_share, users, users_share, active_users, active_users_share, "
        "servers_without_users, servers_without_active_users"
    )
    platform = {
        r["family"]: tuple(r.values())[1:]
        for r in rows(world, f"SELECT family, {columns} FROM platform_share")
    }
    # 9 alive; users 300+30+60+9+1+5+7+3 = 415; active 100+10+3+1+2+7+3 = 126
    assert platform == {
        "mastodon": (4, 44.44, 340, 81.93, 120, 95.24, 0, 0),
        "misskey": (2, 22.22, 60, 14.46, 0, 0.0, 1, 2),
        "lemmy": (2, 22.22, 10, 2.41, 4, 3.17, 0, 0),
        "pleroma": (1, 11.11, 5, 1.2, 2, 1.59, 0, 0),
    }
    order = [r["family"] for r in rows(world, "SELECT family FROM platform_share ORDER BY rowid")]
    assert order == ["mastodon", "lemmy", "misskey", "pleroma"]  # instances desc, then name
    software = {
        r["software"]: tuple(r.values())[1:]
        for r in rows(world, f"SELECT software, {columns} FROM software_share")
    }
    assert software == {
        "mastodon": (3, 33.33, 310, 74.7, 110, 87.3, 0, 0),
        "lemmy": (2, 22.22, 10, 2.41, 4, 3.17, 0, 0),
        "hometown": (1, 11.11, 30, 7.23, 10, 7.94, 0, 0),
        "misskey": (1, 11.11, 0, 0.0, 0, 0.0, 1, 1),
        "sharkey": (1, 11.11, 60, 14.46, 0, 0.0, 0, 1),
        "akkoma": (1, 11.11, 5, 1.2, 2, 1.59, 0, 0),
    }
    crawl = {r["crawl_id"] for r in rows(world, "SELECT crawl_id FROM software_share")}
    assert crawl == {1}


def test_instance_metrics_degrees_components_and_pagerank(world):
    metrics = {r["domain"]: r for r in rows(world, "SELECT * FROM instance_metrics")}
    edges = peer_edges()
    nodes = {n for e in edges for n in e}
    assert set(metrics) == nodes
    for domain in nodes:
        assert metrics[domain]["out_degree"] == sum(1 for s, _ in edges if s == domain)
        assert metrics[domain]["in_degree"] == sum(1 for _, t in edges if t == domain)
    assert (metrics["a.test"]["in_degree"], metrics["a.test"]["out_degree"]) == (2, 2)
    # Weak components of the peer graph (block rules and moves are not peer edges).
    components = [{"a.test", "b.test", "c.test", "d.test", "g.test", "z.test"}]
    components += [{"e.test", "f.test"}, {"x.test", "y.test"}]
    assert set().union(*components) == nodes
    for members in components:
        assert {metrics[d]["component_size"] for d in members} == {len(members)}
        assert len({metrics[d]["component"] for d in members}) == 1
    assert len({metrics[min(c)]["component"] for c in components}) == 3
    # PageRank over every known domain (the ones outside the peer graph hold rank too).
    graph = nx.DiGraph(edges)
    graph.add_nodes_from(r["name"] for r in rows(world, "SELECT name FROM domains"))
    want = nx.pagerank(graph, alpha=0.85, tol=1e-13, max_iter=1000)
    for domain in nodes:
        assert metrics[domain]["pagerank"] == pytest.approx(want[domain], rel=1e-7, abs=1e-10)
    assert {m["crawl_id"] for m in metrics.values()} == {1}


def table_rows(db, name: str) -> tuple[list[str], list[tuple]]:
    connection = sqlite3.connect(db)
    try:
        cursor = connection.execute(TABLES[name])
        return [d[0] for d in cursor.description], [tuple(r) for r in cursor]
    finally:
        connection.close()


def as_text(value) -> str:
    return "" if value is None else str(value)


def parquet_rows(duck, dataset: Path, name: str, header: list[str]) -> list[tuple]:
    """A table as the dataset holds it: a snapshot file, or its Hive partitions (crawl_id from
    the path), or, for the peer_edges view, the open peer intervals named through domains."""
    columns = ", ".join(f'"{c}"' for c in header)
    if name == "peer_edges":
        query = (
            "SELECT s.name AS source, t.name AS target, p.first_crawl "
            f"FROM read_parquet('{dataset}/peer_intervals/*.parquet') p "
            f"JOIN '{dataset}/domains.parquet' s ON s.id = p.source_id "
            f"JOIN '{dataset}/domains.parquet' t ON t.id = p.target_id "
            "WHERE p.removed_crawl IS NULL"
        )
    elif name == "peer_intervals":
        query = f"SELECT {columns} FROM read_parquet('{dataset}/peer_intervals/*.parquet')"
    elif (dataset / f"{name}.parquet").exists():
        query = f"SELECT {columns} FROM '{dataset}/{name}.parquet'"
    else:
        partitions = f"{dataset}/{name}/crawl_id=*/part-0.parquet"
        query = f"SELECT {columns} FROM read_parquet('{partitions}', hive_partitioning = true)"
    return [tuple(r) for r in duck.execute(query).fetchall()]


def test_csv_and_parquet_are_the_tables_column_for_column(world, tmp_path):
    files = {Path(p).stem: p for p in export(str(world), "csv", str(tmp_path / "csv"))}
    assert set(files) == set(TABLES)
    for name, path in files.items():
        header, want = table_rows(world, name)
        with open(path, newline="", encoding="utf-8") as handle:
            got_header, *got = list(csv.reader(handle))
        assert got_header == header, name
        assert got == [[as_text(v) for v in row] for row in want], name
    # Parquet: a dataset directory (snapshot tables, per-crawl partitions, peer intervals).
    dataset = tmp_path / "parquet"
    export(str(world), "parquet", str(dataset))
    connection = sqlite3.connect(world)
    try:
        in_db = {
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
            )
        }
    finally:
        connection.close()
    snapshots = {p.stem for p in dataset.glob("*.parquet")}
    partitioned = {p.parts[-3] for p in dataset.glob("*/crawl_id=*/part-0.parquet")}
    assert partitioned == {"instance_stats", "block_events", "rejected_names"}
    # Every table and view is in the dataset but raw answers and views restating other tables.
    assert snapshots | partitioned | {"peer_intervals"} == in_db - LEFT_OUT | {"peer_intervals"}
    assert set(TABLES) <= snapshots | partitioned | {"peer_edges"}
    with duckdb.connect() as duck:
        for name in sorted(snapshots | partitioned | {"peer_intervals", "peer_edges"}):
            connection = sqlite3.connect(world)
            try:
                cursor = connection.execute(f'SELECT * FROM "{name}"')
                header = [d[0] for d in cursor.description]
                want = [tuple(r) for r in cursor]
            finally:
                connection.close()
            if name in snapshots:
                assert pq.read_schema(dataset / f"{name}.parquet").names == header, name
            got = parquet_rows(duck, dataset, name, header)
            assert sorted(got, key=repr) == sorted(want, key=repr), name
    _, edges = table_rows(world, "peer_edges")
    assert sorted((s, t) for s, t, _ in edges) == sorted(peer_edges())
    header, instances = table_rows(world, "instances")
    assert header[0] == "domain" and len(instances) == 11


@pytest.mark.parametrize("fmt", ["gexf", "graphml"])
def test_graph_exports_keep_direction_and_attributes(world, tmp_path, fmt):
    paths = export(str(world), fmt, str(tmp_path))
    read = nx.read_gexf if fmt == "gexf" else nx.read_graphml
    peers = read(next(p for p in paths if "peers" in p))
    assert peers.is_directed()
    assert set(peers.edges()) == set(peer_edges())
    blocks = read(next(p for p in paths if "blocks" in p))
    assert blocks.is_directed()
    edges = [(s, t, d["severity"], d["severity_raw"]) for s, t, d in blocks.edges(data=True)]
    assert edges == [("c.test", "e.test", "other", "suspended")]
    for domain, (family, software, users, active, _, _) in SERVERS.items():
        node = peers.nodes[domain]
        want = {"family": family, "software": software, "status": "alive"}
        want |= {"users_total": users, "users_active_month": active}
        got = {k: node.get(k) for k in want}
        got = {k: int(v) if k.startswith("users") and v is not None else v for k, v in got.items()}
        assert got == want, domain
    assert peers.nodes["g.test"]["status"] == "moved"
    assert "software" not in peers.nodes["z.test"]  # nulls are left out, not invented


def test_pagerank_with_dangling_nodes_equals_networkx():
    """The power iteration itself, every index a node (the default), against networkx."""
    edges = [(0, 1), (1, 2), (2, 0), (2, 3), (4, 3)]  # 3 is dangling, 4 only links out
    matrix = sparse.csr_matrix(([1.0] * len(edges), tuple(zip(*edges, strict=True))), (6, 6))
    graph = nx.DiGraph(edges)
    graph.add_node(5)
    want = nx.pagerank(graph, alpha=0.85, tol=1e-13, max_iter=1000)
    got = pagerank(matrix)
    assert got.tolist() == pytest.approx([want[i] for i in range(6)], rel=1e-7)
    assert pagerank(sparse.csr_matrix((0, 0))).tolist() == []
