"""A hand-built world of five servers and three crawls, written through the store's schema.

The analysis tests compare what `analyze` derives from it with figures computed by hand in
the tests themselves (the comments there show the arithmetic).

Servers (registrable domain in brackets):
- a.test (ops.test), mastodon: answers in crawls 1, 2, 3.
- b.ops.test (ops.test), mastodon: answers in 1, fails in 2, answers again in 3.
- c.test, misskey: answers in 1, 2 (counts flagged stats_suspect), 3.
- d.test, lemmy: fails in 1, answers in 2, fails in 3.
- e.test, pleroma: first seen in crawl 3, answers.

Declared languages and addresses (the same in every answering visit): a.test en+de and
b.ops.test en, both on 45.10.0.1; c.test ja on 45.10.0.77 (same /24); d.test declares none, on
2a01:4f8:1:2::5; e.test en on 81.2.3.4.
"""

from __future__ import annotations

import sqlite3
import zlib
from hashlib import sha256
from pathlib import Path

import orjson

from crawler.store.schema import open_database
from graph.analyze import analyze

CRAWLS = {1: "2026-01-05T10:00:00Z", 2: "2026-01-12T10:00:00Z", 3: "2026-01-19T10:00:00Z"}
SOFTWARE = {
    "a.test": "mastodon",
    "b.ops.test": "mastodon",
    "c.test": "misskey",
    "d.test": "lemmy",
    "e.test": "pleroma",
}
OPERATOR = {"a.test": "ops.test", "b.ops.test": "ops.test"}
LANGUAGES = {
    "a.test": '["en","de"]',
    "b.ops.test": '["en"]',
    "c.test": '["ja"]',
    "e.test": '["en"]',
}
ADDRESSES = {
    "a.test": "45.10.0.1",
    "b.ops.test": "45.10.0.1",
    "c.test": "45.10.0.77",
    "d.test": "2a01:4f8:1:2::5",
    "e.test": "81.2.3.4",
}
# (domain, crawl) -> (status, users_total, users_active_month, quality_flags)
STATS: dict[tuple[str, int], tuple[str, int | None, int | None, str | None]] = {
    ("a.test", 1): ("alive", 100, 40, None),
    ("b.ops.test", 1): ("alive", 50, 10, None),
    ("c.test", 1): ("alive", 30, 30, None),
    ("d.test", 1): ("unreachable", None, None, None),
    ("a.test", 2): ("alive", 110, 44, None),
    ("b.ops.test", 2): ("unreachable", None, None, None),
    ("c.test", 2): ("alive", 30, None, "count_from_string,stats_suspect"),
    ("d.test", 2): ("alive", 20, 5, None),
    ("a.test", 3): ("alive", 120, 50, None),
    ("b.ops.test", 3): ("alive", 60, 12, None),
    ("c.test", 3): ("alive", 40, 10, None),
    ("d.test", 3): ("unreachable", None, None, None),
    ("e.test", 3): ("alive", 10, 2, None),
}
VERSIONS = {
    "a.test": "4.2.1",
    "b.ops.test": "4.3.0+glitch",
    "c.test": "2024.11.0",
    "d.test": "0.19.3",
    "e.test": "v2.7",
}
# (crawl, event, first_observation) -> count of block events
BLOCK_EVENTS = {(1, "added", 1): 3, (2, "added", 0): 2, (2, "removed", 0): 1, (3, "changed", 0): 1}
# Active block rules: (blocker, blocked in clear or None, digest-of name, severity).
BLOCKS = [
    ("a.test", "bad.test", None, "suspend"),
    ("a.test", "d.test", None, "suspend"),
    ("a.test", "spam.test", None, "silence"),
    ("b.ops.test", "bad.test", None, "suspend"),
    ("c.test", "bad.test", None, "suspend"),
    ("c.test", "d.test", None, "silence"),
    *(("c.test", f"x{n}.example", None, "suspend") for n in range(1, 9)),
    ("e.test", None, "bad.test", "silence"),  # a masked rule with its digest
]
#: Domains known only as peers or block targets.
OTHER_DOMAINS = ["bad.test", "spam.test"]
# (source, target, first_crawl, removed_crawl) by domain
PEERS = [
    ("a.test", "b.ops.test", 1, None),
    ("a.test", "c.test", 1, 3),
    ("b.ops.test", "a.test", 2, None),
]


