"""`fediscope export --format parquet`: a citable dataset directory that grows crawl by crawl.

Layout (every file is Parquet; DuckDB, Polars and Spark read it as is):

    manifest.json             versions, crawls (dates, seeds), row counts, SHA-256 of every file
    datapackage.json          Frictionless Data Package: every resource and column described
    instances.parquet, ...    snapshot tables: the database at export time
    instance_stats/crawl_id=N/part-0.parquet     time series, one Hive partition per crawl
    block_events/crawl_id=N/part-0.parquet       (also rejected_names)
    peer_intervals/closed-in-crawl-N.parquet     peer edges [first_crawl, removed_crawl) closed
                                                 by crawl N
    peer_intervals/open.parquet                  peer edges still open (the current graph)

A finished crawl's files never change once written: exporting again into the same directory adds
the partitions of crawls it does not hold yet and rewrites only the snapshot tables and the open
peer intervals (which describe "now"). Running crawls are left out until they finish. Columns keep
SQLite's declared types; a partition column (crawl_id) lives in the path, not in the file.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from observatory.manifest import (
    DatasetError,
    file_entry,
    read_manifest,
    write_datapackage,
    write_manifest,
)

BATCH_ROWS = 200_000

#: Time series: rows written once by one crawl, one Hive partition per crawl.
PARTITIONED = {
    "instance_stats": "ORDER BY domain",
    "block_events": "ORDER BY id",
    "rejected_names": "ORDER BY reason",
}
#: Never exported: raw answers (large, and fetched from servers that did not publish them as data),
#: views that only restate exported tables with names (the peer graph twice over: 23M rows at
#: full scale), instance_intervals (exported expanded, as instance_stats) and peer_intervals
#: (written apart), the pages' own bookkeeping (chart snapshots for ?crawl=N, data_state), and
#: the imported IP-to-AS table (third-party reference data, hundreds of thousands of ranges,
#: available from its source; hosting_share carries what was found with it).
LEFT_OUT = {
    "asn_ranges",
    "chart_snapshots",
    "chart_specs",
    "chart_snapshot_rows",
    "data_state",
    "document_log",
    "document_bodies",
    "instance_intervals",
    "documents",
    "peer_edges",
    "federation_edges",
    "peer_intervals",
    "sqlite_stat1",
    "sqlite_sequence",
}
#: Snapshot ordering where the natural key is not the first column.
SNAPSHOT_ORDER = {
    "instances": "ORDER BY domain",
    "blocks": "ORDER BY blocker, blocked_pattern, severity_raw",
    "crawls": "ORDER BY id",
    "domains": "ORDER BY id",
    "exclusions": "ORDER BY domain",
}
PEERS = "peer_intervals"


@dataclass
class DatasetReport:
    """What one export into a dataset directory did."""

    directory: Path
    written: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    crawls_added: list[int] = field(default_factory=list)
    crawls_skipped: dict[int, str] = field(default_factory=dict)

    def lines(self) -> list[str]:
        added = ", ".join(map(str, self.crawls_added)) or "none"
        lines = [
            f"dataset {self.directory}: crawls added {added}; "
            f"{len(self.written)} files written, {len(self.kept)} kept unchanged"
        ]
        lines += [f"crawl {c} not exported: {why}" for c, why in self.crawls_skipped.items()]
        return lines


def export_dataset(db_path: str, out: str, crawl: int | None = None) -> DatasetReport:
    """Write or extend the Parquet dataset in `out` (only crawl `crawl`'s partitions if given)."""
    directory = Path(out)
    directory.mkdir(parents=True, exist_ok=True)
    report = DatasetReport(directory)
    connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        # One read transaction: every file describes the same state of a database that a crawl
        # may be writing at this moment.
        connection.execute("BEGIN")
        _export(connection, directory, crawl, report)
        connection.execute("COMMIT")
    finally:
        connection.close()
    return report


def _export(
    connection: sqlite3.Connection, directory: Path, only: int | None, report: DatasetReport
) -> None:
    manifest = read_manifest(directory)
    crawls = _crawls(connection)
    _check_same_database(manifest, crawls, directory)
    if only is not None and only not in crawls:
        raise DatasetError(f"crawl {only} is not in the database")
    held = {int(c) for c in manifest.get("crawls", {})} if manifest else set()
    files: dict[str, dict[str, Any]] = dict(manifest.get("files", {})) if manifest else {}
    latest = max(crawls) if crawls else None
    wanted = [only] if only is not None else sorted(crawls)
    for crawl_id in wanted:
        info = crawls[crawl_id]
        if info["status"] != "finished":
            report.crawls_skipped[crawl_id] = "still running (export it when it has finished)"
            continue
        if crawl_id in held:
            if only is not None:
                report.crawls_skipped[crawl_id] = "already in the dataset (its files are kept)"
            continue
        for table, order in PARTITIONED.items():
            if _exists(connection, table):
                path = directory / table / f"crawl_id={crawl_id}" / "part-0.parquet"
                rows = _write_query(
                    connection,
                    _select(connection, table, exclude={"crawl_id"}, where="crawl_id = ?")
                    + f" {order}",
                    (crawl_id,),
                    path,
                    _arrow_schema(connection, table, exclude={"crawl_id"}),
                )
                _record(files, directory, path, table, rows, report)
        path = directory / PEERS / f"closed-in-crawl-{crawl_id}.parquet"
        rows = _write_query(
            connection,
            f"SELECT * FROM {PEERS} WHERE removed_crawl = ? ORDER BY source_id, target_id",
            (crawl_id,),
            path,
            _arrow_schema(connection, PEERS),
        )
        _record(files, directory, path, PEERS, rows, report)
        held.add(crawl_id)
        report.crawls_added.append(crawl_id)
    if only is None or only == latest:
        _write_snapshots(connection, directory, files, held, report)
    exported = {c: crawls[c] for c in sorted(held) if c in crawls}
    write_datapackage(directory, files)
    files["datapackage.json"] = file_entry(directory, directory / "datapackage.json", None, None)
    report.written.append(str(directory / "datapackage.json"))
    write_manifest(directory, manifest, exported, files, _schema_version(connection))
    report.written.append(str(directory / "manifest.json"))
    rewritten = {_relative(directory, Path(p)) for p in report.written}
    report.kept = sorted(set(files) - rewritten)


def _write_snapshots(
    connection: sqlite3.Connection,
    directory: Path,
    files: dict[str, dict[str, Any]],
    held: set[int],
    report: DatasetReport,
) -> None:
    """The tables that describe the database now, and the peer intervals still open."""
    tables = _snapshot_tables(connection)
    for table in tables:
        path = directory / f"{table}.parquet"
        query = _select(connection, table) + " " + SNAPSHOT_ORDER.get(table, "")
        rows = _write_query(connection, query, (), path, _arrow_schema(connection, table))
        _record(files, directory, path, table, rows, report)
    # A snapshot of a table the database no longer has would describe nothing current.
    for name in [n for n in files if n.endswith(".parquet") and "/" not in n]:
        if name.removesuffix(".parquet") not in tables:
            (directory / name).unlink(missing_ok=True)
            del files[name]
    closed = ", ".join(str(c) for c in sorted(held)) or "NULL"
    path = directory / PEERS / "open.parquet"
    rows = _write_query(
        connection,
        f"SELECT * FROM {PEERS} WHERE removed_crawl IS NULL OR removed_crawl NOT IN ({closed}) "
        "ORDER BY source_id, target_id",
        (),
        path,
        _arrow_schema(connection, PEERS),
    )
    _record(files, directory, path, PEERS, rows, report)


def _snapshot_tables(connection: sqlite3.Connection) -> list[str]:
    names = [
        row[0]
        for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name"
        )
    ]
    return [n for n in names if n not in LEFT_OUT and n not in PARTITIONED]


