"""Language communities of the sandbox: each instance's declared languages and its group.

Every instance belongs to one language group (its primary language); some declare a second
language (mostly English beside a non-English primary). The skew follows what servers declare on
the real network: English largest, then Japanese (most Misskey servers), German, French, Spanish
and smaller groups. Peer lists prefer the own group (crawler.sandbox.peers), so the groups are
communities a map can find. Drawn from `random.Random(f"{seed}:languages")` alone, so adding
languages leaves every other draw of the world unchanged.
"""

from __future__ import annotations

import random

from crawler.sandbox.model import Host

# group -> share of instances (Misskey-family servers weight Japanese up, see MISSKEY_JA)
GROUP_SHARE: dict[str, float] = {
    "en": 44,
    "ja": 14,
    "de": 12,
    "fr": 8,
    "es": 6,
    "pt": 5,
    "zh": 3,
    "it": 3,
    "nl": 3,
    "ko": 2,
}
MISSKEY_JA = 6.0  # Misskey is a Japanese project: its servers are Japanese far more often
ENGLISH_ONLY = ("threads", "bridgy-fed", "relay")
# Tags as published, region subtags in their usual case (the crawler lowercases them).
TAGS: dict[str, tuple[tuple[str, float], ...]] = {
    "pt": (("pt-BR", 0.7), ("pt", 0.3)),
    "zh": (("zh-TW", 0.5), ("zh-CN", 0.2), ("zh", 0.3)),
    "es": (("es", 0.85), ("es-MX", 0.15)),
}
SECOND_EN = 0.35  # non-English servers that also declare English
SECOND_OTHER = 0.08  # English servers that also declare another language


def _tag(rng: random.Random, group: str) -> str:
    options = TAGS.get(group)
    if options is None:
        return group
    return rng.choices([t for t, _ in options], weights=[w for _, w in options])[0]


def _group(rng: random.Random, host: Host) -> str:
    if host.family in ENGLISH_ONLY:
        return "en"
    weights = dict(GROUP_SHARE)
    if host.family == "misskey":
        weights["ja"] *= MISSKEY_JA
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def assign_languages(hosts: list[Host], seed: int) -> None:
    """Give every instance (and farm host) its language group and declared tags."""
    rng = random.Random(f"{seed}:languages")
    others = [g for g in GROUP_SHARE if g != "en"]
    for h in hosts:
        if h.kind == "farm":
            h.lang_group, h.languages = "en", ("en",)
            continue
        if h.kind != "instance":
            continue
        group = _group(rng, h)
        tags = [_tag(rng, group)]
        if group != "en" and rng.random() < SECOND_EN:
            tags.append("en")
        elif group == "en" and h.family not in ENGLISH_ONLY and rng.random() < SECOND_OTHER:
            tags.append(_tag(rng, rng.choice(others)))
        h.lang_group, h.languages = group, tuple(tags)


def declared(h: Host) -> list[str]:
    """The tags `h` publishes, in its order and spelling."""
    return list(h.languages) if h.languages else ["en"]
