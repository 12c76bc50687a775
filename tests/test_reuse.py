"""Answers a crawl reuses without asking: robots.txt read less than a day ago (RFC 9309 section
2.4), and lists whose server said they are still fresh (Cache-Control, RFC 9111).

The freshness arithmetic is pinned on hand-computed headers; the fetch layer on a scripted
server and a fake clock (what is sent, what is not, and the Crawl-delay of a stored robots.txt);
the whole path on the sandbox, whose Mastodon hosts send Rails' Cache-Control headers: a second
crawl the same hour asks for no robots.txt and no fresh list, stores the same data, and says so;
`revalidate`, or a crawl a day later, asks for everything again.
"""

from __future__ import annotations

import sqlite3
import zlib
from datetime import UTC, datetime, timedelta

import pytest
from multidict import CIMultiDict

from crawler.domains import SANDBOX
from crawler.fetch import errors
from crawler.fetch.freshness import MAX_FRESHNESS, cache_directives, fresh_until
from crawler.fetch.robots import StoredRobots
from crawler.sandbox import Sandbox, SandboxConfig
from crawler.store.writer import StoreWriter
from tests.fetch_harness import Answer
from tests.support import QUICK_PACE, crawl_via, rows

ROBOTS = "/robots.txt"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC).timestamp()


def headers(**values: str) -> CIMultiDict[str]:
    return CIMultiDict({name.replace("_", "-"): value for name, value in values.items()})


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


# --- freshness from headers ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "until"),
    [
        ({"Cache_Control": "max-age=86400, public"}, NOW + 86400),  # Rails' expires_in 1.day
        ({"Cache_Control": "public, max-age=600"}, NOW + 600),  # Misskey's NodeInfo
        ({"Cache_Control": "private, max-age=60"}, NOW + 60),  # a one-client cache may reuse
        ({"Cache_Control": 'max-age="120"'}, NOW + 120),
        ({"Cache_Control": "max-age=600", "Age": "100"}, NOW + 500),  # a cache held it 100 s
        ({"Cache_Control": "max-age=600", "Age": "600"}, None),  # already stale
        ({"Cache_Control": "max-age=31536000"}, NOW + MAX_FRESHNESS),  # never beyond a day
        ({"Cache_Control": "no-cache, max-age=600"}, None),
        ({"Cache_Control": "max-age=600, No-Store"}, None),
        ({"Cache_Control": "max-age=ten"}, None),
        ({"Cache_Control": "public"}, None),  # no lifetime given: no heuristic one assumed
        ({}, None),
        (
            {"Date": "Mon, 02 Mar 2026 12:00:00 GMT", "Expires": "Mon, 02 Mar 2026 12:05:00 GMT"},
            NOW + 300,
        ),
        ({"Date": "Mon, 02 Mar 2026 12:00:00 GMT", "Expires": "0"}, None),  # invalid: expired
        ({"Expires": "Mon, 02 Mar 2026 12:05:00 GMT"}, None),  # no Date to measure from
        (
            {
                "Cache_Control": "max-age=60",
                "Date": "Mon, 02 Mar 2026 12:00:00 GMT",
                "Expires": "Mon, 02 Mar 2026 13:00:00 GMT",
            },
            NOW + 60,  # max-age wins over Expires
        ),
    ],
)
def test_fresh_until_follows_rfc_9111(given, until):
    assert fresh_until(headers(**given), NOW) == until


def test_cache_control_headers_sent_twice_are_one_list():
    twice = CIMultiDict([("Cache-Control", "public"), ("Cache-Control", "max-age=30")])
    assert fresh_until(twice, NOW) == NOW + 30
    assert cache_directives(' Max-Age = 5 ,public,, x="a b"') == {
        "max-age": "5",
        "public": None,
        "x": "a b",
    }


# --- the fetch layer ------------------------------------------------------------------------


def stored_robots(text: str, age: float, status: int = 200) -> StoredRobots:
    return StoredRobots(status, zlib.compress(text.encode()), iso(NOW - age))


