"""The store grows with change, not with crawls: instance stats as runs of unchanged visits,
and raw answers logged once per run of identical answers (hand-computed cases)."""

from __future__ import annotations

import sqlite3

import pytest

from crawler.observation import Document
from crawler.store.documents import store_documents
from crawler.store.schema import open_database
from crawler.store.stats import record_stats


@pytest.fixture
def connection(tmp_path) -> sqlite3.Connection:
    connection = open_database(str(tmp_path / "store.db")).conn
    for crawl_id in range(1, 8):
        connection.execute(
            "INSERT INTO crawls (id, started_at, finished_at, status) VALUES (?, ?, ?, 'finished')",
            (crawl_id, f"2026-01-0{crawl_id}T00:00:00Z", f"2026-01-0{crawl_id}T01:00:00Z"),
        )
    return connection


def values(users: int | None, status: str = "alive") -> tuple:
    return (
        status,
        "mastodon",
        "4.3.0",
        users,
        10,
        20,
        1000,
        50,
        3,
        None,
        "public",
        '["en"]',
        "45.1.1.1",
    )


def stats(connection, domain: str) -> list[tuple]:
    return connection.execute(
        "SELECT crawl_id, observed_at, status, users_total FROM instance_stats "
        "WHERE domain = ? ORDER BY crawl_id",
        (domain,),
    ).fetchall()


def test_unchanged_visits_extend_one_run_and_the_view_expands_it(connection):
    for crawl_id in (1, 2, 3):
        record_stats(connection, "a.test", crawl_id, f"t{crawl_id}", values(100))
    record_stats(connection, "a.test", 4, "t4", values(101))  # a change starts a new run
    record_stats(connection, "a.test", 6, "t6", values(101))  # crawl 5 did not visit: a gap
    runs = connection.execute(
        "SELECT first_crawl, last_crawl, observed_at, last_observed_at, users_total "
        "FROM instance_intervals WHERE domain = 'a.test' ORDER BY first_crawl"
    ).fetchall()
    assert runs == [(1, 3, "t1", "t3", 100), (4, 4, "t4", "t4", 101), (6, 6, "t6", "t6", 101)]
    assert stats(connection, "a.test") == [
        (1, "t1", "alive", 100),
        (2, "2026-01-02T01:00:00Z", "alive", 100),  # inside a run: when that crawl ended
        (3, "t3", "alive", 100),
        (4, "t4", "alive", 101),
        (6, "t6", "alive", 101),
    ]


def test_the_view_takes_direct_inserts_and_deletes(connection):
    for crawl_id in range(1, 6):
        record_stats(connection, "d.test", crawl_id, f"t{crawl_id}", values(9))
    connection.execute(
        "INSERT INTO instance_stats (domain, crawl_id, status) VALUES ('e.test', 2, 'gone')"
    )
    connection.execute(
        "DELETE FROM instance_stats WHERE domain = 'd.test' AND crawl_id IN (1, 3, 5)"
    )
    assert stats(connection, "d.test") == [
        (2, "2026-01-02T01:00:00Z", "alive", 9),
        (4, "2026-01-04T01:00:00Z", "alive", 9),
    ]
    assert stats(connection, "e.test") == [(2, None, "gone", None)]


def test_a_second_visit_in_the_same_crawl_wins(connection):
    record_stats(connection, "b.test", 1, "t1", values(5))
    record_stats(connection, "b.test", 2, "t2", values(5))
    record_stats(connection, "b.test", 2, "t2b", values(None, "unreachable"))
    assert stats(connection, "b.test") == [(1, "t1", "alive", 5), (2, "t2b", "unreachable", None)]


def test_an_old_instance_stats_table_is_migrated(tmp_path):
    db = tmp_path / "old.db"
    with sqlite3.connect(db) as old:
        old.execute(
            "CREATE TABLE instance_stats (domain TEXT, crawl_id INTEGER, observed_at TEXT, "
            "status TEXT, software TEXT, version TEXT, users_total INTEGER, "
            "users_active_month INTEGER, users_active_halfyear INTEGER, local_posts INTEGER, "
            "peers_count INTEGER, blocks_count INTEGER, PRIMARY KEY (domain, crawl_id))"
        )
        old.execute("CREATE TABLE crawls (id INTEGER PRIMARY KEY, finished_at TEXT)")
        old.executemany("INSERT INTO crawls VALUES (?, 'end')", [(1,), (2,)])
        old.executemany(
            "INSERT INTO instance_stats (domain, crawl_id, observed_at, status, users_total) "
            "VALUES (?, ?, ?, 'alive', ?)",
            [("c.test", 1, "t1", 7), ("c.test", 2, "t2", 8)],
        )
    connection = open_database(str(db)).conn
    assert stats(connection, "c.test") == [(1, "t1", "alive", 7), (2, "t2", "alive", 8)]
    kind = connection.execute("SELECT type FROM sqlite_master WHERE name = 'instance_stats'")
    assert kind.fetchone() == ("view",)


def page(url: str, body: bytes, at: str) -> Document:
    return Document.keep(url, 200, at, "application/json", body)


