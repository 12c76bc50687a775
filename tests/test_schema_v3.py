"""Schema 3 names every count column `servers`; a database from schema 2 is migrated on open.

The schema-2 database is the hand-built small world, analysed, with its share tables and the
block_list_coverage view put back the way schema 2 named them, and without schema 4's languages
and address columns: opening it runs both steps.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.store.schema import COUNT_COLUMN_RENAMES, SCHEMA_VERSION, SHARE_TABLES
from crawler.store.stats import TRIGGERS as STATS_TRIGGERS
from crawler.store.stats import VALUES as STATS_VALUES
from crawler.store.stats import VIEW as STATS_VIEW
from graph.analyze import analyze
from tests.small_world import build_world

#: Schema 4's columns, absent from a schema-2 database (dropping them needs the view gone first).
V2_WITHOUT_V4 = """
    DROP VIEW instance_stats;
    ALTER TABLE instances DROP COLUMN languages; ALTER TABLE instances DROP COLUMN address;
    ALTER TABLE instance_intervals DROP COLUMN languages;
    ALTER TABLE instance_intervals DROP COLUMN address;"""
V2_VALUES = tuple(c for c in STATS_VALUES if c not in {"languages", "address"})


def v2_stats_sql(sql: str) -> str:
    """A schema-4 statement of the instance_stats view or its triggers as schema 2 wrote it."""
    for column_list in (lambda c: c, lambda c: f"NEW.{c}", lambda c: f"i.{c} AS {c}"):
        sql = sql.replace(
            ", ".join(map(column_list, STATS_VALUES)), ", ".join(map(column_list, V2_VALUES))
        )
    assert "languages" not in sql
    return sql


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
        connection.executescript(V2_WITHOUT_V4)
        connection.execute(f"CREATE VIEW instance_stats AS {v2_stats_sql(STATS_VIEW)}")
        for trigger in STATS_TRIGGERS:
            connection.execute(v2_stats_sql(trigger))
        connection.execute("PRAGMA user_version = 2")
        rows = {name: table(connection, name) for name in (*SHARE_TABLES, "block_list_coverage")}
        rows["instance_intervals"] = table(connection, "instance_intervals")
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
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
        for name in (*SHARE_TABLES, "block_list_coverage"):
            assert table(connection, name) == before[name], f"{name} changed beyond its names"
            assert not any(c.startswith("instances") for c in columns(connection, name))
        assert columns(connection, "platform_share")[:3] == ["family", "servers", "servers_share"]
        assert "servers" in columns(connection, "block_list_coverage")
        shares = dict(connection.execute("SELECT family, servers FROM platform_share"))
        # Schema 4: the new columns are there, empty for the old rows, and the view writes them.
        for name in ("instances", "instance_intervals", "instance_stats"):
            assert {"languages", "address"} <= set(columns(connection, name)), name
        old_width = len(before["instance_intervals"][0])
        assert [r[:old_width] for r in table(connection, "instance_intervals")] == before[
            "instance_intervals"
        ]
        assert connection.execute(
            "SELECT count(*) FROM instance_intervals WHERE languages IS NOT NULL "
            "OR address IS NOT NULL"
        ).fetchone() == (0,)
        connection.execute(
            "INSERT INTO instance_stats (domain, crawl_id, observed_at, status, languages, "
            "address) VALUES ('new.test', 1, '2026-01-05T10:30:00Z', 'alive', '[\"fr\"]', "
            "'45.1.1.1')"
        )
        assert connection.execute(
            "SELECT languages, address FROM instance_stats WHERE domain = 'new.test'"
        ).fetchall() == [('["fr"]', "45.1.1.1")]
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
