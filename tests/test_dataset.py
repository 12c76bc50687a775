"""The Parquet dataset: DuckDB reads back what SQLite holds, it grows crawl by crawl, and
`verify-dataset` catches a file changed after export."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from crawler.domains import SANDBOX
from crawler.observation import BlockRule, Observation
from crawler.store.writer import StoreWriter
from graph.analyze import analyze
from observatory.dataset import export_dataset
from observatory.manifest import DatasetError, metadata_tables, verify_dataset
from tests.small_world import analysed_world

REPO = Path(__file__).resolve().parent.parent


def sqlite_rows(db: Path, sql: str) -> list[tuple]:
    connection = sqlite3.connect(db)
    try:
        return sorted(connection.execute(sql).fetchall(), key=repr)
    finally:
        connection.close()


def duck_rows(sql: str) -> list[tuple]:
    with duckdb.connect() as connection:
        return sorted(connection.execute(sql).fetchall(), key=repr)


def hive(directory: Path, table: str) -> str:
    return f"read_parquet('{directory}/{table}/*/*.parquet', hive_partitioning = true)"


@pytest.fixture(scope="module")
def dataset(demo_db, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dataset") / "fediscope"
    report = export_dataset(str(demo_db), str(out))
    assert report.crawls_added == [1, 2]
    return out


def test_duckdb_reads_the_counts_sqlite_holds(demo_db, dataset):
    for table in ("instances", "blocks", "domains", "crawls", "block_edges", "blocked_domains"):
        assert duck_rows(f"SELECT count(*) FROM '{dataset}/{table}.parquet'") == sqlite_rows(
            demo_db, f"SELECT count(*) FROM {table}"
        ), table
    for table in ("instance_stats", "block_events", "rejected_names"):
        assert duck_rows(
            f"SELECT crawl_id, count(*) FROM {hive(dataset, table)} GROUP BY crawl_id"
        ) == sqlite_rows(demo_db, f"SELECT crawl_id, count(*) FROM {table} GROUP BY crawl_id")
    # The time series, stored as runs and expanded by the view, has one row per visit: the
    # crawl's own visit counter (kept apart by the engine) is the independent count.
    assert duck_rows(
        f"SELECT crawl_id, count(*) FROM {hive(dataset, 'instance_stats')} GROUP BY crawl_id"
    ) == sqlite_rows(demo_db, "SELECT id, visited FROM crawls")
    intervals = f"read_parquet('{dataset}/peer_intervals/*.parquet')"
    assert duck_rows(
        f"SELECT count(*), count(removed_crawl), sum(first_crawl) FROM {intervals}"
    ) == sqlite_rows(
        demo_db, "SELECT count(*), count(removed_crawl), sum(first_crawl) FROM peer_intervals"
    )
    # The current peer graph, rebuilt from intervals and domain ids, is the peer_edges view.
    assert duck_rows(
        f"SELECT s.name, t.name FROM {intervals} p "
        f"JOIN '{dataset}/domains.parquet' s ON s.id = p.source_id "
        f"JOIN '{dataset}/domains.parquet' t ON t.id = p.target_id "
        "WHERE p.removed_crawl IS NULL"
    ) == sqlite_rows(demo_db, "SELECT source, target FROM peer_edges")


def test_duckdb_aggregates_equal_sqlite(demo_db, dataset):
    assert duck_rows(
        f"SELECT crawl_id, status, count(*), sum(users_total), sum(users_active_month) "
        f"FROM {hive(dataset, 'instance_stats')} GROUP BY ALL"
    ) == sqlite_rows(
        demo_db,
        "SELECT crawl_id, status, count(*), sum(users_total), sum(users_active_month) "
        "FROM instance_stats GROUP BY 1, 2",
    )
    assert duck_rows(
        f"SELECT crawl_id, event, severity, count(*), sum(first_observation) "
        f"FROM {hive(dataset, 'block_events')} GROUP BY ALL"
    ) == sqlite_rows(
        demo_db,
        "SELECT crawl_id, event, severity, count(*), sum(first_observation) "
        "FROM block_events GROUP BY 1, 2, 3",
    )
    assert duck_rows(
        f"SELECT family, count(*), sum(users_total) FROM '{dataset}/instances.parquet' "
        "WHERE status = 'alive' GROUP BY ALL"
    ) == sqlite_rows(
        demo_db,
        "SELECT family, count(*), sum(users_total) FROM instances "
        "WHERE status = 'alive' GROUP BY 1",
    )
    # The demo world changed between its two crawls, so the history is not empty.
    assert duck_rows(
        f"SELECT count(*) > 0 FROM {hive(dataset, 'block_events')} WHERE crawl_id = 2"
    ) == [(True,)]


def test_manifest_counts_and_checksums(demo_db, dataset):
    manifest = json.loads((dataset / "manifest.json").read_text())
    assert manifest["schema_version"] == sqlite_rows(demo_db, "PRAGMA user_version")[0][0]
    crawls = sqlite_rows(demo_db, "SELECT id, started_at, finished_at, seeds FROM crawls")
    assert [
        (int(k), v["started_at"], v["finished_at"], json.dumps(v["seeds"]))
        for k, v in manifest["crawls"].items()
    ] == [(i, s, f, json.dumps(json.loads(seeds))) for i, s, f, seeds in crawls]
    assert (
        manifest["resources"]["instance_stats"]["rows"]
        == (sqlite_rows(demo_db, "SELECT count(*) FROM instance_stats")[0][0])
    )
    parquet = {n: e for n, e in manifest["files"].items() if n.endswith(".parquet")}
    assert parquet, "the manifest lists no Parquet files"
    for name, entry in parquet.items():
        # Every Parquet file states its rows; skipping entries without them hid files that don't.
        assert pq.ParquetFile(dataset / name).metadata.num_rows == entry["rows"], name
    check = verify_dataset(str(dataset))
    assert check.ok, check.problems
    assert check.files_checked == len(manifest["files"])


def test_datapackage_describes_every_column_from_metadata(dataset):
    package = json.loads((dataset / "datapackage.json").read_text())
    _, tables = metadata_tables()
    assert package["licenses"][0]["name"] == "CC-BY-4.0"
    for resource in package["resources"]:
        paths = resource["path"] if isinstance(resource["path"], list) else [resource["path"]]
        for path in paths:
            assert (dataset / path).is_file()
        in_file = pq.read_schema(dataset / paths[0]).names
        fields = [f["name"] for f in resource["schema"]["fields"]]
        assert [f for f in fields if f != "crawl_id" or "partitioning" not in resource] == in_file
        for column in resource["schema"]["fields"]:
            expected = tables[resource["name"]]["columns"][column["name"]]
            assert column["description"].startswith(expected), (resource["name"], column)


def test_verify_dataset_fails_on_a_changed_or_added_file(demo_db, tmp_path):
    out = tmp_path / "d"
    export_dataset(str(demo_db), str(out))
    command = [sys.executable, "-m", "crawler", "verify-dataset", str(out)]
    assert subprocess.run(command, capture_output=True, cwd=REPO).returncode == 0
    part = out / "instance_stats" / "crawl_id=1" / "part-0.parquet"
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0xFF
    part.write_bytes(bytes(data))
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    assert result.returncode != 0
    assert "instance_stats/crawl_id=1/part-0.parquet" in result.stderr
    assert "SHA-256 does not match" in result.stderr
    (out / "block_events" / "crawl_id=9").mkdir()
    (out / "block_events" / "crawl_id=9" / "part-0.parquet").write_bytes(b"PAR1")
    problems = verify_dataset(str(out)).problems
    assert any("crawl_id=9" in p and "not listed" in p for p in problems)


def test_one_crawl_then_the_rest_keeps_the_first_crawls_files(demo_db, tmp_path):
    out = tmp_path / "d"
    first = export_dataset(str(demo_db), str(out), crawl=1)
    assert first.crawls_added == [1]
    assert not (out / "instances.parquet").exists()  # snapshots describe the latest crawl only
    assert not (out / "instance_stats" / "crawl_id=2").exists()
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*.parquet")}
    second = export_dataset(str(demo_db), str(out))
    assert second.crawls_added == [2]
    for path, (mtime, content) in before.items():
        assert (path.stat().st_mtime_ns, path.read_bytes()) == (mtime, content), path
    assert verify_dataset(str(out)).ok
    assert duck_rows(
        f"SELECT count(*) FROM read_parquet('{out}/peer_intervals/*.parquet')"
    ) == sqlite_rows(demo_db, "SELECT count(*) FROM peer_intervals")


def test_a_snapshot_of_a_dropped_table_leaves_the_dataset(demo_db, tmp_path):
    db, out = tmp_path / "copy.db", tmp_path / "d"
    with sqlite3.connect(demo_db) as source, sqlite3.connect(db) as target:
        source.backup(target)
    export_dataset(str(db), str(out))
    assert (out / "mutual_blocks.parquet").exists()
    with sqlite3.connect(db) as connection:
        connection.execute("DROP TABLE mutual_blocks")
    export_dataset(str(db), str(out))
    assert not (out / "mutual_blocks.parquet").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert "mutual_blocks" not in manifest["resources"]
    assert verify_dataset(str(out)).ok


def test_a_dataset_of_another_database_is_refused(demo_db, tmp_path):
    out = tmp_path / "d"
    export_dataset(str(demo_db), str(out))
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["crawls"]["1"]["started_at"] = "2001-01-01T00:00:00Z"
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match="another database"):
        export_dataset(str(demo_db), str(out))


def test_exporting_after_a_new_crawl_adds_its_partitions_only(tmp_path):
    # The small hand-made world (three crawls), then a fourth crawl written by the store's own
    # writer: a.test drops a peer and publishes a new block list; d.test is back.
    db, out = analysed_world(tmp_path / "f.db"), tmp_path / "dataset"
    export_dataset(str(db), str(out))
    old = {
        p: (p.stat().st_mtime_ns, p.read_bytes())
        for p in out.rglob("*.parquet")
        if "crawl_id=" in str(p) or "closed-in-crawl-" in p.name
    }
    assert {p.parent.name for p in old if "crawl_id=" in str(p)} == {
        "crawl_id=1",
        "crawl_id=2",
        "crawl_id=3",
    }
    peers = sorted(
        r[0] for r in sqlite_rows(db, "SELECT target FROM peer_edges WHERE source = 'a.test'")
    )
    writer = StoreWriter(str(db), SANDBOX)
    moment = datetime(2026, 1, 26, 10, tzinfo=UTC)
    crawl_id, _ = writer.begin_crawl(["a.test"], {}, moment)
    rule = BlockRule("new.test", "suspend", "suspend", "new.test")
    for observation in (
        Observation("a.test", status="alive", software="mastodon", peers=peers[1:], blocks=[rule]),
        Observation("d.test", status="alive", software="lemmy", counts={"users_total": 21}),
    ):
        writer.record_visit(observation, crawl_id, 1, moment, timedelta(days=1))
    writer.finish_crawl(crawl_id, moment)
    writer.close()
    analyze(str(db))

    report = export_dataset(str(db), str(out))
    assert report.crawls_added == [4]
    for path, (mtime, content) in old.items():
        assert (path.stat().st_mtime_ns, path.read_bytes()) == (mtime, content), path
    assert verify_dataset(str(out)).ok
    assert (out / "instance_stats" / "crawl_id=4").is_dir()
    assert (out / "peer_intervals" / "closed-in-crawl-4.parquet").is_file()
    for table in ("instance_stats", "block_events"):
        assert duck_rows(
            f"SELECT crawl_id, count(*) FROM {hive(out, table)} GROUP BY crawl_id"
        ) == sqlite_rows(db, f"SELECT crawl_id, count(*) FROM {table} GROUP BY crawl_id")
    assert duck_rows(
        f"SELECT count(*), count(removed_crawl) FROM read_parquet('{out}/peer_intervals/*.parquet')"
    ) == sqlite_rows(db, "SELECT count(*), count(removed_crawl) FROM peer_intervals")
