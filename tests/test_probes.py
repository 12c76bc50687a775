"""Issue 12: servers whose NodeInfo names no software, or that have none, are identified from
the platform APIs they answer, and every server reachable only through them is found.

The sandbox (crawler/sandbox/probes.py) gives those roles per family and lists two private
servers behind each such anchor; its truth says what a correct crawl stores. The expected
request sequences here are written from the documented probe order, not from the crawler.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from crawler.adapters.probe import (
    family_from_about,
    family_from_instance,
    family_from_meta,
    family_from_site,
)
from crawler.domains import SANDBOX, DomainPolicy
from crawler.fetch import Fetcher, FetchSettings
from crawler.sandbox import Sandbox, SandboxConfig
from crawler.sandbox.probes import nameless_variant, probed, without_nodeinfo
from crawler.visit import visit_domain
from tests.support import FAST, QUICK_PACE, crawl_via, instance, peers_of, rows, serve

pytestmark = pytest.mark.asyncio(loop_scope="module")

UA = "fediscope-test (+tests)"
#: The documented probe order (crawler/adapters/probe.py docstring, README).
PROBE_PATHS = ["/api/v1/instance", "/api/v3/site", "/api/meta", "/api/v1/config/about"]
#: Which probe identifies each family the sandbox serves.
IDENTIFIED_BY = {
    "mastodon": 0,
    "pleroma": 0,  # "(compatible; Pleroma|Akkoma|Rebased ...)"
    "gotosocial": 0,  # its own version form and `account_domain`
    "pixelfed": 0,  # "(compatible; Pixelfed ...)"
    "lemmy": 1,
    "misskey": 2,
    "peertube": 3,
}
#: The adapter's own first request: the identifying answer is reused, never asked twice.
REUSED = {
    "mastodon": "/api/v1/instance",
    "pleroma": "/api/v1/instance",  # its declared languages
    "gotosocial": "/api/v1/instance",  # its declared languages
    "pixelfed": "/api/v1/instance",
    "lemmy": "/api/v3/site",
    "misskey": "/api/meta",
    "peertube": "/api/v1/config/about",
}
#: A list endpoint of each family: the adapter ran after identification.
LIST_ENDPOINT = {
    "mastodon": "/api/v1/instance/peers",
    "pleroma": "/api/v1/instance/peers",
    "pixelfed": "/api/v1/instance/peers",
    "gotosocial": "/api/v1/instance/peers?filter=open,suspended",
    "lemmy": "/api/v3/federated_instances",
    "misskey": "/api/federation/instances",
    "peertube": "/api/v1/server/followers?start=0&count=100",
}
NODEINFO_MISSING = [
    "/robots.txt",
    "/.well-known/nodeinfo",
    "/nodeinfo/2.1",
    "/nodeinfo/2.0",
    "/nodeinfo/2.1.json",
    "/nodeinfo/2.0.json",
    "/.well-known/x-nodeinfo2",
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sandbox():
    box = Sandbox(SandboxConfig(seed=5, pace=QUICK_PACE))
    await box.start()
    try:
        yield box
    finally:
        await box.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def crawled(sandbox, tmp_path_factory):
    db = tmp_path_factory.mktemp("probes") / "crawl.db"
    summary = await crawl_via(sandbox.port, db, sandbox.seeds)
    return sandbox.truth(), db, summary


def specials(box: Sandbox) -> list[Any]:
    return [h for h in box.world.hosts if nameless_variant(h) or without_nodeinfo(h)]


def settings(port: int, **overrides: Any) -> FetchSettings:
    values = {"user_agent": UA, "via": f"127.0.0.1:{port}", "min_gap": 0.0, **FAST,
              "domain_policy": SANDBOX, **overrides}  # fmt: skip
    return FetchSettings(**values)


async def visit_alone(port: int, domain: str, policy: DomainPolicy = SANDBOX) -> Any:
    async with Fetcher(settings(port, domain_policy=policy)) as fetcher:
        return await visit_domain(fetcher, domain, policy)


async def test_the_sandbox_has_every_role_and_private_servers_only_their_anchor_lists():
    box = Sandbox(SandboxConfig(seed=5))
    world, truth = box.world, box.truth()
    roles = specials(box)
    nameless = {h.family for h in roles if nameless_variant(h) and probed(h)}
    missing = {h.family for h in roles if "nodeinfo_none" in h.quirks}
    assert nameless == missing == set(IDENTIFIED_BY)
    variants = {nameless_variant(h) for h in roles if probed(h)} - {None}
    assert variants == {"null", "missing", "empty", "number", "unknown", "blank", "no_software"}
    assert {"nodeinfo2_only", "nameless_html"} <= {q for h in roles for q in h.quirks}
    assert any(h.failure == "spa_html" for h in roles)
    # Independent of the crawler: from the truth alone, each private server is linked by its
    # anchor and by no other host.
    for anchor, private in world.private_of.items():
        anchor_domain = world.hosts[anchor].domain
        for i in private:
            domain = world.hosts[i].domain
            linked_by = {
                d
                for d, e in truth["instances"].items()
                if domain in e["peers"] or domain in {b["blocked"] for b in e["blocks"]}
            }
            assert linked_by == {anchor_domain}, domain
            assert truth["instances"][domain]["hops"] == 2


async def test_request_sequence_per_family_stops_at_the_first_answer(sandbox):
    checked = set()
    for h in specials(sandbox):
        if not probed(h):
            continue
        obs = await visit_alone(sandbox.port, h.domain)
        made = [e.path_qs for e in sandbox.stats.log[h.domain]]
        if "nodeinfo_none" in h.quirks:
            prefix = NODEINFO_MISSING
        else:
            prefix = made[:3]
            assert prefix[:2] == ["/robots.txt", "/.well-known/nodeinfo"]
            assert prefix[2].startswith("/nodeinfo/") or "/nodeinfo/" in prefix[2]
        k = IDENTIFIED_BY[h.family]
        probes = PROBE_PATHS[: k + 1]
        assert made[: len(prefix)] == prefix, h.domain
        assert made[len(prefix) : len(prefix) + len(probes)] == probes, (h.domain, made)
        rest = made[len(prefix) + len(probes) :]
        if h.family in REUSED:
            assert REUSED[h.family] not in rest, (h.domain, rest)  # reused, not asked again
        if h.family == "mastodon":
            assert "/api/v2/instance" not in rest
        assert LIST_ENDPOINT[h.family] in rest, (h.domain, rest)
        # Extra requests: the probes whose answer the adapter did not reuse (at most three),
        # plus NodeInfo2 when there is no NodeInfo; the crawler's counter agrees with the log.
        extra = len(probes) - (h.family in REUSED)
        assert extra <= 3
        assert obs.probe_requests == extra + ("nodeinfo_none" in h.quirks), h.domain
        assert (obs.status, obs.family, obs.software) == ("alive", h.family, None), h.domain
        assert "family_from_probe" in obs.quality_flags
        checked.add(h.family)
        sandbox.stats.log.pop(h.domain)
    assert checked == set(IDENTIFIED_BY)


async def test_hosts_answering_html_to_every_probe(sandbox):
    spa = next(h for h in specials(sandbox) if h.failure == "spa_html")
    obs = await visit_alone(sandbox.port, spa.domain)
    assert (obs.status, obs.error_kind) == ("invalid", "no_nodeinfo")
    assert [e.path_qs for e in sandbox.stats.log[spa.domain]] == NODEINFO_MISSING + PROBE_PATHS
    html = next(h for h in specials(sandbox) if "nameless_html" in h.quirks)
    obs = await visit_alone(sandbox.port, html.domain)
    assert (obs.status, obs.family, obs.software) == ("alive", None, None)
    assert (obs.peers_visibility, obs.blocks_visibility) == ("unsupported", "unsupported")
    assert [e.path_qs for e in sandbox.stats.log[html.domain]][3:] == PROBE_PATHS


async def test_every_server_behind_a_nameless_or_nodeinfo_less_one_is_found(sandbox, crawled):
    truth, db, summary = crawled
    assert summary.errors == 0
    world = sandbox.world
    for anchor, private in world.private_of.items():
        a = world.hosts[anchor]
        want = truth["instances"][a.domain]
        row = instance(db, a.domain)
        assert (row["status"], row["family"], row["software"]) == (
            "alive",
            want["family"],
            want["software"],
        ), a.domain
        assert peers_of(db, a.domain) == set(want["peers"]), a.domain
        active = rows(db, "SELECT * FROM blocks WHERE blocker = ? AND active = 1", a.domain)
        blocks = {r["blocked_pattern"] for r in active}
        assert blocks == {b["pattern"] for b in want["blocks"]}, a.domain
        for i in private:
            p = world.hosts[i]
            t = truth["instances"][p.domain]
            got = instance(db, p.domain)
            assert got["status"] == t["expected_status"] == "alive", p.domain
            assert got["family"] == t["family"]
            assert peers_of(db, p.domain) == set(t["peers"]), p.domain
            assert got["peers_visibility"] == t["peers_visibility"]
            assert got["blocks_visibility"] == t["blocks_visibility"]
    nodeinfo2 = [h for h in specials(sandbox) if "nodeinfo2_only" in h.quirks]
    assert {h.family for h in nodeinfo2} == {"friendica", "diaspora"}
    for h in nodeinfo2:
        row = instance(db, h.domain)
        assert (row["status"], row["software"], row["family"]) == ("alive", h.family, h.family)
        assert row["nodeinfo_url"] == f"https://{h.domain}/.well-known/x-nodeinfo2"
        assert row["users_total"] == truth["instances"][h.domain]["users_total"] is not None


async def test_probe_answers_are_kept_as_documents_and_counted_per_crawl(sandbox, crawled):
    _truth, db, _summary = crawled
    lemmy = next(h for h in specials(sandbox) if probed(h) and h.family == "lemmy")
    logged = rows(db, "SELECT url FROM document_log WHERE domain = ?", lemmy.domain)
    urls = {r["url"] for r in logged}
    assert {f"https://{lemmy.domain}{p}" for p in PROBE_PATHS[:2]} <= urls
    (crawl,) = rows(db, "SELECT requests, probe_requests FROM crawls")
    assert 0 < crawl["probe_requests"] < crawl["requests"]


# -- hand-made hosts: robots rules and hostile probe answers -----------------------------------

NAMELESS_NODEINFO = {"version": "2.0", "software": {"name": None, "version": "1.0"},
                     "usage": {"users": {"total": 5}}, "openRegistrations": False}  # fmt: skip
LEMMY_SITE = {"site_view": {"site": {"name": "Forum", "description": "A forum"},
                            "counts": {"users": 5}}}  # fmt: skip
LEMMY_FEDERATED = {
    "federated_instances": {
        "linked": [{"domain": "peer-one.test"}],
        "allowed": [],
        "blocked": [{"domain": "bad.test"}],
    }
}


def lemmy_host(robots: str, first_probe: Any = None) -> Any:
    """A nameless Lemmy; `first_probe` replaces the answer to /api/v1/instance."""

    async def answer(request: web.Request) -> web.StreamResponse:
        path = request.path
        if path == "/robots.txt":
            return web.Response(text=robots)
        if path == "/.well-known/nodeinfo":
            href = f"https://{request.host}/nodeinfo/2.0"
            rel = "http://nodeinfo.diaspora.software/ns/schema/2.0"
            return web.json_response({"links": [{"rel": rel, "href": href}]})
        if path == "/nodeinfo/2.0":
            return web.json_response(NAMELESS_NODEINFO)
        if path == "/api/v1/instance" and first_probe is not None:
            return first_probe()
        if path == "/api/v3/site":
            return web.json_response(LEMMY_SITE)
        if path == "/api/v3/federated_instances":
            return web.json_response(LEMMY_FEDERATED)
        return web.Response(status=404)

    return answer


async def test_a_probe_disallowed_by_robots_is_never_requested():
    seen: list[str] = []
    inner = lemmy_host("User-agent: *\nDisallow: /api/v1/\n")

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(request.path_qs)
        return await inner(request)

    async with serve(handler) as port:
        obs = await visit_alone(port, "forum.test")
    assert seen[3:] == ["/api/v3/site", "/api/v3/federated_instances"]
    assert (obs.family, obs.software, obs.peers) == ("lemmy", None, ["peer-one.test"])
    assert obs.probe_requests == 0  # the disallowed probe cost nothing, the answer was reused
    assert [r.blocked for r in obs.blocks or []] == ["bad.test"]


def _deep() -> web.Response:
    return web.Response(body=b"[" * 100_000 + b"]" * 100_000, content_type="application/json")


HOSTILE_FIRST_PROBES = {
    "html": lambda: web.Response(text="<html>hi</html>", content_type="text/html"),
    "truncated": lambda: web.Response(
        body=b'{"uri": "x", "version": "4.', content_type="application/json"
    ),
    "deep_nesting": _deep,
    "oversized": lambda: web.Response(
        body=b'{"a": "' + b"x" * 300_000 + b'"}', content_type="application/json"
    ),
    "wrong_shape": lambda: web.json_response({"uri": ["x"], "version": {"v": 4}}),
    "redirect_away": lambda: web.Response(status=302, headers={"Location": "https://10.0.0.1/"}),
}


@pytest.mark.parametrize("kind", sorted(HOSTILE_FIRST_PROBES))
async def test_a_hostile_probe_answer_costs_that_host_only(tmp_path, kind):
    hostile = lemmy_host("", HOSTILE_FIRST_PROBES[kind])

    async def calm(request: web.Request) -> web.StreamResponse:
        if request.path == "/.well-known/nodeinfo":
            rel = "http://nodeinfo.diaspora.software/ns/schema/2.0"
            href = f"https://{request.host}/nodeinfo/2.0"
            return web.json_response({"links": [{"rel": rel, "href": href}]})
        if request.path == "/nodeinfo/2.0":
            return web.json_response({**NAMELESS_NODEINFO, "software": {"name": "mastodon"}})
        return web.Response(status=404)

    async def handler(request: web.Request) -> web.StreamResponse:
        host = request.host.split(":")[0]
        return await (hostile if host == "forum.test" else calm)(request)

    db = tmp_path / "hostile.db"
    async with serve(handler) as port:
        summary = await crawl_via(port, db, ["forum.test", "calm.test"], max_body=200_000)
    assert summary.errors == 0
    forum = instance(db, "forum.test")
    assert (forum["status"], forum["family"], forum["software"]) == ("alive", "lemmy", None)
    assert peers_of(db, "forum.test") == {"peer-one.test"}
    assert (instance(db, "calm.test")["status"], instance(db, "calm.test")["family"]) == (
        "alive",
        "mastodon",
    )


async def test_a_probe_that_times_out_stops_the_probing():
    seen: list[str] = []

    async def slow() -> web.Response:
        await asyncio.sleep(10)
        return web.json_response({})

    inner = lemmy_host("")

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(request.path)
        if request.path == "/api/v1/instance":
            return await slow()
        return await inner(request)

    async with serve(handler) as port:
        obs = await visit_alone(port, "forum.test")
    assert "/api/v3/site" not in seen  # no more knocking on a host that stopped answering
    assert (obs.status, obs.family) == ("alive", None)
    assert (obs.peers_visibility, obs.blocks_visibility) == ("error", "error")


# -- the pure identification rules, on answer shapes real servers send -----


@pytest.mark.parametrize(
    ("answer", "family"),
    [
        pytest.param(
            {"uri": "a.test", "title": "A", "version": "3.5.3"}, "mastodon", id="mastodon"
        ),
        pytest.param({"domain": "a.test", "version": "4.3.0+glitch"}, "mastodon", id="glitch_v2"),
        pytest.param(
            {"uri": "https://a.test", "version": "2.7.2 (compatible; Akkoma 3.0.0)"},
            "pleroma",
            id="akkoma",
        ),
        pytest.param(
            {"uri": "https://a.test", "version": "2.3.3 (compatible; Pleroma 0.9.0 ffa552f1)"},
            "pleroma",
            id="old_pleroma",
        ),
        pytest.param(
            {"uri": "a.test", "version": "2.8.0 (compatible; Friendica 2024.08)"},
            "friendica",
            id="friendica",
        ),
        pytest.param(
            {"uri": "a.test", "version": "3.5.3 (compatible; Pixelfed 0.12.4)"},
            "pixelfed",
            id="pixelfed",
        ),
        pytest.param(
            {"uri": "a.test", "version": "4.2.1 (compatible; Iceshrimp.NET/2024.1)"},
            "misskey",
            id="iceshrimp_net",
        ),
        pytest.param(
            {"uri": "a.test", "version": "0.19.1+git-8e1f2a7"}, "gotosocial", id="gts_version"
        ),
        pytest.param(
            {"uri": "a.test", "account_domain": "a.test", "version": "0.0.0-testrig"},
            "gotosocial",
            id="gts_account_domain",
        ),
        pytest.param({"uri": "a.test", "version": 4}, None, id="version_not_text"),
        pytest.param({"version": "4.2.0"}, None, id="no_uri_or_domain"),
        pytest.param({"error": "Record not found"}, None, id="error_object"),
        pytest.param(["a.test"], None, id="array"),
        pytest.param(None, None, id="null"),
    ],
)
async def test_the_instance_api_names_the_family(answer, family):
    assert family_from_instance(answer) == family


async def test_the_other_probes_recognise_only_their_platform():
    lemmy = {"site_view": {"site": {"name": "Forum"}, "counts": {"users": 3}}, "version": "0.19"}
    misskey = {"version": "12.119.2", "uri": "https://a.test", "maxNoteTextLength": 3000,
               "disableRegistration": False}  # fmt: skip
    peertube = {"instance": {"name": "Tube", "shortDescription": "Videos", "categories": []}}
    answers = [lemmy, misskey, peertube, {"error": "Not found"}, "<html>", None, []]
    identified = [
        [rule(a) for rule in (family_from_site, family_from_meta, family_from_about)]
        for a in answers
    ]
    assert identified == [
        ["lemmy", None, None],
        [None, "misskey", None],
        [None, None, "peertube"],
        [None, None, None],
        [None, None, None],
        [None, None, None],
        [None, None, None],
    ]
