"""Block rules: generation per blocker, obfuscation algorithms and severity vocabularies.

Rules are generated lazily per host from `random.Random(f"{seed}:blocks:{idx}")`; targets are
drawn mostly from a small set of "notorious" hosts. Each platform publishes the same rule list in
its own shape (see crawler.sandbox.platforms); `BlockRule.truth()` is the ground-truth row.
"""

from __future__ import annotations

import hashlib
import random
from bisect import bisect_right
from dataclasses import dataclass, replace
from itertools import accumulate

from crawler.sandbox import catalog
from crawler.sandbox.model import FARM_DOMAIN, Host
from crawler.sandbox.names import registrable
from crawler.sandbox.probes import special

# raw word -> normalised severity, per platform
# Deliberately not imported from crawler.blocks: the sandbox's truth must be written
# independently of the crawler it checks, so a wrong mapping there cannot hide here.
SEVERITY: dict[str, dict[str, str]] = {
    "mastodon": {"suspend": "suspend", "silence": "silence"},
    "pleroma": {
        "reject": "suspend",
        "followers_only": "silence",
        "federated_timeline_removal": "silence",
        "media_removal": "reject_media",
        "report_removal": "reject_reports",
        "media_nsfw": "other",
        "avatar_removal": "other",
        "banner_removal": "other",
        "quarantine": "quarantine",
    },
    "misskey": {"blocked": "suspend", "silenced": "silence", "suspended": "other"},
    "lemmy": {"blocked": "suspend"},
    "gotosocial": {"suspended": "suspend", "silenced": "silence"},
    "friendica": {"blocked": "suspend"},
    "mbin": {"defederated": "suspend"},
}
RAW_WEIGHTS: dict[str, dict[str, float]] = {
    "mastodon": {"suspend": 70, "silence": 30},
    "pleroma": {
        "reject": 55,
        "followers_only": 8,
        "federated_timeline_removal": 12,
        "media_removal": 8,
        "media_nsfw": 6,
        "report_removal": 4,
        "avatar_removal": 2,
        "banner_removal": 2,
        "quarantine": 5,
    },
    "misskey": {"blocked": 60, "silenced": 25, "suspended": 15},
    "gotosocial": {"suspended": 75, "silenced": 25},
}
WITH_REASONS = ("mastodon", "pleroma", "gotosocial", "friendica")


@dataclass(frozen=True, slots=True)
class BlockRule:
    """One rule a server publishes."""

    target: int  # host index of the true domain (-1 for a wildcard's registrable domain)
    true_domain: str
    pattern: str  # text as published
    kind: str  # clear | masked | wildcard
    severity_raw: str
    severity: str
    reason: str | None
    digest: str | None

    @property
    def blocked(self) -> str | None:
        """The domain when published in clear."""
        return self.true_domain if self.kind == "clear" else None

    def truth(self) -> dict[str, object]:
        """Ground-truth row (contract field names)."""
        return {
            "pattern": self.pattern,
            "blocked": self.blocked,
            "true_domain": self.true_domain,
            "digest": self.digest,
            "severity": self.severity,
            "severity_raw": self.severity_raw,
            "reason": self.reason,
            "kind": self.kind,
        }

    def with_severity(self, platform: str, raw: str) -> BlockRule:
        """The same rule at another raw severity word."""
        return replace(self, severity_raw=raw, severity=SEVERITY[platform][raw])


def mastodon_obfuscate(domain: str) -> str:
    """Mastodon's DomainBlock#public_domain obfuscation."""
    n = len(domain)
    ratio = n // 4
    return "".join("*" if ratio < i < n - ratio and c != "." else c for i, c in enumerate(domain))


