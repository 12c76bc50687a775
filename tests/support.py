"""Shared test helpers: loopback servers and crawls routed through `--via`.

No test talks to anything beyond 127.0.0.1: crawls use `via`, and the fetch layer never
resolves names in that mode.
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import web

from crawler.engine import CrawlSettings, CrawlSummary, crawl_async

#: The data-quality flags the sandbox truth models (the count and boolean rules of its
#: contract); fediscope adds provenance flags of its own that the truth does not know.
#: The repository checkout the tests run from.
REPO = Path(__file__).resolve().parent.parent

CONTRACT_FLAGS = frozenset(
    {
        "count_from_string",
        "count_wrong_type",
        "negative_count",
        "absurd_count",
        "stats_zeroed",
        "stats_suspect",
        "bool_from_string",
        "bool_wrong_type",
        "family_from_probe",  # issue 12: the family came from an API probe, not from NodeInfo
    }
)

#: Short timeouts so failing hosts cost seconds, not minutes, in tests.
FAST = {"total_timeout": 3.0, "connect_timeout": 2.0, "read_timeout": 2.0}

#: Timeouts no answering loopback host comes near even on a starved machine, for tests whose
#: truth needs every answering host read: FAST's 3 s can turn a slow answer into an unreachable
#: host. Such tests make hanging hosts drop the connection soon (SandboxConfig.hang_seconds).
PATIENT = {"total_timeout": 120.0, "connect_timeout": 60.0, "read_timeout": 60.0}

#: SandboxConfig.pace for worlds whose tests are not about pacing: the servers ask for a
#: Crawl-delay of 0.02 s (not 2 s) and Retry-After: 0 (not 1), which the crawler still reads and
#: honours, so a crawl lasts as long as its work rather than its politest host's waits (the
#: waits themselves are pinned on a fake clock in test_fetch_pacing, and at full pace in
#: test_politeness).
QUICK_PACE = 0.01


@asynccontextmanager
async def serve(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> AsyncIterator[int]:
    """Serve `handler` for every path on a free loopback port; yield the port."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield port
    finally:
        await runner.cleanup()


async def crawl_via(port: int, db: Path, seeds: list[str], **overrides: Any) -> CrawlSummary:
    """Crawl the loopback server at `port` with test-friendly timing."""
    options: dict[str, Any] = {"min_gap": 0.02, "progress": False, **FAST, **overrides}
    settings = CrawlSettings(db=str(db), seeds=seeds, via=f"127.0.0.1:{port}", **options)
    return await crawl_async(settings)


async def crawl_sandbox(world: Any, db: Path, **overrides: Any) -> tuple[Any, CrawlSummary]:
    """Serve a sandbox of `world` (a SandboxConfig), crawl it from its seeds into `db`, stop it
    and analyse the crawl; the sandbox (for its truth) and the crawl's summary."""
    from crawler.sandbox import Sandbox
    from graph.analyze import analyze

    sandbox = Sandbox(world)
    port = await sandbox.start()
    try:
        summary = await crawl_via(port, db, sandbox.seeds, **overrides)
    finally:
        await sandbox.stop()
    analyze(str(db))
    return sandbox, summary


def nodeinfo_answer(request: web.Request, software: str, users: int, **metadata: Any) -> Any:
    """The NodeInfo discovery document and a NodeInfo 2.0 (at /ni) of `software` with `users`
    accounts; None for any other path, which the caller's fake server answers."""
    if request.path == "/.well-known/nodeinfo":
        rel = "http://nodeinfo.diaspora.software/ns/schema/2.0"
        href = f"https://{request.headers['Host']}/ni"
        return web.json_response({"links": [{"rel": rel, "href": href}]})
    if request.path == "/ni":
        return web.json_response(
            {
                "version": "2.0",
                "software": {"name": software, "version": "4.3.0"},
                "protocols": ["activitypub"],
                "usage": {"users": {"total": users}},
                "openRegistrations": False,
                "metadata": metadata,
            }
        )
    return None


def rows(db: Path, sql: str, *params: Any) -> list[dict[str, Any]]:
    connection = sqlite3.connect(db)
    connection.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in connection.execute(sql, params)]
    finally:
        connection.close()


