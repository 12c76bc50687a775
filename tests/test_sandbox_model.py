"""Sandbox model and ground truth: determinism, consistency, hops, epochs, scale profile."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections import Counter, deque
from typing import Any

import orjson
import pytest

from crawler.sandbox import Sandbox, SandboxConfig
from crawler.sandbox.blocks import mastodon_obfuscate, pleroma_obfuscate
from crawler.sandbox.truth import FAILURE_STATUS
from crawler.sandbox.world import World
from tests.support import CONTRACT_FLAGS

FAILURE_MODES = set(FAILURE_STATUS) | {"rate_limited", "crawl_delay_2"}
QUIRKS = {
    "count_strings",
    "localposts_object",
    "only_total",
    "reg_string",
    "negative_count",
    "absurd_count",
    "zeroed",
    "suspect",
    "reg_wrong_type",
    "reg_missing",
    "metadata_array",
    "no_services_metadata",
    "no_protocols",
    "uppercase_name",
    "glitch",
    "links_object",
    "extra_rels",
    "fallback_only",
    "api_host",
    "self_in_peers",
    "junk_peers",
    "peers_broken",
    "robots_no_peers",
    "farm_lister",
    "null_active",
    "limited_federation",
    "peers_disabled",
    "mastodon_v3",
    "gts_admin_open",
    "gts_admin_closed",
    "gts_api_disallowed",
}


@pytest.fixture(scope="module")
def truth() -> dict[str, Any]:
    return Sandbox(SandboxConfig()).truth()


@pytest.fixture(scope="module")
def world() -> World:
    return World(SandboxConfig())


def test_build_is_fast_and_deterministic() -> None:
    a = Sandbox(SandboxConfig(seed=7))
    b = Sandbox(SandboxConfig(seed=7))
    assert orjson.dumps(a.truth()) == orjson.dumps(b.truth())
    assert a.seeds == b.seeds and len(a.seeds) == 3
    assert orjson.dumps(Sandbox(SandboxConfig(seed=8)).truth()) != orjson.dumps(a.truth())


def test_names_are_plausible_and_distinct(truth: dict[str, Any]) -> None:
    domains = list(truth["instances"])
    assert all(d.endswith(".test") for d in domains)
    registrable = Counter(".".join(d.split(".")[-2:]) for d in domains)
    assert sorted(r for r, n in registrable.items() if n > 1) == ["spamfarm.test", "threads.test"]
    assert any(d.startswith("xn--") or ".xn--" in d for d in domains)
    assert not any(
        d.split(".")[0].startswith("i") and d.split(".")[0][1:].isdigit() for d in domains
    )


def test_platform_mix_and_user_share(truth: dict[str, Any]) -> None:
    inst = [e for e in truth["instances"].values() if e["family"]]
    families = Counter(e["family"] for e in inst)
    assert families["mastodon"] > len(inst) * 0.45
    for family in (
        "misskey",
        "pleroma",
        "lemmy",
        "peertube",
        "friendica",
        "pixelfed",
        "wordpress",
        "mbin",
        "threads",
        "relay",
        "hubzilla",
        "bridgy-fed",
    ):
        assert families[family] >= 1, family
    users = Counter()
    for e in inst:
        users[e["family"]] += e["users_total"] or 0
    assert 0.6 < users["mastodon"] / sum(users.values()) < 0.9
    software = {e["software"] for e in inst}
    assert {"akkoma", "sharkey", "hometown", "kbin", "aoderelay"} <= software


def test_every_failure_kind_and_quirk_present(truth: dict[str, Any]) -> None:
    entries = truth["instances"].values()
    assert {e["failure"] for e in entries} >= FAILURE_MODES
    assert {q for e in entries for q in e["quirks"]} >= QUIRKS
    assert {f for e in entries for f in e["quality_flags"]} >= CONTRACT_FLAGS
    statuses = Counter(e["expected_status"] for e in entries)
    assert set(statuses) == {
        "alive",
        "unreachable",
        "gone",
        "moved",
        "opted_out",
        "invalid",
        "pending",
    }
    opt_outs = {e["opt_out"] for e in entries}
    assert {
        "robots",
        "nobot",
        "noindex",
        "site_private",
        "hide_in_statistics",
        "akkoma_private",
    } <= opt_outs
    kinds = {e["error_kind"] for e in entries}
    assert {
        "connect",
        "timeout",
        "http_5xx",
        "not_json",
        "robots_unavailable",
        "crawl_delay_too_long",
        "no_nodeinfo",
        "bad_json",
    } <= kinds
    vis = {e["blocks_visibility"] for e in entries} | {e["peers_visibility"] for e in entries}
    assert {"public", "restricted", "hidden", "disallowed", "unsupported", "error"} <= vis


def test_alive_entries_follow_counting_rules(truth: dict[str, Any]) -> None:
    for domain, e in truth["instances"].items():
        if e["expected_status"] != "alive":
            assert e["software"] is None and e["peers"] == [] and e["blocks"] == [], domain
            continue
        if e["software_raw"] is not None:
            assert e["software"] == e["software_raw"].strip().lower()
        assert e["quality_flags"] == sorted(e["quality_flags"])
        if "stats_zeroed" in e["quality_flags"]:
            assert e["users_total"] is None and e["local_posts"] is None
        total, month = e["users_total"], e["users_active_month"]
        if total is not None and month is not None:
            assert month <= total
    uppercase = [e for e in truth["instances"].values() if "uppercase_name" in e["quirks"]]
    assert all(e["software_raw"] == "Mastodon" and e["software"] == "mastodon" for e in uppercase)


def test_blocks_and_peers_consistent(truth: dict[str, Any], world: World) -> None:
    kinds: Counter[str] = Counter()
    for domain, e in truth["instances"].items():
        for b in e["blocks"]:
            kinds[b["kind"]] += 1
            if b["digest"] is not None:
                assert b["digest"] == hashlib.sha256(b["true_domain"].encode()).hexdigest()
            assert (b["blocked"] is not None) == (b["kind"] == "clear")
            if b["kind"] == "wildcard":
                assert b["pattern"] == f"*.{b['true_domain']}"
        if e["family"] == "mastodon" and e["expected_status"] == "alive":
            h = world.by_domain[domain]
            targets = {r.true_domain for r in world.rules(h)}
            assert not targets & set(e["peers"]), domain
            assert all(b["digest"] for b in e["blocks"])
        if e["family"] == "pleroma" and e["peers"]:
            clear = {b["blocked"] for b in e["blocks"] if b["blocked"]}
            assert clear <= set(e["peers"])
        assert domain not in e["peers"]
    assert kinds["clear"] and kinds["masked"] and kinds["wildcard"]
    assert mastodon_obfuscate("dajiaweibo.com") == "daji******.com"
    assert pleroma_obfuscate("remote.instance") == "rem***.*****nce"


def test_seeds_hops_and_farm(truth: dict[str, Any]) -> None:
    inst = truth["instances"]
    assert [inst[s]["hops"] for s in truth["seeds"]] == [0, 0, 0]
    assert [inst[s]["family"] for s in truth["seeds"]] == ["mastodon", "misskey", "lemmy"]
    seed_links: set[str] = set()
    for s in truth["seeds"]:
        seed_links |= set(inst[s]["peers"]) | {b["blocked"] for b in inst[s]["blocks"]}
    hop2 = [d for d, e in inst.items() if e["hops"] == 2 and e["family"]]
    assert hop2 and not set(hop2) & seed_links
    farm = [d for d, e in inst.items() if e["farm"]]
    assert len(farm) == 120 and all(inst[d]["farm"] == "spamfarm.test" for d in farm)
    assert all(inst[d]["hops"] is not None for d in farm)
    assert inst["www.threads.test"]["moved_to"] == "threads.test"


def _bfs(truth: dict[str, Any]) -> dict[str, int]:
    inst = truth["instances"]
    dist = dict.fromkeys(truth["seeds"], 0)
    queue = deque(truth["seeds"])
    while queue:
        d = queue.popleft()
        e = inst[d]
        links = list(e["peers"]) + [b["blocked"] for b in e["blocks"] if b["blocked"]]
        if e["moved_to"]:
            links.append(e["moved_to"])
        for other in links:
            if other not in dist:
                dist[other] = dist[d] + 1
                queue.append(other)
    return dist


def test_hops_on_a_tiny_world() -> None:
    config = SandboxConfig(instances=12, failures=False, quirks=False, farm_size=0)
    truth = Sandbox(config).truth()
    inst = truth["instances"]
    assert len(inst) == 12
    # Healthy everywhere; only GoToSocial's default robots.txt keeps a crawler out.
    assert {
        d: e["expected_status"] for d, e in inst.items() if e["expected_status"] != "alive"
    } == {d: "opted_out" for d, e in inst.items() if e["failure"] == "gts_default"}
    expected = _bfs(truth)
    assert {d: e["hops"] for d, e in inst.items() if e["hops"] is not None} == expected
    default = Sandbox(SandboxConfig(seed=3)).truth()
    assert {d: e["hops"] for d, e in default["instances"].items() if e["hops"] is not None} == _bfs(
        default
    )


def test_epochs_change_the_world() -> None:
    sandbox = Sandbox(SandboxConfig())
    before = sandbox.truth()
    sandbox.set_epoch(1)
    after = sandbox.truth()
    assert after["epoch"] == 1
    changes = Counter(c["change"] for c in after["changes"])
    assert {
        "block_added",
        "block_removed",
        "block_severity",
        "block_reason",
        "blocks_restricted",
        "peers_changed",
    } <= set(changes)
    b, a = before["instances"], after["instances"]
    for c in after["changes"]:
        old = {x["pattern"]: x for x in b[c["domain"]]["blocks"]}
        new = {x["pattern"]: x for x in a[c["domain"]]["blocks"]}
        if c["change"] == "block_added":
            assert c["pattern"] in new and c["pattern"] not in old
        elif c["change"] == "block_removed":
            assert c["pattern"] in old and c["pattern"] not in new
        elif c["change"] == "block_severity":
            assert (
                new[c["pattern"]]["severity_raw"] == c["new"] != old[c["pattern"]]["severity_raw"]
            )
        elif c["change"] == "block_reason":
            assert new[c["pattern"]]["reason"] == c["new"]
        elif c["change"] == "blocks_restricted":
            assert b[c["domain"]]["blocks_visibility"] == "public"
            assert a[c["domain"]]["blocks_visibility"] == "restricted" and not new
        elif c["change"] == "peers_changed":
            assert set(c["added"]) <= set(a[c["domain"]]["peers"])
            assert not set(c["removed"]) & set(a[c["domain"]]["peers"])
    grew = [
        d
        for d, e in a.items()
        if e["users_total"] and b[d]["users_total"] and e["users_total"] > b[d]["users_total"]
    ]
    assert len(grew) > 100
    again = Sandbox(SandboxConfig())
    again.set_epoch(1)
    assert orjson.dumps(again.truth()) == orjson.dumps(after)
    sandbox.set_epoch(0)
    assert orjson.dumps(sandbox.truth()) == orjson.dumps(before)


def test_scale_profile_reaches_twenty_million_peers() -> None:
    config = SandboxConfig.scale()
    assert (config.instances, config.extra_dead_names, config.max_peers) == (25_000, 75_000, 80_000)
    world = World(config)  # how fast: scripts/bench.py
    counts = [h.peer_count for h in world.hosts]
    assert sum(counts) >= 20_000_000
    assert max(counts) == 80_000
    biggest = max(world.hosts, key=lambda h: h.peer_count)
    assert abs(len(world.peer_indices(biggest)) - 80_000) < 2_000
    sample = [h for h in world.hosts[:400] if h.peer_count]
    made = sum(len(world.peer_model.base(h)) for h in sample)
    assert abs(made / sum(h.peer_count for h in sample) - 1) < 0.05
    hang = sum(1 for h in world.hosts if h.failure == "hang")
    assert hang == round(0.03 * 100_000)


def test_truth_is_identical_across_processes() -> None:
    code = (
        "import hashlib, orjson\n"
        "from crawler.sandbox import Sandbox, SandboxConfig\n"
        "sb = Sandbox(SandboxConfig(instances=300, seed=5))\n"
        "sb.set_epoch(1)\n"
        "print(hashlib.sha256(orjson.dumps(sb.truth())).hexdigest())\n"
    )
    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        digests.add(out.stdout.strip())
    assert len(digests) == 1


def test_language_communities(truth: dict[str, Any], world: World) -> None:
    inst = truth["instances"]
    groups = Counter(e["language_group"] for e in inst.values() if e["language_group"])
    assert [g for g, _ in groups.most_common(2)] == ["en", "ja"] and len(groups) >= 8
    alive = {d: e for d, e in inst.items() if e["expected_status"] == "alive" and not e["farm"]}
    declared = [e["languages"] for e in alive.values() if e["languages"] is not None]
    assert all(tags == [t.lower() for t in tags] for tags in declared)
    assert {"pt-br", "zh-tw"} <= {t for tags in declared for t in tags}
    assert sum(len(tags) == 2 for tags in declared) > len(declared) / 10
    # Small lists stay mostly within their group; the largest lists reach every group.
    shares = []
    for e in alive.values():
        if e["peers"] and e["language_group"]:
            own = [inst[p]["language_group"] == e["language_group"] for p in e["peers"]]
            shares.append((len(own), sum(own) / len(own)))
    small = [share for n, share in shares if n <= 50]
    assert sum(small) / len(small) > 0.6
    largest = max(shares)
    assert largest[1] < 0.5


def test_planted_block_camps(truth: dict[str, Any]) -> None:
    inst = truth["instances"]
    camps: dict[str, set[str]] = {"strict": set(), "rival": set()}
    for d, e in inst.items():
        if e["block_camp"]:
            camps[e["block_camp"]].add(d)
    assert len(camps["strict"]) >= 6 and len(camps["rival"]) >= 6
    for camp, other in (("strict", "rival"), ("rival", "strict")):
        for d in camps[camp]:
            e = inst[d]
            assert e["expected_status"] == "alive" and e["language_group"] == "en"
            clear = {b["blocked"] for b in e["blocks"] if b["blocked"]}
            assert camps[other] <= clear and len(camps[other]) * 2 > len(clear), d


@pytest.mark.parametrize("failures", [False, True])
def test_a_gotosocial_server_is_alive_in_the_truth_only_if_its_robots_txt_lets_us_in(failures):
    """The truth's status of every GoToSocial host is what its served robots.txt allows a
    polite crawler: GoToSocial's default file (also served with failures off) opts out."""
    from crawler import ROBOTS_TOKEN
    from crawler.fetch.robots import RobotsRules
    from crawler.sandbox.platforms.common import robots

    sandbox = Sandbox(SandboxConfig(instances=200, seed=4, failures=failures))
    truth = sandbox.truth()["instances"]
    gts = [h for h in sandbox.world.hosts if h.platform == "gotosocial" and h.failure != "hang"]
    assert gts
    statuses = Counter()
    for h in gts:
        reply = robots(h)
        rules = RobotsRules.from_answer(reply.status, reply.body, ROBOTS_TOKEN)
        entry = truth[h.domain]
        statuses[entry["expected_status"]] += 1
        if not rules.allows("/.well-known/nodeinfo"):
            assert (entry["expected_status"], entry["opt_out"]) == ("opted_out", "robots")
        elif (rules.crawl_delay or 0) > 60:
            assert entry["expected_status"] == "pending"  # Crawl-delay beyond our cap
        else:
            assert entry["expected_status"] == "alive"
    if not failures:
        assert statuses == {"opted_out": len(gts)}


def test_kept_peer_lists_are_the_lists_of_the_current_epoch(monkeypatch) -> None:
    from crawler.sandbox import world as world_module

    monkeypatch.setattr(world_module, "LISTING_ITEMS", 300)
    world = World(SandboxConfig())
    changed = Sandbox(SandboxConfig())
    changed.set_epoch(1)
    hosts = [c["domain"] for c in changed.truth()["changes"] if c["change"] == "peers_changed"]
    host = world.by_domain[hosts[0]]
    before = world.peer_list(host)
    assert before.tolist() == world.peer_indices(host).tolist() and world.peer_list(host) is before
    world.set_epoch(1)  # a new epoch: nothing kept from the last one is served
    after = world.peer_list(host)
    assert after.tolist() == changed.world.peer_indices(changed.world.by_domain[hosts[0]]).tolist()
    assert after.tolist() != before.tolist()
    for other in world.hosts[:200]:  # the bound: the least recently used lists are dropped
        world.peer_list(other)
        assert world._listed <= 300 or len(world._listings) == 1
