"""Sandbox server: every platform endpoint and failure mode, fetched over loopback."""

from __future__ import annotations

import asyncio
import csv
import io
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import idna
import orjson
import pytest

from crawler.sandbox import Sandbox, SandboxConfig

Entry = dict[str, Any]


@dataclass
class Client:
    sandbox: Sandbox
    port: int
    session: aiohttp.ClientSession
    truth: dict[str, Any]

    async def get(
        self, host: str, path: str, method: str = "GET", body: Any = None, timeout: float = 3.0
    ) -> tuple[int, Any, bytes]:
        url = f"http://127.0.0.1:{self.port}{path}"
        async with self.session.request(
            method,
            url,
            headers={"Host": host},
            json=body,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as resp:
            return resp.status, resp.headers, await resp.read()

    async def json(self, host: str, path: str, method: str = "GET", body: Any = None) -> Any:
        status, headers, data = await self.get(host, path, method, body)
        assert status == 200, (host, path, status)
        assert "json" in headers["Content-Type"]
        return orjson.loads(data)

    def find(self, test: Callable[[Entry], bool]) -> tuple[str, Entry]:
        return next((d, e) for d, e in self.truth["instances"].items() if test(e))


@pytest.fixture(scope="module")
def default_truth() -> dict[str, Any]:
    return Sandbox(SandboxConfig()).truth()


@pytest.fixture
async def client(default_truth: dict[str, Any]) -> AsyncIterator[Client]:
    sandbox = Sandbox(SandboxConfig())
    port = await sandbox.start()
    async with aiohttp.ClientSession() as session:
        yield Client(sandbox, port, session, default_truth)
    await sandbox.stop()


def normalise(raw: Any) -> str | None:
    """Independent re-implementation of the contract's peer normalisation (test only)."""
    if not isinstance(raw, str):
        return None
    name = raw.strip().lower()
    name = name[:-1] if name.endswith(".") else name
    if not name or any(c in name for c in "/:@*?[] "):
        return None
    try:
        name = idna.encode(name, uts46=True).decode()
    except idna.IDNAError:
        return None
    labels = name.split(".")
    if len(labels) < 2 or labels[-1] != "test" or len(name) > 253:
        return None
    return name


def readable_peers(strings: list[Any], own: str) -> tuple[list[str], list[str]]:
    valid = {n for s in strings if (n := normalise(s))} - {own}
    junk = [s for s in strings if normalise(s) is None]
    return sorted(valid), junk


def alive(e: Entry) -> bool:
    return e["expected_status"] == "alive" and e["hops"] is not None


async def test_mastodon_seed(client: Client) -> None:
    seed = client.truth["seeds"][0]
    e = client.truth["instances"][seed]
    status, headers, body = await client.get(seed, "/robots.txt")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert b"Disallow: /media_proxy/" in body
    jrd = await client.json(seed, "/.well-known/nodeinfo")
    href = jrd["links"][0]["href"]
    assert href == f"https://{seed}/nodeinfo/2.0"
    info = await client.json(seed, "/nodeinfo/2.0")
    assert info["software"] == {"name": "mastodon", "version": e["version"]}
    assert info["usage"]["users"]["total"] == e["users_total"]
    assert info["metadata"]["nodeDescription"] == e["description"]
    v2 = await client.json(seed, "/api/v2/instance")
    assert v2["domain"] == seed and v2["usage"]["users"]["active_month"] == e["users_active_month"]
    peers = await client.json(seed, "/api/v1/instance/peers")
    valid, junk = readable_peers(peers, seed)
    assert valid == e["peers"] and junk == e["junk_peers"] and junk
    blocks = await client.json(seed, "/api/v1/instance/domain_blocks")
    assert sorted(b["domain"] for b in blocks) == [b["pattern"] for b in e["blocks"]]
    assert {b["digest"] for b in blocks} == {b["digest"] for b in e["blocks"]}
    assert set(blocks[0]) == {"domain", "digest", "severity", "comment"}
    activity = await client.json(seed, "/api/v1/instance/activity")
    assert len(activity) == 12 and all(isinstance(v, str) for v in activity[0].values())


async def test_mastodon_visibilities(client: Client) -> None:
    d, _ = client.find(lambda e: alive(e) and "limited_federation" in e["quirks"])
    status, _, body = await client.get(d, "/api/v1/instance/peers")
    assert status == 401 and orjson.loads(body)["error"].startswith("This API requires")
    assert (await client.get(d, "/api/v1/instance/domain_blocks"))[0] == 401
    d, _ = client.find(lambda e: alive(e) and "peers_disabled" in e["quirks"])
    assert (await client.get(d, "/api/v1/instance/peers"))[0] == 404
    d, _ = client.find(
        lambda e: alive(e) and e["family"] == "mastodon" and e["blocks_visibility"] == "hidden"
    )
    status, _, body = await client.get(d, "/api/v1/instance/domain_blocks")
    assert status == 404 and body == b""
    d, _ = client.find(lambda e: alive(e) and "mastodon_v3" in e["quirks"])
    assert (await client.get(d, "/api/v2/instance"))[0] == 404
    assert (await client.json(d, "/api/v1/instance"))["uri"] == d
    d, _ = client.find(lambda e: alive(e) and "peers_broken" in e["quirks"])
    status, _, body = await client.get(d, "/api/v1/instance/peers")
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(body)
    d, _ = client.find(lambda e: alive(e) and "robots_no_peers" in e["quirks"])
    assert b"Disallow: /api/v1/instance/peers" in (await client.get(d, "/robots.txt"))[2]


async def test_pleroma_and_akkoma(client: Client) -> None:
    d, e = client.find(
        lambda e: alive(e) and e["family"] == "pleroma" and len(e["blocks"]) > 3 and e["peers"]
    )
    jrd = await client.json(d, "/.well-known/nodeinfo")
    path = jrd["links"][-1]["href"].removeprefix(f"https://{d}")
    assert path == "/nodeinfo/2.1.json"
    info = await client.json(d, path)
    fed = info["metadata"]["federation"]
    patterns = sorted(
        [p for action, items in fed["mrf_simple"].items() if action != "accept" for p in items]
        + fed["quarantined_instances"]
    )
    assert patterns == sorted(b["pattern"] for b in e["blocks"])
    peers = await client.json(d, "/api/v1/instance/peers")
    assert readable_peers(peers, d)[0] == e["peers"]
    d, e = client.find(lambda e: e["family"] == "pleroma" and e["blocks_visibility"] == "hidden")
    info = await client.json(d, "/nodeinfo/2.0.json")
    assert info["metadata"]["federation"] == {"enabled": True}
    d, e = client.find(lambda e: e["opt_out"] == "akkoma_private")
    assert (await client.json(d, "/nodeinfo/2.0.json"))["metadata"]["private"] is True
    d, e = client.find(lambda e: alive(e) and "reg_string" in e["quirks"])
    info = await client.json(d, "/nodeinfo/2.0.json")
    assert info["openRegistrations"] in ("TRUE", "FALSE")
    assert e["quality_flags"] == ["bool_from_string"]


async def test_misskey_walk(client: Client) -> None:
    d = client.truth["seeds"][1]
    e = client.truth["instances"][d]
    meta = await client.json(d, "/api/meta", "POST", {})
    assert meta["description"] == e["description"]
    hosts, offset = [], 0
    while True:
        page = await client.json(
            d, "/api/federation/instances", "POST", {"limit": 100, "offset": offset}
        )
        if not page:
            break
        hosts += [item["host"] for item in page]
        offset += 100
    assert sorted(hosts) == e["peers"] and len(hosts) <= 3000
    blocked = await client.json(
        d, "/api/federation/instances", "POST", {"limit": 100, "offset": 0, "blocked": True}
    )
    rules = {b["pattern"] for b in e["blocks"] if b["severity_raw"] == "blocked"}
    assert {item["host"] for item in blocked} == rules and all(i["isBlocked"] for i in blocked)
    status, _, _ = await client.get(d, "/api/federation/instances", "POST", {"limit": 101})
    assert status == 400
    assert (await client.get(d, "/api/v1/instance/peers"))[0] == 404
    info = await client.json(d, "/nodeinfo/2.1")
    assert info["usage"]["users"]["activeMonth"] is None
    assert e["users_active_month"] is None and e["quality_flags"] == []


async def test_lemmy_and_peertube(client: Client) -> None:
    d = client.truth["seeds"][2]
    e = client.truth["instances"][d]
    site = await client.json(d, "/api/v3/site")
    assert site["site_view"]["site"]["actor_id"] == f"https://{d}/"
    fed = (await client.json(d, "/api/v3/federated_instances"))["federated_instances"]
    assert sorted(i["domain"] for i in fed["linked"]) == e["peers"]
    assert sorted(i["domain"] for i in fed["blocked"]) == [b["pattern"] for b in e["blocks"]]
    assert fed["allowed"] == []
    d, e = client.find(lambda e: alive(e) and "links_object" in e["quirks"])
    assert isinstance((await client.json(d, "/.well-known/nodeinfo"))["links"], dict)
    d, e = client.find(lambda e: alive(e) and e["family"] == "peertube" and len(e["peers"]) > 2)
    about = await client.json(d, "/api/v1/config/about")
    assert about["instance"]["shortDescription"] == e["description"]
    seen: set[str] = set()
    for side, key in (("followers", "follower"), ("following", "following")):
        start = 0
        while True:
            page = await client.json(d, f"/api/v1/server/{side}?start={start}&count=100")
            seen |= {item[key]["host"] for item in page["data"]}
            start += 100
            if start >= page["total"]:
                break
    assert sorted(seen) == e["peers"]
    assert (await client.get(d, "/api/v1/server/followers?count=101"))[0] == 400


async def test_declared_languages(client: Client) -> None:
    answers = {
        "mastodon": [("/api/v2/instance", ("languages",)), ("/api/v1/instance", ("languages",))],
        "pleroma": [("/api/v1/instance", ("languages",))],
        "misskey": [("/api/meta", ("langs",)), ("/nodeinfo/2.1", ("metadata", "langs"))],
        "peertube": [("/api/v1/config/about", ("instance", "languages"))],
    }
    for family, paths in answers.items():
        d, e = client.find(
            lambda e, f=family: (
                alive(e) and e["family"] == f and not e["quirks"] and not e["failure"]
            )
        )
        for path, keys in paths:
            method = "POST" if path == "/api/meta" else "GET"
            value = await client.json(d, path, method, {} if method == "POST" else None)
            for key in keys:
                value = value[key]
            assert [t.lower() for t in value] == e["languages"], (d, path)
    d, e = client.find(
        lambda e: alive(e) and e["family"] == "mastodon" and "pt-br" in (e["languages"] or [])
    )
    assert "pt-BR" in (await client.json(d, "/api/v1/instance"))["languages"]


async def test_gotosocial_modes(client: Client) -> None:
    d, e = client.find(lambda e: "gts_admin_open" in e["quirks"])
    robots = (await client.get(d, "/robots.txt"))[2].decode()
    assert "Allow: /api/v1/instance/peers" in robots and "Crawl-delay: 500" not in robots
    items = await client.json(d, "/api/v1/instance/peers?filter=open,suspended")
    assert items == sorted(items, key=lambda i: i["domain"])
    open_names = sorted(i["domain"] for i in items if "suspended_at" not in i)
    assert open_names == e["peers"]
    suspended = sorted(i["domain"] for i in items if "suspended_at" in i)
    assert suspended == sorted(b["pattern"] for b in e["blocks"] if b["severity"] == "suspend")
    status, _, body = await client.get(d, "/api/v1/instance/peers?filter=bogus")
    assert status == 400 and b"not recognized" in body
    d, _ = client.find(lambda e: "gts_admin_closed" in e["quirks"])
    assert (await client.get(d, "/api/v1/instance/peers?filter=open,suspended"))[0] == 401
    d, e = client.find(lambda e: e["failure"] == "gts_default")
    robots = (await client.get(d, "/robots.txt"))[2].decode()
    assert "Crawl-delay: 500" in robots and "Disallow: /.well-known/nodeinfo" in robots
    assert e["expected_status"] == "opted_out" and e["opt_out"] == "robots"
    d, e = client.find(lambda e: e["failure"] == "gts_serve")
    robots = (await client.get(d, "/robots.txt"))[2].decode()
    assert "Crawl-delay: 500" in robots and "nodeinfo" not in robots
    assert e["error_kind"] == "crawl_delay_too_long"


async def test_friendica_mbin_hubzilla_relay(client: Client) -> None:
    d, e = client.find(lambda e: alive(e) and e["family"] == "friendica" and e["blocks"])
    assert (await client.json(d, "/statistics.json"))["total_users"] == e["users_total"]
    assert (await client.json(d, "/api/statusnet/config.json"))["site"]["private"] is False
    status, headers, body = await client.get(d, "/blocklist/domain/download")
    rows = list(csv.reader(io.StringIO(body.decode())))
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert sorted(r[0] for r in rows) == [b["pattern"] for b in e["blocks"]]
    assert (await client.get(d, "/api/v1/instance/peers"))[0] == 404
    d, _ = client.find(lambda e: e["opt_out"] == "site_private")
    assert (await client.json(d, "/api/statusnet/config.json"))["site"]["private"] is True
    d, e = client.find(lambda e: alive(e) and e["family"] == "mbin" and e["blocks"])
    listed = (await client.json(d, "/api/defederated"))["instances"]
    assert listed == [b["pattern"] for b in e["blocks"]]
    assert e["blocks"][0]["severity_raw"] == "defederated"
    d, _ = client.find(lambda e: e["opt_out"] == "hide_in_statistics")
    assert (await client.json(d, "/siteinfo.json"))["hide_in_statistics"] is True
    d, e = client.find(lambda e: alive(e) and e["software"] == "aoderelay")
    info = await client.json(d, "/nodeinfo/2.0.json")
    assert sorted(info["metadata"]["peers"]) == e["peers"]


async def test_singletons_and_small_platforms(client: Client) -> None:
    e = client.truth["instances"]["threads.test"]
    assert e["software"] == "threads" and e["peers_visibility"] == "unsupported"
    assert (await client.get("threads.test", "/api/v1/instance/peers"))[0] == 404
    assert (await client.get("threads.test", "/api/v1/instance/domain_blocks"))[0] == 404
    status, headers, _ = await client.get("www.threads.test", "/nodeinfo/2.0")
    assert status == 301 and headers["Location"] == "https://threads.test/nodeinfo/2.0"
    d, e = client.find(lambda e: e["family"] == "bridgy-fed")
    status, headers, body = await client.get(d, "/.well-known/nodeinfo")
    assert headers["Content-Type"] == "application/jrd+json"
    assert any(link["rel"].endswith("#Application") for link in orjson.loads(body)["links"])
    d, e = client.find(lambda e: alive(e) and "count_strings" in e["quirks"])
    jrd = await client.json(d, "/.well-known/nodeinfo")
    best = jrd["links"][-1]
    assert best["rel"].endswith("/2.2")
    info = await client.json(d, best["href"].removeprefix(f"https://{d}"))
    assert isinstance(info["usage"]["users"]["total"], str) and "instance" in info
    for family in ("pixelfed", "bookwyrm"):
        d, e = client.find(lambda e, f=family: alive(e) and e["family"] == f and e["peers"])
        assert readable_peers(await client.json(d, "/api/v1/instance/peers"), d)[0] == e["peers"]


async def test_discovery_quirks(client: Client) -> None:
    d, _ = client.find(lambda e: alive(e) and "fallback_only" in e["quirks"])
    assert (await client.get(d, "/.well-known/nodeinfo"))[0] == 404
    assert (await client.json(d, "/nodeinfo/2.0"))["version"] == "2.0"
    d, e = client.find(lambda e: alive(e) and "api_host" in e["quirks"])
    href = (await client.json(d, "/.well-known/nodeinfo"))["links"][0]["href"]
    assert href == f"https://api.{d}/nodeinfo/2.0"
    info = await client.json(f"api.{d}", "/nodeinfo/2.0")
    assert info["software"]["name"] == e["software_raw"]
    d, _ = client.find(lambda e: alive(e) and "extra_rels" in e["quirks"])
    rels = [link["rel"] for link in (await client.json(d, "/.well-known/nodeinfo"))["links"]]
    assert any("nodeinfo" in r for r in rels) and any("activitystreams" in r for r in rels)
    d, _ = client.find(lambda e: alive(e) and "metadata_array" in e["quirks"])
    assert (await client.json(d, "/nodeinfo/2.0"))["metadata"] == []
    d, _ = client.find(lambda e: alive(e) and "no_services_metadata" in e["quirks"])
    info = await client.json(d, "/nodeinfo/2.0")
    assert "services" not in info and "metadata" not in info


async def test_failure_modes(client: Client) -> None:
    def host(failure: str) -> str:
        return client.find(lambda e: e["failure"] == failure)[0]

    with pytest.raises(aiohttp.ServerDisconnectedError):
        await client.get(host("dead"), "/robots.txt")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await client.get("unknown-host.test", "/robots.txt")
    with pytest.raises(asyncio.TimeoutError):
        await client.get(host("hang"), "/robots.txt", timeout=0.3)
    d = host("error500")
    assert (await client.get(d, "/robots.txt"))[0] == 404
    assert (await client.get(d, "/.well-known/nodeinfo"))[0] == 500
    assert (await client.get(host("gone"), "/.well-known/nodeinfo"))[0] == 410
    status, headers, _ = await client.get(host("html"), "/nodeinfo/2.0")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    d, e = client.find(lambda e: e["failure"] == "moved")
    status, headers, _ = await client.get(d, "/api/v2/instance?x=1")
    assert status == 301 and headers["Location"] == f"https://{e['moved_to']}/api/v2/instance?x=1"
    assert client.truth["instances"][e["moved_to"]]["expected_status"] == "alive"
    d = host("rate_limited")
    status, headers, _ = await client.get(d, "/.well-known/nodeinfo")
    assert status == 429 and headers["Retry-After"] == "1"
    assert (await client.get(d, "/.well-known/nodeinfo"))[0] == 200
    assert (await client.get(host("robots_all"), "/robots.txt"))[
        2
    ] == b"User-agent: *\nDisallow: /\n"
    assert (
        b"User-agent: fediscope\nDisallow: /"
        in (await client.get(host("robots_ua"), "/robots.txt"))[2]
    )
    assert (await client.get(host("robots_500"), "/robots.txt"))[0] == 500
    assert b"Crawl-delay: 2" in (await client.get(host("crawl_delay_2"), "/robots.txt"))[2]
    d = host("no_nodeinfo")
    assert (await client.get(d, "/.well-known/nodeinfo"))[0] == 404
    assert (await client.get(d, "/nodeinfo/2.0"))[0] == 404
    d = host("bad_json")
    jrd = await client.json(d, "/.well-known/nodeinfo")
    status, _, body = await client.get(d, jrd["links"][-1]["href"].split(d, 1)[1])
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(body)
    d, _ = client.find(lambda e: e["opt_out"] == "nobot")
    info = await client.json(d, "/nodeinfo/2.0")
    assert "#nobot" in info["metadata"]["nodeDescription"]


async def test_pace_scales_every_wait_a_polite_crawler_is_asked_for() -> None:
    """A world with a small pace asks for short Crawl-delays and Retry-After: 0, except
    GoToSocial's 500 s meant to exceed a crawler's cap; everything else answers as before."""
    config = SandboxConfig(instances=400, seed=7, pace=0.01)
    sandbox = Sandbox(config)
    truth = sandbox.truth()["instances"]
    assert truth == Sandbox(SandboxConfig(instances=400, seed=7)).truth()["instances"]
    port = await sandbox.start()
    try:
        async with aiohttp.ClientSession() as session:
            client = Client(sandbox, port, session, {"instances": truth})
            delayed = client.find(lambda e: e["failure"] == "crawl_delay_2")[0]
            robots = (await client.get(delayed, "/robots.txt"))[2]
            assert b"Crawl-delay: 0.02\n" in robots and b"Crawl-delay: 2" not in robots
            limited = client.find(lambda e: e["failure"] == "rate_limited")[0]
            status, headers, _ = await client.get(limited, "/.well-known/nodeinfo")
            assert status == 429 and headers["Retry-After"] == "0"
            assert (await client.get(limited, "/.well-known/nodeinfo"))[0] == 200
            gts = [
                h
                for h in sandbox.world.hosts
                if h.platform == "gotosocial" and h.idx % 2 and h.failure != "hang"
            ]
            texts = [(await client.get(h.domain, "/robots.txt"))[2] for h in gts]
            assert b"Crawl-delay: 500\n" in b"".join(texts)
            assert any(b"Crawl-delay: 0.01\n" in text for text in texts)
    finally:
        await sandbox.stop()


async def test_stats_count_in_flight_and_log(client: Client) -> None:
    d = client.find(lambda e: e["failure"] == "hang")[0]
    tasks = [client.get(d, "/robots.txt", timeout=0.3) for _ in range(3)]
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, asyncio.TimeoutError) for r in results)
    seed = client.truth["seeds"][0]
    await client.get(seed, "/robots.txt")
    stats = client.sandbox.stats
    for _ in range(10_000):  # the handler logs its request when it ends, after the answer
        if stats.log.get(seed):
            break
        await asyncio.sleep(0)
    assert stats.max_in_flight[d] == 3 and stats.requests[d] == 3
    assert stats.max_in_flight[seed] == 1
    entry = stats.log[seed][-1]
    assert entry.path_qs == "/robots.txt" and entry.status == 200
    assert entry.user_agent.startswith("Python")
    assert all(e.status == 0 for e in stats.log[d])


