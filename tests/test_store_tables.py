"""The store's smaller tables and its schema on open, on hand-built cases: the IP-to-AS table
and its lookups, the data-change stamps, schema creation, migration and version checks."""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from datetime import UTC, datetime

import pytest

from crawler.asn import address_key
from crawler.store.asn import AsnRange, network_of, replace_asn_table
from crawler.store.schema import (
    SCHEMA_VERSION,
    ensure_target_index,
    open_database,
    schema_version,
)
from crawler.store.state import mark_changed


@pytest.fixture
def connection(tmp_path) -> sqlite3.Connection:
    connection = open_database(str(tmp_path / "store.db")).conn
    yield connection
    connection.close()


def as_range(start: str, end: str, asn: int, name: str | None, country: str | None = "DE"):
    start_key, end_key = address_key(start), address_key(end)
    assert start_key is not None and end_key is not None
    return AsnRange(start, end, start_key, end_key, asn, country, name)


def key(address: str) -> str:
    found = address_key(address)
    assert found is not None
    return found


# -- the IP-to-AS table ---------------------------------------------------------------------

RANGES = [
    as_range("45.10.0.0", "45.10.0.255", 64500, "Hoster One"),
    as_range("45.10.2.0", "45.10.2.255", 64501, None, None),  # a gap below it: 45.10.1.x
    as_range("45.10.3.0", "45.10.3.255", 0, "Not routed"),
]


def test_the_range_holding_an_address_names_its_network(connection):
    replace_asn_table(connection, RANGES, "ip2asn.tsv", "2026-03-01T00:00:00Z", 2, Counter())
    found = {
        address: network_of(connection, key(address))
        for address in (
            "45.9.255.255",  # below every range
            "45.10.0.0",  # a range's first address
            "45.10.0.77",
            "45.10.0.255",  # its last
            "45.10.1.0",  # in the gap: the range below ends before it
            "45.10.2.9",
            "45.10.3.3",  # AS 0: not routed, no network
            "2001:db8::1",  # above every range
        )
    }
    assert found == {
        "45.9.255.255": None,
        "45.10.0.0": (64500, "Hoster One"),
        "45.10.0.77": (64500, "Hoster One"),
        "45.10.0.255": (64500, "Hoster One"),
        "45.10.1.0": None,
        "45.10.2.9": (64501, None),
        "45.10.3.3": None,
        "2001:db8::1": None,
    }
    assert type(found["45.10.0.77"][0]) is int


def test_an_import_replaces_the_table_and_its_record(connection):
    replace_asn_table(
        connection, RANGES, "old.tsv", "2026-03-01T00:00:00Z", 2, Counter(bad_address=2)
    )
    newer = [as_range("45.10.1.0", "45.10.1.255", 64502, "Hoster Two", "FR")]
    replace_asn_table(
        connection,
        newer,
        "new.tsv.gz",
        "2026-03-02T00:00:00Z",
        3,
        Counter(bad_as_number=1, wrong_field_count=2),
    )
    assert connection.execute("SELECT * FROM asn_ranges").fetchall() == [
        (key("45.10.1.0"), key("45.10.1.255"), "45.10.1.0", "45.10.1.255", 64502, "FR",
         "Hoster Two")
    ]  # fmt: skip
    assert connection.execute("SELECT * FROM asn_imports").fetchall() == [
        ("new.tsv.gz", "2026-03-02T00:00:00Z", 1, 3, '{"bad_as_number": 1, "wrong_field_count": 2}')
    ]
    assert network_of(connection, key("45.10.0.1")) is None
    assert network_of(connection, key("45.10.1.1")) == (64502, "Hoster Two")


def test_a_failed_import_keeps_the_table_it_would_have_replaced(connection):
    replace_asn_table(connection, RANGES, "old.tsv", "2026-03-01T00:00:00Z", 0, Counter())
    twice = [RANGES[0], RANGES[0]]  # the same start twice: the primary key refuses it
    with pytest.raises(sqlite3.IntegrityError):
        replace_asn_table(connection, twice, "bad.tsv", "2026-03-02T00:00:00Z", 0, Counter())
    assert not connection.in_transaction
    assert connection.execute("SELECT count(*) FROM asn_ranges").fetchone() == (3,)
    assert connection.execute("SELECT file_name, ranges FROM asn_imports").fetchall() == [
        ("old.tsv", 3)
    ]


