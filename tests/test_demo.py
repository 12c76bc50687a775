"""`fediscope demo --no-serve` builds what the Quickstart promises."""

from __future__ import annotations

from tests.support import rows


def test_demo_database_has_live_servers_families_blocks_and_peers(demo_db):
    alive = rows(demo_db, "SELECT count(*) AS n FROM instances WHERE status = 'alive'")[0]["n"]
    families = rows(
        demo_db, "SELECT count(DISTINCT family) AS n FROM instances WHERE status = 'alive'"
    )
    assert alive >= 500
    assert families[0]["n"] >= 6
    assert rows(demo_db, "SELECT count(*) AS n FROM blocks WHERE active = 1")[0]["n"] > 100
    assert rows(demo_db, "SELECT count(*) AS n FROM peer_edges")[0]["n"] > 1000
    assert rows(demo_db, "SELECT count(*) AS n FROM platform_share")[0]["n"] >= 6
    truth = demo_db.with_suffix(".truth.json")
    assert truth.exists(), "the ground truth is written next to the database"
