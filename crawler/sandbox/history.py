"""Epochs: deterministic changes of the world from one crawl to the next.

Epoch `e` is derived from epoch `e-1` with `random.Random(f"{seed}:epoch:{e}")`: on several
public Mastodon/Pleroma block lists rules are added, removed, change severity and change reason;
one public Mastodon block list turns restricted (401); a few flat peer lists gain and lose names;
a few Misskey federated-instance lists only gain names (Misskey keeps every instance it has met),
each new name dated by the epoch it arrived in (`firstRetrievedAt`; drawn from a stream of its
own, so the other changes stay what they were).
User growth is a closed formula (crawler.sandbox.usage.counts_at). The world replays
epochs 1..n (`advance`), so any epoch can be reached from any other.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from crawler.sandbox import catalog
from crawler.sandbox.blocks import BlockRule, make_rule
from crawler.sandbox.model import Host, failure_of

if TYPE_CHECKING:
    from crawler.sandbox.world import World

BLOCK_LISTS_PER_EPOCH = 4
PEER_LISTS_PER_EPOCH = 5
SWITCH = {
    "mastodon": {"suspend": "silence", "silence": "suspend"},
    "pleroma": {"reject": "followers_only", "followers_only": "reject"},
}


@dataclass
class Delta:
    """Accumulated changes of one host since epoch 0."""

    added: list[BlockRule] = field(default_factory=list)
    removed: set[str] = field(default_factory=set)
    severity: dict[str, str] = field(default_factory=dict)  # pattern -> raw word
    reason: dict[str, str] = field(default_factory=dict)
    restricted: bool = False
    peers_add: set[int] = field(default_factory=set)
    peers_remove: set[int] = field(default_factory=set)
    peers_added_at: dict[int, int] = field(default_factory=dict)  # peer -> epoch it arrived


def apply_rules(platform: str, base: list[BlockRule], delta: Delta | None) -> list[BlockRule]:
    """Rules after the host's accumulated changes."""
    if delta is None:
        return base
    rules = [r for r in [*base, *delta.added] if r.pattern not in delta.removed]
    out = []
    for r in rules:
        if r.pattern in delta.severity:
            r = r.with_severity(platform, delta.severity[r.pattern])
        if r.pattern in delta.reason:
            r = replace(r, reason=delta.reason[r.pattern])
        out.append(r)
    return out


def apply_peers(idx: np.ndarray, delta: Delta | None) -> np.ndarray:
    """Peer indices after the host's accumulated changes."""
    if delta is None or not (delta.peers_add or delta.peers_remove):
        return idx
    added = np.union1d(idx, np.fromiter(delta.peers_add, dtype=np.int64))
    removed = np.fromiter(delta.peers_remove, dtype=np.int64)
    return added[~np.isin(added, removed)]


def _healthy(h: Host) -> bool:
    return h.kind == "instance" and not h.seed and failure_of(h) is None and h.opt_out is None


