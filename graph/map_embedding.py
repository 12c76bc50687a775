"""Where the /map puts each server: near the servers whose peer lists are most like its own.

Among the largest servers peer lists are nearly complete, so a force layout on raw peer edges
has nothing to pull apart (a uniform disc). What differs between two servers is which of the
less-known servers they list and are listed by. So each server is described by its peer edges
among the map's servers, both directions, each column weighted by its inverse document frequency
(log((n + 1) / (listers + 1)): a server everybody lists counts for nearly nothing), plus its
block camp (graph.camps) as one more, lightly weighted column. Two servers' closeness is the
cosine similarity of these rows; a pair where either side suspends the other is never close.

Each server keeps its `NEIGHBOURS` most similar servers, and t-SNE (exact gradient in numpy,
fixed seed) places the servers so those neighbours sit close: communities of servers that
federate among themselves and block alike become separate islands. Within an island, closeness
means similar peers; the distance between islands means little.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

NEIGHBOURS = 25
CAMP_WEIGHT = 0.1  # share of a row's squared norm given to its block camp
ITERATIONS = 300
EARLY = 150  # iterations with strong exaggeration: the islands form first
EARLY_EXAGGERATION = 12.0
LATE_EXAGGERATION = 1.25  # keeps the islands compact


def _row_normalised(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.csr_matrix(sparse.diags(1.0 / norms) @ matrix)


def specific_peers(listed: sparse.csr_matrix) -> sparse.csr_matrix:
    """Rows: who each server lists and who lists it, weighted by how rarely each is listed."""
    size = listed.shape[0]
    binary = listed.copy().tocsr()
    binary.data[:] = 1.0
    both = sparse.hstack([binary, binary.T]).tocsr()
    listers = np.asarray(both.sum(axis=0)).ravel()
    weight = np.log((size + 1.0) / (listers + 1.0))
    return _row_normalised(sparse.csr_matrix(both @ sparse.diags(weight)))


def similarity(
    listed: sparse.csr_matrix, camps: np.ndarray, severed: sparse.csr_matrix | None = None
) -> np.ndarray:
    """Dense cosine similarity (n x n) of peer specificity plus camp; severed pairs 0."""
    features = specific_peers(listed)
    members = np.flatnonzero(camps > 0)
    if members.size:
        camp_columns = sparse.csr_matrix(
            (np.full(members.size, np.sqrt(CAMP_WEIGHT)), (members, camps[members] - 1)),
            shape=(listed.shape[0], int(camps.max())),
        )
        features = _row_normalised(sparse.hstack([features, camp_columns]).tocsr())
    result = (features @ features.T).toarray()
    np.fill_diagonal(result, 0.0)
    if severed is not None and severed.nnz:
        cut = severed.tocoo()
        result[cut.row, cut.col] = 0.0
        result[cut.col, cut.row] = 0.0
    return result


def neighbour_affinities(similar: np.ndarray, neighbours: int = NEIGHBOURS) -> sparse.csr_matrix:
    """Symmetric affinities summing to 1: each server's most similar servers, row-normalised."""
    size = similar.shape[0]
    count = min(neighbours, size - 1)
    if count <= 0:
        return sparse.csr_matrix((size, size))
    # Stable sort: ties (servers with nothing in common) go by index, the same every run.
    nearest = np.argsort(-similar, axis=1, kind="stable")[:, :count]
    rows = np.repeat(np.arange(size), count)
    cols = nearest.ravel()
    values = similar[rows, cols]
    keep = values > 0
    conditional = sparse.csr_matrix((values[keep], (rows[keep], cols[keep])), shape=(size, size))
    totals = np.asarray(conditional.sum(axis=1)).ravel()
    totals[totals == 0] = 1.0
    conditional = sparse.csr_matrix(sparse.diags(1.0 / totals) @ conditional)
    joint = (conditional + conditional.T).tocsr()
    total = joint.sum()
    return joint / total if total > 0 else joint


def embed(affinities: sparse.csr_matrix, seed: int, iterations: int = ITERATIONS) -> np.ndarray:
    """t-SNE positions (n x 2) for symmetric affinities; deterministic for a seed."""
    size = affinities.shape[0]
    rng = np.random.default_rng(seed)
    positions = rng.standard_normal((size, 2)) * 1e-4
    if size <= 2:
        return rng.random((size, 2))
    pairs = affinities.tocoo()
    rows, cols, weight = pairs.row, pairs.col, pairs.data
    rate = max(size / EARLY_EXAGGERATION / 4.0, 50.0)
    gains = np.ones_like(positions)
    step = np.zeros_like(positions)
    for iteration in range(iterations):
        early = iteration < EARLY
        exaggeration = EARLY_EXAGGERATION if early else LATE_EXAGGERATION
        gradient = exaggeration * _attraction(positions, rows, cols, weight) - _repulsion(positions)
        gradient *= 4.0
        same = np.sign(gradient) == np.sign(step)
        gains = np.maximum(np.where(same, gains * 0.8, gains + 0.2), 0.01)
        step = (0.5 if early else 0.8) * step - rate * gains * gradient
        positions += step
        positions -= positions.mean(axis=0)
    return positions


def _attraction(
    positions: np.ndarray, rows: np.ndarray, cols: np.ndarray, weight: np.ndarray
) -> np.ndarray:
    delta = positions[rows] - positions[cols]
    pull = weight / (1.0 + (delta**2).sum(axis=1))
    size = positions.shape[0]
    return np.stack(
        [np.bincount(rows, pull * delta[:, axis], minlength=size) for axis in (0, 1)], axis=1
    )


def _repulsion(positions: np.ndarray) -> np.ndarray:
    """Sum over all others of q_ij^2 Z (y_i - y_j), with q = the Student-t kernel / Z.

    Built in place in one n x n float32 matrix (4 MB at 1,000 servers), the sums over j as
    y_i * rowsum - kernel @ y. No BLAS call: on a shared machine its threads spin against the
    other processes and made the step several times slower than these single-threaded loops.
    """
    xs = positions[:, 0].astype(np.float32)
    ys = positions[:, 1].astype(np.float32)
    kernel = np.subtract.outer(xs, xs)
    kernel *= kernel
    down = np.subtract.outer(ys, ys)
    down *= down
    kernel += down
    del down
    kernel += np.float32(1.0)
    np.reciprocal(kernel, out=kernel)
    np.fill_diagonal(kernel, 0.0)
    normaliser = max(float(kernel.sum(dtype=np.float64)), 1e-12)
    kernel *= kernel
    totals = kernel.sum(axis=1)
    push = np.empty_like(positions)
    push[:, 0] = xs * totals - np.einsum("ij,j->i", kernel, xs)
    push[:, 1] = ys * totals - np.einsum("ij,j->i", kernel, ys)
    return push / normaliser
