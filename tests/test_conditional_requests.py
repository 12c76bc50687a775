"""Conditional re-crawls: ETag / Last-Modified kept, sent back, and a 304 read as "unchanged".

Two identical sandboxes are crawled with the same clock, one with conditional requests and one
downloading everything; their stored history must be the same crawl after crawl, while the
conditional one gets a 304 for every Mastodon list the sandbox tagged (Rails-style ETags).
When an epoch changes some lists, exactly those are downloaded again and diffed.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web

from crawler.domains import SANDBOX
from crawler.fetch import Fetcher, FetchSettings
from crawler.sandbox import Sandbox, SandboxConfig
from crawler.sandbox.platforms import Ctx, respond
from crawler.store.schema import TABLES
from tests.support import PATIENT, QUICK_PACE, crawl_via, rows, serve

LISTS = ("/api/v1/instance/peers", "/api/v1/instance/domain_blocks")
VISIBILITY = ("peers_visibility", "blocks_visibility")
START = datetime(2026, 1, 5, tzinfo=UTC)

# Which concurrent visit reported a name first (its id, how and from where it was found) is a
# race in any crawl, not something a list's content decides.
DISCOVERY_ORDER = {"domain_id", "discovered_by", "discovered_via", "hops"}
INSTANCE_COLUMNS = ", ".join(c for c in TABLES["instances"][0] if c not in DISCOVERY_ORDER)
# The stored history, without row ids and per-answer provenance (document_log differs on
# purpose: a 304 is logged as a 304) and per-crawl statistics.
HISTORY = {
    "instances": f"SELECT {INSTANCE_COLUMNS} FROM instances ORDER BY domain",
    "instance_stats": "SELECT * FROM instance_stats ORDER BY domain, crawl_id",
    "peers": "SELECT s.name, t.name, first_crawl, removed_crawl FROM peer_intervals "
    "JOIN domains s ON s.id = source_id JOIN domains t ON t.id = target_id ORDER BY 1, 2, 3",
    "blocks": "SELECT blocker, blocked, blocked_pattern, blocked_digest, kind, severity, "
    "severity_raw, reason, first_seen, last_seen, first_crawl, last_crawl, active FROM blocks "
    "ORDER BY blocker, blocked_pattern, severity_raw",
    "block_events": "SELECT blocker, blocked_pattern, blocked, event, severity, severity_raw, "
    "previous_severity, reason, previous_reason, crawl_id, at, first_observation "
    "FROM block_events ORDER BY blocker, blocked_pattern, crawl_id, event, severity_raw",
    "exclusions": "SELECT * FROM exclusions ORDER BY domain",
}


def history(db: Path) -> dict[str, list[tuple]]:
    connection = sqlite3.connect(db)
    try:
        return {name: connection.execute(sql).fetchall() for name, sql in HISTORY.items()}
    finally:
        connection.close()


def list_answers(db: Path, crawl_id: int) -> dict[tuple[str, str], int]:
    """(domain, list path) -> HTTP status of that crawl's answer.

    The log grows with change, not with crawls: an answer that repeats the previous crawl's
    (a 304 after a 304, the same 200 body) moves its row forward instead of adding one, so the
    answer a crawl got is the row whose crawls [crawl_id, last_crawl_id] include it.
    """
    found = {}
    answers = rows(
        db,
        "SELECT domain, url, status FROM documents WHERE crawl_id <= ?1 AND last_crawl_id >= ?1",
        crawl_id,
    )
    for row in answers:
        path = "/" + row["url"].split("://", 1)[1].split("/", 1)[1]
        if path in LISTS:
            found[(row["domain"], path)] = row["status"]
    return found


def published(sandbox: Sandbox, domain: str, path: str) -> bytes:
    """The body the sandbox publishes for a list at its current epoch."""
    host = sandbox.world.host(domain)
    return respond(Ctx(sandbox.world, host, domain, "GET", path, {}, b"")).body


async def crawl_both(
    worlds: dict[str, tuple[Sandbox, int]], dbs: dict[str, Path], number: int
) -> dict[str, object]:
    """Crawl number `number` of both databases at the same (fixed) time."""
    moment = START + timedelta(days=number)
    summaries = {}
    for name, (sandbox, port) in worlds.items():
        summaries[name] = await crawl_via(
            port,
            dbs[name],
            sandbox.seeds,
            conditional=name == "conditional",
            clock=lambda: moment,
            recrawl_after=timedelta(0),
            **PATIENT,
        )
    return summaries


#: No subdomain farm: which 50 of its hosts a crawl visits depends on discovery order, a race
#: between the two crawls that has nothing to do with conditional requests. Its Crawl-delay and
#: 429 hosts ask for short waits (QUICK_PACE; the exact waits are pinned at the fetcher on a
#: fake clock); a 304's bookkeeping is pinned at the writer (test_store_writer). What stays is
#: what only a crawl shows: the same history either way. Hanging hosts drop the connection
#: after a second and the crawls are PATIENT, so that load on the machine cannot make one crawl
#: give up on a host the other read (nor wait out timeouts).
WORLD = SandboxConfig(instances=250, seed=7, farm_size=0, pace=QUICK_PACE, hang_seconds=1.0)


async def test_conditional_recrawls_store_the_same_history_as_full_downloads(tmp_path):
    worlds = {}
    for name in ("conditional", "full"):
        sandbox = Sandbox(WORLD)
        worlds[name] = (sandbox, await sandbox.start())
    dbs = {name: tmp_path / f"{name}.db" for name in worlds}
    sandbox = worlds["conditional"][0]
    try:
        await crawl_both(worlds, dbs, 1)
        assert history(dbs["conditional"]) == history(dbs["full"])

        # Which lists the sandbox tagged: every 200 list answer of a Mastodon-family host, less
        # those it serves broken (truth: visibility "error"): a list that could not be read is
        # downloaded in full next time, never taken as unchanged.
        truth = sandbox.truth()["instances"]
        readable = {
            (domain, path)
            for domain, t in truth.items()
            for path, visibility in zip(LISTS, VISIBILITY, strict=True)
            if t[visibility] == "public"
        }
        first = list_answers(dbs["conditional"], 1)
        tagged = {
            key
            for key, status in first.items()
            if status == 200
            and sandbox.world.host(key[0]).platform == "mastodon"
            and key in readable
        }
        untagged = {key for key, status in first.items() if key not in tagged}
        assert len(tagged) >= 40

        # An unchanged world: a 304 for every tagged list, nothing stored as a change.
        served_before = sandbox.stats.not_modified
        summaries = await crawl_both(worlds, dbs, 2)
        second = list_answers(dbs["conditional"], 2)
        assert {key for key, status in second.items() if status == 304} == tagged
        assert all(second[key] != 304 for key in untagged if key in second)
        assert sandbox.stats.not_modified - served_before >= len(tagged)
        assert summaries["conditional"].not_modified >= len(tagged)
        assert summaries["full"].not_modified == 0
        crawl = rows(dbs["conditional"], "SELECT * FROM crawls WHERE id = 2")[0]
        assert crawl["peer_edges_added"] == crawl["peer_edges_removed"] == 0
        assert rows(dbs["conditional"], "SELECT * FROM block_events WHERE crawl_id = 2") == []
        assert history(dbs["conditional"]) == history(dbs["full"])

        # The world changes: lists whose published body changed (new peers or rules, and the
        # junk a flat list carries, which varies per epoch) are downloaded and diffed; the
        # others stay 304. The bodies come from the sandbox's own renderer.
        before = {key: published(sandbox, *key) for key in tagged}
        for world, _ in worlds.values():
            world.set_epoch(1)
        changes = sandbox.world.history.changes
        changed = {key for key in tagged if published(sandbox, *key) != before[key]}
        assert changed and tagged - changed
        served_before = sandbox.stats.not_modified
        summaries = await crawl_both(worlds, dbs, 3)
        third = list_answers(dbs["conditional"], 3)
        assert sandbox.stats.not_modified - served_before >= len(tagged - changed)
        assert summaries["conditional"].not_modified >= len(tagged - changed)
        assert all(third[key] != 304 for key in changed if key in third)  # 200, or now 401
        assert {key for key, status in third.items() if status == 304} == tagged - changed
        for change in changes:
            if change["change"] != "peers_changed" or (change["domain"], LISTS[0]) not in tagged:
                continue
            source = change["domain"]
            added = rows(
                dbs["conditional"],
                "SELECT target FROM peer_edges WHERE source = ? AND first_crawl = 3",
                source,
            )
            assert {r["target"] for r in added} == set(change["added"])
        assert history(dbs["conditional"]) == history(dbs["full"])
    finally:
        for world, _ in worlds.values():
            await world.stop()


def fetch_settings(port: int) -> FetchSettings:
    return FetchSettings(
        user_agent="fediscope-test", via=f"127.0.0.1:{port}", min_gap=0.0, domain_policy=SANDBOX
    )


async def test_last_modified_is_sent_back_and_a_304_is_unchanged_not_an_error():
    stamp = "Wed, 21 Oct 2025 07:28:00 GMT"
    seen: list[tuple[str, str | None, str | None]] = []

    async def answer(request: web.Request) -> web.StreamResponse:
        since = request.headers.get("If-Modified-Since")
        seen.append((request.path, since, request.headers.get("If-None-Match")))
        if request.path == "/moved":
            raise web.HTTPFound("/list")
        if request.path == "/list" and since == stamp:
            return web.Response(status=304)
        return web.json_response(["a.test"], headers={"Last-Modified": stamp})

    async with serve(answer) as port, Fetcher(fetch_settings(port)) as fetcher:
        fetched = await fetcher.request("h.test", "/list", conditional=True)
        assert fetched.ok and fetched.validators == (None, stamp)
        fetcher.validators = {"h.test": {"/list": (None, stamp), "/moved": (None, stamp)}}
        unchanged = await fetcher.request("h.test", "/list", conditional=True)
        plain = await fetcher.request("h.test", "/list")
        redirected = await fetcher.request("h.test", "/moved", conditional=True)
    assert unchanged.status == 304 and unchanged.not_modified and unchanged.error is None
    assert unchanged.body is None and unchanged.validator == (None, stamp)
    assert plain.ok and not plain.not_modified  # validators only when asked for
    # A validator belongs to its URL: the redirect target is fetched in full.
    assert redirected.ok and redirected.final_path == "/list"
    assert [s for s in seen if s[0] != "/robots.txt"] == [
        ("/list", None, None),
        ("/list", stamp, None),
        ("/list", None, None),
        ("/moved", stamp, None),
        ("/list", None, None),
    ]


async def test_a_304_nobody_asked_for_is_not_read_as_unchanged():
    async def answer(request: web.Request) -> web.StreamResponse:
        return web.Response(status=304) if request.path == "/list" else web.Response(status=404)

    async with serve(answer) as port, Fetcher(fetch_settings(port)) as fetcher:
        response = await fetcher.request("h.test", "/list", conditional=True)  # no validator
    assert not response.not_modified and response.error is not None
