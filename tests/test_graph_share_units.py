"""Version, language, hosting and concentration shares and weekly activity on tiny hand-built
databases, against figures worked out by hand (shared-list adoption: test_graph_adoption_units)."""

from __future__ import annotations

import math
import zlib
from hashlib import sha256

import numpy as np
import orjson
import pytest

from crawler.asn import address_key
from graph.activity import _epoch, _read_week, build_weekly_activity, parse_activity
from graph.concentration import _suspect, build_concentration, measures
from graph.hosting_share import asn_import, build_hosting_share, prefix_of
from graph.language_share import build_language_share
from graph.versions import build_version_share, major_version
from tests.graph_db import (
    assert_documented,
    crawl,
    instance,
    memory_database,
    stats,
    table,
)


@pytest.mark.parametrize(
    ("version", "major"),
    [
        ("4.2.1", "4"),
        ("0.19.3", "0.19"),
        ("0.07", "0.7"),
        ("0", "0"),
        ("v2.7", "2"),
        ("V3", "3"),
        ("  10.1", "10"),
        ("007.1", "7"),
        ("2024.11.0+fork", "2024"),
        ("x1.0", "unknown"),
        ("", "unknown"),
        (None, "unknown"),
    ],
)
def test_major_version(version, major):
    assert major_version(version) == major


def test_version_share_by_hand():
    connection = memory_database()
    instance(connection, "a.test", family="mastodon", version="4.2.1", users_active_month=10)
    instance(connection, "b.test", family="mastodon", version="v4.3.0+glitch", users_active_month=5)
    instance(connection, "c.test", family="mastodon", version="junk", users_active_month=30)
    instance(connection, "d.test", family="lemmy", version="0.19.3", users_active_month=0)
    instance(connection, "e.test", family="lemmy")
    instance(connection, "f.test", version="2.0", users_active_month=5)
    instance(connection, "g.test", status="unreachable", family="mastodon", version="9",
             users_active_month=99)  # fmt: skip
    assert build_version_share(connection) == "5 family-version rows"
    assert_documented(connection, "version_share")
    # mastodon: 3 servers, 45 active; lemmy: 2 servers, 0 active (no share of nothing).
    assert table(connection, "SELECT * FROM version_share") == [
        ("lemmy", "0.19", 1, 50.0, 0, None),
        ("lemmy", "unknown", 1, 50.0, 0, None),
        ("mastodon", "4", 2, 66.67, 15, 33.33),
        ("mastodon", "unknown", 1, 33.33, 30, 66.67),
        ("unknown", "2", 1, 100.0, 5, 100.0),
    ]


def test_concentration_measures_by_hand():
    assert measures(np.array([], dtype=np.int64)) == (0, 0, None, None, None, None, None, None)
    assert measures(np.array([0, -3])) == (0, 0, None, None, None, None, None, None)
    # One unit holds everything: no spread to normalise.
    assert measures(np.array([7, 0])) == (1, 7, 1.0, 0.0, 0.0, 1.0, 1.0, 1)
    # Two equal halves: the first unit already holds half.
    assert measures(np.array([50, 50])) == (2, 100, 0.5, round(math.log(2), 6), 1.0, 0.5, 0.5, 1)
    # 50, 30, 20 (order does not matter; zeros are no units).
    entropy = -(0.5 * math.log(0.5) + 0.3 * math.log(0.3) + 0.2 * math.log(0.2))
    assert measures(np.array([20, 0, 50, 30])) == (
        3, 100, 0.38, round(entropy, 6), round(entropy / math.log(3), 6), 0.5, 0.5, 1
    )  # fmt: skip
    assert measures(np.array([49, 30, 21]))[-1] == 2  # 49 is less than half of 100