# -- data_state -----------------------------------------------------------------------------


def test_each_change_stamp_is_replaced_by_the_next(connection):
    mark_changed(connection, "analyze", "2026-03-01T00:00:00.000000+00:00")
    mark_changed(connection, "import", "2026-03-01T01:00:00.000000+00:00")
    mark_changed(connection, "analyze", "2026-03-02T00:00:00.000000+00:00")
    assert connection.execute("SELECT * FROM data_state ORDER BY name").fetchall() == [
        ("analyze", "2026-03-02T00:00:00.000000+00:00"),
        ("import", "2026-03-01T01:00:00.000000+00:00"),
    ]


def test_a_change_stamp_defaults_to_now_in_utc_to_the_microsecond(connection):
    before = datetime.now(UTC)
    mark_changed(connection, "analyze")
    after = datetime.now(UTC)
    (stamp,) = connection.execute("SELECT changed_at FROM data_state").fetchone()
    assert stamp.endswith("+00:00") and len(stamp) == len("2026-03-01T00:00:00.000000+00:00")
    assert before <= datetime.fromisoformat(stamp) <= after


# -- the schema on open ---------------------------------------------------------------------


def test_a_new_database_is_in_wal_mode_with_its_declared_constraints(tmp_path):
    path = str(tmp_path / "new.db")
    db = open_database(path)
    assert db.journal_mode == "wal"
    assert db.execute("PRAGMA busy_timeout").fetchone() == (60000,)
    assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    with pytest.raises(sqlite3.IntegrityError):  # domains.name is NOT NULL
        db.execute("INSERT INTO domains (id, name) VALUES (1, NULL)")
    with pytest.raises(sqlite3.IntegrityError):  # a blocker lists a rule once
        db.executescript(
            "INSERT INTO blocks (blocker, blocked_pattern, severity, severity_raw) "
            "VALUES ('a.test', 'x.test', 'suspend', 'suspend');"
            "INSERT INTO blocks (blocker, blocked_pattern, severity, severity_raw) "
            "VALUES ('a.test', 'x.test', 'suspend', 'suspend');"
        )
    # Autocommit: what one connection writes, another sees without a commit.
    db.conn.execute("INSERT INTO domains (id, name) VALUES (1, 'a.test')")
    assert not db.conn.in_transaction  # no transaction Python opened on its own
    with sqlite3.connect(path) as other:
        assert other.execute("SELECT name FROM domains").fetchall() == [("a.test",)]
    # The writer's connection is used from its own thread (AsyncStore).
    seen: list[object] = []
    thread = threading.Thread(
        target=lambda: seen.append(db.execute("SELECT count(*) FROM domains").fetchone())
    )
    thread.start()
    thread.join()
    assert seen == [(1,)]
    db.conn.close()


def test_an_older_database_gains_its_missing_columns_with_their_types(tmp_path):
    path = str(tmp_path / "old.db")
    open_database(path).conn.close()
    with sqlite3.connect(path) as old:
        old.executescript(
            "ALTER TABLE crawls DROP COLUMN not_modified; "
            "ALTER TABLE crawls DROP COLUMN busiest_addresses;"
            "INSERT INTO crawls (id, status) VALUES (1, 'finished');"
        )
    db = open_database(path)
    columns = {row[1]: row[2] for row in db.execute("PRAGMA table_info(crawls)")}
    assert (columns["not_modified"], columns["busiest_addresses"]) == ("INTEGER", "TEXT")
    assert db.execute(
        "SELECT id, status, not_modified, busiest_addresses FROM crawls"
    ).fetchall() == [(1, "finished", None, None)]
    db.conn.close()


def test_opening_without_create_leaves_an_empty_file_empty(tmp_path):
    path = tmp_path / "plain.db"
    db = open_database(str(path), create=False)
    assert db.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)
    db.conn.close()
    assert schema_version(str(path)) == 0


def test_the_schema_version_is_read_without_changing_anything(tmp_path):
    path = tmp_path / "v.db"
    open_database(str(path)).conn.close()
    assert schema_version(str(path)) == SCHEMA_VERSION
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 2")
    assert schema_version(str(path)) == 2
    missing = tmp_path / "missing.db"
    assert schema_version(str(missing)) == 0
    assert not missing.exists(), "reading a version must not create a database"
    (tmp_path / "notes.db").write_text("not a database at all, but long enough to be read\n" * 9)
    assert schema_version(str(tmp_path / "notes.db")) == 0


