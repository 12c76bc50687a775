"""Ground truth: what a correct, polite crawl of the sandbox must store, at the current epoch.

Semantics (see also the sandbox contract):
- Only `alive` hosts carry software, counts, description, peers and blocks; every other status
  (including `opted_out`) has them null/empty, and list visibilities null.
- `peers` / `blocks` hold what a permitted crawler reads: empty unless the visibility is
  `public`. `junk_peers` are the raw strings of a flat list the crawler must reject.
- `hops`: BFS from the seeds over discovery links of alive hosts (readable peers, clear block
  domains) and of moved hosts (their target); null = never discovered.
- `language_group` is the planted language community of every instance (also of failing ones);
  `languages` are the tags an alive host's answers declare, lowercased, in declared order, and
  null where no answer of its platform declares any (`LANGUAGE_SOURCES` says where each
  platform declares them). `block_camp` names the planted camp (crawler.sandbox.camps).
- Hosts whose NodeInfo names no software, or that have none (crawler.sandbox.probes), are
  alive with `software` null and the family their platform API shows, flagged
  `family_from_probe`; without NodeInfo, only the counts the family's API gives are known.
  A nameless host whose APIs answer only HTML has family null and no readable list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from crawler.sandbox.languages import declared
from crawler.sandbox.model import FARM_DOMAIN, Host, failure_of
from crawler.sandbox.probes import nameless_variant, probed
from crawler.sandbox.usage import COUNT_KEYS, MISSING, RawUsage, stored_usage

if TYPE_CHECKING:
    from crawler.sandbox.world import World

FAILURE_STATUS: dict[str, tuple[str, str | None]] = {
    "dead": ("unreachable", "connect"),
    "hang": ("unreachable", "timeout"),
    "error500": ("unreachable", "http_5xx"),
    "gone": ("gone", None),
    "html": ("invalid", "not_json"),
    "moved": ("moved", None),
    "robots_all": ("opted_out", None),
    "robots_ua": ("opted_out", None),
    "gts_default": ("opted_out", None),
    "robots_500": ("unreachable", "robots_unavailable"),
    "no_nodeinfo": ("invalid", "no_nodeinfo"),
    "spa_html": ("invalid", "no_nodeinfo"),
    "bad_json": ("invalid", "bad_json"),
    "gts_serve": ("pending", "crawl_delay_too_long"),
}
ROBOTS_OPT_OUTS = ("robots_all", "robots_ua", "gts_default")
DESCRIBING = (
    "mastodon",
    "pleroma",
    "misskey",
    "lemmy",
    "peertube",
    "wordpress",
    "pixelfed",
    "generic",
)
FLAT = ("mastodon", "pleroma", "pixelfed", "generic")
LANGUAGE_SOURCES: dict[str, tuple[str, ...]] = {
    "mastodon": ("/api/v2/instance languages", "/api/v1/instance languages"),
    "pleroma": ("/api/v1/instance languages",),
    "gotosocial": ("/api/v1/instance languages",),
    "pixelfed": ("/api/v1/instance languages",),
    "misskey": ("/api/meta langs", "NodeInfo metadata.langs"),
    "peertube": ("/api/v1/config/about instance.languages",),
    "hubzilla": ("/siteinfo.json language (the first only)",),
}


def status_of(h: Host) -> tuple[str, str | None, str | None]:
    """(expected_status, error_kind, opt_out) of a host."""
    failure = failure_of(h)
    if failure in FAILURE_STATUS:
        status, kind = FAILURE_STATUS[failure]
        return status, kind, "robots" if failure in ROBOTS_OPT_OUTS else None
    if h.opt_out:
        return "opted_out", None, h.opt_out
    return "alive", None, None


def software_raw(h: Host) -> str | None:
    """Exactly what NodeInfo `software.name` says (for NodeInfo that names the software)."""
    if h.sw is None:
        return None
    return h.sw.raw.capitalize() if "uppercase_name" in h.quirks else h.sw.raw


def _empty(h: Host, status: str, kind: str | None, opt_out: str | None) -> dict[str, object]:
    entry: dict[str, object] = {
        "software_raw": None,
        "software": None,
        "family": None,
        "version": None,
        **dict.fromkeys(COUNT_KEYS),
        "open_registrations": None,
        "quality_flags": [],
        "expected_status": status,
        "error_kind": kind,
        "opt_out": opt_out,
        "moved_to": None,
        "description": None,
        "peers": [],
        "junk_peers": [],
        "peers_visibility": None,
        "blocks_visibility": None,
        "blocks": [],
        "hops": None,
        "farm": FARM_DOMAIN if h.kind == "farm" else None,
        "failure": failure_of(h),
        "quirks": sorted(h.quirks),
        "language_group": h.lang_group,
        "languages": None,
        "block_camp": h.camp,
    }
    return entry


def _alive(world: World, h: Host, entry: dict[str, object], with_peers: bool) -> None:
    raw = software_raw(h)
    stored, flags = stored_usage(_readable_usage(world, h))
    entry.update(stored)
    entry.update(
        software_raw=raw,
        software=raw.strip().lower() if raw else None,
        family=h.family,
        version=h.version,
        quality_flags=flags,
    )
    variant = nameless_variant(h)
    if variant is not None or "nodeinfo_none" in h.quirks:
        entry.update(software_raw=None, software=None)
        if variant in (None, "no_software"):
            entry["version"] = None  # only NodeInfo gives a software version
        if probed(h):
            entry["quality_flags"] = sorted({*flags, "family_from_probe"})
        else:
            entry["family"] = None
    entry["description"] = h.description if h.platform in DESCRIBING else None
    entry["languages"] = published_languages(h)
    entry["peers_visibility"] = h.peers_vis
    entry["blocks_visibility"] = vis = world.blocks_visibility(h)
    if vis == "public":
        rules = sorted(world.rules(h), key=lambda r: r.pattern)
        entry["blocks"] = [r.truth() for r in rules]
    if with_peers and h.peers_vis == "public":
        names = world.peer_names(h)
        entry["peers"] = sorted(names)
        if h.platform in FLAT and h.quirks & {"junk_peers", "self_in_peers"}:
            entry["junk_peers"] = world.flat_peers(h)[1]


def published_languages(h: Host) -> list[str] | None:
    """Lowercased tags h's answers declare (None when its platform declares none)."""
    if h.platform not in LANGUAGE_SOURCES:
        return None
    tags = [t.lower() for t in declared(h)]
    return tags[:1] if h.platform == "hubzilla" else tags


