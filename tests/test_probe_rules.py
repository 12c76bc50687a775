"""Family identification by API probes (crawler/adapters/probe.py) at unit-test speed.

The answer forms each probe recognises (forks' "compatible" version strings, GoToSocial's bare
version with or without `account_domain`), and `identify` driven through a real `Fetcher`
against the scripted loopback server: the documented order, stopping at the first answer, a
failure that stops the probing and one that only means "not this one", and none answering.
Complements tests/test_probes.py, which checks the same rules on sandbox crawls.
"""

from __future__ import annotations

from typing import Any

import pytest

from crawler.adapters.base import Visit
from crawler.adapters.probe import (
    FAMILY_FROM_PROBE,
    PROBES,
    Identified,
    family_from_about,
    family_from_instance,
    family_from_meta,
    family_from_site,
    identify,
)
from crawler.domains import SANDBOX
from crawler.observation import Observation
from tests.fetch_harness import Answer, FakeClock, ScriptedServer

INSTANCE, SITE, META, ABOUT = (
    "/api/v1/instance",
    "/api/v3/site",
    "/api/meta",
    "/api/v1/config/about",
)
ROBOTS = "/robots.txt"


def test_the_probes_run_in_the_documented_order():
    assert [(p.method, p.path, p.body) for p in PROBES] == [
        ("GET", INSTANCE, None), ("GET", SITE, None), ("POST", META, {}), ("GET", ABOUT, None)
    ]  # fmt: skip
    assert [p.identify for p in PROBES] == [
        family_from_instance, family_from_site, family_from_meta, family_from_about
    ]  # fmt: skip


def instance(version: Any, **extra: Any) -> dict[str, Any]:
    return {"uri": "a.test", "title": "A", "version": version, **extra}


@pytest.mark.parametrize(
    ("answer", "family"),
    [
        pytest.param(instance("4.3.1"), "mastodon", id="mastodon"),
        pytest.param(instance("1.0.0"), "mastodon", id="mastodon_major_1"),
        pytest.param(instance("10.1.2"), "mastodon", id="major_10_is_not_0"),
        pytest.param(instance("0.19"), "mastodon", id="two_parts_are_not_gotosocial"),
        pytest.param(instance("0.19.1 beta"), "mastodon", id="gts_form_must_be_whole"),
        pytest.param(instance("x0.19.1"), "mastodon", id="gts_form_from_the_start"),
        pytest.param(instance("0.17.3"), "gotosocial", id="gts_bare_release"),
        pytest.param(instance("0.16.0-rc1"), "gotosocial", id="gts_prerelease"),
        pytest.param(instance("0.19.1+git-8e1f2a7"), "gotosocial", id="gts_git_build"),
        pytest.param(instance(" 0.18.0 "), "gotosocial", id="gts_padded"),
        pytest.param(instance("4.2.0", account_domain="a.test"), "gotosocial", id="account_domain"),
        pytest.param({"domain": "a.test", "version": "0.18.2"}, "gotosocial", id="gts_v2_shape"),
        pytest.param(instance("2.7.2 (compatible; Akkoma 3.13.2)"), "pleroma", id="akkoma"),
        pytest.param(instance("2.7.2 (compatible; Pleroma 2.6.3)"), "pleroma", id="pleroma"),
        pytest.param(instance("2.7.2 (compatible; Rebased 2.5.0)"), "pleroma", id="rebased"),
        pytest.param(instance("3.5.3 (compatible; Pixelfed 0.12.4)"), "pixelfed", id="pixelfed"),
        pytest.param(
            instance("3.0.0 (compatible; GoToSocial 0.17.0)"), "gotosocial", id="gts_compatible"
        ),
        pytest.param(instance("0.1.0 (compatible; Misskey 13.0)"), "misskey", id="misskey"),
        pytest.param(instance("2.8.0 (COMPATIBLE;Friendica 2024.08)"), "friendica", id="case"),
        pytest.param(
            instance("4.0.0 (compatible; Pleroma 2.5)", account_domain="a.test"),
            "pleroma",
            id="compatible_wins_over_account_domain",
        ),
        pytest.param(instance("3.0.0 (compatible; Zephyr 1.0)"), "zephyr", id="unknown_fork"),
        pytest.param(instance("3.0.0 (compatible; 1.0)"), "mastodon", id="compatible_no_name"),
        pytest.param(instance(""), "mastodon", id="empty_version"),
        pytest.param({"uri": "a.test"}, None, id="no_version"),
        pytest.param(instance(None), None, id="null_version"),
        pytest.param(instance(["0.17.3"]), None, id="version_list"),
        pytest.param({"title": "A", "version": "4.2.0"}, None, id="no_uri_nor_domain"),
        pytest.param("4.2.0", None, id="text"),
    ],
)
def test_the_instance_answer_names_the_family(answer, family):
    assert family_from_instance(answer) == family


@pytest.mark.parametrize(
    ("answer", "family"),
    [
        ({"site_view": {"site": {"name": "Forum"}}}, "lemmy"),
        ({"site_view": {"site": {}}}, "lemmy"),
        ({"site_view": {"site": "Forum"}}, None),
        ({"site_view": {"local_site": {}}}, None),
        ({"site_view": None}, None),
        ({"site": {"name": "Forum"}}, None),
        ([], None),
    ],
)
def test_the_site_answer_is_lemmys(answer, family):
    assert family_from_site(answer) == family


