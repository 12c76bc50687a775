"""The `/map` layout: the largest alive servers placed by who federates with whom.

`map_nodes` holds the MAP_NODES alive servers with the most monthly active users (then most
users, then by name) and their 2-D position; `map_edges` the public block edges among them, with
both ends' positions, so the page only draws. The layout is a Fruchterman-Reingold force layout
in numpy on the block-aware federation graph among those servers: peer edges (weight 2 when both
list each other) minus the pairs where either side publicly suspends the other, with hubs damped
(weight / sqrt(degree_i * degree_j)) so the few servers that list everyone do not pull the whole
map into one knot. Start positions come from a fixed seed: the same database gives the same map.

The full peer graph is only ever numpy arrays (graph.edges); no Python object per edge.
"""

from __future__ import annotations

import sqlite3

import numpy as np
from scipy import sparse

from crawler.blocks import strongest_by
from observatory.palette import FAMILY_COLOURS

MAP_NODES = 1000
SEED = 20240601
ITERATIONS = 60
EXTENT = 1000.0
GRAVITY = 0.3


def map_domains(connection: sqlite3.Connection, limit: int = MAP_NODES) -> list[tuple]:
    """The servers on the map, largest first: (domain, id, family, software, active, users).

    Ranked by monthly active users; servers that did not report them come after all that did,
    by total users, so a platform that publishes no active count still appears.
    """
    return connection.execute(
        "SELECT domain, domain_id, family, software, users_active_month, users_total "
        "FROM instances WHERE status = 'alive' AND domain_id IS NOT NULL "
        "ORDER BY users_active_month IS NULL, users_active_month DESC, "
        "users_total IS NULL, users_total DESC, domain LIMIT ?",
        (limit,),
    ).fetchall()


def _edges_among(connection: sqlite3.Connection, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sources, targets) of the current peer edges between the map's servers only.

    SQLite picks them out by the map's few thousand ids instead of every current peer edge
    crossing into numpy (graph.edges.current_peer_edges) to be thrown away there.
    """
    connection.execute("DROP TABLE IF EXISTS temp.map_ids")
    connection.execute("CREATE TEMP TABLE map_ids (id INTEGER PRIMARY KEY)")
    connection.executemany(
        "INSERT OR IGNORE INTO temp.map_ids VALUES (?)", ((int(i),) for i in ids)
    )
    # CROSS JOIN keeps the map's ids outermost: each one's edges come by primary key.
    rows = connection.execute(
        "SELECT p.source_id, p.target_id FROM temp.map_ids s CROSS "
        "JOIN peer_intervals p ON p.source_id = s.id AND p.removed_crawl IS NULL "
        "JOIN temp.map_ids t ON t.id = p.target_id"
    ).fetchall()
    connection.execute("DROP TABLE temp.map_ids")
    edges = np.asarray(rows, dtype=np.int64).reshape(-1, 2)
    return edges[:, 0], edges[:, 1]


def federation_matrix(
    connection: sqlite3.Connection, ids: np.ndarray, suspended: list[tuple[int, int]]
) -> sparse.csr_matrix:
    """Symmetric weights among the map's servers: 1 per direction listed, severed pairs removed."""
    size = ids.shape[0]
    sources, targets = _edges_among(connection, ids)
    lookup = np.full(int(max(ids.max(initial=0), sources.max(initial=0), targets.max(initial=0)))
                     + 1, -1, dtype=np.int64)  # fmt: skip
    lookup[ids] = np.arange(size)
    rows, cols = lookup[sources], lookup[targets]
    keep = (rows >= 0) & (cols >= 0) & (rows != cols)
    rows, cols = rows[keep], cols[keep]
    directed = sparse.csr_matrix((np.ones(rows.shape[0]), (rows, cols)), shape=(size, size))
    directed.data[:] = 1.0  # a duplicate listing counts once
    weights = (directed + directed.T).tocsr()
    if suspended:
        pairs = np.asarray(suspended, dtype=np.int64)
        severed = sparse.csr_matrix(
            (np.ones(pairs.shape[0]), (pairs[:, 0], pairs[:, 1])), shape=(size, size)
        )
        severed = ((severed + severed.T) > 0).astype(np.float64)
        weights = weights - weights.multiply(severed)
    matrix = sparse.csr_matrix(weights)
    matrix.eliminate_zeros()
    return matrix


