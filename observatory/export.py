"""`fediscope export`: the data for other tools — CSV, Parquet, GEXF (Gephi) and GraphML.

Tables go out as published in Datasette (block patterns as their owners wrote them, opted-out
servers with domain, status and reason only). CSV is streamed row by row. Parquet is a dataset
directory that grows crawl by crawl, with a manifest and a Frictionless datapackage
(observatory/dataset.py; needs pyarrow: `pip install 'fediscope[parquet]'`). Graph formats go
through networkx: the public block graph always, the peer graph only up to MAX_GRAPH_EDGES
(beyond that, use the CSV or Parquet edge list with a tool made for large graphs).
"""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import networkx as nx

MAX_GRAPH_EDGES = 2_000_000

TABLES = {
    "instances": "SELECT * FROM instances ORDER BY domain",
    "instance_stats": "SELECT * FROM instance_stats ORDER BY domain, crawl_id",
    "peer_edges": "SELECT source, target, first_crawl FROM peer_edges",
    "blocks": (
        "SELECT blocker, blocked, blocked_pattern, blocked_digest, kind, severity, severity_raw, "
        "reason, first_seen, last_seen, active FROM blocks ORDER BY blocker, blocked_pattern"
    ),
    "block_events": "SELECT * FROM block_events ORDER BY id",
    "exclusions": "SELECT * FROM exclusions ORDER BY domain",
    "crawls": "SELECT * FROM crawls ORDER BY id",
    "platform_share": "SELECT * FROM platform_share",
    "software_share": "SELECT * FROM software_share",
    "instance_metrics": "SELECT * FROM instance_metrics",
    "blocked_domains": "SELECT * FROM blocked_domains",
}
NODE_ATTRIBUTES = ("software", "family", "version", "users_total", "users_active_month", "status")


class ExportError(ValueError):
    """The export cannot be written (unknown format, missing optional dependency)."""


def export(db_path: str, fmt: str, out: str, crawl: int | None = None) -> list[str]:
    """Write the export into `out`; return what to report (the files, or the dataset summary)."""
    if crawl is not None and fmt != "parquet":
        raise ExportError("--crawl works with --format parquet (the dataset)")
    if fmt == "parquet":
        from observatory.dataset import export_dataset
        from observatory.manifest import DatasetError

        try:
            import pyarrow  # noqa: F401
        except ImportError as exc:
            raise ExportError("Parquet needs pyarrow: pip install 'fediscope[parquet]'") from exc
        try:
            return export_dataset(db_path, out, crawl).lines()
        except DatasetError as exc:
            raise ExportError(str(exc)) from exc
    directory = Path(out)
    directory.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        if fmt == "csv":
            return [str(_csv(connection, name, directory)) for name in _present(connection)]
        if fmt in ("gexf", "graphml"):
            return _graphs(connection, fmt, directory)
    finally:
        connection.close()
    raise ExportError(f"unknown format {fmt!r}")


def _present(connection: sqlite3.Connection) -> list[str]:
    existing = {
        row[0]
        for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
        )
    }
    return [name for name in TABLES if name in existing]


def _rows(connection: sqlite3.Connection, name: str) -> tuple[list[str], Iterator[tuple]]:
    cursor = connection.execute(TABLES[name])
    return [d[0] for d in cursor.description], iter(cursor)


def _csv(connection: sqlite3.Connection, name: str, directory: Path) -> Path:
    path = directory / f"{name}.csv"
    header, rows = _rows(connection, name)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _graphs(connection: sqlite3.Connection, fmt: str, directory: Path) -> list[str]:
    write = nx.write_gexf if fmt == "gexf" else nx.write_graphml
    nodes = _nodes(connection)
    written = []
    # One edge per rule: a server may publish several rules against one domain.
    blocks = nx.MultiDiGraph(name="fediscope public block graph")
    blocks.add_nodes_from(nodes.items())
    has_edges_table = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE name = 'block_edges'"
    ).fetchone()
    query = (
        "SELECT blocker, blocked, severity, severity_raw FROM block_edges"
        if has_edges_table
        else "SELECT blocker, blocked, severity, severity_raw FROM blocks "
        "WHERE active = 1 AND blocked IS NOT NULL"
    )
    for blocker, blocked, severity, raw in connection.execute(query):
        blocks.add_edge(blocker, blocked, severity=severity, severity_raw=raw)
    path = directory / f"blocks.{fmt}"
    write(blocks, path)
    written.append(str(path))
    (edges,) = connection.execute(
        "SELECT count(*) FROM peer_intervals WHERE removed_crawl IS NULL"
    ).fetchone()
    if edges <= MAX_GRAPH_EDGES:
        peers = nx.DiGraph(name="fediscope peer graph")
        peers.add_nodes_from(nodes.items())
        peers.add_edges_from(connection.execute("SELECT source, target FROM peer_edges"))
        path = directory / f"peers.{fmt}"
        write(peers, path)
        written.append(str(path))
    return written


def _nodes(connection: sqlite3.Connection) -> dict[str, dict[str, object]]:
    """Node attributes (GEXF/GraphML cannot hold nulls, so absent values are left out)."""
    columns = ", ".join(NODE_ATTRIBUTES)
    result = {}
    for row in connection.execute(f"SELECT domain, {columns} FROM instances"):
        result[row[0]] = {
            key: value
            for key, value in zip(NODE_ATTRIBUTES, row[1:], strict=True)
            if value is not None
        }
    return result
