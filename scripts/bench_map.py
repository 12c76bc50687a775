"""Benchmark the /map layout (numbers for the report, never a test).

1. `layout` (similarity + t-SNE) alone on synthetic peer lists among N servers (each server
   lists each other with probability P, as among the largest servers, which mostly know each
   other): seconds and the layout's own peak memory (tracemalloc, numpy buffers included).
2. With --db (a copy: the tables are rebuilt in place), the whole `build_map_layout` step on a
   real database, full peer graph loaded as numpy arrays included.

    .venv/bin/python scripts/bench_map.py
    .venv/bin/python scripts/bench_map.py --db /tmp/fullscale-copy.db
"""

from __future__ import annotations

import argparse
import resource
import sqlite3
import sys
import time
import tracemalloc
from pathlib import Path

from scipy import sparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from graph.map_layout import build_map_layout, layout


def synthetic(size: int, density: float, seed: int = 1) -> sparse.csr_matrix:
    listed = sparse.random(size, size, density=density, random_state=seed, format="csr")
    listed.data[:] = 1.0
    listed.setdiag(0)
    listed.eliminate_zeros()
    return listed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,1000,1500,3000")
    parser.add_argument("--density", type=float, default=0.3)
    parser.add_argument("--db", help="database copy to run build_map_layout on")
    args = parser.parse_args()
    for size in (int(s) for s in args.sizes.split(",")):
        matrix = synthetic(size, args.density)
        tracemalloc.start()
        started = time.perf_counter()
        layout(matrix, np.zeros(size, dtype=np.int64), sparse.csr_matrix((size, size)))
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"layout n={size} listings={matrix.nnz}: {seconds:.2f} s, peak {peak / 2**20:.0f} MB")
    if args.db:
        connection = sqlite3.connect(args.db)
        started, cpu = time.perf_counter(), time.process_time()
        what = build_map_layout(connection, None)
        connection.commit()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"build_map_layout on {args.db}: {what} ({seconds:.2f} s wall, {cpu:.2f} s CPU, "
            f"process peak {rss:.0f} MB)"
        )
        connection.close()


if __name__ == "__main__":
    main()