def test_concentration_top_shares_and_half_count_over_many_units():
    # 101 units: 20 of 10 and 81 of 1 (total 281). The top 1% is ceil(1.01) = 2 units (20),
    # the top 5% ceil(5.05) = 6 units (60); half (140.5) is reached at the 15th unit (150).
    values = np.array([1] * 81 + [10] * 20)
    shares = np.array([10] * 20 + [1] * 81) / 281
    assert measures(values) == (
        101,
        281,
        round(float(np.square(shares).sum()), 6),
        round(float(-(shares * np.log(shares)).sum()), 6),
        round(float(-(shares * np.log(shares)).sum()) / math.log(101), 6),
        round(20 / 281, 6),
        round(60 / 281, 6),
        15,
    )


def test_suspect_flags():
    assert not _suspect(None, None)
    assert not _suspect("count_from_string,stats_suspected", "")
    assert _suspect("count_from_string,stats_zeroed", None)
    assert _suspect(None, "negative_count")
    assert _suspect("absurd_count")


def test_concentration_by_hand():
    connection = memory_database()
    crawl(connection, 1, "2026-01-05T10:00:00Z")
    crawl(connection, 2, "2026-01-12T10:00:00Z")
    crawl(connection, 3, "2026-01-19T10:00:00Z")
    instance(connection, "a.test", family="mastodon", registrable_domain="ops.test")
    instance(connection, "b.test", family="mastodon", registrable_domain="ops.test")
    # e's counts are suspect in its latest crawl (1); f's in its latest crawl (2) only.
    instance(connection, "e.test", family="lemmy", quality_flags="absurd_count", last_crawl_id=1)
    instance(connection, "f.test", family="misskey", quality_flags="absurd_count",
             last_crawl_id=2)  # fmt: skip
    stats(connection, "a.test", 1, software="mastodon", users_total=100, users_active_month=40)
    stats(connection, "b.test", 1, software="hometown", users_total=50, users_active_month=10)
    stats(connection, "c.test", 1, software="misskey", users_total=30)
    stats(connection, "d.test", 1, software="misskey", users_total=1000, users_active_month=1000,
          quality_flags="count_from_string,stats_suspect")  # fmt: skip
    stats(connection, "e.test", 1, users_total=500, users_active_month=500)
    stats(connection, "f.test", 1, users_total=20, users_active_month=2)
    stats(connection, "g.test", 1, users_total=5, users_active_month=5)
    stats(connection, "h.test", 1, "unreachable", users_total=9999)
    stats(connection, "f.test", 2, users_total=20, users_active_month=2)
    assert build_concentration(connection) == "3 crawls, 3 suspect observations left out"
    assert_documented(connection, "concentration")
    got = {
        row[:4]: row[4:]
        for row in table(connection, "SELECT * FROM concentration ORDER BY crawl_id, unit, measure")
    }
    date = "2026-01-05"
    # Crawl 1 without d (flagged) and e (flagged in its latest crawl, 1).
    expected_first = {
        ("server", "users"): [100, 50, 30, 20, 5],
        ("server", "active_users"): [40, 10, 2, 5],
        # mastodon (a, b), misskey (c by its software, f by its instance's family), unknown
        ("platform", "users"): [150, 50, 5],
        ("platform", "active_users"): [50, 2, 5],
        ("operator", "users"): [150, 30, 20, 5],  # ops.test (a, b), c, f, g
        ("operator", "active_users"): [50, 2, 5],
    }
    for (unit, measure), values in expected_first.items():
        assert got[(1, date, unit, measure)] == (*measures(np.array(values)), 2)
    assert got[(1, date, "platform", "users")][:2] == (3, 205)
    # Crawl 2: f's only observation is flagged; crawl 3 has none at all.
    empty = (0, 0, None, None, None, None, None, None)
    assert got[(2, "2026-01-12", "server", "users")] == (*empty, 1)
    assert got[(3, "2026-01-19", "operator", "active_users")] == (*empty, 0)
    assert len(got) == 18


