"""weekly_activity and its totals from stored activity answers, against hand-written answers."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from graph.analyze import analyze
from tests.small_world import build_world, store_document
from tests.support import rows


def week(day: str) -> str:
    return str(int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()))


def bucket(day: str, statuses: object, logins: object, registrations: object) -> dict:
    return {
        "week": week(day),
        "statuses": statuses,
        "logins": logins,
        "registrations": registrations,
    }


URL = "https://{}/api/v1/instance/activity"


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    db = build_world(tmp_path_factory.mktemp("activity") / "world.db")
    connection = sqlite3.connect(db)
    answers = [
        # a.test has 100 users in crawl 1 and 110 in crawl 2.
        ("a.test", 1, "2026-01-05T10:05:00Z", [
            bucket("2026-01-05", "7", "20", "1"),  # the week in progress
            bucket("2025-12-29", "90", "500", "2"),  # 500 logins > 100 users: implausible
            bucket("2025-12-22", "-5", "abc", "0"),  # negative, not a number
        ]),
        ("a.test", 2, "2026-01-12T10:05:00Z", [
            bucket("2026-01-12", "10", "21", "0"),
            bucket("2026-01-05", "80", "40", "3"),  # the same week, now complete
            bucket("2025-12-29", "95", "41", "2"),  # a later answer revises an older week
        ]),
        ("b.ops.test", 1, "2026-01-05T10:06:00Z", [
            {"week": week("2026-01-05"), "statuses": 5, "logins": 4, "registrations": 0},
            "not a bucket",
            {"week": "soon", "statuses": "1"},
            {"week": str(int(week("2025-12-29")) + 3600), "statuses": "9", "logins": "3",
             "registrations": "1"},
        ]),
    ]  # fmt: skip
    for domain, crawl, fetched, body in answers:
        store_document(connection, domain, URL.format(domain), crawl, fetched, body)
    store_document(connection, "c.test", URL.format("c.test"), 1, "2026-01-05T10:07:00Z", b"{{")
    connection.commit()
    connection.close()
    analyze(str(db))
    return db


def test_weekly_rows_are_parsed_flagged_and_deduplicated(world):
    got = {(r["domain"], r["week"]): r for r in rows(world, "SELECT * FROM weekly_activity")}
    assert set(got) == {
        ("a.test", "2026-01-12"),
        ("a.test", "2026-01-05"),
        ("a.test", "2025-12-29"),
        ("a.test", "2025-12-22"),
        ("b.ops.test", "2026-01-05"),
        ("b.ops.test", "2025-12-29"),  # an hour late: kept under its own start, flagged
    }
    values = {k: (r["statuses"], r["logins"], r["registrations"], r["partial"], r["crawl_id"])
              for k, r in got.items()}  # fmt: skip
    assert values[("a.test", "2026-01-12")] == (10, 21, 0, 1, 2)
    assert values[("a.test", "2026-01-05")] == (80, 40, 3, 0, 2)  # crawl 2 replaced crawl 1
    assert values[("a.test", "2025-12-29")] == (95, 41, 2, 0, 2)
    assert values[("a.test", "2025-12-22")] == (None, None, 0, 0, 1)
    assert got[("a.test", "2025-12-22")]["flags"] == "count_wrong_type,negative_count"
    assert got[("a.test", "2025-12-29")]["flags"] is None  # the implausible value was replaced
    assert values[("b.ops.test", "2026-01-05")] == (5, 4, 0, 1, 1)
    assert got[("b.ops.test", "2025-12-29")]["flags"] == "week_unaligned"


def test_logins_over_users_are_flagged(tmp_path):
    db = build_world(tmp_path / "logins.db")
    connection = sqlite3.connect(db)
    body = [bucket("2026-01-05", "1", "2", "0"), bucket("2025-12-29", "90", "500", "2")]
    store_document(connection, "a.test", URL.format("a.test"), 1, "2026-01-05T10:05:00Z", body)
    connection.commit()
    connection.close()
    analyze(str(db))
    (row,) = rows(db, "SELECT * FROM weekly_activity WHERE week = '2025-12-29'")
    assert (row["statuses"], row["logins"], row["flags"]) == (90, None, "logins_over_users")


def test_weekly_totals(world):
    got = {r["week_start"]: r for r in rows(world, "SELECT * FROM weekly_activity_totals")}
    got |= {r["week"]: r for r in rows(world, "SELECT * FROM weekly_activity_totals")
            if r["week_start"] % 86_400 == 0}  # fmt: skip
    # 2026-01-05: a (80, 40, 3, complete) + b (5, 4, 0, partial).
    assert {k: got["2026-01-05"][k] for k in ("servers", "statuses", "logins", "registrations",
            "partial_servers", "complete")} == {
        "servers": 2, "statuses": 85, "logins": 44, "registrations": 3,
        "partial_servers": 1, "complete": 0,
    }  # fmt: skip
    assert got["2025-12-22"]["statuses"] is None  # a's only value there was implausible
    assert got["2025-12-29"]["servers"] == 1  # b's unaligned bucket has a week of its own
    assert len([k for k in got if isinstance(k, int)]) == 5
