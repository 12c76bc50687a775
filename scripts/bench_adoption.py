"""Time the `shared_list_adoption` step on a synthetic full-scale world (seeded).

    .venv/bin/python scripts/bench_adoption.py                       # 25,000 servers
    .venv/bin/python scripts/bench_adoption.py --servers 2000 --rules 100000

The world is written straight through the store's schema: `--servers` alive servers with public
lists (60% Mastodon, whose rules carry digests), `--rules` active rules spread over them with a
long tail (most lists short, a few thousand entries long), a share of wildcard and masked rules,
and `--lists` imported shared lists of `--entries` entries each, adopted in full (plus their own
rules) by `--adopters` servers each. Prints the step's seconds and peak RSS; numbers are
measurements, not assertions. Wall time depends on the machine's load; CPU time much less.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import tempfile
import time
from hashlib import sha256
from pathlib import Path

from crawler.store.schema import open_database
from graph.adoption import build_shared_list_adoption
from graph.analyze import peak_rss_mb

FAMILIES = ["mastodon"] * 6 + ["misskey", "pleroma", "akkoma", "gotosocial"]


def build(path: Path, args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    db = open_database(str(path))
    connection = db.conn
    connection.execute("BEGIN")
    connection.execute(
        "INSERT INTO crawls (id, started_at, status, seeds) VALUES "
        "(1, '2026-01-01T00:00:00Z', 'finished', '[]')"
    )
    servers = [f"s{n}.social" for n in range(args.servers)]
    family = {s: rng.choice(FAMILIES) for s in servers}
    connection.executemany(
        "INSERT INTO instances (domain, software, family, status, blocks_visibility, "
        "users_active_month) VALUES (?, ?, ?, 'alive', 'public', ?)",
        ((s, family[s], family[s], rng.randint(0, 5000)) for s in servers),
    )
    pool = [f"t{n}.example{n % 97}.net" for n in range(200_000)]
    lists = [rng.sample(pool, args.entries) for _ in range(args.lists)]
    for number, entries in enumerate(lists):
        source = f"list{number}"
        connection.execute(
            "INSERT INTO imported_blocklists VALUES (?, 'bench.csv', '2026-01-01', ?, 0)",
            (source, len(entries)),
        )
        connection.executemany(
            "INSERT INTO imported_blocks (source, blocked_pattern, blocked, kind, severity, "
            "severity_raw) VALUES (?, ?, ?, 'clear', 'suspend', 'suspend')",
            ((source, e, e) for e in entries),
        )
    rules: dict[tuple[str, str], tuple] = {}
    for entries in lists:
        for server in rng.sample(servers, args.adopters):
            for name in entries:
                rules[(server, name)] = _rule(server, name, family[server], rng)
    weights = [1 / (rank + 1) ** 1.1 for rank in range(len(servers))]
    for server in rng.choices(servers, weights, k=max(0, args.rules - len(rules))):
        name = rng.choice(pool)
        rules[(server, name)] = _rule(server, name, family[server], rng)
    connection.executemany(
        "INSERT OR IGNORE INTO blocks (blocker, blocked, blocked_pattern, blocked_digest, kind, "
        "severity, severity_raw, first_crawl, last_crawl, active) "
        "VALUES (?, ?, ?, ?, ?, 'suspend', 'suspend', 1, 1, 1)",
        rules.values(),
    )
    connection.execute("COMMIT")
    connection.execute("ANALYZE")
    connection.close()
    print(f"world: {args.servers:,} servers, {len(rules):,} active rules, {args.lists} lists")


def _rule(server: str, name: str, family: str, rng: random.Random) -> tuple:
    digest = sha256(name.encode()).hexdigest() if family == "mastodon" else None
    roll = rng.random()
    if roll < 0.05:  # obfuscated: a mask, with the digest on Mastodon
        return (server, None, name[0] + "*" * (len(name) - 2) + name[-1], digest, "masked")
    if roll < 0.07:
        return (server, None, "*." + name.split(".", 1)[1], None, "wildcard")
    return (server, name, name, digest, "clear")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=25_000)
    parser.add_argument("--rules", type=int, default=2_000_000)
    parser.add_argument("--lists", type=int, default=3)
    parser.add_argument("--entries", type=int, default=3_000)
    parser.add_argument("--adopters", type=int, default=150)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", metavar="PATH", help="Keep the world here; reuse it if there.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        path = Path(args.keep or Path(work) / "adoption.db")
        if not path.exists():
            started = time.perf_counter()
            build(path, args)
            print(f"built in {time.perf_counter() - started:.1f} s", flush=True)
        connection = sqlite3.connect(path, isolation_level=None)
        for run in (1, 2):
            started, cpu = time.perf_counter(), time.process_time()
            connection.execute("BEGIN")
            what = build_shared_list_adoption(connection, 1)
            connection.execute("COMMIT")
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            print(
                f"run {run}: {what} ({seconds:.2f} s wall, {cpu:.2f} s CPU, "
                f"peak RSS {peak_rss_mb():.0f} MB)",
                flush=True,
            )
        connection.close()


if __name__ == "__main__":
    main()
