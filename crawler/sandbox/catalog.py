"""Static tables of the sandbox: platforms, software names, versions, shares and capabilities."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Software:
    """One server software as NodeInfo names it, and how the sandbox renders it."""

    raw: str  # NodeInfo software.name, exactly
    family: str  # lineage (crawler's family table)
    platform: str  # renderer in crawler.sandbox.platforms
    versions: tuple[str, ...]
    peers: str = "public"  # default peer-list visibility: public | unsupported
    blocks: str = "unsupported"  # default block-list visibility: public | unsupported
    peer_cap: int = 1_000_000  # largest peer list this software publishes


def _sw(
    raw: str,
    family: str,
    platform: str,
    versions: str,
    peers: str = "public",
    blocks: str = "unsupported",
    peer_cap: int = 1_000_000,
) -> Software:
    return Software(raw, family, platform, tuple(versions.split()), peers, blocks, peer_cap)


_MASTO = "4.3.2 4.3.1 4.2.13 4.2.10 4.1.18 4.0.2 4.4.0-beta.1 4.3.0-nightly.2024-06-11 4.1.5+corgi"
_MISSKEY_CAP = 2900  # + up to 100 block targets: lists stay <= 3000

# (software, weight within its family)
FAMILY_SOFTWARE: dict[str, list[tuple[Software, float]]] = {
    "mastodon": [
        (_sw("mastodon", "mastodon", "mastodon", _MASTO, blocks="public"), 88),
        (_sw("hometown", "mastodon", "mastodon", "4.2.10+hometown-1.1.2", blocks="public"), 6),
        (
            _sw(
                "kmyblue",
                "mastodon",
                "mastodon",
                "4.3.0+kmyblue.16.2 4.2.3+kmyblue.13",
                blocks="public",
            ),
            6,
        ),
    ],
    "pleroma": [
        (_sw("pleroma", "pleroma", "pleroma", "2.7.0 2.6.3 2.5.5 2.4.5", blocks="public"), 45),
        (_sw("akkoma", "pleroma", "pleroma", "3.13.2 3.12.1 3.10.4 3.0.0", blocks="public"), 45),
        (_sw("rebased", "pleroma", "pleroma", "2.5.52-rebased 2.0.0", blocks="public"), 10),
    ],
    "misskey": [
        (
            _sw(
                "misskey",
                "misskey",
                "misskey",
                "2024.11.0 2024.5.0 13.14.2 12.119.2",
                blocks="public",
                peer_cap=_MISSKEY_CAP,
            ),
            40,
        ),
        (
            _sw(
                "sharkey",
                "misskey",
                "misskey",
                "2024.9.1 2023.12.1",
                blocks="public",
                peer_cap=_MISSKEY_CAP,
            ),
            25,
        ),
        (
            _sw(
                "iceshrimp",
                "misskey",
                "misskey",
                "2023.12.9 2023.12.7",
                blocks="public",
                peer_cap=_MISSKEY_CAP,
            ),
            10,
        ),
        (
            _sw(
                "firefish",
                "misskey",
                "misskey",
                "20240504 1.0.5-rc",
                blocks="public",
                peer_cap=_MISSKEY_CAP,
            ),
            8,
        ),
        (
            _sw(
                "cherrypick",
                "misskey",
                "misskey",
                "4.11.1 4.9.0",
                blocks="public",
                peer_cap=_MISSKEY_CAP,
            ),
            5,
        ),
        (
            _sw(
                "catodon", "misskey", "misskey", "24.01-dev", blocks="public", peer_cap=_MISSKEY_CAP
            ),
            3,
        ),
        (
            _sw(
                "foundkey",
                "misskey",
                "misskey",
                "13.0.0-preview6",
                blocks="public",
                peer_cap=_MISSKEY_CAP,
            ),
            3,
        ),
        (
            _sw(
                "calckey",
                "misskey",
                "misskey",
                "14.0.0-rc3",
                blocks="public",
                peer_cap=_MISSKEY_CAP,
            ),
            3,
        ),
        (
            _sw(
                "meisskey",
                "misskey",
                "misskey",
                "10.102.699-m544",
                blocks="public",
                peer_cap=_MISSKEY_CAP,
            ),
            3,
        ),
    ],
    "lemmy": [(_sw("lemmy", "lemmy", "lemmy", "0.19.8 0.19.5 0.19.3 0.18.5", blocks="public"), 1)],
    "peertube": [
        (_sw("peertube", "peertube", "peertube", "7.0.1 6.3.3 6.1.0 5.2.1", peer_cap=2000), 1)
    ],
    "gotosocial": [
        (
            _sw(
                "gotosocial",
                "gotosocial",
                "gotosocial",
                "0.19.1+git-8e1f2a7 0.18.3 0.17.4+git-41c9b03",
                blocks="public",
            ),
            1,
        )
    ],
    "friendica": [
        (
            _sw(
                "friendica",
                "friendica",
                "friendica",
                "2024.08-1552 2024.03-1549 2023.12-1539",
                peers="unsupported",
                blocks="public",
            ),
            1,
        )
    ],
    "pixelfed": [(_sw("pixelfed", "pixelfed", "pixelfed", "0.12.4 0.12.3 0.11.13"), 1)],
    "wordpress": [
        (_sw("wordpress", "wordpress", "wordpress", "6.7 6.6 6.5", peers="unsupported"), 1)
    ],
    "mbin": [
        (_sw("mbin", "mbin", "mbin", "1.7.3 1.6.0", peers="unsupported", blocks="public"), 70),
        (_sw("kbin", "mbin", "mbin", "0.10.1", peers="unsupported", blocks="public"), 30),
    ],
    "bookwyrm": [(_sw("bookwyrm", "bookwyrm", "generic", "0.7.4 0.6.6", peer_cap=5000), 1)],
    "smithereen": [(_sw("smithereen", "smithereen", "generic", "0.9.7", peer_cap=5000), 1)],
    "hubzilla": [(_sw("hubzilla", "hubzilla", "hubzilla", "10.0 9.4", peers="unsupported"), 1)],
    "diaspora": [
        (_sw("diaspora", "diaspora", "diaspora", "1.0.0.0 0.9.0.0", peers="unsupported"), 1)
    ],
    "relay": [
        (_sw("activity-relay", "relay", "relay", "2.0.5 2.0.3", peers="unsupported"), 50),
        (_sw("aoderelay", "relay", "relay", "0.3.116 0.3.108", peer_cap=800), 50),
    ],
    "unknown": [
        (_sw("takahe", "takahe", "generic", "0.11.0", peer_cap=5000), 3),
        (_sw("mitra", "mitra", "generic", "3.10.0 2.26.0", peer_cap=5000), 3),
        (_sw("Plume", "plume", "generic", "0.7.2", peer_cap=2000), 2),
        (_sw("writefreely", "writefreely", "generic", "0.15.1", peer_cap=2000), 2),
        (_sw("funkwhale", "funkwhale", "generic", "1.4.0", peer_cap=2000), 2),
        (_sw("mobilizon", "mobilizon", "generic", "4.1.0", peer_cap=2000), 2),
        (_sw("snac", "snac", "generic", "2.63", peer_cap=2000), 2),
        # A Firefish fork: Misskey lineage and API.
        (_sw("Fedired", "misskey", "misskey", "2024.1.0", blocks="public", peer_cap=2000), 1),
    ],
}

THREADS = _sw("threads", "threads", "threads", "1.0", peers="unsupported")
BRIDGY = _sw("bridgy-fed", "bridgy-fed", "bridgy", "2024-11-20a", peers="unsupported")

# Family share of instances, in percent (the rest of the contract's mix; singletons apart).
FAMILY_SHARE: dict[str, float] = {
    "mastodon": 55,
    "misskey": 8,
    "pleroma": 7,
    "lemmy": 6,
    "peertube": 4,
    "gotosocial": 4,
    "friendica": 3,
    "pixelfed": 3,
    "wordpress": 2,
    "unknown": 2.2,
    "bookwyrm": 1.3,
    "mbin": 1,
    "diaspora": 1,
    "hubzilla": 0.8,
    "relay": 1.2,
    "smithereen": 0.5,
}

# Users per instance are multiplied by this before the Mastodon share is tuned to ~78%.
SIZE_FACTOR: dict[str, float] = {
    "mastodon": 1.0,
    "misskey": 0.8,
    "pleroma": 0.3,
    "lemmy": 0.7,
    "peertube": 0.2,
    "gotosocial": 0.02,
    "friendica": 0.3,
    "pixelfed": 0.6,
    "wordpress": 0.01,
    "mbin": 0.4,
    "relay": 0.0,
    "threads": 0.0,
    "bridgy-fed": 0.5,
}

# Subdomain prefixes typical of each family ("" = the registrable domain itself).
PREFIXES: dict[str, tuple[str, ...]] = {
    "mastodon": ("", "", "", "mastodon", "social", "masto", "toot", "m", "mstdn"),
    "misskey": ("", "misskey", "mk", "key", "notes"),
    "pleroma": ("", "pleroma", "pl", "akko", "fedi"),
    "lemmy": ("lemmy", "lemmy", "", "forum", "lm"),
    "peertube": ("video", "tube", "peertube", "videos", ""),
    "gotosocial": ("gts", "social", "fedi", ""),
    "friendica": ("friendica", "social", ""),
    "pixelfed": ("pixelfed", "pix", "photos", ""),
    "wordpress": ("blog", "", "news"),
    "mbin": ("kbin", "mbin", ""),
    "bookwyrm": ("books", "bookwyrm", ""),
    "hubzilla": ("hub", "hubzilla", ""),
    "diaspora": ("pod", "diaspora", ""),
    "relay": ("relay", "ap-relay"),
    "smithereen": ("", "smth"),
    "bridgy-fed": ("fed",),
    "unknown": ("", "social", "blog", "music", "events"),
}

BLOCK_REASONS = (
    "spam",
    "harassment",
    "hate speech",
    "no moderation",
    "bots",
    "scraping",
    "fascism",
    "illegal content",
    "Third-party bots",
    "Inappropriate content",
    "impersonation",
    "crypto scams",
    "ads",
    "federation abuse, see #fediblock",
)

TOPICS = (
    "tech",
    "art",
    "music",
    "gaming",
    "science",
    "queer",
    "photography",
    "books",
    "climate",
    "cooking",
    "open source",
    "cycling",
    "linguistics",
    "history",
    "birding",
    "local news",
)

DESCRIPTION_TEMPLATES = (
    "A friendly {topic} community for {place} and beyond.",
    "Small, moderated {topic} server. Be kind.",
    "{Place}'s home on the Fediverse. We talk about {topic}.",
    "A space for people who love {topic}. Registrations by approval.",
    "Run by volunteers since 2019. Mostly {topic}, sometimes cats.",
    "",
)

AI_BOTS = ("GPTBot", "CCBot", "ClaudeBot", "Google-Extended")