def analysed_world(path: Path, *changes: str) -> Path:
    """The world at `path`, edited by the SQL statements `changes`, then analysed."""
    build_world(path)
    if changes:
        connection = sqlite3.connect(path)
        for change in changes:
            connection.execute(change)
        connection.commit()
        connection.close()
    analyze(str(path))
    return path


def build_world(path: Path) -> Path:
    """Write the world into a fresh database at `path`."""
    db = open_database(str(path))
    connection = db.conn
    connection.execute("BEGIN")
    for crawl, started in CRAWLS.items():
        connection.execute(
            "INSERT INTO crawls (id, started_at, finished_at, status, seeds) "
            "VALUES (?, ?, ?, 'finished', '[\"a.test\"]')",
            (crawl, started, started.replace("10:00", "11:00")),
        )
    ids = {name: number for number, name in enumerate([*sorted(SOFTWARE), *OTHER_DOMAINS], 1)}
    connection.executemany(
        "INSERT INTO domains (id, name) VALUES (?, ?)", [(v, k) for k, v in ids.items()]
    )
    latest: dict[str, int] = {}
    for (domain, crawl), (status, users, active, flags) in sorted(STATS.items()):
        connection.execute(
            "INSERT INTO instance_stats (domain, crawl_id, observed_at, status, software, "
            "version, users_total, users_active_month, quality_flags, languages, address) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                domain,
                crawl,
                CRAWLS[crawl],
                status,
                SOFTWARE[domain] if status == "alive" else None,
                VERSIONS[domain] if status == "alive" else None,
                users,
                active,
                flags,
                LANGUAGES.get(domain) if status == "alive" else None,
                ADDRESSES[domain] if status == "alive" else None,
            ),
        )
        latest[domain] = crawl
    for domain, software in SOFTWARE.items():
        status, users, active, flags = STATS[(domain, latest[domain])]
        connection.execute(
            "INSERT INTO instances (domain, domain_id, registrable_domain, software, family, "
            "version, users_total, users_active_month, quality_flags, status, last_crawl_id, "
            "peers_visibility, blocks_visibility, languages, address) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'public', 'public', ?, ?)",
            (
                domain,
                ids[domain],
                OPERATOR.get(domain, domain),
                software,
                software,
                VERSIONS[domain],
                users,
                active,
                flags,
                status,
                latest[domain],
                LANGUAGES.get(domain),
                ADDRESSES[domain],
            ),
        )
    event_id = 0
    for (crawl, event, first), count in BLOCK_EVENTS.items():
        for _ in range(count):
            event_id += 1
            connection.execute(
                "INSERT INTO block_events (id, blocker, blocked_pattern, blocked, event, "
                "crawl_id, at, first_observation) VALUES (?, 'a.test', ?, ?, ?, ?, ?, ?)",
                (
                    event_id,
                    f"x{event_id}.test",
                    f"x{event_id}.test",
                    event,
                    crawl,
                    CRAWLS[crawl],
                    first,
                ),
            )
    for blocker, blocked, digest_of, severity in BLOCKS:
        pattern = blocked or "b*d.test"
        connection.execute(
            "INSERT INTO blocks (blocker, blocked, blocked_pattern, blocked_digest, kind, "
            "severity, severity_raw, first_crawl, last_crawl, active) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 1, 3, 1)",
            (
                blocker,
                blocked,
                pattern,
                sha256(digest_of.encode()).hexdigest() if digest_of else None,
                "clear" if blocked else "masked",
                severity,
                severity,
            ),
        )
    connection.executemany(
        "INSERT INTO peer_intervals VALUES (?, ?, ?, ?)",
        [(ids[s], ids[t], first, removed) for s, t, first, removed in PEERS],
    )
    connection.execute("COMMIT")
    connection.close()
    return path


def store_document(
    connection, domain: str, url: str, crawl: int, fetched_at: str, body: object
) -> None:
    """Keep an answer the way the crawler does (zlib body, one log row)."""
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    digest = sha256(raw).hexdigest()
    connection.execute(
        "INSERT OR IGNORE INTO document_bodies (sha256, encoding, body) VALUES (?, 'zlib', ?)",
        (digest, zlib.compress(raw)),
    )
    connection.execute(
        "INSERT INTO document_log (domain, url, method, status, content_type, fetched_at, "
        "crawl_id, size, body_sha256) VALUES (?, ?, 'GET', 200, 'application/json', ?, ?, ?, ?)",
        (domain, url, fetched_at, crawl, len(raw), digest),
    )