def _readable_usage(world: World, h: Host) -> RawUsage:
    """The counts a crawler can read: NodeInfo's, or without NodeInfo what the API gives.

    Of the probed families' APIs only Lemmy's site API carries counts (`site_view.counts`);
    none carries the registration state in a form the crawler reads.
    """
    raw = world.usage(h)
    if "nodeinfo_none" not in h.quirks:
        return raw
    if h.platform != "lemmy":
        return RawUsage(MISSING, MISSING, MISSING, MISSING, MISSING)
    return RawUsage(raw.total, raw.active_month, raw.active_halfyear, raw.local_posts, MISSING)


def _links(world: World, h: Host, status: str) -> np.ndarray:
    if status == "moved" and h.moved_to is not None:
        return np.array([h.moved_to], dtype=np.int64)
    if status != "alive":
        return np.empty(0, dtype=np.int64)
    parts = []
    if h.peers_vis == "public":
        parts.append(world.peer_indices(h))
    if world.blocks_visibility(h) == "public":
        clear = [r.target for r in world.rules(h) if r.kind == "clear" and r.target >= 0]
        parts.append(np.array(clear, dtype=np.int64))
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


def hops(world: World) -> np.ndarray:
    """BFS distance from the seeds for every host (-1 = never discovered)."""
    dist = np.full(len(world.hosts), -1, dtype=np.int64)
    frontier = [h.idx for h in world.seeds]
    dist[frontier] = 0
    level = 0
    while frontier:
        nxt: list[int] = []
        for i in frontier:
            h = world.hosts[i]
            links = _links(world, h, status_of(h)[0])
            new = np.unique(links[dist[links] < 0])
            dist[new] = level + 1
            nxt.extend(new.tolist())
        frontier, level = nxt, level + 1
    return dist


def build_truth(world: World, include_peers: bool = True) -> dict[str, object]:
    """The ground-truth document for the current epoch."""
    dist = hops(world)
    instances: dict[str, object] = {}
    for h in world.hosts:
        status, kind, opt_out = status_of(h)
        entry = _empty(h, status, kind, opt_out)
        if status == "alive":
            _alive(world, h, entry, include_peers)
        if h.moved_to is not None and status == "moved":
            entry["moved_to"] = world.hosts[h.moved_to].domain
        entry["hops"] = int(dist[h.idx]) if dist[h.idx] >= 0 else None
        instances[h.domain] = entry
    return {
        "seed": world.config.seed,
        "epoch": world.epoch,
        "seeds": [h.domain for h in world.seeds],
        "instances": instances,
        "changes": world.history.changes,
    }
