"""Raw answers for provenance: a log row per answer, bodies stored once per content hash.

Bodies are stored zlib-compressed (`Document.sealed`; small ones are sealed here, in the store
process). The log grows with change, not with crawls: when a URL gives the same answer
(status, type, error, body) as in the domain's previous crawl, its row's last_fetched_at and
last_crawl_id move forward instead of a new row being added, so a row stands for the crawls
[crawl_id, last_crawl_id] that got that answer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from crawler.observation import Document


def store_documents(
    connection: sqlite3.Connection, domain: str, crawl_id: int, documents: Iterable[Document]
) -> None:
    previous = _latest_answers(connection, domain)
    rows = []
    for document in map(Document.sealed, documents):
        if document.compressed is not None:  # else no body, or one stored already
            connection.execute(
                "INSERT OR IGNORE INTO document_bodies (sha256, encoding, body) "
                "VALUES (?, 'zlib', ?)",
                (document.sha256, document.compressed),
            )
        answer = (document.status, document.content_type, document.error, document.sha256)
        earlier = previous.get((document.url, document.method))
        seen = earlier.pop(0) if earlier else None
        if seen is not None and seen[1:-1] == answer and seen[0] in (crawl_id, crawl_id - 1):
            connection.execute(
                "UPDATE document_log SET last_fetched_at = ?, last_crawl_id = ? WHERE id = ?",
                (document.fetched_at, crawl_id, seen[-1]),
            )
            continue
        rows.append(
            (
                domain,
                document.url,
                document.method,
                document.status,
                document.content_type,
                document.fetched_at,
                crawl_id,
                document.error,
                document.size,
                document.sha256,
                document.elapsed,
                document.fetched_at,
                crawl_id,
            )
        )
    connection.executemany(
        "INSERT INTO document_log (domain, url, method, status, content_type, fetched_at, "
        "crawl_id, error, size, body_sha256, elapsed, last_fetched_at, last_crawl_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def _latest_answers(connection: sqlite3.Connection, domain: str) -> dict[tuple, list[tuple]]:
    """The domain's answers in its latest visit, in fetch order, per (url, method).

    Each is (last crawl, status, type, error, body hash, row id). A paged walk asks one URL
    several times, so the n-th answer of a visit is compared with the n-th of the last one.
    """
    latest: dict[tuple, list[tuple]] = {}
    for url, method, last, status, kind, error, sha, row_id in connection.execute(
        "SELECT url, method, coalesce(last_crawl_id, crawl_id) AS last, status, content_type, "
        "error, body_sha256, id FROM document_log WHERE domain = ?1 AND "
        "coalesce(last_crawl_id, crawl_id) = (SELECT max(coalesce(last_crawl_id, crawl_id)) "
        "FROM document_log WHERE domain = ?1) "
        "ORDER BY coalesce(last_fetched_at, fetched_at), id",
        (domain,),
    ):
        latest.setdefault((url, method), []).append((last, status, kind, error, sha, row_id))
    return latest


def drop_documents(connection: sqlite3.Connection, domain: str) -> None:
    """Forget every answer of a domain (it opted out); shared bodies stay for other domains."""
    digests = [
        row[0]
        for row in connection.execute(
            "SELECT DISTINCT body_sha256 FROM document_log "
            "WHERE domain = ? AND body_sha256 IS NOT NULL",
            (domain,),
        )
    ]
    connection.execute("DELETE FROM document_log WHERE domain = ?", (domain,))
    connection.executemany(
        "DELETE FROM document_bodies WHERE sha256 = ?1 "
        "AND NOT EXISTS (SELECT 1 FROM document_log WHERE body_sha256 = ?1)",
        ((digest,) for digest in digests),
    )
