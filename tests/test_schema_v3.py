"""Schema 3 names every count column `servers`; a database from schema 2 is migrated on open.

The schema-2 database is the hand-built small world, analysed, with its share tables and the
block_list_coverage view put back the way schema 2 named them.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.store.schema import COUNT_COLUMN_RENAMES, SCHEMA_VERSION, SHARE_TABLES
from graph.analyze import analyze
from tests.small_world import build_world

V2_COVERAGE = """
    CREATE VIEW block_list_coverage AS
    SELECT coalesce(family, 'unknown') AS family,
           coalesce(blocks_visibility, 'not read') AS visibility,
           count(*) AS instances,
           coalesce(sum(users_active_month), 0) AS active_users
    FROM instances WHERE status = 'alive'
    GROUP BY 1, 2 ORDER BY 1, instances DESC"""


def table(connection: sqlite3.Connection, name: str) -> list[tuple]:
    return connection.execute(f"SELECT * FROM {name} ORDER BY 1").fetchall()


def columns(connection: sqlite3.Connection, name: str) -> list[str]:
    return [row[1] for row in connection.execute(f"PRAGMA table_info({name})")]


@pytest.fixture
def v2_database(tmp_path) -> tuple[Path, dict[str, list[tuple]]]:
    """A schema-2 database and the rows of its share tables and coverage view."""
    db = build_world(tmp_path / "v2.db")
    analyze(str(db))
    with sqlite3.connect(db) as connection:
        for name in SHARE_TABLES:
            for old, new in COUNT_COLUMN_RENAMES.items():
                connection.execute(f"ALTER TABLE {name} RENAME COLUMN {new} TO {old}")
        connection.execute("DROP VIEW block_list_coverage")
        connection.execute(V2_COVERAGE)
        connection.execute("PRAGMA user_version = 2")
        rows = {name: table(connection, name) for name in (*SHARE_TABLES, "block_list_coverage")}
        assert "instances" in columns(connection, "platform_share")
    return db, rows


def test_a_schema_2_database_is_migrated_when_a_command_opens_it(v2_database):
    db, before = v2_database
    result = subprocess.run(
        [sys.executable, "-m", "crawler", "summary", "--json", "--db", str(db)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
        for name in (*SHARE_TABLES, "block_list_coverage"):
            assert table(connection, name) == before[name], f"{name} changed beyond its names"
            assert not any(c.startswith("instances") for c in columns(connection, name))
        assert columns(connection, "platform_share")[:3] == ["family", "servers", "servers_share"]
        assert "servers" in columns(connection, "block_list_coverage")
        shares = dict(connection.execute("SELECT family, servers FROM platform_share"))
    assert {p["family"]: p["servers"] for p in summary["top_platforms"]} == {
        family: n
        for family, n in shares.items()
        if family in {p["family"] for p in summary["top_platforms"]}
    }


def test_a_schema_2_database_that_cannot_be_written_gets_one_line(v2_database, monkeypatch):
    from click.testing import CliRunner

    from crawler import cli
    from crawler.store import schema

    def read_only(path: str, **_: object) -> None:
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(schema, "open_database", read_only)
    db, _ = v2_database
    result = CliRunner().invoke(cli.cli, ["summary", "--db", str(db)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    (line,) = result.output.strip().splitlines()
    assert "older fediscope (schema 2)" in line and "write access" in line
