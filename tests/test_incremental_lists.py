"""Misskey re-crawls read only what is new; every `full_every` crawls the whole list again.

The sandbox's Misskey servers meet new servers from one epoch to the next (their lists only
grow, as Misskey's do) and order `+firstRetrievedAt` newest first, as Misskey does. The truth
is the sandbox's own list at each epoch.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from crawler.adapters.misskey import PAGE
from crawler.sandbox import Sandbox, SandboxConfig
from tests.support import PATIENT, QUICK_PACE, crawl_via, rows

START = datetime(2026, 2, 1, 10, 0, tzinfo=UTC)


async def crawl(sandbox: Sandbox, port: int, db: Path, number: int, full_every: int) -> None:
    moment = START + timedelta(days=number)
    await crawl_via(
        port,
        db,
        sandbox.seeds,
        clock=lambda: moment,
        recrawl_after=timedelta(0),
        full_every=full_every,
        **PATIENT,  # with hosts that hang up after a second (no timeout waited, none by load)
    )


def stored_peers(db: Path, domain: str) -> set[str]:
    found = rows(db, "SELECT target FROM peer_edges WHERE source = ?", domain)
    return {row["target"] for row in found}


def misskey_lists(sandbox: Sandbox, db: Path) -> dict[str, set[str]]:
    """Truth: the peer list of every Misskey server the crawl stored as alive and public."""
    truth = sandbox.truth()["instances"]
    stored = rows(
        db,
        "SELECT domain FROM instances WHERE family = 'misskey' AND status = 'alive' "
        "AND peers_visibility = 'public'",
    )
    return {row["domain"]: set(truth[row["domain"]]["peers"]) for row in stored}


async def test_misskey_recrawls_add_new_names_and_full_reads_see_removals(tmp_path):
    sandbox = Sandbox(
        SandboxConfig(instances=250, seed=2, farm_size=0, pace=QUICK_PACE, hang_seconds=1.0)
    )
    port = await sandbox.start()
    db = tmp_path / "m.db"
    try:
        await crawl(sandbox, port, db, 1, full_every=7)
        lists = misskey_lists(sandbox, db)
        assert len(lists) >= 3
        assert all(stored_peers(db, domain) == peers for domain, peers in lists.items())

        sandbox.set_epoch(1)
        grown = {
            change["domain"]: set(change["added"])
            for change in sandbox.world.history.changes
            if change["change"] == "peers_changed" and change["domain"] in lists
        }
        assert grown and all(grown.values())
        await crawl(sandbox, port, db, 2, full_every=7)
        # Newest first: the new names are stored, nothing is taken as removed.
        lists = misskey_lists(sandbox, db)
        assert all(stored_peers(db, domain) == peers for domain, peers in lists.items())
        for domain, added in grown.items():
            new = rows(
                db, "SELECT target FROM peer_edges WHERE source = ? AND first_crawl = 2", domain
            )
            assert {row["target"] for row in new} == added
        full = {
            row["domain"]: row["peers_full_crawl"]
            for row in rows(db, "SELECT domain, peers_full_crawl, peers_count FROM instances")
        }
        counts = {
            row["domain"]: row["peers_count"]
            for row in rows(db, "SELECT domain, peers_count FROM instances")
        }
        assert all(counts[domain] == len(peers) for domain, peers in lists.items())
        long_lists = [domain for domain, peers in lists.items() if len(peers) >= PAGE]
        assert long_lists, "no Misskey list long enough to be read newest first"
        assert all(full[domain] == 1 for domain in long_lists)  # read newest first in crawl 2

        # A list that loses a name (against the assumption): a newest-first read cannot see it
        # and must not guess; the next full read (crawl 4 with full_every=3) removes it.
        source = max(long_lists, key=lambda domain: len(lists[domain]))
        assert len(lists[source]) > PAGE + 1  # still more than a page without the lost name
        host = sandbox.world.host(source)
        gone = int(sandbox.world.peer_indices(host)[0])
        sandbox.world.history._d(host).peers_remove.add(gone)
        sandbox.world.clear_caches()
        gone_name = sandbox.world.hosts[gone].domain
        await crawl(sandbox, port, db, 3, full_every=7)
        assert gone_name in stored_peers(db, source)
        assert rows(db, "SELECT * FROM crawls WHERE id = 3")[0]["peer_edges_removed"] == 0
        await crawl(sandbox, port, db, 4, full_every=3)
        assert gone_name not in stored_peers(db, source)
        assert stored_peers(db, source) == set(sandbox.truth()["instances"][source]["peers"])
        assert rows(db, "SELECT peers_full_crawl FROM instances WHERE domain = ?", source) == [
            {"peers_full_crawl": 4}
        ]
    finally:
        await sandbox.stop()