def _crawls(connection: sqlite3.Connection) -> dict[int, dict[str, Any]]:
    crawls = {}
    for crawl_id, started, finished, status, seeds, via, version in connection.execute(
        "SELECT id, started_at, finished_at, status, seeds, via, fediscope_version "
        "FROM crawls ORDER BY id"
    ):
        crawls[crawl_id] = {
            "started_at": started,
            "finished_at": finished,
            "status": status,
            "seeds": json.loads(seeds) if seeds else [],
            "sandbox": via is not None,
            "fediscope_version": version,
        }
    return crawls


def _check_same_database(
    manifest: dict[str, Any], crawls: dict[int, dict[str, Any]], directory: Path
) -> None:
    for key, held in (manifest.get("crawls") or {}).items():
        mine = crawls.get(int(key))
        if mine is None or mine["started_at"] != held.get("started_at"):
            raise DatasetError(
                f"{directory} holds a dataset of another database (its crawl {key} "
                "is not this database's); export into a new directory"
            )


def _exists(connection: sqlite3.Connection, name: str) -> bool:
    row = connection.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone()
    return row is not None


def _columns(connection: sqlite3.Connection, table: str) -> list[tuple[str, str]]:
    return [(row[1], row[2] or "") for row in connection.execute(f"PRAGMA table_info([{table}])")]


