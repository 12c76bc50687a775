"""Response bodies for the hostile hosts (`crawler.sandbox.hostile`).

Pure functions and constants, no I/O: a lazily generated gzip bomb, the endless JSON stream,
the deep-nesting document, small but realistic Mastodon documents and the junk peer table with
its expected normalisation written out by hand (by construction, not computed by any normaliser).
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from crawler import ROBOTS_TOKEN

MiB = 1 << 20
GiB = 1 << 30

# ---------------------------------------------------------------------------------------------
# gzip bomb

# RFC 1952 member header: magic, CM=deflate, FLG=0, MTIME=0, XFL=2 (max compression), OS=255.
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"


def _raw_deflate(data: bytes, *, final: bool) -> bytes:
    """Compress `data` with a fresh raw-deflate stream.

    A non-final segment ends with a full flush (byte-aligned, no reference to earlier output),
    so identical segments can be concatenated any number of times into one valid stream.
    """
    comp = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    return comp.compress(data) + comp.flush(zlib.Z_FINISH if final else zlib.Z_FULL_FLUSH)


class GzipBomb:
    """One gzip member expanding to ``prefix + fill * (segment_size * segments) + suffix``.

    Only one compressed filler segment (about 1 KiB for 1 MiB of filler) is kept; the stream is
    produced lazily and the CRC-32 trailer is computed while streaming, so nothing close to the
    expansion is ever held in memory.
    """

    def __init__(
        self,
        prefix: bytes,
        suffix: bytes,
        *,
        fill: bytes = b" ",
        segment_size: int = MiB,
        segments: int = 2048,
        batch: int = 16,
    ) -> None:
        if len(fill) != 1:
            raise ValueError("fill must be one byte")
        self.prefix = prefix
        self.suffix = suffix
        self.segments = segments
        self.batch = batch
        self._plain_segment = fill * segment_size
        self._head = _GZIP_HEADER + _raw_deflate(prefix, final=False)
        self._segment = _raw_deflate(self._plain_segment, final=False)
        self._tail = _raw_deflate(suffix, final=True)
        self.expanded_size = len(prefix) + segment_size * segments + len(suffix)
        self.compressed_size = len(self._head) + len(self._segment) * segments + len(self._tail) + 8

    def chunks(self) -> Iterator[bytes]:
        """Yield the compressed stream in pieces of about `batch` filler segments."""
        crc = zlib.crc32(self.prefix)
        yield self._head
        left = self.segments
        while left > 0:
            n = min(self.batch, left)
            for _ in range(n):
                crc = zlib.crc32(self._plain_segment, crc)
            left -= n
            yield self._segment * n
        crc = zlib.crc32(self.suffix, crc)
        trailer = crc.to_bytes(4, "little") + (self.expanded_size & 0xFFFFFFFF).to_bytes(
            4, "little"
        )
        yield self._tail + trailer


# ---------------------------------------------------------------------------------------------
# other pathological bodies

DEEP_NESTING_LEVELS = 100_000


def deep_nesting_body(levels: int = DEEP_NESTING_LEVELS) -> bytes:
    """``[`` * levels + ``]`` * levels: valid JSON that breaks recursive parsers."""
    return b"[" * levels + b"]" * levels


ENDLESS_PREFIX = (
    b'{"version":"2.0","software":{"name":"mastodon","version":"4.3.2"},'
    b'"protocols":["activitypub"],"metadata":{"nodeName":"endless","padding":['
)


def endless_chunk(size: int = 64 * 1024) -> bytes:
    """One chunk of the endless JSON array (repeat forever after `ENDLESS_PREFIX`)."""
    item = b'"the-body-that-never-ends-the-body-that-never-ends",'
    return item * (size // len(item))


PARKED_HTML = (
    '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
    "<title>This domain is parked</title>\n</head>\n<body>\n"
    "<h1>This domain may be for sale</h1>\n"
    "<p>Buy this domain today. Contact the owner through our marketplace.</p>\n"
    "</body>\n</html>\n"
)

MASTODON_ROBOTS = (
    "# See https://www.robotstxt.org/robotstxt.html for documentation on how to use the"
    " robots.txt file\n\n"
    "User-agent: GPTBot\nDisallow: /\n\n"
    "User-agent: CCBot\nDisallow: /\n\n"
    "User-agent: *\nDisallow: /media_proxy/\nDisallow: /interact/\n"
)
ROBOTS_DENY_ALL = "User-agent: *\nDisallow: /\n"
ROBOTS_DENY_FEDISCOPE = f"User-agent: {ROBOTS_TOKEN}\nDisallow: /\n\nUser-agent: *\nAllow: /\n"

NODEINFO_20_REL = "http://nodeinfo.diaspora.software/ns/schema/2.0"

WRONG_TYPES_NODEINFO: dict[str, Any] = {
    "version": 2,
    "software": ["x"],
    "usage": "lots",
    "openRegistrations": {},
    "metadata": 7,
    "protocols": "activitypub",
}


def jrd(href: str) -> dict[str, Any]:
    """A NodeInfo discovery document (Mastodon's shape) pointing at `href`."""
    return {"links": [{"rel": NODEINFO_20_REL, "href": href}]}


# ---------------------------------------------------------------------------------------------
# small realistic Mastodons


@dataclass(frozen=True)
class MastodonProfile:
    """What one synthetic Mastodon publishes.

    Count and registration fields are `Any` on purpose: the wrong-counts host publishes
    garbage there, in NodeInfo and in the v2 instance alike.
    """

    domain: str
    title: str
    description: str
    users_total: Any
    active_month: Any
    active_halfyear: Any
    local_posts: Any
    open_registrations: Any
    peers: list[Any] = field(default_factory=list)
    version: str = "4.3.2"

    def nodeinfo(self) -> dict[str, Any]:
        """NodeInfo 2.0 exactly as Mastodon 4.3 writes it."""
        return {
            "version": "2.0",
            "software": {"name": "mastodon", "version": self.version},
            "protocols": ["activitypub"],
            "services": {"outbound": [], "inbound": []},
            "usage": {
                "users": {
                    "total": self.users_total,
                    "activeMonth": self.active_month,
                    "activeHalfyear": self.active_halfyear,
                },
                "localPosts": self.local_posts,
            },
            "openRegistrations": self.open_registrations,
            "metadata": {"nodeName": self.title, "nodeDescription": self.description},
        }

    def instance_v2(self) -> dict[str, Any]:
        """`GET /api/v2/instance` (trimmed to the fields a crawler may read, plus some)."""
        d = self.domain
        return {
            "domain": d,
            "title": self.title,
            "version": self.version,
            "source_url": "https://github.com/mastodon/mastodon",
            "description": self.description,
            "usage": {"users": {"active_month": self.active_month}},
            "thumbnail": {"url": f"https://{d}/packs/media/images/preview.png"},
            "languages": ["en"],
            "configuration": {
                "urls": {"streaming": f"wss://{d}", "status": None},
                "accounts": {"max_featured_tags": 10, "max_pinned_statuses": 5},
                "statuses": {
                    "max_characters": 500,
                    "max_media_attachments": 4,
                    "characters_reserved_per_url": 23,
                },
                "translation": {"enabled": False},
                "limited_federation": False,
            },
            "registrations": {
                "enabled": self.open_registrations,
                "approval_required": False,
                "message": None,
                "url": None,
            },
            "api_versions": {"mastodon": 2},
            "contact": {"email": f"admin@{d}", "account": None},
            "rules": [{"id": "1", "text": "Be excellent to each other.", "hint": ""}],
        }

    def activity(self, anchor_week: int = 1_735_516_800) -> list[dict[str, str]]:
        """`GET /api/v1/instance/activity`: 12 weekly buckets, newest first, values as strings."""
        rng = random.Random(f"hostile-activity:{self.domain}")
        scale = self.active_month if isinstance(self.active_month, int) else 10
        scale = max(1, min(scale, 100_000))
        return [
            {
                "week": str(anchor_week - 7 * 86_400 * i),
                "statuses": str(rng.randint(scale, scale * 12)),
                "logins": str(rng.randint(scale // 3 + 1, scale)),
                "registrations": str(rng.randint(0, scale // 20 + 1)),
            }
            for i in range(12)
        ]


# ---------------------------------------------------------------------------------------------
# junk peers: every raw entry with its expected normalised form (None = must be rejected).
# Written out by hand from the contract's normalisation rules; the tests cross-check a few
# against the `idna` package, never against the crawler's own code.

JUNK_PEERS_DOMAIN = "junk-peers.hostile.test"
LONG_LABEL = "a-label-of-exactly-sixty-three-characters-is-still-a-valid-name"
assert len(LONG_LABEL) == 63
LONG_LABEL_DOMAIN = f"{LONG_LABEL}.hostile.test"
IDN_DOMAIN = "xn--bcher-kva.hostile.test"  # bücher.hostile.test

JUNK_PEER_TABLE: list[tuple[Any, str | None]] = [
    # valid names (some need normalising)
    ("moved-target.hostile.test", "moved-target.hostile.test"),
    ("NOBOT.Hostile.TEST", "nobot.hostile.test"),
    ("rate-limited.hostile.test.", "rate-limited.hostile.test"),
    ("  wrong-counts.hostile.test\t", "wrong-counts.hostile.test"),
    ("bücher.hostile.test", IDN_DOMAIN),
    ("BÜCHER.hostile.test", IDN_DOMAIN),
    (IDN_DOMAIN, IDN_DOMAIN),
    (LONG_LABEL_DOMAIN, LONG_LABEL_DOMAIN),
    ("moved-target.hostile.test", "moved-target.hostile.test"),
    # the instance itself: valid but dropped (see JUNK_PEERS_SELF)
    (JUNK_PEERS_DOMAIN, None),
    # IP literals
    ("10.0.0.1", None),
    ("192.168.1.20", None),
    ("127.0.0.1", None),
    ("::1", None),
    ("2001:db8::7", None),
    ("[2001:db8::8]", None),
    ("[::1]:443", None),
    # host:port, URLs, paths
    ("moved-target.hostile.test:443", None),
    ("nobot.hostile.test:8443", None),
    ("https://gone.hostile.test/", None),
    ("http://html-200.hostile.test", None),
    ("gone.hostile.test/users/alice", None),
    # wildcards
    ("*.hostile.test", None),
    ("*", None),
    ("peer?.hostile.test", None),
    # accounts / userinfo
    ("@alice@nobot.hostile.test", None),
    ("alice@moved-target.hostile.test", None),
    # length limits: a 300-char label, a 64-char label, a 259-char name
    ("x" * 300 + ".hostile.test", None),
    ("y" * 64 + ".hostile.test", None),
    (".".join(["z" * 50] * 5) + ".test", None),
    # too few labels, unknown TLDs
    ("localhost", None),
    ("LOCALHOST.", None),
    ("test", None),
    ("foo.invalid", None),
    ("relay.example", None),
    ("mastodon.localhost", None),
    # empty labels, only one trailing dot is dropped
    ("", None),
    ("   ", None),
    (".", None),
    ("two-dots.hostile.test..", None),
    ("a..b.hostile.test", None),
    (".leading-dot.hostile.test", None),
    # characters IDNA 2008 refuses
    ("-leading-hyphen.hostile.test", None),
    ("trailing-hyphen-.hostile.test", None),
    ("under_score.hostile.test", None),
    ("space inside.hostile.test", None),
    # not strings at all
    (42, None),
    (3.5, None),
    (None, None),
    (True, None),
    ({"domain": "moved-target.hostile.test"}, None),
    (["nobot.hostile.test"], None),
]
JUNK_PEERS_SELF = JUNK_PEERS_DOMAIN


def junk_peers_raw() -> list[Any]:
    """The peers array the junk-peers host publishes, in table order."""
    return [raw for raw, _ in JUNK_PEER_TABLE]


def junk_peers_expected() -> list[str]:
    """Normalised valid peers the crawler must keep (sorted, unique, self excluded)."""
    return sorted({norm for _, norm in JUNK_PEER_TABLE if norm is not None})