def instance(db: Path, domain: str) -> dict[str, Any]:
    found = rows(db, "SELECT * FROM instances WHERE domain = ?", domain)
    assert found, f"{domain} not in instances"
    return found[0]


def peers_of(db: Path, domain: str) -> set[str]:
    return {r["target"] for r in rows(db, "SELECT target FROM peer_edges WHERE source = ?", domain)}


async def datasette_for(db: Path) -> Any:
    """A started Datasette serving `db` with the installed plugin, as `fediscope serve` runs it."""
    from datasette.app import Datasette

    from observatory.plugin.config import settings

    ds = Datasette([str(db)], settings=settings())
    await ds.invoke_startup()
    return ds


async def canned(db: Path, query: str, **params: str) -> list[dict[str, Any]]:
    """Rows of a canned query of data/metadata.yml, run by Datasette as the site runs it."""
    ds = await datasette_for(db)
    response = await ds.client.get(
        f"/{db.stem}/{query}.json", params={**params, "_shape": "array", "_size": "max"}
    )
    assert response.status_code == 200, response.text
    return response.json()


class LeftTheMachine(OSError):
    """A connection to an address beyond loopback was attempted (and not made)."""


def loopback_only(monkeypatch: Any) -> list[object]:
    """Refuse, at the socket, every connection to an address beyond loopback; return the list
    of refused addresses. A test that feeds the crawler private or public addresses (to check
    that a guard refuses them) uses this, so that a regressed guard fails the test instead of
    sending a packet off the machine."""
    refused: list[object] = []
    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex

    def check(address: object) -> None:
        host = address[0] if isinstance(address, tuple) else None
        if host is None:
            return  # a Unix socket
        try:
            loopback = ipaddress.ip_address(str(host).split("%")[0]).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            refused.append(address)
            raise LeftTheMachine(f"test refused a connection to {address!r}")

    def guarded_connect(self: socket.socket, address: Any) -> None:
        check(address)
        return connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        check(address)
        return connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    return refused


def truth_blockers(truth) -> dict[str, set[str]]:
    """Per domain, the blockers whose rules certainly cover it, computed from the truth alone."""
    known = set(truth["instances"])
    digests = {hashlib.sha256(d.encode()).hexdigest(): d for d in known}
    result: dict[str, set[str]] = {}
    for blocker, t in truth["instances"].items():
        for rule in t["blocks"]:
            covered: set[str] = set()
            if rule["kind"] == "clear":
                covered.add(rule["blocked"])
                if t["family"] in ("mastodon", "gotosocial"):
                    covered |= {d for d in known if d.endswith("." + rule["blocked"])}
            elif rule["digest"] and rule["digest"] in digests:
                covered.add(digests[rule["digest"]])
            elif rule["kind"] == "wildcard":
                base = rule["pattern"][2:]
                covered |= {d for d in known if d == base or d.endswith("." + base)}
            for domain in covered - {blocker}:
                result.setdefault(domain, set()).add(blocker)
    return result


# --- Sandbox truth for the pages' answers -------------------------------------------------


def truth_of(db: Path) -> dict[str, Any]:
    """The demo database's ground truth (written beside it by `fediscope demo`)."""
    import json

    return json.loads(db.with_suffix(".truth.json").read_text())


def crawled_alive(truth: dict[str, Any], db: Path) -> dict[str, dict[str, Any]]:
    """Truth entries of the servers a correct crawl finds alive.

    Discovered (hops) and alive in the truth; of a subdomain farm only the members the crawl
    visited count (the farm cap lets it visit some, which ones is the crawler's choice, so that
    one fact is read from the database)."""
    visited = {r["domain"] for r in rows(db, "SELECT domain FROM instances WHERE status = 'alive'")}
    return {
        domain: entry
        for domain, entry in truth["instances"].items()
        if entry["expected_status"] == "alive"
        and entry["hops"] is not None
        and (entry["farm"] is None or domain in visited)
    }


