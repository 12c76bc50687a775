"""Deterministic generation of the synthetic Fediverse's hosts.

`build_hosts(config)` returns every host the sandbox knows: instances (answering or failing),
the `www.threads.test` alias, the subdomain farm and the extra dead names, each a `Host` with its
software, sizes, title and description. Failure modes, visibilities and quirks are assigned by
`crawler.sandbox.assign`; peers and blocks are generated on request from per-host seeds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np

from crawler.sandbox import catalog, names
from crawler.sandbox.catalog import Software
from crawler.sandbox.config import SandboxConfig

FARM_DOMAIN = "spamfarm.test"
THREADS_DOMAIN = "threads.test"
MASTODON_USER_SHARE = 0.78


@dataclass(slots=True)
class Host:
    """One host name the sandbox answers for (or deliberately does not)."""

    idx: int
    domain: str
    kind: str  # instance | alias | farm | dead
    sw: Software | None = None
    version: str | None = None
    users: int = 0
    active_month: int = 0
    active_halfyear: int = 0
    posts: int = 0
    open_reg: bool = False
    title: str = ""
    description: str | None = None
    failure: str | None = None  # server behaviour that prevents a normal visit
    opt_out: str | None = None  # nobot | noindex | site_private | hide_in_statistics | ...
    moved_to: int | None = None  # host index of the move target
    quirks: set[str] = field(default_factory=set)
    peers_vis: str = "unsupported"  # what a crawler allowed to read the list would get
    blocks_vis: str = "unsupported"
    peer_count: int = 0
    block_count: int = 0
    hidden: bool = False  # never listed (peers or blocks) by a seed
    private_to: int | None = None  # listed (or blocked) by this host index only
    seed: bool = False
    growth: int = 0  # user growth per epoch, in percent
    lang_group: str | None = None  # language community (crawler.sandbox.languages)
    languages: tuple[str, ...] = ()  # declared tags, as published
    camp: str | None = None  # planted block camp (crawler.sandbox.camps)

    @property
    def family(self) -> str | None:
        """Lineage of the software (None for hosts without software)."""
        return self.sw.family if self.sw else None

    @property
    def platform(self) -> str:
        """Renderer key in crawler.sandbox.platforms ("none" when nothing is served)."""
        return self.sw.platform if self.sw else "none"


#: GoToSocial robots.txt modes that keep a polite crawler out (its failure modes).
GTS_FAILURES = ("gts_default", "gts_serve")


def gts_mode(h: Host) -> str:
    """Which robots.txt a GoToSocial host serves: its failure mode, its admin's quirk, or
    GoToSocial's default, which opts the server out of crawling (also with failures off)."""
    return h.failure or next((q for q in sorted(h.quirks) if q.startswith("gts_")), "gts_default")


def failure_of(h: Host) -> str | None:
    """The failure mode the host serves: its own, or GoToSocial's default robots.txt."""
    if h.failure is None and h.platform == "gotosocial" and gts_mode(h) in GTS_FAILURES:
        return gts_mode(h)
    return h.failure


def _allocate(total: int, shares: dict[str, float]) -> list[str]:
    """Largest-remainder allocation of `total` slots to keys by share."""
    weight = sum(shares.values())
    exact = {k: total * v / weight for k, v in shares.items()}
    counts = {k: int(x) for k, x in exact.items()}
    rest = sorted(shares, key=lambda k: (counts[k] - exact[k], k))
    for k in rest[: total - sum(counts.values())]:
        counts[k] += 1
    return [k for k in shares for _ in range(counts[k])]


def _families(rng: random.Random, n: int) -> list[str]:
    singles = []
    if n >= 50:
        singles.append("threads")
    if n >= 100:
        singles.append("bridgy-fed")
    fams = _allocate(n - len(singles), catalog.FAMILY_SHARE) + singles
    rng.shuffle(fams)
    return fams


def _software(rng: random.Random, family: str) -> Software:
    if family == "threads":
        return catalog.THREADS
    if family == "bridgy-fed":
        return catalog.BRIDGY
    options = catalog.FAMILY_SOFTWARE[family]
    return rng.choices([s for s, _ in options], weights=[w for _, w in options])[0]


