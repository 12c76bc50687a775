"""A crawl says which of its seeds could not be crawled, and why; other domains that fail
(a seed's unreachable peer) are not reported as seeds."""

from __future__ import annotations

from aiohttp import web

from crawler.fetch import errors
from tests.support import crawl_via, nodeinfo_answer, serve

SEEDS = ["up.test", "down.test", "refusing.test"]


async def answer(request: web.Request) -> web.StreamResponse:
    host = request.headers["Host"]
    if host in ("down.test", "peer-down.test"):
        assert request.transport is not None
        request.transport.close()  # no answer at all: a network failure
        return web.Response()
    if host == "refusing.test" and request.path == "/robots.txt":
        return web.Response(status=500)  # robots.txt unavailable: nothing may be crawled
    if request.path == "/robots.txt":
        return web.Response(text="User-agent: *\nAllow: /\n")
    if request.path == "/api/v1/instance/peers":
        return web.json_response(["peer-down.test"])
    known = nodeinfo_answer(request, "mastodon", 5)
    return known if known is not None else web.json_response({}, status=404)


async def test_only_the_seeds_that_failed_are_reported_with_their_reason(tmp_path):
    async with serve(answer) as port:
        summary = await crawl_via(port, tmp_path / "crawl.db", SEEDS)
    assert summary.statuses["unreachable"] == 3  # two seeds and the seed's peer
    assert set(summary.seed_failures) == {"down.test", "refusing.test"}
    assert summary.seed_failures["down.test"].startswith(f"{errors.CONNECT}: ")
    assert summary.seed_failures["refusing.test"].startswith(errors.ROBOTS_UNAVAILABLE)
