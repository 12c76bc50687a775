"""Peer lists, generated on request from per-host seeds with numpy (never stored).

Targets are chosen by popularity (bigger instances are known by more servers; dead names are
known too). Small lists sample with replacement from the popularity CDF and keep the first `k`
distinct hosts; large lists include each host independently with probability `min(1, c * q_j)`,
`c` solved so the expected size is `k`. Seeds use a popularity vector without the hidden
(hop-2-only) instances. Each language group (crawler.sandbox.languages) has its own vector that
puts `IN_GROUP` of the popularity on the group's own servers, so small lists stay mostly within
the group while large lists, saturated with the popular servers of every group, peer widely.
Junk entries derived from real names are mixed into some flat lists.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from crawler.sandbox.model import Host
from crawler.sandbox.names import registrable, to_unicode

BERNOULLI_AT = 1 / 40  # lists at least this share of the eligible names use Bernoulli sampling
IN_GROUP = 0.8  # share of a peer list's popularity on servers of the host's own language group


class _Popularity:
    """One popularity vector with its sampling tables."""

    def __init__(self, weights: np.ndarray) -> None:
        self.cdf = np.cumsum(weights)
        self.eligible = int(np.count_nonzero(weights))
        total = float(self.cdf[-1]) if len(weights) else 0.0
        self.q = weights / total if total else weights
        sorted_q = np.sort(self.q)[::-1]
        self.sorted_q = sorted_q
        self.tail = np.cumsum(sorted_q[::-1])[::-1]  # tail[m] = sum(sorted_q[m:])
        self.ranks = np.arange(len(weights), dtype=np.float64)

    def scale_for(self, k: int) -> float:
        """c such that sum(min(1, c * q)) == k."""
        with np.errstate(divide="ignore", invalid="ignore"):
            c = (k - self.ranks) / self.tail
            ok = np.nonzero(c * self.sorted_q <= 1.0)[0]
        return float(c[ok[0]]) if len(ok) else float("inf")

    def bernoulli(self, rng: np.random.Generator, k: int) -> np.ndarray:
        """Each host with probability min(1, c * q)."""
        p = np.minimum(1.0, self.scale_for(k) * self.q)
        return np.nonzero(rng.random(len(p)) < p)[0]

    def sample(self, rng: np.random.Generator, k: int) -> np.ndarray:
        """The first `k` distinct hosts of a popularity-weighted stream."""
        total = float(self.cdf[-1])
        drawn = np.empty(0, dtype=np.int64)
        for attempt in range(6):
            n = int(k * (1.3 + attempt)) + 16
            more = np.searchsorted(self.cdf, rng.random(n) * total, side="right")
            drawn = np.concatenate([drawn, more])
            uniq, first = np.unique(drawn, return_index=True)
            if len(uniq) >= k:
                break
        return np.sort(uniq[np.argsort(first, kind="stable")][:k])


class PeerModel:
    """Base peer lists (popularity sample) for every host that publishes one."""

    def __init__(self, hosts: list[Host], seed: int) -> None:
        self.seed = seed
        self.names = np.array([h.domain for h in hosts], dtype=object)
        self.farm = np.array([h.idx for h in hosts if h.kind == "farm"], dtype=np.int64)
        nrng = np.random.default_rng([seed, 21])
        noise = nrng.uniform(0.3, 1.5, len(hosts))
        weights = np.zeros(len(hosts))
        for h in hosts:
            if h.kind == "instance":
                weights[h.idx] = (h.users + 20) ** 0.55
            elif h.kind == "dead":
                weights[h.idx] = 5.0 * noise[h.idx]
            elif h.kind == "alias":
                weights[h.idx] = 2.0
        for h in hosts:
            if h.private_to is not None:  # only its anchor lists it (crawler.sandbox.probes)
                weights[h.idx] = 0.0
        self.normal = _Popularity(weights)
        hidden = np.array([h.idx for h in hosts if h.hidden], dtype=np.int64)
        seed_weights = weights.copy()
        seed_weights[hidden] = 0.0
        self.for_seeds = _Popularity(seed_weights) if len(hidden) else self.normal
        group_of = np.array([h.lang_group or "" for h in hosts], dtype=object)
        self.groups: dict[str, tuple[_Popularity, _Popularity | None]] = {}
        for group in sorted({h.lang_group for h in hosts if h.lang_group}):
            inside = group_of == group
            self.groups[group] = (
                _Popularity(_mixed(weights, inside)),
                _Popularity(_mixed(seed_weights, inside)) if len(hidden) else None,
            )

    def popularity(self, h: Host) -> _Popularity:
        """The vector h's list is drawn from: its language group's, without hidden for seeds."""
        mixed = self.groups.get(h.lang_group or "")
        if mixed is None:
            return self.for_seeds if h.seed else self.normal
        normal, for_seeds = mixed
        return (for_seeds or normal) if h.seed else normal

    def base(self, h: Host) -> np.ndarray:
        """Sorted distinct host indices of h's epoch-0 list (without h itself)."""
        k = h.peer_count
        if k <= 0:
            return np.empty(0, dtype=np.int64)
        rng = np.random.default_rng([self.seed, h.idx, 3])
        if h.kind == "farm":
            others = self.farm[self.farm != h.idx]
            return np.sort(rng.choice(others, size=min(k, len(others)), replace=False))
        pop = self.popularity(h)
        if k >= pop.eligible:
            idx = np.nonzero(pop.q > 0)[0]
        elif k >= BERNOULLI_AT * pop.eligible:
            idx = pop.bernoulli(rng, k)
        else:
            idx = pop.sample(rng, k)
        return idx[idx != h.idx]


