"""Assignment of roles over the generated hosts: seeds, failure modes, opt-outs, list visibility,
response quirks, hop-2-only instances, and the sizes of peer and block lists.

Counts are exact (`round(rate * n)`), at least one once the sandbox has >= 200 instances, so each
kind is present in the default sandbox. Everything is drawn from `random.Random(f"{seed}:...")`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable

from crawler.sandbox.config import SandboxConfig
from crawler.sandbox.model import Host

MIN_ONE_AT = 200  # sandboxes this big get at least one host of every kind
NODEINFO_DESC_VERSIONS = ("4.3", "4.4")  # Mastodon versions with metadata.nodeDescription


class Picker:
    """Draws disjoint sets of hosts with exact counts."""

    def __init__(self, rng: random.Random, n_instances: int) -> None:
        self.rng = rng
        self.n = n_instances

    def count(self, rate: float, population: int | None = None) -> int:
        """Exact count for a rate; at least one in big sandboxes."""
        k = round(rate * (self.n if population is None else population))
        if k == 0 and rate > 0 and self.n >= MIN_ONE_AT:
            k = 1
        return k

    def take(self, pool: Iterable[Host], k: int) -> list[Host]:
        """`k` hosts drawn from `pool` (fewer when the pool is small), in index order."""
        items = sorted(pool, key=lambda h: h.idx)
        return sorted(self.rng.sample(items, min(k, len(items))), key=lambda h: h.idx)


def free_instances(hosts: list[Host], test: Callable[[Host], bool] = lambda h: True) -> list[Host]:
    """Healthy, non-seed instances (no failure, no opt-out) passing `test`."""
    return [
        h
        for h in hosts
        if h.kind == "instance"
        and not h.seed
        and h.failure is None
        and h.opt_out is None
        and h.family not in ("threads", "bridgy-fed")
        and test(h)
    ]


def _plain(h: Host) -> bool:
    """No platform mode assigned yet (GoToSocial admin modes live in `quirks`)."""
    return not h.quirks


def choose_seeds(hosts: list[Host]) -> list[Host]:
    """Three well-connected seeds: the largest Mastodon, Misskey and Lemmy (or largest others)."""
    instances = [h for h in hosts if h.kind == "instance" and h.sw and h.sw.peers == "public"]
    instances.sort(key=lambda h: (-h.users, h.idx))
    seeds: list[Host] = []
    for family in ("mastodon", "misskey", "lemmy"):
        best = next((h for h in instances if h.family == family and h.sw.raw == family), None)
        if best is not None:
            seeds.append(best)
    for h in instances:
        if len(seeds) >= 3:
            break
        if h not in seeds and h.family != "relay":
            seeds.append(h)
    for h in seeds:
        h.seed = True
        if h.family == "mastodon":
            h.version = "4.3.2"
    return seeds


def assign_failures(hosts: list[Host], config: SandboxConfig, pick: Picker) -> None:
    """Failure modes and opt-outs (only when `config.failures`)."""
    dead_names = [h for h in hosts if h.kind == "dead"]
    if config.failures:
        hang_pool = free_instances(hosts) + dead_names
        total = config.instances + len(dead_names)
        for h in pick.take(hang_pool, pick.count(config.hang_fraction, total)):
            h.failure = "hang"
    for h in dead_names:
        h.failure = h.failure or "dead"
    if not config.failures:
        return
    _platform_modes(hosts, pick)
    rates = config.rates
    for mode in (
        "dead",
        "error500",
        "rate_limited",
        "gone",
        "html",
        "robots_all",
        "robots_ua",
        "robots_500",
        "crawl_delay_2",
        "no_nodeinfo",
        "bad_json",
    ):
        for h in pick.take(free_instances(hosts, _plain), pick.count(getattr(rates, mode))):
            h.failure = mode
    speakers = free_instances(hosts, lambda h: h.platform in ("mastodon", "pleroma", "misskey"))
    speakers = [h for h in speakers if _plain(h)]
    chosen = pick.take(speakers, pick.count(rates.nobot))
    for i, h in enumerate(chosen):
        h.opt_out = "noindex" if i % 3 == 2 else "nobot"
        h.description = f"{h.description} #{h.opt_out}".strip()
        if h.family == "mastodon":
            h.version = "4.3.2"
    if pick.n >= MIN_ONE_AT and len(chosen) < 3 and chosen:
        chosen[-1].opt_out = "noindex"
        chosen[-1].description = chosen[-1].description.replace("#nobot", "#noindex")
    _moves(hosts, pick, rates.moved)


def _platform_modes(hosts: list[Host], pick: Picker) -> None:
    gts = free_instances(hosts, lambda h: h.family == "gotosocial")
    modes = (
        ("gts_default", 0.5),
        ("gts_serve", 0.15),
        ("gts_admin_open", 0.15),
        ("gts_admin_closed", 0.1),
        ("gts_api_disallowed", 0.1),
    )
    for mode, share in modes:
        for h in pick.take(gts, max(1, round(share * len(gts)))):
            gts.remove(h)
            if mode in ("gts_default", "gts_serve"):
                h.failure = mode
            else:
                h.quirks.add(mode)
    for h in gts:  # rounding leftovers use GoToSocial's default
        h.failure = "gts_default"
    for family, raw, share, opt in (
        ("friendica", None, 0.15, "site_private"),
        ("hubzilla", None, 0.3, "hide_in_statistics"),
        ("pleroma", "akkoma", 0.1, "akkoma_private"),
    ):
        pool = free_instances(
            hosts, lambda h, f=family, r=raw: h.family == f and r in (None, h.sw.raw)
        )
        for h in pick.take(pool, max(1, round(share * len(pool)))):
            h.opt_out = opt


def _moves(hosts: list[Host], pick: Picker, rate: float) -> None:
    movers = pick.take(free_instances(hosts, _plain), pick.count(rate))
    for h in movers:
        h.failure = "moved"
    targets = free_instances(hosts, lambda h: h.family == "mastodon")
    for h in movers:
        if targets:
            h.moved_to = pick.rng.choice(targets).idx
        else:
            h.failure = None


def link_alias(hosts: list[Host]) -> None:
    """`www.threads.test` permanently redirects to `threads.test`."""
    for h in hosts:
        if h.kind == "alias":
            h.failure = "moved"
            h.moved_to = next(x.idx for x in hosts if x.family == "threads")


def assign_visibility(hosts: list[Host], rng: random.Random) -> None:
    """What a permitted crawler gets from each host's peer and block endpoints."""
    for h in hosts:
        if h.kind == "farm":
            h.peers_vis, h.blocks_vis = "public", "hidden"
        if h.kind != "instance" or h.sw is None:
            continue
        h.peers_vis, h.blocks_vis = h.sw.peers, h.sw.blocks
        if h.seed:
            continue
        if h.platform == "mastodon":
            _mastodon_visibility(h, rng)
        elif h.platform == "pleroma" and rng.random() < 0.2:
            h.blocks_vis = "hidden"  # MRF transparency off
        elif h.platform == "gotosocial":
            _gts_visibility(h)


