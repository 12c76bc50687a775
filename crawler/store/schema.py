"""The schema contract, created and migrated on open.

The contract: every table below exists in every database fediscope opens, columns are only ever
added (never dropped or retyped), counts a server did not give are NULL (never 0), only
crawler/store writes, and PRAGMA user_version records SCHEMA_VERSION so an older fediscope can
refuse a newer database instead of misreading it.

Tables are declared once here; `ensure_schema` creates what is missing and adds new columns to
existing tables, so a database written by an older fediscope opens without loss. Small tables
go through sqlite-utils; the big edge table is a `WITHOUT ROWID` table of integers written with
plain SQL (about 4x smaller than text keys at full scale, and ordered bulk loads stay fast).
Every table and column is described in data/metadata.yml (a test keeps the two in step).
"""

from __future__ import annotations

import sqlite3
from contextlib import closing

import sqlite_utils

from crawler.store.stats import TRIGGERS as STATS_TRIGGERS
from crawler.store.stats import VIEW as STATS_VIEW
from crawler.store.stats import migrate_stats_table

#: 3: count columns are named `servers` in every derived table (2 said `instances` in the share
#: tables and block_list_coverage); opening an older database renames them in place.
#: 4: the declared languages and the address each host was reached at (instances and the time
#: series); opening an older database adds the columns and recreates the view's triggers.
SCHEMA_VERSION = 4

#: Schema 3's column renames in the share tables analyze builds (the view is recreated anyway).
COUNT_COLUMN_RENAMES = {
    "instances": "servers",
    "instances_share": "servers_share",
    "instances_without_users": "servers_without_users",
    "instances_without_active_users": "servers_without_active_users",
}
SHARE_TABLES = ("platform_share", "software_share")

# name -> (columns in order as {column: type}, primary key, not-null set)
TABLES: dict[str, tuple[dict[str, type], str | tuple[str, ...], set[str]]] = {
    "domains": ({"id": int, "name": str}, "id", {"name"}),
    "crawls": (
        {
            "id": int,
            "started_at": str,
            "finished_at": str,
            "status": str,
            "seeds": str,
            "via": str,
            "contact": str,
            "user_agent": str,
            "fediscope_version": str,
            "settings": str,
            "visited": int,
            "alive": int,
            "failed": int,
            "requests": int,
            "probe_requests": int,
            "rejected_names": int,
            "peer_edges_added": int,
            "peer_edges_removed": int,
            "store_seconds": float,
            "peer_store_seconds": float,
            "not_modified": int,
            "busiest_addresses": str,
            "reused": int,
        },
        "id",
        set(),
    ),
    "instances": (
        {
            "domain": str,
            "domain_id": int,
            "display_name": str,
            "registrable_domain": str,
            "software": str,
            "software_raw": str,
            "family": str,
            "version": str,
            "users_total": int,
            "users_active_month": int,
            "users_active_halfyear": int,
            "local_posts": int,
            "local_comments": int,
            "open_registrations": int,
            "name": str,
            "description": str,
            "languages": str,
            "address": str,
            "quality_flags": str,
            "status": str,
            "status_reason": str,
            "error_detail": str,
            "moved_to": str,
            "nodeinfo_version": str,
            "nodeinfo_url": str,
            "peers_visibility": str,
            "peers_count": int,
            "peers_truncated": int,
            "blocks_visibility": str,
            "blocks_count": int,
            "first_seen": str,
            "last_seen": str,
            "last_visit": str,
            "next_visit": str,
            "failures": int,
            "first_failure_at": str,
            "discovered_by": str,
            "discovered_via": str,
            "hops": int,
            "last_crawl_id": int,
            "peers_full_crawl": int,
        },
        "domain",
        {"status"},
    ),
    "instance_intervals": (
        {
            "domain": str,
            "first_crawl": int,
            "last_crawl": int,
            "observed_at": str,
            "last_observed_at": str,
            "status": str,
            "software": str,
            "version": str,
            "users_total": int,
            "users_active_month": int,
            "users_active_halfyear": int,
            "local_posts": int,
            "peers_count": int,
            "blocks_count": int,
            "quality_flags": str,
            "blocks_visibility": str,
            "languages": str,
            "address": str,
        },
        ("domain", "first_crawl"),
        set(),
    ),
    "blocks": (
        {
            "id": int,
            "blocker": str,
            "blocked": str,
            "blocked_pattern": str,
            "blocked_digest": str,
            "kind": str,
            "severity": str,
            "severity_raw": str,
            "reason": str,
            "first_seen": str,
            "last_seen": str,
            "first_crawl": int,
            "last_crawl": int,
            "active": int,
        },
        "id",
        {"blocker", "blocked_pattern", "severity", "severity_raw"},
    ),
    "block_events": (
        {
            "id": int,
            "blocker": str,
            "blocked_pattern": str,
            "blocked": str,
            "event": str,
            "severity": str,
            "severity_raw": str,
            "previous_severity": str,
            "reason": str,
            "previous_reason": str,
            "crawl_id": int,
            "at": str,
            "first_observation": int,
        },
        "id",
        {"blocker", "blocked_pattern", "event"},
    ),
    "exclusions": (
        {"domain": str, "reason": str, "source": str, "at": str, "crawl_id": int},
        "domain",
        {"reason"},
    ),
    "rejected_names": (
        {"crawl_id": int, "reason": str, "count": int},
        ("crawl_id", "reason"),
        set(),
    ),
    "document_log": (
        {
            "id": int,
            "domain": str,
            "url": str,
            "method": str,
            "status": int,
            "content_type": str,
            "fetched_at": str,
            "crawl_id": int,
            "error": str,
            "size": int,
            "body_sha256": str,
            "elapsed": float,
            "last_fetched_at": str,
            "last_crawl_id": int,
        },
        "id",
        {"domain", "url"},
    ),
    "document_bodies": ({"sha256": str, "encoding": str, "body": bytes}, "sha256", set()),
    # The ETag / Last-Modified of each list answer stored last, sent back on the next crawl,
    # and until when (Unix seconds) its server lets it be reused without asking.
    "http_validators": (
        {
            "domain": str,
            "path": str,
            "etag": str,
            "last_modified": str,
            "crawl_id": int,
            "fresh_until": float,
        },
        ("domain", "path"),
        set(),
    ),
    # When analyze and import-blocklist last changed what the pages answer (crawls are in
    # `crawls`): the pages' cache validator is built from these and the finished crawls.
    "data_state": ({"name": str, "changed_at": str}, "name", set()),
    # The /platforms chart data as analysed for a crawl, kept for `?crawl=N` permalinks; rows
    # are stored once per content (an unchanged chart costs one small row per crawl).
    "chart_snapshots": (
        {"crawl_id": int, "slug": str, "rows_sha256": str},
        ("crawl_id", "slug"),
        set(),
    ),
    "chart_snapshot_rows": ({"sha256": str, "rows": bytes}, "sha256", set()),
    "imported_blocklists": (
        {
            "source": str,
            "file_name": str,
            "imported_at": str,
            "rows": int,
            "skipped_rows": int,
        },
        "source",
        set(),
    ),
    "imported_blocks": (
        {
            "source": str,
            "blocked_pattern": str,
            "blocked": str,
            "blocked_digest": str,
            "kind": str,
            "severity": str,
            "severity_raw": str,
            "reject_media": int,
            "reject_reports": int,
            "reason": str,
            "obfuscate": int,
        },
        ("source", "blocked_pattern"),
        set(),
    ),
    # An IP-to-AS table imported with `fediscope import-asn` (iptoasn TSV), and its import.
    "asn_ranges": (
        {
            "start_key": str,
            "end_key": str,
            "range_start": str,
            "range_end": str,
            "asn": int,
            "country": str,
            "as_name": str,
        },
        "start_key",
        {"end_key", "asn"},
    ),
    "asn_imports": (
        {
            "file_name": str,
            "imported_at": str,
            "ranges": int,
            "skipped_rows": int,
            "skipped_by_reason": str,
        },
        "file_name",
        set(),
    ),
}