STALE_TRIGGERS = (
    "DROP TRIGGER instance_stats_insert; DROP TRIGGER instance_stats_delete; "
    "CREATE TRIGGER instance_stats_insert INSTEAD OF INSERT ON instance_stats "
    "BEGIN SELECT 1; END;"
    "CREATE TRIGGER instance_stats_delete INSTEAD OF DELETE ON instance_stats "
    "BEGIN SELECT 1; END;"
)


@pytest.mark.parametrize("version", [1, 3])
def test_the_stats_triggers_of_an_older_schema_are_recreated(tmp_path, version):
    path = str(tmp_path / "old.db")
    open_database(path).conn.close()
    with sqlite3.connect(path) as old:  # as an older schema left it: triggers missing columns
        old.executescript(
            STALE_TRIGGERS + "INSERT INTO crawls (id, status) VALUES (1, 'finished');"
            f"PRAGMA user_version = {version};"
        )
    db = open_database(path)
    db.execute(
        "INSERT INTO instance_stats (domain, crawl_id, observed_at, status, address) "
        "VALUES ('a.test', 1, 'then', 'alive', '45.1.1.1')"
    )
    assert db.execute("SELECT domain, address FROM instance_intervals").fetchall() == [
        ("a.test", "45.1.1.1")
    ]
    db.execute("DELETE FROM instance_stats WHERE domain = 'a.test'")
    assert db.execute("SELECT count(*) FROM instance_intervals").fetchone() == (0,)
    db.conn.close()


def test_a_current_database_keeps_its_triggers(tmp_path):
    path = str(tmp_path / "current.db")
    open_database(path).conn.close()
    with sqlite3.connect(path) as current:
        current.executescript(STALE_TRIGGERS + "INSERT INTO crawls (id, status) VALUES (1, 'x');")
    db = open_database(path)  # nothing to migrate: the stand-in triggers stay
    db.execute("INSERT INTO instance_stats (domain, crawl_id, status) VALUES ('b.test', 1, 'x')")
    assert db.execute("SELECT count(*) FROM instance_intervals").fetchone() == (0,)
    db.conn.close()


def test_the_peer_target_index_covers_only_open_edges(connection):
    ensure_target_index(open_database_of(connection))
    ensure_target_index(open_database_of(connection))  # a second build is a no-op
    (sql,) = connection.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'peer_intervals_target'"
    ).fetchone()
    assert sql.endswith("ON peer_intervals (target_id, source_id) WHERE removed_crawl IS NULL")
    plan = connection.execute(
        "EXPLAIN QUERY PLAN SELECT source_id FROM peer_intervals "
        "WHERE target_id = 3 AND removed_crawl IS NULL"
    ).fetchall()
    assert "peer_intervals_target" in " ".join(str(row) for row in plan)


def open_database_of(connection: sqlite3.Connection):
    import sqlite_utils

    return sqlite_utils.Database(connection)


def test_share_tables_of_schema_2_have_their_count_columns_renamed(tmp_path):
    path = str(tmp_path / "v2.db")
    open_database(path).conn.close()
    with sqlite3.connect(path) as old:
        old.executescript(
            "CREATE TABLE platform_share (crawl_id INTEGER, family TEXT, instances INTEGER, "
            "instances_share REAL, instances_without_users INTEGER);"
            "INSERT INTO platform_share VALUES (1, 'mastodon', 7, 0.5, 2);"
            # A table renamed already keeps its columns.
            "CREATE TABLE software_share (crawl_id INTEGER, software TEXT, servers INTEGER);"
            "PRAGMA user_version = 2;"
        )
    db = open_database(path)
    assert db.execute("SELECT * FROM platform_share").fetchall() == [(1, "mastodon", 7, 0.5, 2)]
    assert [row[1] for row in db.execute("PRAGMA table_info(platform_share)")] == [
        "crawl_id", "family", "servers", "servers_share", "servers_without_users"
    ]  # fmt: skip
    assert [row[1] for row in db.execute("PRAGMA table_info(software_share)")] == [
        "crawl_id", "software", "servers"
    ]  # fmt: skip
    db.conn.close()
