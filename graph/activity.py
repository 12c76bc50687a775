"""`weekly_activity` and `weekly_activity_totals` from Mastodon's `/api/v1/instance/activity`.

Every Mastodon visit keeps that answer as a document: up to 12 weekly buckets, newest first,
each `{"week", "statuses", "logins", "registrations"}` with numbers sent as strings. Buckets are
read leniently; a value that cannot be a weekly count (not a number, negative, over a billion,
more logins than the server has users) is stored empty and flagged. A week seen in several
answers (crawls overlap by up to 11 weeks) is taken from the latest answer. The newest bucket of
an answer is the week in progress, so it is marked partial.
"""

from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson

from crawler.lenient import read_count

ACTIVITY_PATH = "/api/v1/instance/activity"
WEEK = 7 * 86_400
MONDAY = 4 * 86_400  # 1970-01-05 was a Monday: Mastodon's weeks start at Monday 00:00 UTC
FIELDS = ("statuses", "logins", "registrations")
KEPT_FLAGS = ("count_wrong_type", "negative_count", "absurd_count")  # not the usual strings


def parse_activity(
    body: Any, fetched_at: int | None, users_total: int | None
) -> Iterator[tuple[int, int | None, int | None, int | None, int, str | None]]:
    """(week_start, statuses, logins, registrations, partial, flags) for each readable bucket."""
    if not isinstance(body, list):
        return
    buckets = []
    for bucket in body:
        if not isinstance(bucket, dict):
            continue
        week = _read_week(bucket.get("week"))
        if week is None:
            continue
        row_flags: set[str] = set()
        values: list[int | None] = []
        for name in FIELDS:
            found: set[str] = set()
            values.append(read_count(bucket.get(name), found))
            row_flags |= found & set(KEPT_FLAGS)
        if values[1] is not None and users_total is not None and values[1] > users_total:
            values[1] = None
            row_flags.add("logins_over_users")
        if (week - MONDAY) % WEEK:
            row_flags.add("week_unaligned")
        if fetched_at is not None and week > fetched_at:
            values = [None, None, None]
            row_flags.add("week_in_future")
        buckets.append((week, values, row_flags))
    if not buckets:
        return
    newest = max(week for week, _, _ in buckets)
    seen: set[int] = set()
    for week, values, row_flags in buckets:
        if week in seen:
            continue  # the same week twice in one answer: the first one counts
        seen.add(week)
        flags_text = ",".join(sorted(row_flags)) or None
        yield (week, values[0], values[1], values[2], int(week == newest), flags_text)


def _read_week(value: Any) -> int | None:
    """A bucket's start as unix seconds (sent as a string or a number); None if unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 12:
        value = int(value.strip())
    return value if isinstance(value, int) and 0 < value < 10**11 else None


def _epoch(stamp: str | None) -> int | None:
    if not stamp:
        return None
    try:
        return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def _week_text(week: int) -> str:
    return datetime.fromtimestamp(week, UTC).strftime("%Y-%m-%d")


def build_weekly_activity(connection: sqlite3.Connection) -> str:
    """(Re)build `weekly_activity` and `weekly_activity_totals`; return a one-line description."""
    connection.execute("DROP TABLE IF EXISTS weekly_activity")
    connection.execute(
        "CREATE TABLE weekly_activity (domain TEXT, week TEXT, week_start INTEGER, "
        "statuses INTEGER, logins INTEGER, registrations INTEGER, crawl_id INTEGER, "
        "fetched_at TEXT, partial INTEGER, flags TEXT, PRIMARY KEY (domain, week_start))"
    )
    # Oldest answers first, so a later answer's bucket replaces an earlier one.
    cursor = connection.execute(
        """
        SELECT l.domain, l.crawl_id, l.fetched_at, b.encoding, b.body, s.users_total
        FROM document_log l
        JOIN document_bodies b ON b.sha256 = l.body_sha256
        LEFT JOIN instance_stats s ON s.domain = l.domain AND s.crawl_id = l.crawl_id
        WHERE l.url LIKE '%' || ? AND l.status = 200
        ORDER BY l.domain, l.crawl_id, l.fetched_at, l.id
        """,
        (ACTIVITY_PATH,),
    )
    answers = 0
    unreadable = 0
    batch: list[tuple[object, ...]] = []
    for domain, crawl, fetched, encoding, blob, users in cursor:
        try:
            raw = zlib.decompress(blob) if encoding == "zlib" else blob
            body = orjson.loads(raw)
        except (zlib.error, orjson.JSONDecodeError, TypeError):
            unreadable += 1
            continue
        answers += 1
        for week, statuses, logins, registrations, partial, flags in parse_activity(
            body, _epoch(fetched), users
        ):
            batch.append(
                (domain, _week_text(week), week, statuses, logins, registrations, crawl, fetched,
                 partial, flags)
            )  # fmt: skip
        if len(batch) > 50_000:
            _insert(connection, batch)
            batch = []
    _insert(connection, batch)
    connection.execute("DROP TABLE IF EXISTS weekly_activity_totals")
    connection.execute(
        "CREATE TABLE weekly_activity_totals (week TEXT, week_start INTEGER PRIMARY KEY, "
        "servers INTEGER, statuses INTEGER, logins INTEGER, registrations INTEGER, "
        "partial_servers INTEGER, complete INTEGER)"
    )
    connection.execute(
        "INSERT INTO weekly_activity_totals SELECT week, week_start, count(*), sum(statuses), "
        "sum(logins), sum(registrations), sum(partial), sum(partial) = 0 "
        "FROM weekly_activity GROUP BY week_start ORDER BY week_start"
    )
    (weeks,) = connection.execute("SELECT count(*) FROM weekly_activity_totals").fetchone()
    return f"{answers} answers ({unreadable} unreadable), {weeks} weeks"


def _insert(connection: sqlite3.Connection, batch: list[tuple[object, ...]]) -> None:
    connection.executemany(
        "INSERT OR REPLACE INTO weekly_activity VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", batch
    )