def _select(
    connection: sqlite3.Connection, table: str, exclude: set[str] = frozenset(), where: str = ""
) -> str:
    columns = ", ".join(f"[{n}]" for n, _ in _columns(connection, table) if n not in exclude)
    return f"SELECT {columns} FROM [{table}]" + (f" WHERE {where}" if where else "")


def _arrow_schema(connection: sqlite3.Connection, table: str, exclude: set[str] = frozenset()):
    """Arrow types from SQLite's declared types (None where SQLite declares none)."""
    import pyarrow as pa

    fields = []
    for name, declared in _columns(connection, table):
        if name in exclude:
            continue
        kind = declared.upper()
        if "INT" in kind:
            arrow = pa.int64()
        elif any(word in kind for word in ("REAL", "FLOA", "DOUB")):
            arrow = pa.float64()
        elif any(word in kind for word in ("TEXT", "CHAR", "CLOB")):
            arrow = pa.string()
        elif "BLOB" in kind:
            arrow = pa.binary()
        else:
            arrow = None
        fields.append((name, arrow))
    return fields


def _batches(cursor: sqlite3.Cursor) -> Iterator[list[tuple]]:
    while batch := cursor.fetchmany(BATCH_ROWS):
        yield batch


def _write_query(
    connection: sqlite3.Connection,
    query: str,
    params: tuple,
    path: Path,
    declared: list[tuple[str, Any]],
) -> int:
    """Stream a query into one Parquet file (written aside, then moved into place); row count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    cursor = connection.execute(query, params)
    names = [d[0] for d in cursor.description]
    types = dict(declared)
    writer = None
    rows = 0
    try:
        for batch in _batches(cursor):
            columns = list(zip(*batch, strict=True))
            arrays = [
                _array(values, types.get(name)) for name, values in zip(names, columns, strict=True)
            ]
            if writer is None:
                schema = pa.schema(
                    [
                        pa.field(
                            n, types.get(n) or (a.type if a.type != pa.null() else pa.string())
                        )
                        for n, a in zip(names, arrays, strict=True)
                    ]
                )
                writer = pq.ParquetWriter(partial, schema, compression="zstd")
            table = pa.Table.from_arrays(arrays, names=names)
            writer.write_table(table.cast(writer.schema))
            rows += len(batch)
        if writer is None:
            schema = pa.schema([pa.field(n, types.get(n) or pa.string()) for n in names])
            pq.write_table(schema.empty_table(), partial, compression="zstd")
    finally:
        if writer is not None:
            writer.close()
    os.replace(partial, path)
    return rows


def _inferred(array: Any) -> Any:
    """The type pyarrow saw in a column SQLite declares no type for (text if all empty)."""
    import pyarrow as pa

    return pa.string() if array.type == pa.null() else array.type


def _array(values: tuple, arrow_type: Any):
    import pyarrow as pa

    if arrow_type is None:
        return pa.array(values)
    return pa.array(values, type=arrow_type)


def _relative(directory: Path, path: Path) -> str:
    return path.relative_to(directory).as_posix()


def _record(
    files: dict[str, dict[str, Any]],
    directory: Path,
    path: Path,
    resource: str,
    rows: int,
    report: DatasetReport,
) -> None:
    files[_relative(directory, path)] = file_entry(directory, path, resource, rows)
    report.written.append(str(path))


def _schema_version(connection: sqlite3.Connection) -> int:
    return connection.execute("PRAGMA user_version").fetchone()[0]