async def test_responses_are_deterministic_and_follow_epochs(client: Client) -> None:
    other = Sandbox(SandboxConfig())
    port = await other.start()
    try:
        twin = Client(other, port, client.session, client.truth)
        seed = client.truth["seeds"][0]
        for path in (
            "/nodeinfo/2.0",
            "/api/v1/instance/peers",
            "/api/v2/instance",
            "/api/v1/instance/domain_blocks",
        ):
            assert (await client.get(seed, path))[2] == (await twin.get(seed, path))[2]
    finally:
        await other.stop()
    client.sandbox.set_epoch(1)
    changes = client.sandbox.truth(include_peers=False)["changes"]
    restricted = next(c["domain"] for c in changes if c["change"] == "blocks_restricted")
    assert (await client.get(restricted, "/api/v1/instance/domain_blocks"))[0] == 401


async def test_hostile_hosts_are_mounted() -> None:
    from crawler.sandbox import hostile  # a broken import fails here, it is never skipped

    sandbox = Sandbox(SandboxConfig(instances=60, hostile=True))
    domain = next(iter(hostile.HostileHosts().cases))
    port = await sandbox.start()
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/robots.txt", headers={"Host": domain}) as resp,
        ):
            await resp.read()
        assert domain in sandbox.truth(include_peers=False)["hostile"]
        assert sandbox.stats.requests[domain] == 1
    finally:
        await sandbox.stop()


def test_command_line_entry_point() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler.sandbox", "--port", "0", "--instances", "40"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("sandbox listening on http://127.0.0.1:")
        assert "(40 instances; seeds: " in line
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