def _mastodon_visibility(h: Host, rng: random.Random) -> None:
    roll = rng.random()
    if roll < 0.03:
        h.quirks.add("limited_federation")
        h.peers_vis = h.blocks_vis = "restricted"
        return
    if roll < 0.08:
        h.quirks.add("peers_disabled")
        h.peers_vis = "hidden"
    if h.sw and h.sw.raw == "mastodon" and h.opt_out is None and rng.random() < 0.04:
        h.quirks.add("mastodon_v3")
        h.version = rng.choice(("3.5.19", "3.4.6", "3.1.3+corgi"))
        h.blocks_vis = "hidden"
        return
    roll = rng.random()
    h.blocks_vis = "public" if roll < 0.5 else "restricted" if roll < 0.6 else "hidden"


def _gts_visibility(h: Host) -> None:
    if "gts_admin_open" in h.quirks:
        h.peers_vis = h.blocks_vis = "public"
    elif "gts_admin_closed" in h.quirks:
        h.peers_vis = h.blocks_vis = "restricted"
    else:
        h.peers_vis = h.blocks_vis = "disallowed"


def assign_hidden(hosts: list[Host], config: SandboxConfig, pick: Picker) -> None:
    """Instances no seed lists, so a crawl reaches them only at hops >= 2."""
    pool = free_instances(hosts, lambda h: h.users < 5000 and "farm_lister" not in h.quirks)
    for h in pick.take(pool, pick.count(config.hidden_fraction)):
        h.hidden = True


def assign_sizes(hosts: list[Host], config: SandboxConfig, universe: int) -> int:
    """Peer- and block-list sizes; returns the effective `max_peers`."""
    max_peers = config.max_peers or min(80_000, max(10, int(0.6 * universe)))
    ranked = [h for h in hosts if h.kind == "instance" and h.sw and h.sw.peer_cap > 0]
    ranked.sort(key=lambda h: (not h.seed, -h.users, h.idx))
    for rank, h in enumerate(ranked):
        rng = random.Random(f"{config.seed}:size:{h.idx}")
        jitter = rng.lognormvariate(0.0, 0.25)
        k = max_peers * (rank + 1) ** -config.peer_exponent * jitter
        cap = min(h.sw.peer_cap, max_peers, universe - 1) if h.sw else 0
        h.peer_count = max(2, min(cap, round(k)))
        if h.sw and h.sw.blocks == "public":
            scale = 1.0 + math.log10(h.users + 1)
            blocks = int(3 * scale * rng.paretovariate(1.3)) - 2
            h.block_count = max(20 if h.seed else 0, min(400, blocks))
            if h.platform == "misskey":
                h.block_count = min(h.block_count, 100)
    for h in hosts:
        if h.kind == "farm":
            h.peer_count = 10
    return max_peers


def mastodon_nodeinfo_has_description(h: Host) -> bool:
    """Mastodon publishes nodeName/nodeDescription in NodeInfo from 4.3 on."""
    return bool(h.version and h.version.startswith(NODEINFO_DESC_VERSIONS))
