"""Servers NodeInfo does not identify, and the servers reachable only through them.

Real servers send NodeInfo that names no software (custom builds, compatibility layers,
half-configured installs) and some send none at all; a crawler that stops there never reads
their peer and block lists. The sandbox gives such roles (as `Host.quirks`) to healthy
instances, once the world has >= 200 instances:

- `nameless_<variant>` per family in `ANCHOR_FAMILIES`: NodeInfo whose `software.name` is
  null, missing, empty, a number, "unknown", blank, or whose `software` object is missing; the
  platform APIs answer as usual, so the family shows in them.
- `nodeinfo_none` per family: no well-known document, no fixed NodeInfo path, no NodeInfo2;
  the platform APIs answer as usual.
- `nodeinfo2_only` on a Friendica and a diaspora pod: only `/.well-known/x-nodeinfo2`
  (NodeInfo2 1.0).
- `nameless_html`: nameless NodeInfo, and every other path answers a parked-style HTML page
  with 200 (alive, family unknown: no list is readable).
- failure `spa_html`: no NodeInfo, and every other path answers HTML with 200 (stays
  `invalid` / `no_nodeinfo`).

Each anchor (all of the above that publish a list) has `PRIVATE_PER_ANCHOR` private servers:
no other host lists or blocks them, so a crawl finds them only by reading the anchor's list
(its peers; the Friendica anchor's block list). Every seed lists every anchor, so anchors are
one hop from the seeds. Everything is drawn from `random.Random(f"{seed}:probes")`.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from crawler.sandbox.assign import MIN_ONE_AT
from crawler.sandbox.config import SandboxConfig
from crawler.sandbox.model import Host

#: Families whose platform APIs the crawler's probes identify (crawler.adapters.probe).
ANCHOR_FAMILIES = ("mastodon", "pleroma", "misskey", "lemmy", "peertube", "gotosocial", "pixelfed")
NAMELESS_VARIANTS = ("null", "missing", "empty", "number", "unknown", "blank", "no_software")
PRIVATE_PER_ANCHOR = 2
#: Platform quirks an anchor may already have (GoToSocial's admin mode, Misskey's null counts).
_ALLOWED_QUIRKS = frozenset({"null_active", "gts_admin_open"})


def nameless_variant(h: Host) -> str | None:
    """How the host's NodeInfo names no software (None: it names it, or has no NodeInfo)."""
    for quirk in h.quirks:
        if quirk.startswith("nameless_") and quirk != "nameless_html":
            return quirk.removeprefix("nameless_")
    return "null" if "nameless_html" in h.quirks else None


def without_nodeinfo(h: Host) -> bool:
    """No well-known NodeInfo document and no fixed NodeInfo path."""
    return bool(h.quirks & {"nodeinfo_none", "nodeinfo2_only"}) or h.failure == "spa_html"


def special(h: Host) -> bool:
    """Any of the roles above (NodeInfo names no software, or there is none)."""
    return nameless_variant(h) is not None or without_nodeinfo(h)


def probed(h: Host) -> bool:
    """The crawler must identify this host's family from its APIs."""
    return "nodeinfo_none" in h.quirks or (
        nameless_variant(h) is not None and "nameless_html" not in h.quirks
    )


def _eligible(h: Host, taken: set[int]) -> bool:
    return (
        h.kind == "instance"
        and h.sw is not None
        and not h.seed
        and not h.hidden
        and h.failure is None
        and h.opt_out is None
        and h.idx not in taken
        and h.quirks <= _ALLOWED_QUIRKS
        and h.family not in ("threads", "bridgy-fed")
    )


def assign_probe_hosts(hosts: list[Host], config: SandboxConfig) -> dict[int, list[int]]:
    """Give the roles above; returns anchor index -> indices of its private servers."""
    if config.instances < MIN_ONE_AT or not config.failures or not config.quirks:
        return {}
    rng = random.Random(f"{config.seed}:probes")
    taken = {h.moved_to for h in hosts if h.moved_to is not None}  # move targets stay public
    anchors: list[Host] = []

    def pick(
        test: Callable[[Host], bool], quirk: str | None = None, failure: str | None = None
    ) -> Host | None:
        pool = [h for h in hosts if _eligible(h, taken) and test(h)]
        if not pool:
            return None
        h = rng.choice(pool)
        taken.add(h.idx)
        if quirk:
            h.quirks.add(quirk)
        if failure:
            h.failure = failure
        return h

    def lists_peers(family: str) -> Callable[[Host], bool]:
        return lambda h: h.family == family and h.peers_vis == "public"

    for i, family in enumerate(ANCHOR_FAMILIES):
        variant = NAMELESS_VARIANTS[i % len(NAMELESS_VARIANTS)]
        for quirk in (f"nameless_{variant}", "nodeinfo_none"):
            h = pick(lists_peers(family), quirk)
            if h is not None:
                anchors.append(h)
    friendica = pick(
        lambda h: h.family == "friendica" and h.blocks_vis == "public", "nodeinfo2_only"
    )
    if friendica is not None:
        anchors.append(friendica)
    pick(lambda h: h.family == "diaspora", "nodeinfo2_only")  # publishes no list at all
    html = pick(lambda h: h.platform == "generic", "nameless_html")
    if html is not None:
        html.peers_vis = html.blocks_vis = "unsupported"
    pick(lambda h: True, failure="spa_html")
    private: dict[int, list[int]] = {}
    for anchor in anchors:
        for _ in range(PRIVATE_PER_ANCHOR):
            h = pick(lambda h: h.family not in ("relay",))
            if h is not None:
                h.private_to = anchor.idx
                private.setdefault(anchor.idx, []).append(h.idx)
    return private
