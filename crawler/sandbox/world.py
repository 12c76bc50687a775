"""The sandbox world: hosts with roles, plus peer lists and block rules at the current epoch.

`World(config)` builds everything that is small (hosts, roles, sizes, popularity tables); block
rules are generated per host on first use and cached per epoch; peer lists are generated when
asked for, and the most recently asked ones are kept (`listing`, bounded by their total
length): a paged walk asks for the same list once per page, and generating it again for every
page made the sandbox's own CPU, not the crawler, the limit of a re-crawl. Renderers
(crawler.sandbox.platforms) and ground truth (crawler.sandbox.truth) read the world through the
same methods, so they always agree.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import orjson

from crawler.sandbox import assign, probes, quirks
from crawler.sandbox.blocks import BlockRule, BlockTargets, base_rules, camp_rules
from crawler.sandbox.camps import assign_camps
from crawler.sandbox.config import SandboxConfig
from crawler.sandbox.history import Delta, History, apply_peers, apply_rules
from crawler.sandbox.languages import assign_languages
from crawler.sandbox.model import Host, build_hosts
from crawler.sandbox.peers import (
    Decoration,
    PeerModel,
    decorated_strings,
    decoration,
)
from crawler.sandbox.usage import RawUsage, raw_usage

ADDS_BLOCKED = ("pleroma", "misskey")  # peer lists include the host's block targets
DROPS_BLOCKED = ("mastodon", "lemmy")  # peer lists exclude them


#: Peer-list entries kept at most (`World.listing`): 64 MB of int64. A full-scale re-crawl walks
#: every Misskey server's lists at once (2,000 servers, four listings each); with room for
#: a fraction of them the sandbox rebuilt a listing for most pages and became the crawl's
#: bottleneck, which no real server (each on its own machine) would be.
LISTING_ITEMS = 8_000_000


class World:
    """Hosts, roles and generators of one sandbox."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        hosts = build_hosts(config)
        assign_languages(hosts, config.seed)
        rng = random.Random(f"{config.seed}:assign")
        pick = assign.Picker(rng, config.instances)
        self.seeds = assign.choose_seeds(hosts)
        assign.link_alias(hosts)
        assign.assign_failures(hosts, config, pick)
        assign.assign_visibility(hosts, rng)
        quirks.assign_quirks(hosts, pick, config.quirks)
        assign.assign_hidden(hosts, config, pick)
        #: anchor index -> the servers only it lists (crawler.sandbox.probes)
        self.private_of = probes.assign_probe_hosts(hosts, config)
        self.anchors = np.array([h.idx for h in hosts if probes.special(h)], dtype=np.int64)
        universe = sum(1 for h in hosts if h.kind != "farm")
        self.max_peers = assign.assign_sizes(hosts, config, universe)
        #: camp member index -> the other camp's members, all of which it blocks
        self.camp_targets = assign_camps(hosts, config.seed)
        self.hosts = hosts
        self.by_domain = {h.domain: h for h in hosts}
        self.api_hosts = {f"api.{h.domain}": h for h in hosts if "api_host" in h.quirks}
        self.peer_model = PeerModel(hosts, config.seed)
        self.targets = BlockTargets(hosts, config.seed)
        self.peer_candidates = [
            h.idx for h in hosts if h.kind != "farm" and not h.hidden and h.private_to is None
        ]
        self._base_rules: dict[int, list[BlockRule]] = {}
        self._rules: dict[int, list[BlockRule]] = {}
        self._listings: OrderedDict[tuple[object, ...], np.ndarray] = OrderedDict()
        self._listed = 0  # entries in all kept listings
        self.epoch = 0
        self.history = History(self)

    # -- epochs ---------------------------------------------------------------------------

    def set_epoch(self, epoch: int) -> None:
        """Rebuild the state of `epoch` by replaying epochs 1..epoch."""
        if epoch < 0:
            raise ValueError("epoch must be >= 0")
        self.history = History(self)
        self.epoch = 0
        self.clear_caches()
        for e in range(1, epoch + 1):
            self.epoch = e
            self.history.advance(e)

    def clear_caches(self) -> None:
        """Forget derived state (after a change of epoch)."""
        self._rules.clear()
        self._listings.clear()
        self._listed = 0

    def listing(self, key: tuple[object, ...], compute: Callable[[], np.ndarray]) -> np.ndarray:
        """`compute()`, kept for the current epoch under `key` while among the most recently
        used lists (LISTING_ITEMS entries in all). Lists are derived from the host and epoch
        only, so a kept one is exactly what `compute` would give again."""
        found = self._listings.get(key)
        if found is not None:
            self._listings.move_to_end(key)
            return found
        found = compute()
        self._listings[key] = found
        self._listed += found.size
        while self._listed > LISTING_ITEMS and len(self._listings) > 1:
            _, dropped = self._listings.popitem(last=False)
            self._listed -= dropped.size
        return found

    def delta(self, h: Host) -> Delta | None:
        """Changes of host h since epoch 0."""
        return self.history.delta(h)

    # -- blocks ---------------------------------------------------------------------------

    def rules(self, h: Host) -> list[BlockRule]:
        """Every block rule host h has at the current epoch (published or not)."""
        cached = self._rules.get(h.idx)
        if cached is None:
            base = self._base_rules.get(h.idx)
            if base is None:
                base = base_rules(self.hosts, self.targets, h, self.config.seed)
                camp = self.camp_targets.get(h.idx)
                if camp:
                    base += camp_rules(self.hosts, h, camp, base, self.config.seed)
                if h.peers_vis != "public":  # an anchor without peers lists its own by blocking
                    base += [private_rule(self.hosts[i]) for i in self.private_of.get(h.idx, ())]
                self._base_rules[h.idx] = base
            cached = apply_rules(h.platform, base, self.delta(h))
            self._rules[h.idx] = cached
        return cached

    def blocks_visibility(self, h: Host) -> str:
        """Block-list visibility at the current epoch."""
        d = self.delta(h)
        return "restricted" if d is not None and d.restricted else h.blocks_vis

    # -- peers ----------------------------------------------------------------------------

    def peer_list(self, h: Host) -> np.ndarray:
        """`peer_indices`, kept while recently used (for paged lists)."""
        return self.listing(("peers", h.idx), lambda: self.peer_indices(h))

    def peer_indices(self, h: Host) -> np.ndarray:
        """Sorted indices of every host h lists as a peer (valid names only, never h)."""
        idx = self.peer_model.base(h)
        if h.kind == "farm":
            return idx
        if h.seed:  # every seed lists every anchor: anchors are one hop away
            idx = np.union1d(idx, self.anchors)
        private = self.private_of.get(h.idx)
        if private and h.peers_vis == "public":
            idx = np.union1d(idx, np.array(private, dtype=np.int64))
        rules = [r for r in self.rules(h) if r.target >= 0] if h.block_count else []
        if rules and h.platform in ADDS_BLOCKED:
            idx = np.union1d(idx, _targets(rules))
        elif rules and h.platform in DROPS_BLOCKED:
            idx = idx[~np.isin(idx, _targets(rules))]
        elif rules and h.platform == "gotosocial":  # "open" list: silenced in, suspended out
            silenced = [r for r in rules if r.severity_raw == "silenced"]
            idx = np.union1d(idx, _targets(silenced))
            idx = idx[~np.isin(idx, _targets([r for r in rules if r not in silenced]))]
        if "farm_lister" in h.quirks:
            idx = np.union1d(idx, self.peer_model.farm)
        idx = apply_peers(idx, self.delta(h))
        return idx[idx != h.idx]

    def peer_names(self, h: Host) -> list[str]:
        """Domains of h's peers, in list order."""
        return self.peer_model.names[self.peer_indices(h)].tolist()

    def decoration(self, h: Host, idx: np.ndarray) -> Decoration:
        """Junk, respellings and own-name entries of h's flat list over peers `idx`."""
        names = self.peer_model.names
        return decoration(h, lambda i: names[idx[i]], len(idx), self.config.seed, self.epoch)

    def flat_peers(self, h: Host) -> tuple[list[str], list[str]]:
        """A flat published list (junk and spelling variants mixed in) and its junk strings."""
        idx = self.peer_indices(h)
        deco = self.decoration(h, idx)
        return decorated_strings(self.peer_model.names[idx].tolist(), deco), deco.junk

    def flat_peers_json(self, h: Host) -> bytes:
        """The same flat list, serialised (what the server sends)."""
        return orjson.dumps(self.flat_peers(h)[0])

    # -- usage ----------------------------------------------------------------------------

    def usage(self, h: Host) -> RawUsage:
        """Raw published counts at the current epoch."""
        return raw_usage(h, self.epoch)

    def host(self, name: str) -> Host | None:
        """The host answering for a Host header value (None if unknown)."""
        return self.by_domain.get(name) or self.api_hosts.get(name)


def private_rule(target: Host) -> BlockRule:
    """A Friendica anchor's clear block rule against one of its private servers."""
    return BlockRule(
        target.idx, target.domain, target.domain, "clear", "blocked", "suspend", None, None
    )


def _targets(rules: list[BlockRule]) -> np.ndarray:
    return np.array(sorted({r.target for r in rules}), dtype=np.int64)
