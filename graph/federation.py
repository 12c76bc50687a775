"""Block-aware federation: the peer graph minus the links a suspension cuts.

A peer edge (source lists target) is severed when either side suspends the other in public
(`block_edges` with severity suspend: names in clear, public wildcard and parent-domain rules;
digest-only matches are never used to name a pair). `severed_links` holds those edges (found by
primary-key lookups from the suspensions, never by scanning the peer graph), `federation_edges`
is the view of the rest, and `instance_severed_links` counts, per server, its links cut by its
own suspensions and by others'.
"""

from __future__ import annotations

import sqlite3

SUSPENSIONS = """
    SELECT DISTINCT s.id AS blocker_id, t.id AS blocked_id
    FROM block_edges b JOIN domains s ON s.name = b.blocker JOIN domains t ON t.name = b.blocked
    WHERE b.severity = 'suspend'
"""


def build_federation(connection: sqlite3.Connection) -> str:
    """(Re)build `severed_links`, `instance_severed_links` and the `federation_edges` view."""
    connection.execute("DROP VIEW IF EXISTS federation_edges")
    for table in ("severed_links", "instance_severed_links"):
        connection.execute(f"DROP TABLE IF EXISTS {table}")
    connection.execute(
        "CREATE TABLE severed_links (source TEXT, target TEXT, source_id INTEGER, "
        "target_id INTEGER, source_suspends_target INTEGER, target_suspends_source INTEGER, "
        "PRIMARY KEY (source_id, target_id))"
    )
    connection.execute(
        f"""
        INSERT INTO severed_links
        WITH suspensions AS ({SUSPENSIONS}),
        hits AS (
            SELECT p.source_id, p.target_id, 1 AS forward, 0 AS backward
            FROM suspensions x JOIN peer_intervals p
                 ON p.source_id = x.blocker_id AND p.target_id = x.blocked_id
            WHERE p.removed_crawl IS NULL
            UNION ALL
            SELECT p.source_id, p.target_id, 0, 1
            FROM suspensions x JOIN peer_intervals p
                 ON p.source_id = x.blocked_id AND p.target_id = x.blocker_id
            WHERE p.removed_crawl IS NULL
        )
        SELECT s.name, t.name, h.source_id, h.target_id, max(h.forward), max(h.backward)
        FROM hits h JOIN domains s ON s.id = h.source_id JOIN domains t ON t.id = h.target_id
        GROUP BY h.source_id, h.target_id ORDER BY h.source_id, h.target_id
        """
    )
    connection.execute(
        """
        CREATE VIEW federation_edges AS
        SELECT s.name AS source, t.name AS target, p.first_crawl AS first_crawl
        FROM peer_intervals p
        JOIN domains s ON s.id = p.source_id
        JOIN domains t ON t.id = p.target_id
        WHERE p.removed_crawl IS NULL AND NOT EXISTS (
            SELECT 1 FROM severed_links x
            WHERE x.source_id = p.source_id AND x.target_id = p.target_id)
        """
    )
    connection.execute(
        "CREATE TABLE instance_severed_links (domain TEXT PRIMARY KEY, severed_links INTEGER, "
        "severed_by_own_rules INTEGER, severed_by_others_rules INTEGER)"
    )
    # Each severed edge counts once for each end; "own" when that end is a suspending side.
    connection.execute(
        """
        INSERT INTO instance_severed_links
        SELECT domain, count(*), sum(own), sum(other)
        FROM (
            SELECT source AS domain, source_suspends_target AS own,
                   target_suspends_source AS other FROM severed_links
            UNION ALL
            SELECT target, target_suspends_source, source_suspends_target FROM severed_links
        )
        GROUP BY domain ORDER BY domain
        """
    )
    (edges,) = connection.execute("SELECT count(*) FROM severed_links").fetchone()
    (servers,) = connection.execute("SELECT count(*) FROM instance_severed_links").fetchone()
    return f"{edges} peer edges severed by suspensions, touching {servers} servers"
