"""Discovery first: a visit reads the peer list as soon as the server is identified.

The instance document is read before the peers only when it is needed for the opt-out check
(NodeInfo gave no description); Misskey's walk hands each page to the frontier as it is read.
Hand-written servers on loopback; the order of the requests they receive is the truth.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from crawler.domains import SANDBOX
from crawler.fetch import Fetcher, FetchSettings
from crawler.visit import visit_domain
from tests.support import nodeinfo_answer, serve

UA = "fediscope-test (+tests)"
PEERS = ["a.test", "b.test", "c.test"]


def server(software: str, description: str | None, log: list[str]) -> Any:
    """A small server of `software` whose NodeInfo carries `description` (or none)."""
    metadata = {"nodeDescription": description} if description is not None else {}
    misskey_hosts = [f"m{n}.test" for n in range(250)]

    async def answer(request: web.Request) -> web.Response:
        log.append(request.path)
        if request.path == "/robots.txt":
            return web.Response(text="User-agent: *\nAllow: /\n")
        nodeinfo = nodeinfo_answer(request, software, 10, **metadata)
        if nodeinfo is not None:
            return nodeinfo
        if request.path == "/api/v1/instance/peers":
            return web.json_response(PEERS)
        if request.path == "/api/v2/instance":
            return web.json_response({"title": "x", "description": description or "A server."})
        if request.path == "/api/federation/instances":
            query = orjson.loads(await request.read())
            if query.get("blocked") or query.get("suspended"):
                return web.json_response([])
            offset, limit = query["offset"], query["limit"]
            page = misskey_hosts[offset : offset + limit]
            return web.json_response([{"host": name} for name in page])
        if request.path == "/api/meta":
            return web.json_response({"name": "x", "description": description or "A server."})
        return web.json_response([])

    return answer


async def visit(software: str, description: str | None) -> tuple[list[str], list[list[str]]]:
    """(paths in the order the server got them, the batches of discovered peers)."""
    log: list[str] = []
    batches: list[list[str]] = []

    def discovered(names: list[str], how: str) -> None:
        if how == "peer":
            batches.append(names)

    async with serve(server(software, description, log)) as port:
        settings = FetchSettings(
            user_agent=UA,
            via=f"127.0.0.1:{port}",
            min_gap=0.0,
            total_timeout=5.0,
            domain_policy=SANDBOX,
        )
        async with Fetcher(settings) as fetcher:
            observation = await visit_domain(fetcher, "s.test", SANDBOX, discovered)
    assert observation.status in ("alive", "opted_out")
    return log, batches


async def test_mastodon_reads_peers_right_after_nodeinfo_when_it_has_the_description():
    log, batches = await visit("mastodon", "A friendly server.")
    assert log[:5] == [
        "/robots.txt",
        "/.well-known/nodeinfo",
        "/ni",
        "/api/v1/instance/peers",
        "/api/v2/instance",
    ]
    assert log.index("/api/v1/instance/domain_blocks") > log.index("/api/v1/instance/peers")
    assert log[-1] == "/api/v1/instance/activity"
    assert batches == [PEERS]


async def test_mastodon_without_a_nodeinfo_description_checks_the_instance_first():
    log, batches = await visit("mastodon", None)
    assert log.index("/api/v2/instance") < log.index("/api/v1/instance/peers")
    assert batches == [PEERS]


async def test_an_opt_out_in_nodeinfo_reads_no_peers():
    log, batches = await visit("mastodon", "Please no #nobot")
    assert "/api/v1/instance/peers" not in log and batches == []


async def test_misskey_hands_each_page_to_the_frontier_before_meta():
    log, batches = await visit("misskey", "A friendly server.")
    # 250 hosts: pages of 100, 100 and 50, each discovered on its own
    assert [len(batch) for batch in batches] == [100, 100, 50]
    assert log.index("/api/meta") > log.index("/api/federation/instances")
    assert [name for batch in batches for name in batch] == [f"m{n}.test" for n in range(250)]