def _mixed(weights: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Weights rescaled so the group holds IN_GROUP of the total and the rest 1 - IN_GROUP."""
    own, rest = weights[inside].sum(), weights[~inside].sum()
    if own <= 0 or rest <= 0:
        return weights
    return np.where(inside, weights * (IN_GROUP / own), weights * ((1 - IN_GROUP) / rest))


def variant(name: str, rng: random.Random) -> str:
    """A spelling of `name` that normalises back to it (case, trailing dot, U-label, spaces)."""
    if any(label.startswith("xn--") for label in name.split(".")):
        return to_unicode(name)
    roll = rng.random()
    if roll < 0.4:
        return ".".join(
            part.upper() if i == 0 else part.capitalize() for i, part in enumerate(name.split("."))
        )
    if roll < 0.7:
        return f"{name}."
    return f" {name} "


def junk_for(name: str, rng: random.Random) -> str:
    """A raw string the crawler must reject, derived from a real name."""
    label = registrable(name).split(".")[0]
    options = (
        f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        "[::1]",
        f"2001:db8::{rng.randint(1, 999)}",
        f"{name}:443",
        f"https://{name}/",
        f"*.{registrable(name)}",
        f"@user@{name}",
        f"{'a' * 300}.test",
        "localhost",
        f"{label}.invalid",
        f"{label}.i2p",  # not on the PSL (a .onion name would be valid, only uncrawlable)
        "",
    )
    return rng.choice(options)


@dataclass
class Decoration:
    """Edits of a flat peer list: replaced spellings and inserted strings (junk, own name)."""

    replace: dict[int, str] = field(default_factory=dict)  # position -> published spelling
    insert: list[tuple[int, str]] = field(default_factory=list)  # (before position, text)
    junk: list[str] = field(default_factory=list)  # junk strings in published order


def decoration(h: Host, name_at: Callable[[int], str], n: int, seed: int, epoch: int) -> Decoration:
    """Which entries of h's flat list (n valid names) are respelled, and what is inserted."""
    rng = random.Random(f"{seed}:junk:{h.idx}:{epoch}")
    deco = Decoration()
    junk: list[str] = []
    if "junk_peers" in h.quirks and n:
        for _ in range(min(3, n)):
            pos = rng.randrange(n)
            deco.replace[pos] = variant(name_at(pos), rng)
        for _ in range(rng.randint(4, 9)):
            item = junk_for(name_at(rng.randrange(n)), rng)
            if item not in junk:
                junk.append(item)
        deco.insert = [(rng.randrange(n + 1), item) for item in junk]
    if "self_in_peers" in h.quirks:
        deco.insert.append((rng.randrange(n + 1), h.domain))
    order = sorted(range(len(deco.insert)), key=lambda i: deco.insert[i][0])
    deco.insert = [deco.insert[i] for i in order]
    junk_set = set(junk)
    deco.junk = [text for _, text in deco.insert if text in junk_set]
    return deco


def decorated_strings(names: list[str], deco: Decoration) -> list[str]:
    """The published flat list: valid names with the decoration applied."""
    for pos, text in deco.replace.items():
        names[pos] = text
    if not deco.insert:
        return names
    out: list[str] = []
    last = 0
    for pos, text in deco.insert:
        out += names[last:pos]
        out.append(text)
        last = pos
    out += names[last:]
    return out