def test_language_share_by_hand():
    connection = memory_database()
    crawl(connection, 1, "2026-01-05T10:00:00Z")
    crawl(connection, 2, "2026-01-12T10:00:00Z")
    stats(connection, "a.test", 1, languages='["en","DE"]', users_total=100, users_active_month=40)
    stats(connection, "b.test", 1, languages='["en"]', users_total=50, users_active_month=10,
          quality_flags="not_stats_suspect")  # fmt: skip
    stats(connection, "c.test", 1, languages="[]", users_total=30)
    stats(connection, "d.test", 1, languages="not json", users_total=20, users_active_month=5,
          quality_flags="count_from_string,stats_suspect")  # fmt: skip
    stats(connection, "e.test", 1, languages='["fr", 3]', users_active_month=1)
    stats(connection, "f.test", 1, "unreachable", languages='["en"]', users_total=7)
    stats(connection, "a.test", 2, languages='["ja"]')
    assert build_language_share(connection) == "4 declared languages over 2 crawls"
    assert_documented(connection, "language_share")
    # Crawl 1: 5 servers, 180 users (d's are suspect), 51 active.
    assert table(connection, "SELECT * FROM language_share") == [
        (1, "2026-01-05", "en", 2, 40.0, 150, 83.33, 50, 98.04),
        (1, "2026-01-05", "de", 1, 20.0, 100, 55.56, 40, 78.43),
        (1, "2026-01-05", "fr", 1, 20.0, 0, 0.0, 1, 1.96),
        (1, "2026-01-05", None, 2, 40.0, 30, 16.67, 0, 0.0),
        (2, "2026-01-12", "ja", 1, 100.0, 0, None, 0, None),
    ]


def test_prefix_of():
    assert prefix_of("45.10.0.77") == "45.10.0.0/24"
    assert prefix_of("2a01:4f8:1:2::5") == "2a01:4f8:1::/48"
    assert prefix_of("not an address") is None


def hosting_world(with_asn: bool):
    connection = memory_database()
    crawl(connection, 1, "2026-01-05T10:00:00Z")
    crawl(connection, 2, "2026-01-12T10:00:00Z")
    stats(connection, "a.test", 1, address="45.10.0.1", users_total=100, users_active_month=40)
    stats(connection, "b.test", 1, address="45.10.0.1", users_total=50, users_active_month=10)
    stats(connection, "c.test", 1, address="45.10.0.77", users_total=30, users_active_month=30)
    stats(connection, "d.test", 1, address="2a01:4f8:1:2::5", users_total=20,
          users_active_month=5, quality_flags="stats_zeroed")  # fmt: skip
    stats(connection, "e.test", 1, address="9.9.9.9")
    stats(connection, "f.test", 1, address="bogus", users_total=1000)
    stats(connection, "g.test", 1, users_total=1000)  # address unknown
    stats(connection, "h.test", 1, "unreachable", address="45.10.0.1", users_total=1000)
    stats(connection, "a.test", 2, address="45.10.0.1", users_total=7)
    if with_asn:
        connection.execute(
            "INSERT INTO asn_imports VALUES ('ip2asn.tsv', '2026-01-01T00:00:00Z', 2, 0, '{}')"
        )
        for start, end, asn, name in [
            ("45.10.0.0", "45.10.0.255", 64500, "Hoster"),
            ("2a01:4f8::", "2a01:4f8:ffff:ffff:ffff:ffff:ffff:ffff", 64501, None),
        ]:
            connection.execute(
                "INSERT INTO asn_ranges VALUES (?, ?, ?, ?, ?, 'DE', ?)",
                (address_key(start), address_key(end), start, end, asn, name),
            )
    return connection