def _sizes(nrng: np.random.Generator, fams: list[str]) -> np.ndarray:
    """Heavy-tailed user counts, Mastodon holding ~78% of all users."""
    n = len(fams)
    raw = 1.0 + np.floor(2.0 * nrng.pareto(0.75, n))
    raw = np.minimum(raw, 2_500_000.0)
    factor = np.array([catalog.SIZE_FACTOR.get(f, 0.3) for f in fams])
    users = np.maximum(raw * factor, 1.0)
    masto = np.array([f == "mastodon" for f in fams])
    m, o = users[masto].sum(), users[~masto].sum()
    if m > 0 and o > 0:
        users[~masto] *= (1 - MASTODON_USER_SHARE) * m / (MASTODON_USER_SHARE * o)
    users = np.maximum(np.floor(users), 1.0)
    for i, f in enumerate(fams):
        if f == "relay":
            users[i] = 1 + i % 3
    return users.astype(np.int64)


def _describe(rng: random.Random, label: str) -> tuple[str, str]:
    place = label.split("-")[0].capitalize()
    title = " ".join(part.capitalize() for part in label.split("-"))
    text = rng.choice(catalog.DESCRIPTION_TEMPLATES).format(
        topic=rng.choice(catalog.TOPICS), place=place, Place=place
    )
    return title, text


def _fill_instance(host: Host, rng: random.Random, users: int) -> None:
    assert host.sw is not None
    host.version = rng.choice(host.sw.versions)
    host.users = users
    share = rng.uniform(0.04, 0.35) if users > 200 else rng.uniform(0.2, 0.9)
    host.active_month = min(users, max(0, round(users * share)))
    host.active_halfyear = min(users, max(host.active_month, round(host.active_month * 2.2)))
    host.posts = int(users * rng.lognormvariate(4.0, 1.0)) + rng.randint(0, 50)
    host.open_reg = rng.random() < 0.45
    host.growth = rng.choice((0, 1, 1, 2, 3))
    if host.family == "relay":
        host.posts = 0


def _instance_domain(rng: random.Random, label: str, family: str) -> str:
    if family == "threads":
        return THREADS_DOMAIN
    prefixes = catalog.PREFIXES.get(family, ("",))
    return names.host_name(rng, label, prefixes)


def build_hosts(config: SandboxConfig) -> list[Host]:
    """Every host of the model, indexed by position (`Host.idx`)."""
    rng = random.Random(f"{config.seed}:model")
    nrng = np.random.default_rng([config.seed, 11])
    n, dead = config.instances, config.extra_dead_names
    fams = _families(rng, n)
    labels = names.unique_labels(rng, n + dead, idn=min(len(names.IDN_LABELS), n // 100))
    order = list(range(n))
    rng.shuffle(order)  # IDN labels land on random instances
    users = _sizes(nrng, fams)
    hosts: list[Host] = []
    for i, fam in enumerate(fams):
        label = labels[order[i]]
        host = Host(i, _instance_domain(rng, label, fam), "instance", _software(rng, fam))
        _fill_instance(host, rng, int(users[i]))
        host.title, host.description = _describe(rng, label)
        hosts.append(host)
    if any(h.domain == THREADS_DOMAIN for h in hosts):
        hosts.append(Host(len(hosts), f"www.{THREADS_DOMAIN}", "alias"))
    for k in range(min(config.farm_size, config.instances // 2)):
        farm = Host(
            len(hosts),
            f"n{k + 1}.{FARM_DOMAIN}",
            "farm",
            catalog.FAMILY_SOFTWARE["mastodon"][0][0],
            "4.2.10",
            users=1 + k % 4,
            active_month=1,
            active_halfyear=1,
        )
        farm.posts, farm.title, farm.description = 3 + k, f"n{k + 1}", "Just a small server."
        hosts.append(farm)
    for j in range(dead):
        prefixes = catalog.PREFIXES["mastodon"]
        domain = names.host_name(rng, labels[n + j], prefixes)
        hosts.append(Host(len(hosts), domain, "dead"))
    return hosts