def force_layout(
    matrix: sparse.csr_matrix, seed: int = SEED, iterations: int = ITERATIONS
) -> np.ndarray:
    """Fruchterman-Reingold positions (n x 2) for a symmetric weight matrix, deterministic."""
    size = matrix.shape[0]
    rng = np.random.default_rng(seed)
    positions = rng.random((size, 2))
    if size <= 1:
        return positions * 0
    coo = sparse.triu(matrix, k=1).tocoo()
    degree = np.asarray(matrix.sum(axis=1)).ravel()
    damping = np.sqrt(np.maximum(degree[coo.row], 1) * np.maximum(degree[coo.col], 1))
    weight = coo.data / damping * max(float(degree.mean()), 1.0)
    k = np.sqrt(1.0 / size)
    weight32 = (weight / k).astype(np.float32)
    temperature = 0.1
    cooling = temperature / (iterations + 1)
    for _ in range(iterations):
        displacement = _repulsion(positions, k)
        delta = (positions[coo.row] - positions[coo.col]).astype(np.float32)
        distance = np.maximum(np.sqrt((delta**2).sum(axis=1)), np.float32(1e-6))
        pull = delta * (weight32 * distance)[:, None]
        for axis in (0, 1):
            displacement[:, axis] -= np.bincount(coo.row, pull[:, axis], minlength=size)
            displacement[:, axis] += np.bincount(coo.col, pull[:, axis], minlength=size)
        displacement -= GRAVITY * (positions - positions.mean(axis=0)) * size * k
        length = np.maximum(np.sqrt((displacement**2).sum(axis=1)), 1e-9)
        positions += displacement * (np.minimum(length, temperature) / length)[:, None]
        temperature -= cooling
    return positions


def _repulsion(positions: np.ndarray, k: float) -> np.ndarray:
    """Sum over all other nodes of k^2 / distance^2 along the separating vector (n x 2).

    Written with n x n float32 matrices of scalars rather than an n x n x 2 float64 array of
    differences: a quarter of the memory (4 MB at 1,000 servers) and several times faster.
    """
    xs = positions[:, 0].astype(np.float32)
    ys = positions[:, 1].astype(np.float32)
    distance2 = np.subtract.outer(xs, xs)
    distance2 *= distance2
    across = np.subtract.outer(ys, ys)
    across *= across
    distance2 += across
    del across
    np.maximum(distance2, np.float32(1e-6), out=distance2)
    inverse = np.divide(np.float32(k * k), distance2, out=distance2)
    np.fill_diagonal(inverse, 0.0)
    totals = inverse.sum(axis=1)
    result = np.empty_like(positions)
    result[:, 0] = xs * totals - inverse @ xs
    result[:, 1] = ys * totals - inverse @ ys
    return result


def _scaled(positions: np.ndarray) -> np.ndarray:
    """Positions centred and scaled into [0, EXTENT] on the longer side, rounded to 0.01."""
    if positions.shape[0] == 0:
        return positions
    low, high = positions.min(axis=0), positions.max(axis=0)
    span = float((high - low).max()) or 1.0
    offset = (span - (high - low)) / 2
    return np.round((positions - low + offset) / span * EXTENT, 2)


def _suspend_pairs(
    connection: sqlite3.Connection, position: dict[str, int]
) -> tuple[list[tuple[int, int]], list[tuple[str, str, str]]]:
    """Public block edges among the map's servers: suspended index pairs, strongest per pair."""
    among = (
        row
        for row in connection.execute("SELECT blocker, blocked, severity FROM block_edges")
        if row[0] in position and row[1] in position
    )
    strongest = {
        pair: row[2]
        for pair, row in strongest_by(among, lambda r: (r[0], r[1]), lambda r: r[2]).items()
    }
    suspended = [
        (position[a], position[b])
        for (a, b), severity in strongest.items()
        if severity == "suspend"
    ]
    edges = sorted((a, b, severity) for (a, b), severity in strongest.items())
    return suspended, edges