def true_blocks(truth: dict[str, Any], db: Path, domain: str) -> dict[str, list[dict[str, Any]]]:
    """Per crawled blocker, its published rules whose true target is `domain`."""
    found: dict[str, list[dict[str, Any]]] = {}
    for blocker, entry in crawled_alive(truth, db).items():
        rules = [r for r in entry["blocks"] if r["true_domain"] == domain]
        if rules and blocker != domain:
            found[blocker] = rules
    return found


def plainly_blocked_domain(truth: dict[str, Any], db: Path, changed: bool = True) -> str:
    """A domain blocked by several servers, every rule on it naming it in clear, no wildcard or
    parent-domain rule anywhere near it (so the certain answer is exactly the truth's), and —
    with `changed` — a rule on it added or changed between the two crawls."""
    alive = crawled_alive(truth, db)
    covering: dict[str, set[str]] = {}
    for entry in alive.values():
        for rule in entry["blocks"]:
            covering.setdefault(rule["true_domain"] or "", set()).add(rule["kind"])
    wildcards = {
        rule["true_domain"]
        for entry in truth["instances"].values()
        for rule in entry["blocks"]
        if rule["kind"] != "clear"
    }
    changed_patterns = {c["pattern"] for c in truth["changes"] if c["change"] == "block_added"}
    best = None
    for domain, kinds in covering.items():
        if not domain or kinds != {"clear"} or (changed and domain not in changed_patterns):
            continue
        labels = domain.split(".")
        parents = {".".join(labels[i:]) for i in range(1, len(labels))}
        if parents & (set(covering) | wildcards) or domain in wildcards:
            continue
        n = len(true_blocks(truth, db, domain))
        if n >= 3 and (best is None or (n, domain) > best):
            best = (n, domain)
    assert best, "the demo world has no plainly blocked domain"
    return best[1]


# --- Hostile text a server could publish, planted in a copy of a database ----------------

#: What a hostile server could put in its name, description, version or a block reason.
HOSTILE_HTML = '<script>alert("fs-script")</script><img src=x onerror=alert("fs-img")>'
HOSTILE_URL = 'javascript:alert("fs-url")'
HOSTILE = HOSTILE_HTML + " " + HOSTILE_URL


def plant_hostile_text(source: Path, target: Path) -> dict[str, str]:
    """Copy a demo database (and its truth) and plant HOSTILE in a blocked server's name,
    description and version and in one public block reason (rule and its events) against it.
    Returns the domains involved."""
    import shutil

    shutil.copy(source, target)
    shutil.copy(source.with_suffix(".truth.json"), target.with_suffix(".truth.json"))
    domain = plainly_blocked_domain(truth_of(source), source)
    connection = sqlite3.connect(target)
    with connection:
        connection.execute(
            "UPDATE instances SET name = ?, description = ?, version = ?, discovered_via = ? "
            "WHERE domain = ?",
            (HOSTILE, HOSTILE, HOSTILE_HTML, HOSTILE_URL, domain),
        )
        blocker, pattern = connection.execute(
            "SELECT blocker, blocked_pattern FROM blocks WHERE blocked = ? AND active = 1 "
            "ORDER BY blocker LIMIT 1",
            (domain,),
        ).fetchone()
        connection.execute(
            "UPDATE blocks SET reason = ? WHERE blocker = ? AND blocked_pattern = ?",
            (HOSTILE, blocker, pattern),
        )
        connection.execute(
            "UPDATE block_events SET reason = ? WHERE blocker = ? AND blocked_pattern = ?",
            (HOSTILE, blocker, pattern),
        )
        connection.execute(
            "UPDATE instances SET name = ?, description = ? WHERE domain = ?",
            (HOSTILE, HOSTILE, blocker),
        )
    connection.close()
    return {"domain": domain, "blocker": blocker}


def crawler_family(entry: dict[str, Any]) -> str | None:
    """The family fediscope must store for a truth entry: its lineage table applied to the
    software NodeInfo names (the sandbox files a fork such as fedired under its own family), or
    for a server that names none, the family its platform API showed (None if nothing did)."""
    from crawler.software import family_of

    return family_of(entry["software"]) if entry["software"] else entry["family"]
