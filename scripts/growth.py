"""How the database grows crawl after crawl: with change, not with crawls.

    .venv/bin/python scripts/growth.py                  # 500 servers, 10 crawls of each world
    .venv/bin/python scripts/growth.py --instances 300 --crawls 5
    .venv/bin/python scripts/growth.py --shared-list 200   # with an imported shared list

Two runs on loopback (sandbox in a child process, crawl + analyze like a daily timer would):
an unchanged world (epoch 0 every time) and a changing one (epoch 0, 1, 2, ...: blocks, peers
and users change between crawls). After each crawl it checkpoints the WAL and reports the file
size and what each table takes (dbstat), so a growing table is named. The target is that ten
crawls of an unchanged world grow the database by under 5% over the first. Numbers go to stdout
and scripts/out/growth.json; they are measurements, not test assertions.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from crawler.engine import CrawlSettings, crawl
from crawler.importer import import_blocklist
from crawler.sandbox.process import sandbox_process
from graph.analyze import analyze

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "scripts" / "out"


def size(db: Path) -> tuple[int, dict[str, int]]:
    """File size after a WAL checkpoint, and bytes per table (indexes counted with their table)."""
    connection = sqlite3.connect(db)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        owners = dict(
            connection.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index'")
        )
        tables: dict[str, int] = {}
        for name, pages in connection.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY 1"):
            owner = owners.get(name, name)
            tables[owner] = tables.get(owner, 0) + pages
        (free,) = connection.execute("PRAGMA freelist_count").fetchone()
        (page,) = connection.execute("PRAGMA page_size").fetchone()
        tables["(free pages)"] = free * page
    finally:
        connection.close()
    return db.stat().st_size, tables


def import_most_blocked(db: Path, names: int) -> None:
    """Import the `names` most blocked domains as a shared list (`shared_list_adoption`)."""
    connection = sqlite3.connect(db)
    blocked = connection.execute(
        "SELECT blocked FROM blocks WHERE active = 1 AND blocked IS NOT NULL "
        "GROUP BY blocked ORDER BY count(*) DESC, blocked LIMIT ?",
        (names,),
    ).fetchall()
    connection.close()
    listed = db.with_suffix(".list.csv")
    listed.write_text("domain\n" + "".join(f"{name}\n" for (name,) in blocked))
    import_blocklist(str(db), str(listed), "most-blocked")


def run(
    name: str, instances: int, seed: int, crawls: int, changing: bool, work: Path, shared: int = 0
) -> dict:
    db = work / f"{name}.db"
    rows = []
    for number in range(crawls):
        epoch = number if changing else 0
        arguments = ["--instances", str(instances), "--seed", str(seed), "--epoch", str(epoch)]
        started = time.perf_counter()
        with sandbox_process(arguments, cwd=REPO) as sandbox:
            summary = crawl(
                CrawlSettings(
                    db=str(db),
                    seeds=sandbox.seeds,
                    via=sandbox.address,
                    concurrency=128,
                    progress=False,
                    recrawl_after=timedelta(0),
                    # A daily timer's crawls: the day-long freshness of the last one is over.
                    revalidate=True,
                )
            )
        if shared and number == 0:
            import_most_blocked(db, shared)
        analyze(str(db))
        total, tables = size(db)
        rows.append(
            {"crawl": number + 1, "epoch": epoch, "visited": summary.visited, "bytes": total,
             "seconds": round(time.perf_counter() - started, 1), "tables": tables}
        )  # fmt: skip
        print(
            f"{name}: crawl {number + 1} (epoch {epoch}) visited {summary.visited}, "
            f"database {total / 2**20:.2f} MiB",
            flush=True,
        )
    first, last = rows[0]["bytes"], rows[-1]["bytes"]
    growth = {
        "first_bytes": first,
        "last_bytes": last,
        "growth_over_first_percent": round(100 * (last - first) / first, 2),
        "mean_growth_per_crawl_bytes": round((last - first) / max(1, crawls - 1)),
        "mean_growth_per_crawl_percent_of_first": round(
            100 * (last - first) / max(1, crawls - 1) / first, 2
        ),
        "growth_by_table_bytes": {
            table: rows[-1]["tables"].get(table, 0) - rows[0]["tables"].get(table, 0)
            for table in sorted(set(rows[-1]["tables"]) | set(rows[0]["tables"]))
            if rows[-1]["tables"].get(table, 0) != rows[0]["tables"].get(table, 0)
        },
    }
    return {"crawls": rows, **growth}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--crawls", type=int, default=10)
    parser.add_argument("--keep", metavar="DIR", help="Keep the databases in DIR.")
    parser.add_argument(
        "--shared-list",
        type=int,
        default=0,
        metavar="N",
        help="After the first crawl, import its N most blocked domains as a shared list.",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(args.keep or scratch)
        work.mkdir(parents=True, exist_ok=True)
        result = {
            "instances": args.instances,
            "seed": args.seed,
            "unchanged": run(
                "unchanged", args.instances, args.seed, args.crawls, False, work, args.shared_list
            ),
            "changing": run(
                "changing", args.instances, args.seed, args.crawls, True, work, args.shared_list
            ),
        }
    for name in ("unchanged", "changing"):
        r = result[name]
        print(
            f"{name}: {r['first_bytes'] / 2**20:.2f} MiB after crawl 1, "
            f"{r['last_bytes'] / 2**20:.2f} MiB after crawl {args.crawls}: "
            f"+{r['growth_over_first_percent']}% over the first, "
            f"{r['mean_growth_per_crawl_bytes'] / 1024:.0f} KiB "
            f"({r['mean_growth_per_crawl_percent_of_first']}%) per crawl"
        )
        grown = sorted(r["growth_by_table_bytes"].items(), key=lambda item: -abs(item[1]))[:6]
        print("  grown most: " + ", ".join(f"{t} {b / 1024:+.0f} KiB" for t, b in grown))
    OUT.mkdir(exist_ok=True)
    (OUT / "growth.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    passed = result["unchanged"]["growth_over_first_percent"] < 5
    print(f"target (unchanged world grows < 5% over {args.crawls} crawls): "
          f"{'met' if passed else 'NOT met'}")  # fmt: skip
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
