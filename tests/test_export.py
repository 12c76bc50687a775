"""Exports hold what the database holds."""

from __future__ import annotations

import csv
import sqlite3

import networkx as nx
import pyarrow.parquet as pq
import pytest

from observatory.export import ExportError, export


def count(db, sql: str) -> int:
    connection = sqlite3.connect(db)
    try:
        return connection.execute(sql).fetchone()[0]
    finally:
        connection.close()


def select(db, sql: str) -> list[tuple]:
    connection = sqlite3.connect(db)
    try:
        return [tuple(row) for row in connection.execute(sql)]
    finally:
        connection.close()


def test_csv_has_every_row(demo_db, tmp_path):
    files = {p.split("/")[-1].split(".")[0]: p for p in export(str(demo_db), "csv", str(tmp_path))}
    for table, sql in (
        ("instances", "SELECT count(*) FROM instances"),
        ("peer_edges", "SELECT count(*) FROM peer_edges"),
        ("blocks", "SELECT count(*) FROM blocks"),
    ):
        with open(files[table], newline="", encoding="utf-8") as handle:
            exported = sum(1 for _ in csv.reader(handle)) - 1
        assert exported == count(demo_db, sql), table


def test_parquet_is_the_dataset_and_crawl_needs_it(demo_db, tmp_path):
    lines = export(str(demo_db), "parquet", str(tmp_path))
    assert lines[0].startswith(f"dataset {tmp_path}: crawls added 1, 2;")
    instances = pq.read_table(tmp_path / "instances.parquet").num_rows
    assert instances == count(demo_db, "SELECT count(*) FROM instances")
    with pytest.raises(ExportError, match="--crawl"):
        export(str(demo_db), "csv", str(tmp_path / "csv"), crawl=1)


@pytest.mark.parametrize("fmt", ["gexf", "graphml"])
def test_graph_formats(demo_db, tmp_path, fmt):
    paths = export(str(demo_db), fmt, str(tmp_path))

    def read(path):
        return (
            nx.read_gexf(path)
            if fmt == "gexf"
            else nx.read_graphml(path, force_multigraph="blocks" in path)
        )

    blocks = read(next(p for p in paths if "blocks" in p))
    edges = sorted((s, t, d["severity"], d["severity_raw"]) for s, t, d in blocks.edges(data=True))
    assert edges == sorted(
        select(demo_db, "SELECT blocker, blocked, severity, severity_raw FROM block_edges")
    )
    peers = read(next(p for p in paths if "peers" in p))
    assert set(peers.edges()) == set(select(demo_db, "SELECT source, target FROM peer_edges"))
    assert peers.number_of_edges() == count(demo_db, "SELECT count(*) FROM peer_edges")
    for domain, family, users in select(
        demo_db, "SELECT domain, family, users_total FROM instances WHERE status = 'alive'"
    ):
        node = peers.nodes[domain]
        assert (node.get("family"), int(node["users_total"]) if users is not None else None) == (
            family,
            users,
        ), domain
