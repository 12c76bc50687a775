"""Raw answers for provenance: a log row per answer, bodies stored once per content hash.

Bodies arrive zlib-compressed (see Document.keep); unchanged answers across crawls (most peer
lists) cost one log row.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from crawler.observation import Document


def store_documents(
    connection: sqlite3.Connection, domain: str, crawl_id: int, documents: Iterable[Document]
) -> None:
    rows = []
    for document in documents:
        if document.sha256 is not None:
            connection.execute(
                "INSERT OR IGNORE INTO document_bodies (sha256, encoding, body) "
                "VALUES (?, 'zlib', ?)",
                (document.sha256, document.compressed),
            )
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
            )
        )
    connection.executemany(
        "INSERT INTO document_log (domain, url, method, status, content_type, fetched_at, "
        "crawl_id, error, size, body_sha256, elapsed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


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
