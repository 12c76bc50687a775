"""Known real-world deviations, assigned at small rates to healthy instances.

Each quirk is a name in `Host.quirks`; renderers and ground truth read the same names, so the
truth's counts and quality flags follow from exactly what the server publishes. See
each quirk's comment for where the deviation was seen.
"""

from __future__ import annotations

from collections.abc import Callable

from crawler.sandbox.assign import MIN_ONE_AT, Picker, free_instances
from crawler.sandbox.model import Host
from crawler.sandbox.names import registrable

FLAT_PEER_PLATFORMS = ("mastodon", "pleroma", "pixelfed", "generic")
COUNT_QUIRKS = (
    "count_strings",
    "localposts_object",
    "negative_count",
    "absurd_count",
    "zeroed",
    "suspect",
    "only_total",
)
REG_QUIRKS = ("reg_string", "reg_wrong_type", "reg_missing")


def _fam(family: str, raw: str | None = None) -> Callable[[Host], bool]:
    return lambda h: h.family == family and (raw is None or (h.sw is not None and h.sw.raw == raw))


def _platforms(*platforms: str) -> Callable[[Host], bool]:
    return lambda h: h.platform in platforms


def _no_nodeinfo_quirk(h: Host) -> bool:
    return not (h.quirks & {*COUNT_QUIRKS, *REG_QUIRKS})


# (quirk, share, of_pool): share of the eligible pool when of_pool, else of all instances.
TABLE: list[tuple[str, float, bool, Callable[[Host], bool]]] = [
    ("count_strings", 0.4, True, _fam("wordpress")),
    ("localposts_object", 0.15, True, _fam("pleroma", "pleroma")),
    ("only_total", 0.1, True, _fam("pleroma", "pleroma")),
    ("reg_string", 0.3, True, _fam("pleroma", "akkoma")),
    ("negative_count", 0.003, False, _platforms("mastodon", "lemmy", "generic", "pixelfed")),
    ("absurd_count", 0.003, False, _platforms("mastodon", "lemmy", "generic", "peertube")),
    ("zeroed", 0.003, False, _platforms("mastodon", "pixelfed", "generic")),
    ("suspect", 0.005, False, _platforms("mastodon", "lemmy", "friendica", "pixelfed")),
    ("reg_wrong_type", 0.003, False, _platforms("generic", "peertube", "wordpress")),
    ("reg_missing", 0.003, False, _platforms("generic", "peertube", "wordpress")),
    ("metadata_array", 0.005, False, _fam("mastodon", "mastodon")),
    ("no_services_metadata", 0.003, False, _fam("mastodon", "mastodon")),
    ("no_protocols", 0.05, True, _fam("lemmy")),
    ("uppercase_name", 0.003, False, _fam("mastodon", "mastodon")),
    ("glitch", 0.06, True, _fam("mastodon", "mastodon")),
    ("links_object", 0.2, True, _fam("lemmy")),
    ("extra_rels", 0.03, False, _platforms("mastodon", "pleroma", "misskey", "generic")),
    ("fallback_only", 0.005, False, _platforms("mastodon", "misskey")),
    (
        "api_host",
        0.005,
        False,
        lambda h: h.platform == "mastodon" and h.domain == registrable(h.domain),
    ),
    ("self_in_peers", 0.01, False, _platforms(*FLAT_PEER_PLATFORMS)),
    ("junk_peers", 0.25, True, _platforms(*FLAT_PEER_PLATFORMS)),
    ("peers_broken", 0.005, False, lambda h: h.platform == "mastodon" and h.peers_vis == "public"),
    (
        "robots_no_peers",
        0.005,
        False,
        lambda h: h.platform == "mastodon" and h.peers_vis == "public",
    ),
]


def assign_quirks(hosts: list[Host], pick: Picker, enabled: bool) -> None:
    """Give each quirk to its share of eligible healthy instances, then the farm listers."""
    if enabled:
        for quirk, share, of_pool, test in TABLE:
            pool = free_instances(hosts, test)
            if quirk in (*COUNT_QUIRKS, *REG_QUIRKS):
                pool = [h for h in pool if _no_nodeinfo_quirk(h)]
            if of_pool:
                k = round(share * len(pool))
                k = max(k, 1) if pool and pick.n >= MIN_ONE_AT else k
            else:
                k = pick.count(share)
            for h in pick.take(pool, k):
                h.quirks.add(quirk)
        for h in hosts:
            if h.seed and h.platform in FLAT_PEER_PLATFORMS:
                h.quirks.add("junk_peers")
    _apply_effects(hosts)
    listers = free_instances(
        hosts,
        lambda h: (
            h.platform == "mastodon"
            and h.peers_vis == "public"
            and not h.quirks & {"peers_broken", "robots_no_peers"}
        ),
    )
    if any(h.kind == "farm" for h in hosts):
        for h in pick.take(listers, 3):
            h.quirks.add("farm_lister")


def _apply_effects(hosts: list[Host]) -> None:
    for h in hosts:
        if "glitch" in h.quirks and h.version and "+" not in h.version:
            h.version = f"{h.version}+glitch"
        if "peers_broken" in h.quirks:
            h.peers_vis = "error"
        if "robots_no_peers" in h.quirks:
            h.peers_vis = "disallowed"
        if h.family == "misskey" and h.sw and h.sw.raw == "misskey":
            h.quirks.add("null_active")
