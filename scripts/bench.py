"""Benchmark: crawl a full-scale sandbox Fediverse and compare with the fetch floor.

    .venv/bin/python scripts/bench.py              # full: 100k names, 25k answering, >=20M edges
    .venv/bin/python scripts/bench.py --quick      # ~2,000 instances, about a minute
    .venv/bin/python scripts/bench.py --masnet     # also time the masnet crawler on the same world
    .venv/bin/python scripts/bench.py --recrawl    # then crawl the same unchanged world again
    .venv/bin/python scripts/bench.py --no-uvloop  # crawl (and floor) on asyncio's own loop

Steps, each in its own process so peak RSS is the process's own: the sandbox (scale profile:
per-request latency 20-300 ms, 3% of hosts hang until the timeout, heavy-tailed peer lists
generated on request, the most recently asked kept), `fediscope crawl --via` with the default
politeness rules at the given concurrency, `fediscope analyze`, then the fetch floor
(scripts/fetch_floor.py: the same requests, same per-host rules, each host started once a list
named it, bodies discarded).
Reports wall time, CPU seconds, instances/s, requests/s, bytes received (bodies), peer edges
stored per second of ingestion, peak RSS, database size, per-stage times, crawl time / floor
time, and alive recall: the share of the servers the sandbox's truth calls alive and reachable
from the seeds that the crawl stored as alive (a server called unreachable because fediscope
was overloaded is a miss). `--recrawl` crawls the unchanged world a second time (every alive
instance due, conditional requests on, robots.txt and answers still fresh reused as a second
crawl the same day would) and reports the same numbers for it, with what the same visits cost
in the first crawl. The crawl runs on uvloop when installed (FEDISCOPE_UVLOOP=1
makes that a requirement here) unless `--no-uvloop`. Numbers go to stdout and to
scripts/out/bench-*.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from crawler.sandbox.process import sandbox_process

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "scripts" / "out"


def sandbox_arguments(args: argparse.Namespace, truth: Path) -> list[str]:
    """The scale profile, or the quick one: small lists, short latency."""
    arguments = ["--seed", str(args.seed), "--scale", "--truth", str(truth)]
    arguments += ["--pace", str(args.pace)]
    if args.quick:
        size = str(args.instances or 2000)
        return [*arguments, "--latency", "5,50", "--instances", size,
                "--extra-dead-names", size, "--max-peers", "600"]  # fmt: skip
    return [*arguments, "--latency", "20,300"]


CPU: dict[str, float] = {}


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """(wall seconds, peak RSS in MiB, stdout) of a child process; its CPU goes to CPU[cmd]."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True, env=env)
    output = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{' '.join(command[:4])}... failed ({status}):\n{output}")
    CPU["last"] = round(usage.ru_utime + usage.ru_stime, 1)
    return seconds, usage.ru_maxrss // 1024, output


def store_cpu(output: str) -> float:
    """The store process's CPU seconds as the crawl reported them (a forkserver's child: the
    crawl's rusage never includes it)."""
    match = re.search(r"store process: peak memory \d+ MiB, CPU ([\d.]+) s", output)
    return float(match.group(1)) if match else 0.0


def store_rss(output: str) -> int:
    """The store process's peak memory as the crawl reported it (wait4 gives only the larger
    of the two processes' peaks, not their sum)."""
    match = re.search(r"store process: peak memory (\d+) MiB", output)
    return int(match.group(1)) if match else 0


def crawl_stats(db: Path, crawl_id: int = 1) -> dict[str, object]:
    connection = sqlite3.connect(db)
    row = connection.execute(
        "SELECT visited, alive, requests, peer_edges_added, store_seconds, peer_store_seconds, "
        "probe_requests, not_modified, busiest_addresses, json_extract(settings, '$.event_loop') "
        "FROM crawls WHERE id = ?",
        (crawl_id,),
    ).fetchone()
    (edges,) = connection.execute("SELECT count(*) FROM peer_intervals").fetchone()
    (known,) = connection.execute("SELECT count(*) FROM instances").fetchone()
    (received,) = connection.execute(
        "SELECT coalesce(sum(size), 0) FROM document_log WHERE crawl_id = ?", (crawl_id,)
    ).fetchone()
    connection.close()
    visited, alive, requests, added, store, peer_store, probes, not_modified, busiest, loop = row
    return {
        "event_loop": loop,
        "visited": visited,
        "alive": alive,
        "known_domains": known,
        "requests": requests,
        "probe_requests": probes,
        "body_mib_received": round(received / 2**20, 1),
        "not_modified": not_modified or 0,
        "peer_edges": edges,
        "peer_edges_added": added,
        "store_seconds": round(store or 0, 2),
        "peer_store_seconds": round(peer_store or 0, 2),
        "busiest_addresses": json.loads(busiest) if busiest else [],
    }


