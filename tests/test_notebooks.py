"""The notebooks researchers start from run top to bottom on the two-crawl demo database, and
what they print agrees with the database itself."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def one(db: Path, sql: str) -> tuple:
    connection = sqlite3.connect(db)
    try:
        return connection.execute(sql).fetchone()
    finally:
        connection.close()


def expected_lines(name: str, db: Path) -> list[str]:
    """Lines each notebook must print, computed here straight from SQLite."""
    if name == "explore.ipynb":
        # "mastodon" and "block graph:" alone were printed whatever the numbers were.
        (reported,) = one(
            db,
            "SELECT count(*) FROM instances WHERE status = 'alive' AND users_total IS NOT NULL",
        )
        (edges,) = one(db, "SELECT count(*) FROM peer_edges")
        nodes, blocks = one(
            db,
            "SELECT (SELECT count(*) FROM (SELECT blocker FROM block_edges UNION "
            "SELECT blocked FROM block_edges)), "
            "(SELECT count(*) FROM (SELECT DISTINCT blocker, blocked FROM block_edges))",
        )
        return [
            "mastodon",
            f"{reported} servers reported users",
            f"{edges} current peer edges",
            f"block graph: {nodes} servers, {blocks} edges",
        ]
    if name == "platforms.ipynb":
        crawls, families = one(
            db,
            "SELECT count(DISTINCT crawl_id), count(DISTINCT family) FROM platform_share_history",
        )
        family, servers = one(
            db,
            "SELECT family, servers FROM platform_share_history WHERE crawl_id = "
            "(SELECT max(crawl_id) FROM platform_share_history) ORDER BY servers DESC LIMIT 1",
        )
        return [
            f"platform mix: {crawls} crawls, {families} families; largest in crawl {crawls}: "
            f"{family} with {servers} servers"
        ]
    if name == "block_graph.ipynb":
        (edges,) = one(db, "SELECT count(*) FROM block_edges")
        read, live = one(
            db,
            "SELECT sum(servers) FILTER (WHERE visibility = 'public'), sum(servers) "
            "FROM block_list_coverage",
        )
        return [f"{edges} edges", f"coverage: {read} of {live} live servers' block lists read"]
    if name == "server.ipynb":
        (domain,) = one(
            db,
            "SELECT m.domain FROM instance_metrics m JOIN instances i USING (domain) "
            "JOIN blocked_domains b ON b.domain = m.domain "
            "WHERE i.status = 'alive' ORDER BY m.in_degree DESC, m.domain LIMIT 1",
        )
        (peers,) = one(db, f"SELECT count(*) FROM peer_edges WHERE source = '{domain}'")
        (listed,) = one(db, f"SELECT count(*) FROM peer_edges WHERE target = '{domain}'")
        (own,) = one(db, f"SELECT count(*) FROM blocks WHERE blocker = '{domain}' AND active = 1")
        return [f"neighbourhood of {domain}: {peers} peers, listed by {listed}, ", f"blocks {own}"]
    if name == "dataset.ipynb":
        (edges,) = one(db, "SELECT count(*) FROM peer_edges")
        return ["files match manifest.json", f"{edges} current peer edges"]
    raise AssertionError(f"no expectations for {name}: add them here")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes_on_the_demo_database(path, demo_db, monkeypatch, tmp_path):
    monkeypatch.setenv("FEDISCOPE_DB", str(demo_db))
    monkeypatch.setenv("FEDISCOPE_DATASET", str(tmp_path / "dataset"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    outputs = "".join(
        output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", [])
    )
    for line in expected_lines(path.name, demo_db):
        assert line in outputs, (line, outputs[-2000:])


def test_every_notebook_takes_the_database_as_a_parameter():
    # An empty or shrunken glob would quietly parametrize the execution test away.
    assert [p.name for p in NOTEBOOKS] == [
        "block_graph.ipynb", "dataset.ipynb", "explore.ipynb", "platforms.ipynb", "server.ipynb",
    ]  # fmt: skip
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        source = "".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
        assert 'os.environ.get("FEDISCOPE_DB", "../data/demo.db")' in source, path


def test_notebooks_are_committed_without_outputs():
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        assert all(
            not cell.get("outputs") and cell.get("execution_count") is None
            for cell in notebook.cells
            if cell.cell_type == "code"
        ), path
