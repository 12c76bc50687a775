"""A re-crawl reads NodeInfo where the server's discovery document pointed last time.

Hand-written servers on loopback (the paths they receive are the truth): a visit given the
stored path asks no `/.well-known/nodeinfo` and records what discovery would have; a stored
path that no longer gives NodeInfo falls back to the full discovery. The store's choice of
domains is pinned on hand-built rows.
"""

from __future__ import annotations

import zlib
from typing import Any

from aiohttp import web

from crawler.domains import SANDBOX
from crawler.fetch import Fetcher, FetchSettings
from crawler.observation import Observation, Recalled
from crawler.store.writer import StoreWriter
from crawler.visit import visit_domain
from tests.support import nodeinfo_answer, serve

PEERS = ["a.test", "b.test"]


def server(log: list[str], old_path: Any = None) -> Any:
    """A Mastodon server whose NodeInfo is at /ni; `old_path` answers (path, response)."""

    async def answer(request: web.Request) -> web.Response:
        log.append(request.path)
        if request.path == "/robots.txt":
            return web.Response(text="User-agent: *\nAllow: /\n")
        if old_path is not None and request.path == old_path[0]:
            return old_path[1]
        nodeinfo = nodeinfo_answer(request, "mastodon", 42, nodeDescription="A server.")
        if nodeinfo is not None:
            return nodeinfo
        if request.path == "/api/v1/instance/peers":
            return web.json_response(PEERS)
        return web.json_response({"title": "x"}, status=200 if "instance" in request.path else 404)

    return answer


async def visit(nodeinfo_path: str | None, old_path: Any = None) -> tuple[list[str], Observation]:
    log: list[str] = []
    async with serve(server(log, old_path)) as port:
        settings = FetchSettings(
            user_agent="fediscope-test (+tests)",
            via=f"127.0.0.1:{port}",
            min_gap=0.0,
            total_timeout=5.0,
            domain_policy=SANDBOX,
        )
        async with Fetcher(settings) as fetcher:
            recalled = Recalled(nodeinfo_path=nodeinfo_path)
            observation = await visit_domain(fetcher, "s.test", SANDBOX, recalled=recalled)
    return log, observation


def nodeinfo_facts(observation: Observation) -> tuple:
    return (
        observation.status,
        observation.software,
        observation.counts.get("users_total"),
        observation.nodeinfo_url,
        sorted(observation.quality_flags),
        observation.peers,
    )


async def test_a_stored_nodeinfo_path_is_read_without_the_discovery_document():
    discovered_log, discovered = await visit(None)
    known_log, known = await visit("/ni")
    assert discovered_log[:3] == ["/robots.txt", "/.well-known/nodeinfo", "/ni"]
    assert known_log[:3] == ["/robots.txt", "/ni", "/api/v1/instance/peers"]
    assert "/.well-known/nodeinfo" not in known_log
    assert nodeinfo_facts(known) == nodeinfo_facts(discovered)
    assert nodeinfo_facts(known)[:4] == ("alive", "mastodon", 42, "https://s.test/ni")


async def test_a_stored_path_that_no_longer_gives_nodeinfo_falls_back_to_discovery():
    _, discovered = await visit(None)
    for response in (
        web.Response(status=404, text="gone elsewhere"),
        web.json_response({"links": []}),  # JSON, but not NodeInfo
        web.Response(text="<html>a new site</html>", content_type="text/html"),
    ):
        log, observation = await visit("/nodeinfo/2.0", ("/nodeinfo/2.0", response))
        assert log[:4] == ["/robots.txt", "/nodeinfo/2.0", "/.well-known/nodeinfo", "/ni"]
        assert nodeinfo_facts(observation) == nodeinfo_facts(discovered)


def test_the_store_offers_plain_discoveries_and_spreads_the_full_ones(tmp_path):
    writer = StoreWriter(str(tmp_path / "n.db"), SANDBOX)
    try:
        rows = [
            ("plain.test", "alive", "https://plain.test/nodeinfo/2.0", None),
            ("flagged.test", "alive", "https://flagged.test/ni", "count_from_string"),
            ("other.test", "alive", "https://nodeinfo.host.test/ni", "nodeinfo_on_other_host"),
            ("http.test", "alive", "https://http.test/ni", "nodeinfo_href_http"),
            (
                "fixed.test",
                "alive",
                "https://fixed.test/nodeinfo/2.0",
                "nodeinfo_without_discovery",
            ),
            ("two.test", "alive", "https://two.test/.well-known/x-nodeinfo2", "nodeinfo2"),
            ("down.test", "unreachable", "https://down.test/ni", None),
            ("none.test", "alive", None, None),
        ]
        writer.connection.executemany(
            "INSERT INTO instances (domain, status, nodeinfo_url, quality_flags) "
            "VALUES (?, ?, ?, ?)",
            rows,
        )
        every_crawl = writer.load_nodeinfo_paths(crawl_id=5, full_every=1)
        spread = {crawl: writer.load_nodeinfo_paths(crawl, full_every=7) for crawl in range(7)}
    finally:
        writer.close()
    assert every_crawl == {}  # --full-every 1: every visit discovers
    offered = {"plain.test": "/nodeinfo/2.0", "flagged.test": "/ni"}
    # Each domain discovers in full once in every 7 crawls, in the crawl its name picks.
    for domain, path in offered.items():
        due = zlib.crc32(domain.encode()) % 7
        assert [domain in spread[crawl] for crawl in range(7)] == [c != due for c in range(7)]
        assert all(spread[crawl][domain] == path for crawl in range(7) if crawl != due)
    assert set().union(*spread.values()) == set(offered)