def alive_recall(db: Path, truth: Path) -> dict[str, object]:
    """How many of the truly alive servers reachable from the seeds the crawl found alive.

    Subdomain-farm hosts are left out: the crawl visits only `--subdomain-cap` of them by design.
    """
    instances = json.loads(truth.read_text())["instances"]
    expected = {
        domain
        for domain, entry in instances.items()
        if entry["expected_status"] == "alive" and entry["hops"] is not None and not entry["farm"]
    }
    connection = sqlite3.connect(db)
    found = {
        row[0] for row in connection.execute("SELECT domain FROM instances WHERE status = 'alive'")
    }
    missed = Counter(
        row[1] or row[0]
        for row in connection.execute("SELECT status, status_reason, domain FROM instances")
        if row[2] in expected and row[2] not in found
    )
    connection.close()
    hits = len(expected & found)
    return {
        "alive_expected": len(expected),
        "alive_found": hits,
        "alive_recall": round(hits / len(expected), 4) if expected else None,
        "alive_missed_by_kind": dict(missed),
    }


def overload(output: str, concurrency: int) -> dict[str, int]:
    """How far the crawl lowered its requests in flight, and the visits it made again."""
    found = re.search(r"down to (\d+) requests in flight; (\d+) visits", output)
    if found is None:
        return {"lowest_request_limit": concurrency, "timeouts_retried": 0}
    return {"lowest_request_limit": int(found[1]), "timeouts_retried": int(found[2])}


