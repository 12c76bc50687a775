"""`fediscope analyze`: derived tables written back into the same database.

Each analysis has its own module (platforms, peers, blocks, reach); this one runs them in
order, in one transaction each, and reports what it built. It holds the database's writer lock
(crawler/store/lock.py): derived tables built from a crawl half done would mislead, and a long
analysis step would keep a crawl's writer waiting.
"""

from __future__ import annotations

import resource
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from crawler.store.lock import database_lock
from crawler.store.schema import ensure_target_index, open_database
from graph.activity import build_weekly_activity
from graph.adoption import build_shared_list_adoption
from graph.blocks import build_block_tables
from graph.camps import build_block_camps
from graph.concentration import build_concentration
from graph.edges import current_peer_edges
from graph.federation import build_federation
from graph.history import build_history
from graph.hops import build_hops
from graph.hosting_share import build_hosting_share
from graph.language_share import build_language_share
from graph.map_layout import build_map_layout
from graph.peers import build_peer_metrics
from graph.platforms import build_platform_share
from graph.versions import build_version_share


@dataclass
class AnalyzeReport:
    """What `analyze` built, with the time each step took and the peak RSS after it."""

    steps: list[tuple[str, str, float]] = field(default_factory=list)
    peak_rss_mb: list[float] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"{name}: {what} ({seconds:.2f} s, peak RSS {rss:.0f} MB)"
            for (name, what, seconds), rss in zip(self.steps, self.peak_rss_mb, strict=True)
        ]


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


class _SharedEdges:
    """The current peer edges, loaded once for the steps that need them, then let go."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        self.edges: tuple[np.ndarray, np.ndarray] | None = None

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        if self.edges is None:
            self.edges = current_peer_edges(self.connection)
        return self.edges

    def release(self) -> tuple[np.ndarray, np.ndarray]:
        """The edges for their last user; the arrays are freed when it is done with them."""
        edges = self.load()
        self.edges = None
        return edges


def publication_steps(connection: sqlite3.Connection) -> list[tuple[str, Callable[[], str]]]:
    """The read side's two closing steps: draw the /platforms charts and keep their data for
    the crawl, so `?crawl=N` answers stay the same after later analyses (observatory.snapshots).

    They run inside analyze so that every analysis freezes what the pages show for its crawl;
    they are imported here, after the analysis steps, so that no analysis step loads chart code.
    """
    from observatory.snapshots import keep_chart_snapshots, store_chart_specs

    return [
        ("chart_specs", lambda: store_chart_specs(connection)),
        ("chart_snapshots", lambda: keep_chart_snapshots(connection)),
    ]


def analyze(db_path: str) -> AnalyzeReport:
    """Build every derived table; safe to run again at any time (not during a crawl)."""
    with database_lock(db_path, "analyze"):
        return _analyze(db_path)


def _analyze(db_path: str) -> AnalyzeReport:
    db = open_database(db_path)
    connection = db.conn
    report = AnalyzeReport()
    edges = _SharedEdges(connection)
    try:
        row = connection.execute("SELECT max(id) FROM crawls").fetchone()
        crawl_id = row[0] if row else None
        steps: list[tuple[str, Callable[[], str]]] = [
            ("indexes", lambda: ensure_target_index(db) or "who-lists-X index on peer edges"),
            ("platform_share", lambda: f"{build_platform_share(connection, crawl_id)} families"),
            (
                "hops",
                lambda: f"{build_hops(connection, edges.load())} instances reached from the seeds",
            ),
            ("instance_metrics", lambda: build_peer_metrics(connection, crawl_id, edges.release())),
            ("blocks", lambda: build_block_tables(connection)),
            ("shared_list_adoption", lambda: build_shared_list_adoption(connection, crawl_id)),
            ("history", lambda: build_history(connection)),
            ("concentration", lambda: build_concentration(connection)),
            ("weekly_activity", lambda: build_weekly_activity(connection)),
            ("block_camps", lambda: build_block_camps(connection)),
            ("federation", lambda: build_federation(connection)),
            ("version_share", lambda: build_version_share(connection)),
            ("language_share", lambda: build_language_share(connection)),
            ("hosting_share", lambda: build_hosting_share(connection)),
            ("map_layout", lambda: build_map_layout(connection, crawl_id)),
            *publication_steps(connection),
        ]
        for name, step in steps:
            started = time.perf_counter()
            connection.execute("BEGIN IMMEDIATE")
            try:
                what = step()
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            report.steps.append((name, what, time.perf_counter() - started))
            report.peak_rss_mb.append(peak_rss_mb())
    finally:
        connection.close()
    return report