RAW_SQL = [
    # The peer graph as validity intervals [first_crawl, removed_crawl) of integer pairs.
    """CREATE TABLE IF NOT EXISTS peer_intervals (
        source_id INTEGER NOT NULL,
        target_id INTEGER NOT NULL,
        first_crawl INTEGER NOT NULL,
        removed_crawl INTEGER,
        PRIMARY KEY (source_id, target_id, first_crawl)
    ) WITHOUT ROWID""",
]

INDEXES: list[tuple[str, list[str], bool]] = [
    ("instances", ["status"], False),
    # pages: block-list coverage and the home page's sums read only this index
    ("instances", ["status", "blocks_visibility", "users_active_month", "users_total"], False),
    ("instances", ["family"], False),
    ("instances", ["next_visit"], False),
    ("instances", ["domain_id"], False),
    ("instance_intervals", ["last_crawl"], False),
    ("blocks", ["blocker", "blocked_pattern", "severity_raw"], True),
    ("blocks", ["blocked"], False),
    ("blocks", ["blocked_digest"], False),
    ("blocks", ["kind"], False),  # who-blocks: the few wildcard/suffix/masked rules
    ("block_events", ["blocker"], False),
    # who-blocks: the changes of the rules covering a domain, and its Atom feed
    ("block_events", ["blocker", "blocked_pattern"], False),
    ("block_events", ["crawl_id"], False),
    ("document_log", ["domain"], False),
    ("document_log", ["body_sha256"], False),
    ("exclusions", ["reason"], False),
]