def test_hosting_share_by_address_and_prefix():
    connection = hosting_world(with_asn=False)
    assert asn_import(connection) is None
    described = build_hosting_share(connection)
    assert described == "2 crawls by address and prefix (0 AS ranges imported)"
    assert_documented(connection, "hosting_share")
    # Crawl 1: a, b, c, d (counts suspect), e (no counts): 5 servers, 180 users, 80 active.
    assert table(connection, "SELECT * FROM hosting_share WHERE crawl_id = 1") == [
        (1, "2026-01-05", "address", "45.10.0.1", None, 2, 40.0, 150, 83.33, 50, 62.5, 1, 62.5),
        (1, "2026-01-05", "address", "45.10.0.77", None, 1, 20.0, 30, 16.67, 30, 37.5, 2, 100.0),
        (1, "2026-01-05", "address", "2a01:4f8:1:2::5", None, 1, 20.0, 0, 0.0, 0, 0.0, 3, 100.0),
        (1, "2026-01-05", "address", "9.9.9.9", None, 1, 20.0, 0, 0.0, 0, 0.0, 4, 100.0),
        (1, "2026-01-05", "prefix", "45.10.0.0/24", None, 3, 60.0, 180, 100.0, 80, 100.0, 1,
         100.0),
        (1, "2026-01-05", "prefix", "2a01:4f8:1::/48", None, 1, 20.0, 0, 0.0, 0, 0.0, 2, 100.0),
        (1, "2026-01-05", "prefix", "9.9.9.0/24", None, 1, 20.0, 0, 0.0, 0, 0.0, 3, 100.0),
    ]  # fmt: skip
    # Crawl 2: one server without active users: no share of nothing.
    assert table(connection, "SELECT * FROM hosting_share WHERE crawl_id = 2") == [
        (2, "2026-01-12", "address", "45.10.0.1", None, 1, 100.0, 7, 100.0, 0, None, 1, None),
        (2, "2026-01-12", "prefix", "45.10.0.0/24", None, 1, 100.0, 7, 100.0, 0, None, 1, None),
    ]


def test_hosting_share_by_network_once_an_as_table_is_imported():
    connection = hosting_world(with_asn=True)
    assert asn_import(connection) == ("ip2asn.tsv", "2026-01-01T00:00:00Z", 2, 0)
    assert build_hosting_share(connection) == (
        "2 crawls by address, prefix and network (2 AS ranges imported)"
    )
    # 9.9.9.9 is in no routed range: the empty key, ranked last.
    assert table(
        connection, "SELECT * FROM hosting_share WHERE unit = 'network' ORDER BY crawl_id, rank"
    ) == [
        (1, "2026-01-05", "network", "AS64500", "Hoster", 3, 60.0, 180, 100.0, 80, 100.0, 1,
         100.0),
        (1, "2026-01-05", "network", "AS64501", None, 1, 20.0, 0, 0.0, 0, 0.0, 2, 100.0),
        (1, "2026-01-05", "network", None, None, 1, 20.0, 0, 0.0, 0, 0.0, 3, 100.0),
        (2, "2026-01-12", "network", "AS64500", "Hoster", 1, 100.0, 7, 100.0, 0, None, 1, None),
    ]  # fmt: skip


def test_an_unknown_network_ranks_after_every_known_one():
    connection = hosting_world(with_asn=True)
    # The unrouted 9.9.9.9 now has the most active users, and still ranks last.
    connection.execute("DELETE FROM instance_stats WHERE domain = 'e.test'")
    stats(connection, "e.test", 1, address="9.9.9.9", users_total=500, users_active_month=500)
    build_hosting_share(connection)
    assert table(
        connection,
        "SELECT key, rank, active_users FROM hosting_share WHERE unit = 'network' "
        "AND crawl_id = 1 ORDER BY rank",
    ) == [("AS64500", 1, 80), ("AS64501", 2, 0), (None, 3, 500)]