async def test_a_robots_txt_read_less_than_a_day_ago_is_not_asked_again(server):
    server.on("/yes", Answer(body={}))
    async with server.fetcher(now=lambda: NOW) as fetcher:
        fetcher.stored_robots = {"a.test": stored_robots("User-agent: *\nDisallow: /no\n", 3600)}
        rules, answer = await fetcher.robots("a.test")
        allowed = await fetcher.request("a.test", "/yes")
        refused = await fetcher.request("a.test", "/no")
        assert fetcher.requests_made("a.test") == 1
    assert answer.reused and answer.requests == 0 and answer.status == 200
    assert rules.allows("/yes") and not rules.allows("/no")
    assert allowed.ok and refused.error == errors.ROBOTS_DISALLOWED
    assert server.paths() == ["/yes"]


@pytest.mark.parametrize(
    "stored",
    [
        stored_robots("User-agent: *\nDisallow: /\n", 24 * 3600 + 1),  # older than a day
        stored_robots("User-agent: *\nDisallow: /\n", -60),  # from the future: clocks disagree
    ],
)
async def test_a_robots_txt_a_day_old_or_from_the_future_is_asked_again(server, stored):
    server.on("/yes", Answer(body={}))
    async with server.fetcher(now=lambda: NOW) as fetcher:
        fetcher.stored_robots = {"a.test": stored}
        response = await fetcher.request("a.test", "/yes")
    assert response.ok  # the stored file (Disallow: /) was not used: robots.txt is a 404 now
    assert server.paths() == [ROBOTS, "/yes"]


async def test_a_stored_4xx_robots_txt_allows_everything_without_asking(server):
    server.on("/anything", Answer(body={}))
    async with server.fetcher(now=lambda: NOW) as fetcher:
        fetcher.stored_robots = {"a.test": StoredRobots(404, None, iso(NOW - 60))}
        response = await fetcher.request("a.test", "/anything")
    assert response.ok and server.paths() == ["/anything"]


async def test_a_stored_crawl_delay_paces_every_request_after_the_first(server, clock):
    async with server.fetcher(now=lambda: NOW, min_gap=1.0, burst=3) as fetcher:
        fetcher.stored_robots = {"a.test": stored_robots("User-agent: *\nCrawl-delay: 3\n", 60)}
        for n in range(3):
            await fetcher.request("a.test", f"/{n}")
    # No robots.txt request to wait after: the first request goes at once, no burst follows.
    assert clock.waits == [3.0, 3.0]
    assert server.paths() == ["/0", "/1", "/2"]


LIST = "/list"
TAG = '"v1"'


async def test_an_answer_still_fresh_is_reused_and_a_stale_one_asked_again(server):
    now = [NOW]
    server.on(
        LIST,
        Answer(body=["b.test"], headers={"ETag": TAG, "Cache-Control": "max-age=600, public"}),
    )
    async with server.fetcher(now=lambda: now[0]) as fetcher:
        first = await fetcher.request("a.test", LIST, conditional=True)
        fetcher.validators = {"a.test": {LIST: (TAG, None)}}
        fetcher.fresh = {"a.test": {LIST: first.fresh_until}}
        now[0] = NOW + 599
        reused = await fetcher.request("a.test", LIST, conditional=True)
        plain = await fetcher.request("a.test", LIST)  # not a conditional read: always asked
        now[0] = NOW + 600
        stale = await fetcher.request("a.test", LIST, conditional=True)
    assert first.ok and first.fresh_until == NOW + 600
    assert reused.reused and reused.not_modified and reused.requests == 0
    assert reused.validator == (TAG, None) and reused.fresh_until == NOW + 600
    assert plain.ok and not plain.reused
    assert stale.ok and not stale.reused and stale.fresh_until == NOW + 1200
    lists = [seen for seen in server.log if seen.path == LIST]
    assert len(lists) == 3  # first, plain, stale: the reused one was never sent
    assert lists[-1].headers.get("If-None-Match") == TAG