@pytest.mark.parametrize(
    ("answer", "family"),
    [
        ({"version": "2024.11.0", "maxNoteTextLength": 3000}, "misskey"),
        ({"version": "12.0", "disableRegistration": True}, "misskey"),
        ({"version": "12.0", "driveCapacityPerLocalUserMb": 1024}, "misskey"),
        ({"version": "12.0", "name": "A"}, None),  # a version alone is anyone's
        ({"version": 12, "maxNoteTextLength": 3000}, None),
        ({"maxNoteTextLength": 3000}, None),
        ("misskey", None),
    ],
)
def test_the_meta_answer_is_misskeys(answer, family):
    assert family_from_meta(answer) == family


@pytest.mark.parametrize(
    ("answer", "family"),
    [
        ({"instance": {"name": "Tube", "shortDescription": ""}}, "peertube"),
        ({"instance": {"name": "Tube", "terms": ""}}, "peertube"),
        ({"instance": {"name": "Tube", "codeOfConduct": ""}}, "peertube"),
        ({"instance": {"name": "Tube", "categories": []}}, "peertube"),
        ({"instance": {"name": "Tube"}}, None),
        ({"instance": {"shortDescription": "", "terms": ""}}, None),
        ({"instance": "Tube"}, None),
        ({"name": "Tube", "shortDescription": ""}, None),
    ],
)
def test_the_about_answer_is_peertubes(answer, family):
    assert family_from_about(answer) == family


# --- identify: through the fetch layer -----------------------------------------------------

LEMMY = {"site_view": {"site": {"name": "Forum"}}}
MISSKEY = {"version": "2024.11.0", "maxNoteTextLength": 3000}
PEERTUBE = {"instance": {"name": "Tube", "shortDescription": "Videos"}}


@pytest.fixture
async def server():
    async with ScriptedServer(FakeClock()) as running:
        yield running


async def probe(server: ScriptedServer, **settings: Any) -> tuple[Identified, Visit]:
    async with server.fetcher(**settings) as fetcher:
        visit = Visit(fetcher, Observation("a.test"), SANDBOX)
        return await identify(visit), visit


def asked(server: ScriptedServer) -> list[tuple[str, str]]:
    return [(seen.method, seen.path) for seen in server.log if seen.path != ROBOTS]


ALL_PROBES = [("GET", INSTANCE), ("GET", SITE), ("POST", META), ("GET", ABOUT)]


@pytest.mark.parametrize(
    ("path", "body", "family", "probes"),
    [
        (INSTANCE, instance("0.17.3"), "gotosocial", 1),
        (SITE, LEMMY, "lemmy", 2),
        (META, MISSKEY, "misskey", 3),
        (ABOUT, PEERTUBE, "peertube", 4),
    ],
)
async def test_probing_stops_at_the_first_answer_and_keeps_it(server, path, body, family, probes):
    server.on(path, Answer(body=body))
    found, visit = await probe(server)
    assert found == Identified(family)
    assert asked(server) == ALL_PROBES[:probes]
    method = ALL_PROBES[probes - 1][0]
    assert list(visit.probed) == [(method, path)]
    assert visit.probed[(method, path)].value == body
    assert visit.observation.probe_requests == probes
    assert FAMILY_FROM_PROBE in visit.observation.quality_flags
    if method == "POST":
        assert server.log[-1].body == b"{}"


async def test_nothing_answering_identifies_nothing(server):
    server.on(INSTANCE, Answer(body="<html>Welcome</html>", content_type="text/html"))
    server.on(SITE, Answer(body=b'{"site_view": ', content_type="application/json"))
    server.on(META, Answer(body={"version": "1.0"}))  # JSON, but nobody's in particular
    found, visit = await probe(server)  # /api/v1/config/about: 404
    assert found == Identified(None)
    assert asked(server) == ALL_PROBES
    assert visit.probed == {} and visit.observation.probe_requests == 4
    assert FAMILY_FROM_PROBE not in visit.observation.quality_flags


async def test_a_probe_answer_of_another_family_is_not_taken(server):
    server.on(INSTANCE, Answer(body=LEMMY))  # a Lemmy shape where the instance API is asked
    server.on(SITE, Answer(body=MISSKEY))
    server.on(ABOUT, Answer(body=PEERTUBE))
    found, _ = await probe(server)
    assert found == Identified("peertube") and len(asked(server)) == 4


async def test_a_robots_disallowed_probe_costs_nothing(server):
    server.on(ROBOTS, Answer(body="User-agent: *\nDisallow: /api/v1/\n"))
    server.on(SITE, Answer(body=LEMMY))
    found, visit = await probe(server)
    assert found == Identified("lemmy")
    assert asked(server) == [("GET", SITE)] and visit.observation.probe_requests == 1


async def test_a_network_failure_stops_the_probing(server):
    server.on(INSTANCE, Answer(status=503, headers={"Retry-After": "90"}))
    server.on(SITE, Answer(body=LEMMY))
    found, visit = await probe(server, max_retry_wait=60.0)
    assert found == Identified(None, "http_5xx", "HTTP 503")
    assert asked(server) == [("GET", INSTANCE)]
    assert visit.observation.retry_after == 90.0 and visit.observation.probe_requests == 1


async def test_a_refused_crawl_delay_stops_the_probing_before_any_request(server):
    server.on(ROBOTS, Answer(body="User-agent: *\nCrawl-delay: 600\n"))
    found, visit = await probe(server)
    assert found == Identified(None, "crawl_delay_too_long", "600s")
    assert asked(server) == [] and visit.observation.probe_requests == 0


async def test_an_exhausted_budget_stops_the_probing(server):
    server.on(SITE, Answer(body=LEMMY))
    found, _ = await probe(server, host_budget=2)  # robots.txt and the instance probe
    assert found == Identified(None, "budget_exhausted", None)
    assert asked(server) == [("GET", INSTANCE)]
