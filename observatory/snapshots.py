"""Chart snapshots: the /platforms chart data as analysed for a crawl, for `?crawl=N`.

The charts read derived tables that every `analyze` rebuilds for the latest data, so their
past answers cannot be recomputed from history. The first analysis after crawl N finished
keeps each chart's rows (content-addressed: an unchanged chart adds one small row per crawl)
and later analyses never touch them, which is what makes `/platforms?crawl=N` a permanent
answer. The last step of analyze also stamps `data_state`, changing the pages' validator.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import zlib
from typing import Any

from crawler.store.state import mark_changed
from observatory import charts


def latest_finished_crawl(connection: sqlite3.Connection) -> int | None:
    (crawl_id,) = connection.execute(
        "SELECT max(id) FROM crawls WHERE status = 'finished'"
    ).fetchone()
    return crawl_id


def rows_json(rows: list[dict[str, Any]]) -> bytes:
    return json.dumps(rows, ensure_ascii=False, default=str, separators=(",", ":")).encode()


def keep_chart_snapshots(connection: sqlite3.Connection) -> str:
    """Keep the charts' rows for the latest finished crawl unless already kept; stamp analyze."""
    mark_changed(connection, "analyze")
    crawl_id = latest_finished_crawl(connection)
    if crawl_id is None:
        return "no finished crawl to keep charts for"
    (kept,) = connection.execute(
        "SELECT count(*) FROM chart_snapshots WHERE crawl_id = ?", (crawl_id,)
    ).fetchone()
    if kept:
        return f"charts of crawl {crawl_id} were kept by an earlier analysis"
    count = 0
    for chart in charts.CHARTS:
        if charts.missing_tables(connection, chart):
            continue
        body = rows_json(charts.chart_rows(connection, chart))
        digest = hashlib.sha256(body).hexdigest()
        connection.execute(
            "INSERT OR IGNORE INTO chart_snapshot_rows (sha256, rows) VALUES (?, ?)",
            (digest, zlib.compress(body, 9)),
        )
        connection.execute(
            "INSERT INTO chart_snapshots (crawl_id, slug, rows_sha256) VALUES (?, ?, ?)",
            (crawl_id, chart.slug, digest),
        )
        count += 1
    return f"kept {count} charts' data for crawl {crawl_id}"


def snapshot_rows(
    connection: sqlite3.Connection, crawl_id: int, slug: str
) -> list[dict[str, Any]] | None:
    """The rows chart `slug` showed for crawl `crawl_id`, or None if none were kept."""
    try:
        row = connection.execute(
            "SELECT r.rows FROM chart_snapshots s JOIN chart_snapshot_rows r "
            "ON r.sha256 = s.rows_sha256 WHERE s.crawl_id = ? AND s.slug = ?",
            (crawl_id, slug),
        ).fetchone()
    except sqlite3.OperationalError:  # a database from before snapshots
        return None
    return json.loads(zlib.decompress(row[0])) if row else None


def store_chart_specs(connection: sqlite3.Connection) -> str:
    """(Re)build `chart_specs`: each /platforms chart drawn once by analyze, so the page's
    first request after an analysis reads the drawing instead of running Altair for a second."""
    date, rendered = charts.render_charts(connection, validate=False)
    connection.execute("DROP TABLE IF EXISTS chart_specs")
    connection.execute(
        "CREATE TABLE chart_specs (slug TEXT PRIMARY KEY, crawl_id INTEGER, rows INTEGER, "
        "missing TEXT, spec TEXT)"
    )
    connection.executemany(
        "INSERT INTO chart_specs VALUES (?, ?, ?, ?, ?)",
        [
            (
                item.chart.slug,
                date.crawl_id,
                len(item.rows),
                item.missing,
                json.dumps(item.spec, ensure_ascii=False, default=str) if item.spec else None,
            )
            for item in rendered
        ],
    )
    return f"{sum(1 for item in rendered if item.spec)} charts drawn"


def stored_specs(connection: sqlite3.Connection) -> dict[str, tuple[int, str, str | None]]:
    """slug -> (rows, missing, spec JSON) drawn by the last analyze; empty before one."""
    try:
        return {
            slug: (rows, missing or "", spec)
            for slug, rows, missing, spec in connection.execute(
                "SELECT slug, rows, missing, spec FROM chart_specs"
            )
        }
    except sqlite3.OperationalError:
        return {}