def same_visits_in_first_crawl(db: Path) -> dict[str, object]:
    """Requests and body bytes the first crawl spent on the domains the second one visited."""
    connection = sqlite3.connect(db)
    requests, received = connection.execute(
        "SELECT count(*), coalesce(sum(size), 0) FROM document_log WHERE crawl_id = 1 "
        "AND domain IN (SELECT domain FROM document_log WHERE 2 IN (crawl_id, last_crawl_id))"
    ).fetchone()
    connection.close()
    return {"requests": requests, "body_mib_received": round(received / 2**20, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="~2,000 instances, under a minute")
    parser.add_argument(
        "--instances", type=int, help="with --quick: the world's size (default 2,000)"
    )
    parser.add_argument("--concurrency", type=int, default=512)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--burst", type=int, default=3, help="crawl --burst (floor likewise)")
    parser.add_argument(
        "--min-gap", type=float, default=1.0, help="crawl --min-gap (floor likewise)"
    )
    parser.add_argument(
        "--pace", type=float, default=1.0, help="sandbox --pace: scales its Crawl-delays"
    )
    parser.add_argument("--no-floor", action="store_true")
    parser.add_argument("--masnet", action="store_true", help="also time masnet (own venv)")
    parser.add_argument("--keep", metavar="DIR", help="keep the database in DIR")
    parser.add_argument("--recrawl", action="store_true", help="crawl the same world again")
    parser.add_argument("--no-uvloop", action="store_true", help="asyncio's own event loop")
    parser.add_argument("--no-adapt", action="store_true", help="crawl --no-adapt")
    parser.add_argument(
        "--timeout",
        type=float,
        help="crawl --timeout, floor and masnet likewise (10 s quick, 30 s full)",
    )
    args = parser.parse_args()
    env = {**os.environ, "FEDISCOPE_UVLOOP": "0" if args.no_uvloop else "1"}
    workdir = Path(args.keep or tempfile.mkdtemp(prefix="fediscope-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "bench.db"
    for stale in workdir.glob("bench.db*"):
        stale.unlink()
    report: dict[str, object] = {
        "profile": "quick" if args.quick else "full",
        "concurrency": args.concurrency,
        "min_gap_seconds": args.min_gap,
        "sandbox_pace": args.pace,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
    }
    # Quick: small lists, short latency and a 10 s timeout so the whole run takes about a minute.
    timeout = args.timeout or (10.0 if args.quick else 30.0)
    report["timeout_seconds"] = timeout
    started = time.perf_counter()
    truth = workdir / "truth.json"
    with sandbox_process(sandbox_arguments(args, truth), cwd=REPO) as running:
        via, seeds = running.address, running.seeds
        print(f"sandbox ready in {time.perf_counter() - started:.1f} s on {via}", flush=True)
        seed_args = [a for s in seeds for a in ("--seed", s)]
        crawl_command = [
            sys.executable, "-m", "crawler", "crawl", "--db", str(db), "--via", via,
            "--concurrency", str(args.concurrency), "--timeout", str(timeout),
            "--burst", str(args.burst), "--min-gap", str(args.min_gap), "--no-progress",
            *seed_args,
            *(["--no-adapt"] if args.no_adapt else []),
        ]  # fmt: skip
        sandbox_cpu = running.cpu_seconds()
        crawl_seconds, crawl_rss, output = timed(crawl_command, env)
        report["crawl_cpu_seconds"] = CPU["last"]
        report["sandbox_cpu_seconds_in_crawl"] = round(running.cpu_seconds() - sandbox_cpu, 1)
        print(output.strip(), flush=True)
        report["crawl_peak_rss_mib_with_store"] = crawl_rss + store_rss(output)
        report["store_cpu_seconds"] = store_cpu(output)
        stats = crawl_stats(db)
        stats.update(alive_recall(db, truth))
        stats.update(overload(output, args.concurrency))
        analyze_seconds, analyze_rss, output = timed(
            [sys.executable, "-m", "crawler", "analyze", "--db", str(db)]
        )
        print(output.strip(), flush=True)
        report.update(
            crawl_seconds=round(crawl_seconds, 1),
            crawl_peak_rss_mib=crawl_rss,
            analyze_seconds=round(analyze_seconds, 1),
            analyze_peak_rss_mib=analyze_rss,
            database_mib=round(db.stat().st_size / 2**20, 1),
            **stats,
        )
        report["instances_per_second"] = round(stats["visited"] / crawl_seconds, 1)
        report["requests_per_second"] = round(stats["requests"] / crawl_seconds, 1)
        if stats["peer_store_seconds"]:
            report["peer_edges_per_ingest_second"] = round(
                stats["peer_edges_added"] / stats["peer_store_seconds"]
            )
        if not args.no_floor:
            floor_seconds, floor_rss, output = timed(
                [sys.executable, "scripts/fetch_floor.py", "--db", str(db), "--via", via,
                 "--concurrency", str(args.concurrency), "--timeout", str(timeout),
                 "--burst", str(args.burst), "--min-gap", str(args.min_gap)], env
            )  # fmt: skip
            floor = json.loads(output.strip().splitlines()[-1])
            report.update(
                floor_seconds=round(floor_seconds, 1),
                floor_requests=floor["requests"],
                floor_peak_rss_mib=floor_rss,
                crawl_over_floor=round(crawl_seconds / floor_seconds, 2),
            )
        if args.masnet:
            from masnet_anchor import run_masnet

            sandbox_cpu = running.cpu_seconds()
            report.update(run_masnet(via, seeds[0], args.concurrency, workdir, timeout))
            report["sandbox_cpu_seconds_in_masnet"] = round(running.cpu_seconds() - sandbox_cpu, 1)
            if report.get("masnet_seconds"):
                report["fediscope_over_masnet"] = round(crawl_seconds / report["masnet_seconds"], 2)
        if args.recrawl:
            # Every alive instance is due at once; the others keep their retry schedule.
            seconds, rss, output = timed([*crawl_command, "--recrawl-after", "0"], env)
            print(output.strip(), flush=True)
            again = crawl_stats(db, 2)
            report["recrawl"] = {
                "seconds": round(seconds, 1),
                "cpu_seconds": CPU["last"],
                "peak_rss_mib": rss,
                "peak_rss_mib_with_store": rss + store_rss(output),
                "store_cpu_seconds": store_cpu(output),
                **{k: again[k] for k in ("visited", "alive", "requests", "not_modified")},
                "body_mib_received": again["body_mib_received"],
                "peer_edges_added": again["peer_edges_added"],
                "same_visits_in_first_crawl": same_visits_in_first_crawl(db),
            }
    OUT.mkdir(exist_ok=True)
    path = OUT / f"bench-{report['profile']}-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(report, indent=2))
    width = max(len(k) for k in report)
    for key, value in report.items():
        print(f"{key.ljust(width)}  {value}")
    print(headline(report))
    print(f"written to {path}")


def headline(report: dict[str, object]) -> str:
    """fediscope's figures next to the floor's and masnet's, on one line."""
    parts = [
        f"fediscope {report['crawl_seconds']} s",
        f"alive recall {report['alive_recall']}",
        f"{report['timeouts_retried']} timeouts retried (in flight down to "
        f"{report['lowest_request_limit']})",
    ]
    if "floor_seconds" in report:
        parts.append(f"floor {report['floor_seconds']} s (x{report['crawl_over_floor']})")
    if report.get("masnet_seconds"):
        parts.append(
            f"masnet {report['masnet_seconds']} s, {report['masnet_nodes']} nodes"
            f" (fediscope/masnet x{report.get('fediscope_over_masnet')})"
        )
    return " | ".join(parts)


if __name__ == "__main__":
    main()
