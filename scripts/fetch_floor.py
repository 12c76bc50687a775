"""The fetch floor: the same requests as a crawl, under the same per-host rules, and nothing else.

Replays, per host and in the same order, every request a fediscope crawl logged
(`document_log`), with the same global concurrency, one request in flight per host, the same
gap (1 s, or the host's Crawl-delay read from its stored robots.txt), Retry-After on 429,
same-host redirects and the same timeouts, and throws the bodies away. The opening burst
follows the crawler's rule: the first `--burst` requests of a host go back to back (robots.txt
counts as the first), never for a host whose robots.txt sets a Crawl-delay, and a 429 ends it.
A request unanswered after `--park-after` seconds leaves the concurrency bound, as the
crawler's do (up to `PARKED_PER_SLOT` per slot, fewer if open files run short). No
parsing, no validation, no database writes.

Discovery: no crawler can visit a host before a list names it. A host the crawl discovered
starts when the host that named it (`instances.discovered_via`) has had the answer to its
first request for that kind of list (`discovered_by`: a peer list, or a block list, where
Pleroma's and GoToSocial's come with NodeInfo or the instance document), or when that host's
requests end if none of them is such a list. The first page of a paged list counts, so the
floor starts hosts no later than any crawl could. `--no-discovery` starts every host at once:
a bound no crawler can reach.

    .venv/bin/python scripts/fetch_floor.py --db bench.db --via 127.0.0.1:PORT --concurrency 512

Prints one JSON line: {"seconds": ..., "requests": ..., "hosts": ...}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import time
import zlib
from collections import defaultdict

import aiohttp
from protego import Protego

from crawler import ROBOTS_TOKEN, eventloop
from crawler.fetch.descriptors import room_for_parked
from crawler.fetch.settings import PARKED_PER_SLOT, connection_limit

MISSKEY_PAGE = {"limit": 100, "offset": 0}
Plan = dict[str, list[tuple[str, str]]]
#: Paths (parts of them) of the answers that name other hosts, by how a host was discovered.
LISTS = {
    "peer": ("/instance/peers", "/federation/instances", "/federated_instances",
             "/server/followers", "/server/following", "/poco"),
    "block": ("/domain_blocks", "/federated_instances", "/api/defederated", "/blocklist/",
              "/api/meta", "/nodeinfo", "/api/v1/instance"),
}  # fmt: skip


def load_discoverers(db: str) -> dict[str, tuple[str, str]]:
    """host -> (its discoverer, how: peer, block, redirect) for the hosts a list named."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = connection.execute(
        "SELECT domain, discovered_via, discovered_by FROM instances "
        "WHERE discovered_via IS NOT NULL AND discovered_by IS NOT NULL"
    ).fetchall()
    connection.close()
    found = {domain: (via, how) for domain, via, how in rows}
    for start in list(found):  # a loop (never in a first-seen tree) would wait forever
        seen, name = {start}, found[start][0]
        while name in found and name not in seen:
            seen.add(name)
            name = found[name][0]
        if name in seen:
            del found[start]
    return found


