"""`block_camps` and `block_camp_members`: servers that block alike.

Each server's public block list is a set of target domains (`block_edges`: names published in
clear or by public wildcard rules; digest matches are never used to name pairs). Two servers are
similar when the Jaccard index of their sets is at least `THRESHOLD`; each server keeps its
`NEIGHBOURS` most similar partners (so one big shared list does not make a graph with millions of
edges). Louvain community detection (networkx, fixed seed, nodes and edges inserted in sorted
order) splits the similarity graph into camps; camps have at least two servers.
Intersections come from a sparse matrix product in row chunks (no Python object per pair).
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter

import networkx as nx
import numpy as np
from scipy import sparse

THRESHOLD = 0.5
MIN_TARGETS = 3
NEIGHBOURS = 25
SEED = 42
CHUNK = 512
TOP_TARGETS = 20


def similarity_edges(
    matrix: sparse.csr_matrix, threshold: float = THRESHOLD, neighbours: int = NEIGHBOURS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, cols, jaccard) with rows < cols, Jaccard >= threshold, each row's top partners."""
    sizes = np.asarray(matrix.sum(axis=1)).ravel()
    transposed = matrix.T.tocsc()
    found_rows, found_cols, found_values = [], [], []
    for start in range(0, matrix.shape[0], CHUNK):
        block = (matrix[start : start + CHUNK] @ transposed).tocoo()
        rows = block.row + start
        keep = rows != block.col
        rows, cols, inter = rows[keep], block.col[keep], block.data[keep]
        jaccard = inter / (sizes[rows] + sizes[cols] - inter)
        keep = jaccard >= threshold
        rows, cols, jaccard = rows[keep], cols[keep], jaccard[keep]
        # Per row, the most similar partners first (ties: the smaller column index).
        order = np.lexsort((cols, -jaccard, rows))
        rows, cols, jaccard = rows[order], cols[order], jaccard[order]
        first = np.searchsorted(rows, rows, side="left")
        keep = np.arange(rows.shape[0]) - first < neighbours
        found_rows.append(rows[keep])
        found_cols.append(cols[keep])
        found_values.append(jaccard[keep])
    if not found_rows:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    rows = np.concatenate(found_rows)
    cols = np.concatenate(found_cols)
    values = np.concatenate(found_values)
    low, high = np.minimum(rows, cols), np.maximum(rows, cols)
    pairs = np.unique(np.stack([low, high, np.round(values, 9)], axis=1), axis=0)
    return pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64), pairs[:, 2]


def build_block_camps(connection: sqlite3.Connection) -> str:
    """(Re)build `block_camps` and `block_camp_members`; return a one-line description."""
    pairs = connection.execute(
        "SELECT DISTINCT blocker, blocked FROM block_edges ORDER BY blocker, blocked"
    ).fetchall()
    counts = Counter(blocker for blocker, _ in pairs)
    servers = sorted(b for b, n in counts.items() if n >= MIN_TARGETS)
    index = {name: i for i, name in enumerate(servers)}
    targets = sorted({blocked for blocker, blocked in pairs if blocker in index})
    target_index = {name: i for i, name in enumerate(targets)}
    kept = [(index[b], target_index[t]) for b, t in pairs if b in index]
    matrix = sparse.csr_matrix(
        (np.ones(len(kept)), ([r for r, _ in kept], [c for _, c in kept])),
        shape=(len(servers), len(targets)),
    )
    rows, cols, values = similarity_edges(matrix)
    graph = nx.Graph()
    graph.add_nodes_from(range(len(servers)))
    graph.add_weighted_edges_from(zip(rows.tolist(), cols.tolist(), values.tolist(), strict=True))
    communities = nx.community.louvain_communities(graph, weight="weight", seed=SEED)
    camps = sorted(
        (sorted(c) for c in communities if len(c) >= 2), key=lambda c: (-len(c), servers[c[0]])
    )
    info = {
        domain: (family, users, active)
        for domain, family, users, active in connection.execute(
            "SELECT domain, family, users_total, users_active_month FROM instances"
        )
    }
    for table in ("block_camps", "block_camp_members"):
        connection.execute(f"DROP TABLE IF EXISTS {table}")
    connection.execute(
        "CREATE TABLE block_camps (camp INTEGER PRIMARY KEY, servers INTEGER, users INTEGER, "
        "active_users INTEGER, families TEXT, shared_targets INTEGER, top_targets TEXT, "
        "mean_similarity REAL)"
    )
    connection.execute(
        "CREATE TABLE block_camp_members (domain TEXT PRIMARY KEY, camp INTEGER, family TEXT, "
        "active_users INTEGER, targets INTEGER)"
    )
    for number, members in enumerate(camps, start=1):
        names = [servers[m] for m in members]
        families = Counter(info.get(n, (None,))[0] or "unknown" for n in names)
        shared = np.asarray(matrix[members].sum(axis=0)).ravel()
        common = np.flatnonzero(shared * 2 >= len(members))
        common = sorted(common.tolist(), key=lambda t: (-shared[t], targets[t]))
        weights = [graph[a][b]["weight"] for a, b in graph.subgraph(members).edges()]
        connection.execute(
            "INSERT INTO block_camps VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                number,
                len(members),
                sum(info.get(n, (None, None, None))[1] or 0 for n in names),
                sum(info.get(n, (None, None, None))[2] or 0 for n in names),
                json.dumps(dict(sorted(families.items(), key=lambda kv: (-kv[1], kv[0])))),
                len(common),
                json.dumps([targets[t] for t in common[:TOP_TARGETS]]),
                round(sum(weights) / len(weights), 6) if weights else None,
            ),
        )
        connection.executemany(
            "INSERT INTO block_camp_members VALUES (?, ?, ?, ?, ?)",
            (
                (n, number, info.get(n, (None,))[0], info.get(n, (None, None, None))[2], counts[n])
                for n in names
            ),
        )
    members_total = sum(len(c) for c in camps)
    return f"{len(camps)} camps of {members_total} servers, {rows.shape[0]} similarity edges"