def test_hosting_share_ties_go_by_servers_then_key():
    connection = memory_database()
    crawl(connection, 1)
    stats(connection, "a.test", 1, address="10.0.0.2", users_active_month=5)
    stats(connection, "b.test", 1, address="10.0.0.1", users_active_month=5)
    stats(connection, "c.test", 1, address="10.0.0.3", users_active_month=2)
    stats(connection, "d.test", 1, address="10.0.0.3", users_active_month=3)
    build_hosting_share(connection)
    assert table(
        connection, "SELECT key, rank FROM hosting_share WHERE unit = 'address' ORDER BY rank"
    ) == [("10.0.0.3", 1), ("10.0.0.1", 2), ("10.0.0.2", 3)]


def week(day: str) -> int:
    return int(_epoch(f"{day}T00:00:00Z"))


def test_read_week_and_epoch():
    monday = week("2026-01-05")
    assert _read_week(str(monday)) == monday
    assert _read_week(f" {monday} ") == monday
    assert _read_week(float(monday)) == monday
    assert _read_week(monday) == monday
    assert _read_week(monday + 0.5) is None
    assert _read_week(True) is None
    assert _read_week("0") is None
    assert _read_week(0) is None
    assert _read_week(1) == 1
    assert _read_week("099999999999") == 10**11 - 1  # 12 digits
    assert _read_week("0099999999999") is None  # 13 digits
    assert _read_week(10**11) is None
    assert _read_week(10**11 - 1) == 10**11 - 1
    assert _read_week("1234567890123") is None  # 13 digits
    assert _read_week("-5") is None
    assert _read_week(None) is None
    assert _epoch("2026-01-05T00:00:00+00:00") == monday
    assert _epoch(None) is None
    assert _epoch("") is None
    assert _epoch("yesterday") is None


def bucket(week_start: object, statuses: object, logins: object, registrations: object) -> dict:
    return {"week": week_start, "statuses": statuses, "logins": logins,
            "registrations": registrations}  # fmt: skip


def test_parse_activity_by_hand():
    jan5, jan12, jan19 = week("2026-01-05"), week("2026-01-12"), week("2026-01-19")
    fetched = jan19 + 3600
    body = [
        bucket(str(jan19), "12", "3", "1"),
        bucket(jan12, 40, "-2", "1e3"),
        bucket(str(jan12), "99", "99", "99"),  # the same week again: the first counts
        bucket(str(jan5 + 60), "1", "500", "0"),  # not a Monday; more logins than users
        "not a bucket",
        {"statuses": "1"},
        bucket(str(jan19 + 7 * 86_400), "5", "5", "5"),  # after the answer was fetched
        bucket(fetched, "1234567890", "9", "9"),  # fetched at its start; over a billion
    ]
    assert list(parse_activity(body, fetched, 100)) == [
        (jan19, 12, 3, 1, 0, None),
        (jan12, 40, None, None, 0, "count_wrong_type,negative_count"),
        (jan5 + 60, 1, None, 0, 0, "logins_over_users,week_unaligned"),
        (jan19 + 7 * 86_400, None, None, None, 1, "week_in_future"),
        (fetched, None, 9, 9, 0, "absurd_count,week_unaligned"),
    ]
    # Without a fetch time or a user count nothing is judged against them.
    assert list(parse_activity([bucket(jan12, "1", "500", "2")], None, None)) == [
        (jan12, 1, 500, 2, 1, None)
    ]
    assert list(parse_activity([bucket(jan12, 1, 100, 0)], None, 100)) == [
        (jan12, 1, 100, 0, 1, None)
    ]
    assert list(parse_activity([bucket(jan12, "1", "101", None)], None, 100)) == [
        (jan12, 1, None, None, 1, "logins_over_users")
    ]
    assert list(parse_activity({"week": jan12}, None, None)) == []
    assert list(parse_activity(["x"], None, None)) == []