def test_the_same_answer_again_moves_the_row_forward(connection):
    peers = "https://a.test/api/v1/instance/peers"
    store_documents(connection, "a.test", 1, [page(peers, b"[1]", "t1")])
    store_documents(connection, "a.test", 2, [page(peers, b"[1]", "t2")])
    store_documents(connection, "a.test", 3, [page(peers, b"[1, 2]", "t3")])
    store_documents(connection, "a.test", 5, [page(peers, b"[1, 2]", "t5")])  # after a gap
    rows = connection.execute(
        "SELECT crawl_id, last_crawl_id, fetched_at, last_fetched_at FROM documents ORDER BY id"
    ).fetchall()
    assert rows == [(1, 2, "t1", "t2"), (3, 3, "t3", "t3"), (5, 5, "t5", "t5")]


def test_a_paged_walk_compares_page_by_page(connection):
    walk = "https://m.test/api/federation/instances"

    def visit(crawl_id: int, bodies: list[bytes]) -> None:
        documents = [
            Document.keep(walk, 200, f"{crawl_id}.{n}", "application/json", body, method="POST")
            for n, body in enumerate(bodies)
        ]
        store_documents(connection, "m.test", crawl_id, documents)

    visit(1, [b"[1]", b"[2]", b"[]"])
    visit(2, [b"[1]", b"[2]", b"[]"])
    visit(3, [b"[1]", b"[3]", b"[]"])
    rows = connection.execute(
        "SELECT crawl_id, last_crawl_id, fetched_at FROM document_log ORDER BY id"
    ).fetchall()
    assert rows == [(1, 3, "1.0"), (1, 2, "1.1"), (1, 3, "1.2"), (3, 3, "3.1")]


def test_a_visit_again_in_the_same_crawl_rewrites_the_run_it_ends(connection):
    record_stats(connection, "b.test", 1, "t1", values(5))
    record_stats(connection, "b.test", 2, "t2", values(5))
    record_stats(connection, "b.test", 2, "t2b", values(5))  # same values: the run's end moves
    record_stats(connection, "c.test", 3, "t3", values(5))
    record_stats(connection, "c.test", 3, "t3b", values(6))  # a run of one crawl: rewritten
    assert connection.execute(
        "SELECT domain, first_crawl, last_crawl, observed_at, last_observed_at, users_total "
        "FROM instance_intervals ORDER BY domain, first_crawl"
    ).fetchall() == [("b.test", 1, 2, "t1", "t2b", 5), ("c.test", 3, 3, "t3", "t3b", 6)]


def test_a_migration_that_fails_leaves_the_old_table_and_no_open_transaction(tmp_path):
    from crawler.store.stats import migrate_stats_table

    path = str(tmp_path / "broken.db")
    open_database(path).conn.close()
    connection = sqlite3.connect(path, isolation_level=None)
    # An old table without crawl_id cannot be moved into runs.
    connection.executescript(
        "DROP VIEW instance_stats; CREATE TABLE instance_stats (domain TEXT, status TEXT);"
        "INSERT INTO instance_stats VALUES ('a.test', 'alive');"
    )
    with pytest.raises(sqlite3.OperationalError, match="crawl_id"):
        migrate_stats_table(connection)
    assert not connection.in_transaction
    assert connection.execute("SELECT * FROM instance_stats").fetchall() == [("a.test", "alive")]
    assert connection.execute("SELECT count(*) FROM instance_intervals").fetchone() == (0,)
    connection.close()


def test_bodies_are_stored_once_compressed_and_only_when_there_is_one(connection):
    import zlib

    peers = "https://a.test/api/v1/instance/peers"
    store_documents(
        connection,
        "a.test",
        1,
        [
            page(peers, b'["b.test"]', "t1"),
            Document.keep("https://a.test/robots.txt", 404, "t1", "text/plain", None),
            Document.keep("https://a.test/x", None, "t1", "", None, error="timeout"),
        ],
    )
    store_documents(connection, "b.test", 1, [page(peers, b'["b.test"]', "t1")])
    bodies = connection.execute("SELECT sha256, encoding, body FROM document_bodies").fetchall()
    assert [(encoding, zlib.decompress(body)) for _, encoding, body in bodies] == [
        ("zlib", b'["b.test"]')
    ]
    assert connection.execute(
        "SELECT domain, url, status, error, body_sha256 IS NOT NULL FROM document_log ORDER BY id"
    ).fetchall() == [
        ("a.test", peers, 200, None, 1),
        ("a.test", "https://a.test/robots.txt", 404, None, 0),
        ("a.test", "https://a.test/x", None, "timeout", 0),
        ("b.test", peers, 200, None, 1),
    ]


def test_a_kept_body_is_sealed_once_hashed_and_compressed():
    import hashlib
    import zlib

    body = b'["a.test", "b.test"]' * 50
    kept = Document.keep("https://x.test/p", 200, "t", "application/json", body)
    assert kept.body == body and kept.sha256 is None and kept.size == len(body)
    sealed = kept.sealed()
    assert sealed.body is None and sealed.size == len(body)
    assert sealed.sha256 == hashlib.sha256(body).hexdigest()
    assert zlib.decompress(sealed.compressed) == body
    assert sealed.sealed() is sealed
    empty = Document.keep("https://x.test/q", 200, "t", "application/json", b"").sealed()
    assert (empty.sha256, empty.compressed, empty.size) == (None, None, 0)