async def test_a_304_renews_freshness_and_post_answers_have_none(server):
    server.on(LIST, lambda request: Answer(status=304, headers={"Cache-Control": "max-age=60"}))
    server.on("/api", Answer(body={}, headers={"Cache-Control": "max-age=60"}))
    async with server.fetcher(now=lambda: NOW) as fetcher:
        fetcher.validators = {"a.test": {LIST: (TAG, None)}}
        confirmed = await fetcher.request("a.test", LIST, conditional=True)
        posted = await fetcher.request("a.test", "/api", method="POST", json_body={})
    assert confirmed.not_modified and not confirmed.reused and confirmed.fresh_until == NOW + 60
    assert posted.ok and posted.fresh_until is None


# --- the store ------------------------------------------------------------------------------


def test_the_store_keeps_freshness_and_the_latest_usable_robots_txt(tmp_path):
    writer = StoreWriter(str(tmp_path / "f.db"), SANDBOX)
    try:
        db = writer.connection
        db.executemany(
            "INSERT INTO http_validators (domain, path, etag, last_modified, crawl_id, "
            "fresh_until) VALUES (?, ?, ?, ?, 1, ?)",
            [
                ("a.test", "/peers", TAG, None, NOW + 10),
                ("a.test", "/blocks", TAG, None, NOW - 10),
                ("b.test", "/peers", None, None, NOW + 20),  # fresh, but nothing to send back
            ],
        )
        body = zlib.compress(b"User-agent: *\n")
        db.execute("INSERT INTO document_bodies VALUES ('h', 'zlib', ?)", (body,))
        log = [
            # domain, status, sha, fetched at: the latest answer of each host decides
            ("a.test", 200, "h", NOW - 7200),
            ("a.test", 200, "h", NOW - 60),
            ("b.test", 200, "h", NOW - 600),
            ("b.test", 503, None, NOW - 60),  # unavailable now: asked again, not the 200
            ("c.test", 404, None, NOW - 60),
            ("d.test", 200, "h", NOW - 25 * 3600),  # older than a day
            ("e.test", 429, None, NOW - 60),
            ("f.test", 301, None, NOW - 60),
        ]
        db.executemany(
            "INSERT INTO document_log (domain, url, method, status, body_sha256, fetched_at, "
            "crawl_id) VALUES (?1, 'https://' || ?1 || '/robots.txt', 'GET', ?2, ?3, ?4, 1)",
            [(domain, status, sha, iso(at)) for domain, status, sha, at in log],
        )
        assert writer.load_fresh(NOW) == {
            "a.test": {"/peers": NOW + 10},
            "b.test": {"/peers": NOW + 20},
        }
        assert writer.load_validators() == {
            "a.test": {"/peers": (TAG, None), "/blocks": (TAG, None)}
        }
        robots = writer.load_robots(NOW)
    finally:
        writer.close()
    assert sorted(robots) == ["a.test", "c.test"]
    assert robots["a.test"] == StoredRobots(200, body, iso(NOW - 60))
    assert robots["a.test"].body == b"User-agent: *\n" and robots["c.test"].body is None


# --- a whole crawl on the sandbox ---------------------------------------------------------


WORLD = SandboxConfig(instances=150, seed=11, farm_size=0, pace=QUICK_PACE, hang_seconds=1.0)


def asked(sandbox: Sandbox, before: dict[str, int], path: str | None = None) -> set[str]:
    """Hosts asked for `path` (anything, when None) since `before` (their log lengths then)."""
    return {
        host
        for host, entries in sandbox.stats.log.items()
        if any(path in (None, e.path_qs) for e in list(entries)[before.get(host, 0) :])
    }


def marks(sandbox: Sandbox) -> dict[str, int]:
    return {host: len(entries) for host, entries in sandbox.stats.log.items()}