def load_plan(db: str, crawl_id: int, min_gap: float) -> tuple[Plan, dict[str, float]]:
    """Per host: the requests in order, and its Crawl-delay gap (from its stored robots.txt)
    for the hosts that set one."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    plan: Plan = defaultdict(list)
    gaps: dict[str, float] = {}
    rows = connection.execute(
        "SELECT l.method, l.url, b.body FROM document_log l "
        "LEFT JOIN document_bodies b ON b.sha256 = l.body_sha256 AND l.url LIKE '%/robots.txt' "
        "WHERE l.crawl_id = ? ORDER BY l.id",
        (crawl_id,),
    )
    for method, url, robots in rows:
        host, _, rest = url.split("://", 1)[1].partition("/")
        plan[host].append((method, "/" + rest))
        if robots is not None:
            text = zlib.decompress(robots).decode("utf-8", errors="replace").removeprefix("\ufeff")
            delay = Protego.parse(text).crawl_delay(ROBOTS_TOKEN)
            if delay is not None:
                gaps[host] = max(min_gap, float(delay))
    connection.close()
    return plan, gaps


async def replay(args: argparse.Namespace) -> dict[str, float]:
    plan, gaps = load_plan(args.db, args.crawl, args.min_gap)
    discoverers = {} if args.no_discovery else load_discoverers(args.db)
    #: (host, how) -> set once the host has answered its first list of that kind
    listed: dict[tuple[str, str], asyncio.Event] = defaultdict(asyncio.Event)
    kinds = {*LISTS, "redirect", *(how for _, how in discoverers.values())}
    timeout = aiohttp.ClientTimeout(total=args.timeout, sock_connect=10, sock_read=15)
    most_parked = room_for_parked(args.concurrency, PARKED_PER_SLOT * args.concurrency)
    connector = aiohttp.TCPConnector(
        limit=connection_limit(args.concurrency, most_parked), limit_per_host=0
    )
    semaphore = asyncio.Semaphore(args.concurrency)
    requests = parked_now = 0

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        session._retry_connection = False  # as in the crawler: every request is paced

        async def fetch(
            name: str, method: str, path: str, body: object
        ) -> tuple[int | None, str | None, float | None]:
            nonlocal requests, parked_now
            await semaphore.acquire()
            requests += 1
            parked = False

            def park() -> None:  # as the crawler: an unanswered request frees its slot
                nonlocal parked, parked_now
                if parked_now < most_parked:
                    parked, parked_now = True, parked_now + 1
                    semaphore.release()

            timer = asyncio.get_running_loop().call_later(args.park_after, park)
            try:
                async with session.request(
                    method,
                    f"http://{args.via}{path}",
                    headers={"Host": name, "User-Agent": "fediscope-floor"},
                    json=body,
                    allow_redirects=False,
                ) as response:
                    while await response.content.read(65536):
                        pass
                    retry = response.headers.get("Retry-After", "")
                    location = response.headers.get("Location")
                    return response.status, location, float(retry) if retry.isdigit() else None
            except (aiohttp.ClientError, TimeoutError, OSError):
                return None, None, None
            finally:
                timer.cancel()
                if parked:
                    parked_now -= 1
                else:
                    semaphore.release()

        async def host(name: str, steps: list[tuple[str, str]]) -> None:
            found = discoverers.get(name)
            if found is not None and found[0] in plan and found[0] != name:
                await listed[found].wait()
            try:
                await requests_of(name, steps)
            finally:
                for how in kinds:
                    listed[(name, how)].set()

        async def requests_of(name: str, steps: list[tuple[str, str]]) -> None:
            gap = gaps.get(name, args.min_gap)
            burst = 1 if name in gaps else args.burst  # requests left without a gap
            first = True
            for method, path in steps:
                body = None
                if method == "POST":
                    body = MISSKEY_PAGE if "federation/instances" in path else {}
                retries = redirects = 0
                while True:
                    if not first and burst <= 0:
                        await asyncio.sleep(gap)
                    first = False
                    burst -= 1
                    status, location, retry_after = await fetch(name, method, path, body)
                    if status == 429 and retry_after is not None and retries < 2:
                        retries += 1
                        burst = 0
                        if retry_after <= 60:
                            await asyncio.sleep(max(0.0, retry_after - gap))
                            continue
                    if status in (301, 302, 303, 307, 308) and location and redirects < 5:
                        target = location.split("://", 1)[-1]
                        if location.startswith("/") or target.startswith(name + "/"):
                            redirects += 1
                            path = (
                                location
                                if location.startswith("/")
                                else "/" + target.split("/", 1)[1]
                            )
                            continue
                    break
                listed[(name, "redirect")].set()
                for how, parts in LISTS.items():
                    if any(part in path for part in parts):
                        listed[(name, how)].set()

        started = time.perf_counter()
        await asyncio.gather(*(host(name, steps) for name, steps in plan.items()))
        return {"seconds": time.perf_counter() - started, "requests": requests, "hosts": len(plan)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--via", required=True)
    parser.add_argument("--crawl", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=512)
    parser.add_argument("--min-gap", type=float, default=1.0)
    parser.add_argument("--burst", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument(
        "--park-after", type=float, default=2.0, help="as the crawler's FetchSettings.park_after"
    )
    parser.add_argument(
        "--no-discovery", action="store_true", help="start every host at once (no discovery)"
    )
    args = parser.parse_args()
    # The same loop as the crawl it is compared with (FEDISCOPE_UVLOOP, crawler/eventloop.py).
    print(json.dumps(eventloop.run(replay(args))), flush=True)


if __name__ == "__main__":
    main()
