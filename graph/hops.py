"""`hops`: each instance's BFS distance from the seeds over the links the crawler follows.

Discovery links are current peer edges, block rules naming a domain in clear, and moves. The
crawl records the distance at which it first met a domain; concurrency can make that longer
than the shortest path, so analyze recomputes the exact distance here.
"""

from __future__ import annotations

import json
import sqlite3

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from graph.edges import current_peer_edges, domain_count


def build_hops(
    connection: sqlite3.Connection, edges: tuple[np.ndarray, np.ndarray] | None = None
) -> int:
    """Write `instances.hops`; return how many instances are reachable from the seeds.

    `edges` are the current peer edges if the caller loaded them already.
    """
    n = domain_count(connection)
    ids = dict(connection.execute("SELECT name, id FROM domains"))
    sources, targets = edges if edges is not None else current_peer_edges(connection)
    extra = connection.execute(
        "SELECT s.id, t.id FROM blocks b JOIN domains s ON s.name = b.blocker "
        "JOIN domains t ON t.name = b.blocked WHERE b.active = 1 "
        "UNION SELECT s.id, t.id FROM instances i JOIN domains s ON s.name = i.domain "
        "JOIN domains t ON t.name = i.moved_to WHERE i.moved_to IS NOT NULL"
    ).fetchall()
    if extra:
        more = np.asarray(extra, dtype=np.int32)
        sources = np.concatenate([sources, more[:, 0]])
        targets = np.concatenate([targets, more[:, 1]])
    seeds: set[int] = set()
    for (text,) in connection.execute("SELECT seeds FROM crawls"):
        for seed in json.loads(text or "[]"):
            if seed in ids:
                seeds.add(ids[seed])
    connection.execute("UPDATE instances SET hops = NULL")
    if not seeds or n == 0:
        return 0
    graph = sparse.csr_matrix(
        (np.ones(sources.shape[0], dtype=np.int8), (sources, targets)), shape=(n, n)
    )
    distances = csgraph.dijkstra(graph, indices=sorted(seeds), unweighted=True, min_only=True)
    reachable = np.flatnonzero(np.isfinite(distances))
    names = {v: k for k, v in ids.items()}
    connection.executemany(
        "UPDATE instances SET hops = ? WHERE domain = ?",
        ((int(distances[i]), names[int(i)]) for i in reachable if int(i) in names),
    )
    return int(reachable.shape[0])