def _has_table(connection: sqlite3.Connection, name: str) -> bool:
    found = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE name = ? AND type IN ('table', 'view')", (name,)
    ).fetchone()
    return found is not None


def build_map_layout(
    connection: sqlite3.Connection,
    crawl_id: int | None,
    limit: int = MAP_NODES,
    seed: int = SEED,
) -> str:
    """(Re)build `map_nodes` and `map_edges`; return a one-line description."""
    servers = map_domains(connection, limit)
    position = {row[0]: index for index, row in enumerate(servers)}
    ids = np.asarray([row[1] for row in servers], dtype=np.int64)
    if _has_table(connection, "block_edges"):
        suspended, block_edges = _suspend_pairs(connection, position)
    else:
        suspended, block_edges = [], []
    matrix = federation_matrix(connection, ids, suspended)
    xy = _scaled(force_layout(matrix, seed))
    degree = np.diff(matrix.indptr)
    connection.execute("DROP TABLE IF EXISTS map_nodes")
    connection.execute(
        "CREATE TABLE map_nodes (domain TEXT PRIMARY KEY, rank INTEGER, x REAL, y REAL, "
        "family TEXT, colour_group TEXT, software TEXT, users_active_month INTEGER, "
        "users_total INTEGER, links INTEGER, crawl_id INTEGER)"
    )
    connection.executemany(
        "INSERT INTO map_nodes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            (
                domain,
                index + 1,
                float(xy[index, 0]),
                float(xy[index, 1]),
                family,
                family if family in FAMILY_COLOURS else "other",
                software,
                active,
                users,
                int(degree[index]),
                crawl_id,
            )
            for index, (domain, _id, family, software, active, users) in enumerate(servers)
        ),
    )
    connection.execute("DROP TABLE IF EXISTS map_edges")
    connection.execute(
        "CREATE TABLE map_edges (source TEXT, target TEXT, kind TEXT, severity TEXT, "
        "x REAL, y REAL, x2 REAL, y2 REAL, PRIMARY KEY (source, target, kind))"
    )
    connection.executemany(
        "INSERT INTO map_edges VALUES (?, ?, 'block', ?, ?, ?, ?, ?)",
        (
            (
                a,
                b,
                severity,
                float(xy[position[a], 0]),
                float(xy[position[a], 1]),
                float(xy[position[b], 0]),
                float(xy[position[b], 1]),
            )
            for a, b, severity in block_edges
        ),
    )
    return (
        f"{len(servers)} servers placed, {matrix.nnz // 2} federation links, "
        f"{len(suspended)} severed by suspends, {len(block_edges)} block edges"
    )


MAX_DRAWN_EDGES = 8000


def map_data(
    connection: sqlite3.Connection, max_edges: int = MAX_DRAWN_EDGES
) -> tuple[list[dict], list[dict], int]:
    """What /map draws: (nodes, block edges up to `max_edges`, all block edges on the map).

    Names are read from `instances` (what the server calls itself now, shown escaped in the
    tooltip). Suspends come first when the edges are capped: they are the ones that cut
    federation.
    """
    if not _has_table(connection, "map_nodes"):
        return [], [], 0
    cursor = connection.execute(
        "SELECT m.domain, m.rank, m.x, m.y, m.colour_group, m.family, m.software, "
        "m.users_active_month, m.users_total, i.name, m.links "
        "FROM map_nodes m LEFT JOIN instances i ON i.domain = m.domain ORDER BY m.rank"
    )
    columns = [d[0] for d in cursor.description]
    nodes = [dict(zip(columns, row, strict=True)) for row in cursor]
    (total,) = connection.execute("SELECT count(*) FROM map_edges").fetchone()
    cursor = connection.execute(
        "SELECT source, target, severity, x, y, x2, y2 FROM map_edges "
        "ORDER BY severity != 'suspend', source, target LIMIT ?",
        (max_edges,),
    )
    columns = [d[0] for d in cursor.description]
    edges = [dict(zip(columns, row, strict=True)) for row in cursor]
    return nodes, edges, int(total)