def stored(db) -> dict[str, list[tuple]]:
    connection = sqlite3.connect(db)
    try:
        return {
            "instances": connection.execute(
                "SELECT domain, status, software, version, users_total, nodeinfo_url, "
                "quality_flags, peers_visibility, blocks_visibility FROM instances "
                "ORDER BY domain"
            ).fetchall(),
            "peers": connection.execute(
                "SELECT source_id, target_id FROM peer_intervals WHERE removed_crawl IS NULL "
                "ORDER BY 1, 2"
            ).fetchall(),
            "blocks": connection.execute(
                "SELECT blocker, blocked_pattern, severity FROM blocks WHERE active "
                "ORDER BY 1, 2, 3"
            ).fetchall(),
        }
    finally:
        connection.close()


async def test_a_second_crawl_reuses_what_it_may_and_stores_the_same_data(tmp_path):
    db = tmp_path / "reuse.db"
    sandbox = Sandbox(WORLD)
    port = await sandbox.start()
    start = datetime.now(UTC)

    async def crawl(after: timedelta = timedelta(0), **options):
        moment = start + after
        return await crawl_via(
            port,
            db,
            sandbox.seeds,
            recrawl_after=timedelta(0),
            clock=lambda: datetime.now(UTC) - start + moment,
            **options,
        )

    try:
        await crawl()
        first = stored(db)
        robots_ok = {
            r["domain"]
            for r in rows(
                db,
                "SELECT domain FROM document_log WHERE url LIKE '%/robots.txt' AND "
                "(status BETWEEN 200 AND 299 OR status BETWEEN 400 AND 499) AND status != 429",
            )
        }
        fresh_lists = {
            (r["domain"], r["path"])
            for r in rows(db, "SELECT domain, path FROM http_validators WHERE fresh_until > 0")
        }
        peers = "/api/v1/instance/peers"
        assert len(robots_ok) >= 60 and len({d for d, p in fresh_lists if p == peers}) >= 10

        # NodeInfo found by plain discovery is read where it was, without the discovery
        # document, except by the servers whose turn it is to discover in full (crawl 2 of 7).
        plain = {
            r["domain"]
            for r in rows(
                db,
                "SELECT domain, quality_flags FROM instances WHERE status = 'alive' "
                "AND nodeinfo_url LIKE 'https://' || domain || '/%'",
            )
            if not {"nodeinfo_href_http", "nodeinfo_without_discovery", "nodeinfo2"}
            & set((r["quality_flags"] or "").split(","))
        }
        rediscover = {d for d in plain if zlib.crc32(d.encode()) % 7 == 2}
        assert len(plain - rediscover) >= 50 and rediscover

        before = marks(sandbox)
        summary = await crawl()
        discovered = asked(sandbox, before, "/.well-known/nodeinfo")
        assert discovered & plain == rediscover
        assert not asked(sandbox, before, ROBOTS) & robots_ok
        assert not asked(sandbox, before, peers) & {d for d, p in fresh_lists if p == peers}
        assert stored(db) == first
        crawl_row = rows(db, "SELECT * FROM crawls WHERE id = 2")[0]
        assert summary.reused == crawl_row["reused"] > len(fresh_lists)
        assert crawl_row["peer_edges_added"] == crawl_row["peer_edges_removed"] == 0

        before = marks(sandbox)
        summary = await crawl(revalidate=True)
        assert asked(sandbox, before, ROBOTS) == asked(sandbox, before) and summary.reused == 0
        assert asked(sandbox, before, "/.well-known/nodeinfo") >= plain
        assert stored(db) == first

        before = marks(sandbox)
        summary = await crawl(timedelta(days=1, minutes=10))
        assert asked(sandbox, before, ROBOTS) == asked(sandbox, before) and summary.reused == 0
        assert asked(sandbox, before, peers) >= {d for d, p in fresh_lists if p == peers}
        assert stored(db) == first
    finally:
        await sandbox.stop()