def pleroma_obfuscate(domain: str) -> str:
    """Pleroma/Akkoma MRF transparency obfuscation: 3 chars kept at each end, dots kept."""
    n = len(domain)
    keep_head, keep_tail = (3, 3) if n > 6 else (0, n // 3)
    return "".join(
        c if c == "." or i < keep_head or i >= n - keep_tail else "*" for i, c in enumerate(domain)
    )


def friendica_mask(domain: str, rng: random.Random) -> str:
    """A Friendica-style masked entry using `*` or `?` in the first label."""
    label, _, rest = domain.partition(".")
    if len(label) < 4:
        return f"{label[0]}*.{rest}"
    if rng.random() < 0.5:
        return f"{label[:2]}*{label[-1]}.{rest}"
    i = rng.randrange(1, len(label) - 1)
    return f"{label[:i]}?{label[i + 1 :]}.{rest}"


def digest(domain: str) -> str:
    """SHA-256 hex of the normalised domain, as Mastodon publishes it."""
    return hashlib.sha256(domain.encode("ascii")).hexdigest()


class BlockTargets:
    """Weighted target choice: notorious hosts are blocked far more often."""

    def __init__(self, hosts: list[Host], seed: int) -> None:
        rng = random.Random(f"{seed}:notorious")
        weights = []
        for h in hosts:
            if h.kind == "farm":
                weights.append(0.0)
                continue
            w = (h.users + 20) ** 0.3 if h.kind == "instance" else 1.5
            weights.append(w * (60.0 if rng.random() < 0.03 else 1.0))
        # Private servers are blocked by nobody but their anchor; seeds block no anchor
        # (a seed lists every anchor; Mastodon leaves blocked hosts out of its peers).
        weights = [
            0.0 if h.private_to is not None else w for h, w in zip(hosts, weights, strict=True)
        ]
        anchors = {h.idx for h in hosts if special(h)}
        self.cum = list(accumulate(weights))
        self.cum_seed = list(
            accumulate(
                0.0 if h.hidden or h.idx in anchors else w
                for h, w in zip(hosts, weights, strict=True)
            )
        )

    def draw(self, rng: random.Random, for_seed: bool) -> int:
        """One target index."""
        cum = self.cum_seed if for_seed else self.cum
        return bisect_right(cum, rng.random() * cum[-1])


def _pick_raw(rng: random.Random, platform: str) -> str:
    weights = RAW_WEIGHTS.get(platform)
    if weights is None:
        return next(iter(SEVERITY[platform]))
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _reason(rng: random.Random, platform: str, with_reason: bool) -> str | None:
    if platform not in WITH_REASONS or not with_reason or rng.random() < 0.15:
        return None
    return rng.choice(catalog.BLOCK_REASONS)


def make_rule(rng: random.Random, blocker: Host, target: Host, with_reason: bool) -> BlockRule:
    """One rule of `blocker` against `target` in the blocker's platform conventions."""
    platform = blocker.platform
    raw = _pick_raw(rng, platform)
    domain, kind, pattern, idx = target.domain, "clear", target.domain, target.idx
    roll = rng.random()
    if platform in ("pleroma", "friendica") and roll < 0.08:
        domain, idx = registrable(target.domain), -1
        kind, pattern = "wildcard", f"*.{domain}"
    elif platform in ("mastodon", "gotosocial") and roll < 0.2 and raw != "silenced":
        pattern = mastodon_obfuscate(domain)
    elif platform == "pleroma" and roll < 0.22:
        pattern = pleroma_obfuscate(domain)
    elif platform == "friendica" and roll < 0.2:
        pattern = friendica_mask(domain, rng)
    if kind == "clear" and pattern != domain:
        kind = "masked"
    sha = digest(domain) if platform == "mastodon" else None
    severity = SEVERITY[platform][raw]
    return BlockRule(
        idx, domain, pattern, kind, raw, severity, _reason(rng, platform, with_reason), sha
    )


def base_rules(
    hosts: list[Host], targets: BlockTargets, blocker: Host, seed: int
) -> list[BlockRule]:
    """The blocker's rules at epoch 0 (distinct patterns, never itself)."""
    if blocker.block_count <= 0:
        return []
    rng = random.Random(f"{seed}:blocks:{blocker.idx}")
    with_reason = rng.random() < 0.7
    rules: dict[str, BlockRule] = {}
    seen = {registrable(blocker.domain), blocker.domain}
    if blocker.platform in ("pleroma", "friendica") and rng.random() < 0.1 and not blocker.seed:
        rules[f"*.{FARM_DOMAIN}"] = BlockRule(
            -1,
            FARM_DOMAIN,
            f"*.{FARM_DOMAIN}",
            "wildcard",
            _farm_raw(blocker.platform),
            "suspend",
            "spam",
            None,
        )
    for _ in range(blocker.block_count * 3):
        if len(rules) >= blocker.block_count:
            break
        t = targets.draw(rng, blocker.seed)
        if t == blocker.idx or t >= len(hosts):
            continue
        rule = make_rule(rng, blocker, hosts[t], with_reason)
        if rule.pattern not in rules and rule.true_domain not in seen:
            rules[rule.pattern] = rule
            seen.add(rule.true_domain)
    return list(rules.values())


def camp_rules(
    hosts: list[Host], blocker: Host, camp_targets: list[int], own: list[BlockRule], seed: int
) -> list[BlockRule]:
    """Clear rules of a camp member against the other camp (crawler.sandbox.camps).

    Published in clear and as suspensions: a camp's list is a statement of where it stands.
    """
    rng = random.Random(f"{seed}:camp-rules:{blocker.idx}")
    taken = {r.true_domain for r in own}
    rules = []
    for t in camp_targets:
        target = hosts[t]
        if target.domain in taken:
            continue
        raw = next(iter(SEVERITY[blocker.platform]))  # each platform's first word: suspend
        rules.append(
            BlockRule(
                t,
                target.domain,
                target.domain,
                "clear",
                raw,
                SEVERITY[blocker.platform][raw],
                _reason(rng, blocker.platform, True),
                digest(target.domain) if blocker.platform == "mastodon" else None,
            )
        )
    return rules


def _farm_raw(platform: str) -> str:
    return "reject" if platform == "pleroma" else "blocked"
