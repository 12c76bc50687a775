"""The `/map` layout: the largest alive servers placed by how alike they federate.

`map_nodes` holds the MAP_NODES alive servers with the most monthly active users (then most
users, then by name), their 2-D position, declared language and block camp; `map_edges` the
public block edges among them, with both ends' positions, so the page only draws. Positions come
from graph.map_embedding: servers whose peer lists name the same less-common servers (and that
belong to one block camp) sit close; pairs where either side publicly suspends the other are
never close. A fixed seed: the same database gives the same map.

Only the peer edges among the map's servers leave SQLite; no Python object per edge.
"""

from __future__ import annotations

import sqlite3

import numpy as np
from scipy import sparse

from crawler.blocks import strongest_by
from graph import map_embedding
from graph.map_languages import map_languages
from graph.rows import dict_rows
from observatory.palette import FAMILY_COLOURS

MAP_NODES = 1000
SEED = 20240601
EXTENT = 1000.0


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


def listed_matrix(connection: sqlite3.Connection, ids: np.ndarray) -> sparse.csr_matrix:
    """Directed 0/1 matrix among the map's servers: [i, j] = 1 when server i lists server j."""
    size = ids.shape[0]
    sources, targets = _edges_among(connection, ids)
    lookup = np.full(int(max(ids.max(initial=0), sources.max(initial=0), targets.max(initial=0)))
                     + 1, -1, dtype=np.int64)  # fmt: skip
    lookup[ids] = np.arange(size)
    rows, cols = lookup[sources], lookup[targets]
    keep = (rows >= 0) & (cols >= 0) & (rows != cols)
    listed = sparse.csr_matrix(
        (np.ones(int(keep.sum())), (rows[keep], cols[keep])), shape=(size, size)
    )
    listed.data[:] = 1.0  # a duplicate listing counts once
    return listed


def severed_matrix(suspended: list[tuple[int, int]], size: int) -> sparse.csr_matrix:
    """Symmetric 0/1 matrix of the pairs where either side publicly suspends the other."""
    pairs = np.asarray(suspended, dtype=np.int64).reshape(-1, 2)
    severed = sparse.csr_matrix(
        (np.ones(pairs.shape[0]), (pairs[:, 0], pairs[:, 1])), shape=(size, size)
    )
    return ((severed + severed.T) > 0).astype(np.float64).tocsr()


def federation_matrix(listed: sparse.csr_matrix, severed: sparse.csr_matrix) -> sparse.csr_matrix:
    """Symmetric weights: 1 per direction listed, severed pairs removed."""
    weights = (listed + listed.T).tocsr()
    matrix = sparse.csr_matrix(weights - weights.multiply(severed))
    matrix.eliminate_zeros()
    return matrix


def layout(
    listed: sparse.csr_matrix, camps: np.ndarray, severed: sparse.csr_matrix, seed: int = SEED
) -> np.ndarray:
    """Positions (n x 2) from peer-list specificity and block camps (graph.map_embedding)."""
    federating = sparse.csr_matrix(listed - listed.multiply(severed))
    federating.eliminate_zeros()
    similar = map_embedding.similarity(federating, camps, severed)
    return map_embedding.embed(map_embedding.neighbour_affinities(similar), seed)


def _camps(connection: sqlite3.Connection, position: dict[str, int]) -> np.ndarray:
    """Block camp number of each map server (0 = none), from graph.camps."""
    camps = np.zeros(len(position), dtype=np.int64)
    if _has_table(connection, "block_camp_members"):
        for domain, camp in connection.execute("SELECT domain, camp FROM block_camp_members"):
            if domain in position and camp:
                camps[position[domain]] = int(camp)
    return camps


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
    listed = listed_matrix(connection, ids)
    severed = severed_matrix(suspended, len(servers))
    camps = _camps(connection, position)
    xy = _scaled(layout(listed, camps, severed, seed))
    matrix = federation_matrix(listed, severed)
    degree = np.diff(matrix.indptr)
    languages = map_languages(connection, [row[0] for row in servers])
    connection.execute("DROP TABLE IF EXISTS map_nodes")
    connection.execute(
        "CREATE TABLE map_nodes (domain TEXT PRIMARY KEY, rank INTEGER, x REAL, y REAL, "
        "family TEXT, colour_group TEXT, software TEXT, users_active_month INTEGER, "
        "users_total INTEGER, links INTEGER, language TEXT, camp INTEGER, crawl_id INTEGER)"
    )
    connection.executemany(
        "INSERT INTO map_nodes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                languages.get(domain),
                int(camps[index]) or None,
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
        f"{len(suspended)} severed by suspends, {len(block_edges)} block edges, "
        f"{int((camps > 0).sum())} in block camps, {len(languages)} with a declared language"
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
    nodes = dict_rows(
        connection,
        "SELECT m.domain, m.rank, m.x, m.y, m.colour_group, m.family, m.software, "
        "m.users_active_month, m.users_total, i.name, m.links, m.language, m.camp "
        "FROM map_nodes m LEFT JOIN instances i ON i.domain = m.domain ORDER BY m.rank",
    )
    (total,) = connection.execute("SELECT count(*) FROM map_edges").fetchone()
    edges = dict_rows(
        connection,
        "SELECT source, target, severity, x, y, x2, y2 FROM map_edges "
        "ORDER BY severity != 'suspend', source, target LIMIT ?",
        (max_edges,),
    )
    return nodes, edges, int(total)