class History:
    """Per-host deltas for the current epoch and the list of its changes."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.deltas: dict[int, Delta] = {}
        self.changes: list[dict[str, object]] = []  # changes made by the latest epoch

    def delta(self, h: Host) -> Delta | None:
        """Changes of host h so far (None when unchanged)."""
        return self.deltas.get(h.idx)

    def _d(self, h: Host) -> Delta:
        return self.deltas.setdefault(h.idx, Delta())

    def _log(self, epoch: int, h: Host, change: str, **detail: object) -> None:
        self.changes.append({"epoch": epoch, "domain": h.domain, "change": change, **detail})

    def advance(self, e: int) -> None:
        """Apply epoch e's changes (call with e = 1, 2, ... in order)."""
        self.changes = []
        rng = random.Random(f"{self.world.config.seed}:epoch:{e}")
        hosts = self.world.hosts
        lists = [
            h
            for h in hosts
            if _healthy(h)
            and h.blocks_vis == "public"
            and h.platform in SWITCH
            and not self._d(h).restricted
        ]
        lists = [h for h in lists if len(self.world.rules(h)) >= 4]
        chosen = rng.sample(lists, min(BLOCK_LISTS_PER_EPOCH, len(lists)))
        for h in chosen:
            self._change_blocks(e, rng, h)
        masto = [h for h in lists if h.platform == "mastodon" and h not in chosen]
        if masto:
            h = rng.choice(masto)
            self._d(h).restricted = True
            self._log(e, h, "blocks_restricted")
        flat = [
            h
            for h in hosts
            if _healthy(h)
            and h.peers_vis == "public"
            and h.platform in ("mastodon", "pleroma", "pixelfed", "generic")
        ]
        for h in rng.sample(flat, min(PEER_LISTS_PER_EPOCH, len(flat))):
            self._change_peers(e, rng, h)
        rng_misskey = random.Random(f"{self.world.config.seed}:epoch:{e}:misskey")
        growing = [
            h for h in hosts if _healthy(h) and h.peers_vis == "public" and h.platform == "misskey"
        ]
        for h in rng_misskey.sample(growing, min(PEER_LISTS_PER_EPOCH, len(growing))):
            self._grow_peers(e, rng_misskey, h)
        self.world.clear_caches()

    def _grow_peers(self, e: int, rng: random.Random, h: Host) -> None:
        """A Misskey server meets a few new servers (its list never loses any)."""
        d, current = self._d(h), self.world.peer_indices(h)
        candidates = [x for x in self.world.peer_candidates if x != h.idx]
        new = [x for x in rng.sample(candidates, min(6, len(candidates))) if x not in current][:3]
        d.peers_add.update(new)
        d.peers_added_at.update(dict.fromkeys(new, e))
        names = self.world.hosts
        self._log(e, h, "peers_changed", added=sorted(names[x].domain for x in new), removed=[])
        self.world.clear_caches()

    def _change_blocks(self, e: int, rng: random.Random, h: Host) -> None:
        d, rules = self._d(h), self.world.rules(h)
        taken = {r.true_domain for r in rules} | {h.domain}
        for _ in range(2):
            for _try in range(50):
                target = self.world.hosts[self.world.targets.draw(rng, False)]
                rule = make_rule(rng, h, target, True)
                if target.kind != "farm" and rule.true_domain not in taken:
                    taken.add(rule.true_domain)
                    d.added.append(rule)
                    self._log(e, h, "block_added", pattern=rule.pattern)
                    break
        gone = rng.choice(rules)
        d.removed.add(gone.pattern)
        self._log(e, h, "block_removed", pattern=gone.pattern)
        rest = [r for r in rules if r is not gone]
        switchable = [r for r in rest if r.severity_raw in SWITCH[h.platform]]
        if switchable:
            r = rng.choice(switchable)
            d.severity[r.pattern] = SWITCH[h.platform][r.severity_raw]
            self._log(
                e,
                h,
                "block_severity",
                pattern=r.pattern,
                old=r.severity_raw,
                new=d.severity[r.pattern],
            )
            rest = [x for x in rest if x is not r]
        if rest:
            r = rng.choice(rest)
            new = rng.choice([x for x in catalog.BLOCK_REASONS if x != r.reason])
            d.reason[r.pattern] = new
            self._log(e, h, "block_reason", pattern=r.pattern, old=r.reason, new=new)
        self.world.clear_caches()

    def _change_peers(self, e: int, rng: random.Random, h: Host) -> None:
        d = self._d(h)
        current = self.world.peer_indices(h)
        blocked = {r.target for r in self.world.rules(h)}
        candidates = [x for x in self.world.peer_candidates if x != h.idx and x not in blocked]
        new = [
            x for x in rng.sample(candidates, min(6, len(candidates))) if not np.isin(x, current)
        ][:3]
        old = [int(x) for x in rng.sample(list(current), min(3, len(current)))]
        d.peers_add.update(new)
        d.peers_add.difference_update(old)
        d.peers_remove.update(old)
        d.peers_remove.difference_update(new)
        names = self.world.hosts
        self._log(
            e,
            h,
            "peers_changed",
            added=sorted(names[x].domain for x in new),
            removed=sorted(names[x].domain for x in old),
        )
        self.world.clear_caches()