VIEWS = {
    "instance_stats": STATS_VIEW,
    "peer_edges": """
        SELECT s.name AS source, t.name AS target, p.first_crawl AS first_crawl
        FROM peer_intervals p
        JOIN domains s ON s.id = p.source_id
        JOIN domains t ON t.id = p.target_id
        WHERE p.removed_crawl IS NULL""",
    "documents": """
        SELECT l.id, l.domain, l.url, l.method, l.status, l.content_type, l.fetched_at,
               l.elapsed, l.crawl_id, coalesce(l.last_fetched_at, l.fetched_at) AS last_fetched_at,
               coalesce(l.last_crawl_id, l.crawl_id) AS last_crawl_id, l.error, l.size,
               l.body_sha256, b.encoding, b.body
        FROM document_log l LEFT JOIN document_bodies b ON b.sha256 = l.body_sha256""",
    "suspends_while_peered": """
        SELECT b.blocker, b.blocked, b.severity_raw, b.reason, b.first_seen
        FROM blocks b
        JOIN domains blocker_id ON blocker_id.name = b.blocker
        JOIN domains blocked_id ON blocked_id.name = b.blocked
        WHERE b.active = 1 AND b.severity = 'suspend' AND EXISTS (
            SELECT 1 FROM peer_intervals p
            WHERE p.source_id = blocked_id.id AND p.target_id = blocker_id.id
              AND p.removed_crawl IS NULL)""",
    "block_list_coverage": """
        SELECT coalesce(family, 'unknown') AS family,
               coalesce(blocks_visibility, 'not read') AS visibility,
               count(*) AS servers,
               coalesce(sum(users_active_month), 0) AS active_users
        FROM instances WHERE status = 'alive'
        GROUP BY 1, 2 ORDER BY 1, servers DESC""",
}


def open_database(path: str, *, create: bool = True) -> sqlite_utils.Database:
    """Open (and create/migrate) a fediscope database in WAL mode."""
    connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db = sqlite_utils.Database(connection)
    connection.execute("PRAGMA busy_timeout = 60000")
    if create:
        ensure_schema(db)
    return db


def ensure_schema(db: sqlite_utils.Database) -> None:
    """Create missing tables, columns, indexes and views; record the schema version."""
    if db.journal_mode != "wal":
        db.enable_wal()
    db.execute("PRAGMA synchronous = NORMAL")
    # Checkpoint every ~64 MiB of WAL instead of every 4 MiB: fewer, larger copies while a
    # crawl writes a visit per transaction.
    db.execute("PRAGMA wal_autocheckpoint = 16384")
    for name, (columns, pk, not_null) in TABLES.items():
        table = db.table(name)
        if not table.exists():
            table.create(columns, pk=pk, not_null=not_null)
            continue
        existing = set(table.columns_dict)
        for column, kind in columns.items():
            if column not in existing:
                table.add_column(column, kind)
    for statement in RAW_SQL:
        db.execute(statement)
    migrate_stats_table(db.conn)
    stored_version = db.execute("PRAGMA user_version").fetchone()[0]
    rename_count_columns(db.conn)
    if 0 < stored_version < 4:
        migrate_to_4(db)
    for table_name, columns, unique in INDEXES:
        db.table(table_name).create_index(columns, unique=unique, if_not_exists=True)
    db.execute("CREATE UNIQUE INDEX IF NOT EXISTS domains_name ON domains (name)")
    for view, sql in VIEWS.items():
        db.create_view(view, sql.strip(), replace=True)
    for trigger in STATS_TRIGGERS:
        db.execute(trigger)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def rename_count_columns(connection: sqlite3.Connection) -> None:
    """Schema 3: the share tables of an older database say `servers` where they said
    `instances` (a rename: no table is rebuilt, nothing else changes)."""
    for table in SHARE_TABLES:
        columns = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
        for old, new in COUNT_COLUMN_RENAMES.items():
            if old in columns and new not in columns:
                connection.execute(f"ALTER TABLE {table} RENAME COLUMN {old} TO {new}")


def migrate_to_4(db: sqlite_utils.Database) -> None:
    """Schema 4: `languages` and `address` joined instances and the time series.

    The columns are added like any new column and the instance_stats view is replaced; its
    INSTEAD OF triggers name every column, so they are dropped here to be created again with
    the new ones (replacing the view drops them too, but only when its SQL changed)."""
    for trigger in ("instance_stats_insert", "instance_stats_delete"):
        db.execute(f"DROP TRIGGER IF EXISTS {trigger}")


def ensure_target_index(db: sqlite_utils.Database) -> None:
    """The "who lists X as a peer" index; built after bulk loads, where it is cheapest."""
    db.execute(
        "CREATE INDEX IF NOT EXISTS peer_intervals_target "
        "ON peer_intervals (target_id, source_id) WHERE removed_crawl IS NULL"
    )


def schema_version(path: str) -> int:
    """The schema version recorded in the database at `path` (0: none yet); raises nothing."""
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
            return int(connection.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.Error:
        return 0


def is_fediscope_database(path: str) -> bool:
    """Whether `path` is a SQLite file (empty new files count); raises nothing."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(16)
    except OSError:
        return False
    return header in (b"", b"SQLite format 3\x00")