def store_document(connection, domain, url, crawl_id, fetched_at, body, encoding="zlib"):
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    digest = sha256(raw + encoding.encode()).hexdigest()
    connection.execute(
        "INSERT OR IGNORE INTO document_bodies (sha256, encoding, body) VALUES (?, ?, ?)",
        (digest, encoding, zlib.compress(raw) if encoding == "zlib" else raw),
    )
    connection.execute(
        "INSERT INTO document_log (domain, url, method, status, fetched_at, crawl_id, "
        "body_sha256) VALUES (?, ?, 'GET', 200, ?, ?, ?)",
        (domain, url, fetched_at, crawl_id, digest),
    )


def test_weekly_activity_by_hand():
    connection = memory_database()
    jan5, jan12, jan19 = week("2026-01-05"), week("2026-01-12"), week("2026-01-19")
    url = "https://{}/api/v1/instance/activity"
    crawl(connection, 1)
    crawl(connection, 2)
    stats(connection, "a.test", 2, users_total=50)
    store_document(connection, "a.test", url.format("a.test"), 1, "2026-01-13T10:00:00Z",
                   [bucket(jan12, "5", "2", "1"), bucket(jan5, "10", "4", "2")])  # fmt: skip
    # The later answer wins for the week both hold; 60 logins > 50 users in crawl 2.
    store_document(connection, "a.test", url.format("a.test"), 2, "2026-01-20T10:00:00Z",
                   [bucket(jan19, "1", "1", "0"), bucket(jan12, "7", "60", "1")])  # fmt: skip
    store_document(connection, "b.test", url.format("b.test"), 2, "2026-01-20T10:00:00Z",
                   [bucket(jan12, "3", "3", "3")], encoding="identity")  # fmt: skip
    store_document(connection, "c.test", url.format("c.test"), 2, "2026-01-20T10:00:00Z",
                   b"\x00 not zlib")  # fmt: skip
    store_document(connection, "c.test", url.format("c.test"), 2, "2026-01-20T11:00:00Z",
                   b"not json", encoding="identity")  # fmt: skip
    # After the unreadable answers: e's, with a week after its fetch.
    next_week = bucket(jan19 + 7 * 86_400, "8", "8", "8")
    store_document(connection, "e.test", url.format("e.test"), 2, "2026-01-20T10:00:00Z",
                   [next_week, bucket(jan19, "2", "2", "2")])  # fmt: skip
    store_document(connection, "d.test", "https://d.test/api/v1/instance", 2,
                   "2026-01-20T10:00:00Z", [bucket(jan12, "1", "1", "1")])  # fmt: skip
    assert build_weekly_activity(connection) == "4 answers (2 unreadable), 4 weeks"
    assert_documented(connection, "weekly_activity", "weekly_activity_totals")
    assert table(connection, "SELECT * FROM weekly_activity ORDER BY domain, week_start") == [
        ("a.test", "2026-01-05", jan5, 10, 4, 2, 1, "2026-01-13T10:00:00Z", 0, None),
        ("a.test", "2026-01-12", jan12, 7, None, 1, 2, "2026-01-20T10:00:00Z", 0,
         "logins_over_users"),
        ("a.test", "2026-01-19", jan19, 1, 1, 0, 2, "2026-01-20T10:00:00Z", 1, None),
        ("b.test", "2026-01-12", jan12, 3, 3, 3, 2, "2026-01-20T10:00:00Z", 1, None),
        ("e.test", "2026-01-19", jan19, 2, 2, 2, 2, "2026-01-20T10:00:00Z", 0, None),
        ("e.test", "2026-01-26", jan19 + 7 * 86_400, None, None, None, 2, "2026-01-20T10:00:00Z",
         1, "week_in_future"),
    ]  # fmt: skip
    assert table(connection, "SELECT * FROM weekly_activity_totals") == [
        ("2026-01-05", jan5, 1, 10, 4, 2, 0, 1),
        ("2026-01-12", jan12, 2, 10, 3, 4, 1, 0),
        ("2026-01-19", jan19, 2, 3, 3, 2, 1, 0),
        ("2026-01-26", jan19 + 7 * 86_400, 1, None, None, None, 1, 0),
    ]
