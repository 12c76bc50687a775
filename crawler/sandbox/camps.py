"""Two planted block camps: a strict camp that blocks a rival camp, which blocks it back.

Both camps are English-speaking servers with public block lists (on the real network the
deepest split of this kind runs between strictly moderated servers and "free speech" ones).
Every member blocks every member of the other camp in clear, and keeps only a few rules of its
own beside them, so the members of a camp publish lists that are more alike than not: the
analysis's block camps (graph.camps) must find them, and the map must set them apart. Drawn from
`random.Random(f"{seed}:camps")` alone; small sandboxes (too few candidates) get no camps.
"""

from __future__ import annotations

import random

from crawler.sandbox.assign import free_instances
from crawler.sandbox.model import Host
from crawler.sandbox.probes import special

STRICT, RIVAL = "strict", "rival"
SHARES = {STRICT: (0.2, 6, 40), RIVAL: (0.1, 6, 24)}  # camp -> (share of pool, min, max)
MIN_POOL = 12
OWN_RULES = 3  # a member keeps at most a third of the other camp's size of its own rules


def _eligible(h: Host) -> bool:
    return (
        h.lang_group == "en"
        and h.blocks_vis == "public"
        and h.block_count > 0
        and not h.hidden
        and h.private_to is None
        and not special(h)
    )


def assign_camps(hosts: list[Host], seed: int) -> dict[int, list[int]]:
    """Mark the camps' members; return member index -> the other camp's member indices."""
    rng = random.Random(f"{seed}:camps")
    pool = sorted(free_instances(hosts, _eligible), key=lambda h: h.idx)
    if len(pool) < MIN_POOL:
        return {}
    members: dict[str, list[Host]] = {}
    for camp, (share, low, high) in SHARES.items():
        size = max(low, min(high, round(share * len(pool))))
        chosen = sorted(rng.sample(pool, min(size, len(pool) // 2)), key=lambda h: h.idx)
        pool = [h for h in pool if h not in chosen]
        members[camp] = chosen
    targets: dict[int, list[int]] = {}
    for camp, other in ((STRICT, RIVAL), (RIVAL, STRICT)):
        others = [h.idx for h in members[other]]
        for h in members[camp]:
            h.camp = camp
            h.block_count = min(h.block_count, max(1, len(others) // OWN_RULES))
            targets[h.idx] = others
    return targets
