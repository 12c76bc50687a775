"""What a visit to one host produced: plain data that crosses the trust boundary.

Adapters and parsers turn untrusted answers into these objects and never touch the database;
the store writer (crawler/store) is the only part that turns them into rows. Everything here
has already been validated: domains are normalised, counts are trusted or None.
"""

from __future__ import annotations

import hashlib
import zlib
from collections import Counter
from collections.abc import Container
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

# Instance lifecycle states (`instances.status`).
PENDING = "pending"
ALIVE = "alive"
UNREACHABLE = "unreachable"
DEAD = "dead"
GONE = "gone"
MOVED = "moved"
OPTED_OUT = "opted_out"
INVALID = "invalid"
STATUSES = (PENDING, ALIVE, UNREACHABLE, DEAD, GONE, MOVED, OPTED_OUT, INVALID)

# Visibility of a peer or block list (`instances.peers_visibility`, `blocks_visibility`).
PUBLIC = "public"
RESTRICTED = "restricted"
HIDDEN = "hidden"
DISALLOWED = "disallowed"
UNSUPPORTED = "unsupported"
ERROR = "error"

COUNT_FIELDS = (
    "users_total",
    "users_active_month",
    "users_active_halfyear",
    "local_posts",
    "local_comments",
)


@dataclass
class Document:
    """One raw answer kept for provenance (`documents` table).

    `keep` holds the raw body; `sealed()` hashes and zlib-compresses it. A big body is sealed
    as soon as it is kept, off the event loop (a visit may hold dozens of pages for a minute,
    and compressed they take a fifth of the memory), or, when the database holds the same body
    already, only hashed and kept as a reference (`stored_as`); a small one is sealed by the
    store process, so the crawl's event loop spends nothing on it (zlib's set-up alone costs
    more than a small body's compression).
    """

    url: str
    status: int | None
    fetched_at: str
    content_type: str
    sha256: str | None = None  # of the uncompressed body; None when there was no body
    size: int | None = None  # uncompressed bytes
    compressed: bytes | None = None  # zlib
    error: str | None = None
    method: str = "GET"
    elapsed: float | None = None
    body: bytes | None = field(default=None, repr=False)  # raw, until sealed

    @classmethod
    def keep(
        cls,
        url: str,
        status: int | None,
        fetched_at: str,
        content_type: str,
        body: bytes | None,
        error: str | None = None,
        method: str = "GET",
        elapsed: float | None = None,
    ) -> Document:
        return cls(
            url,
            status,
            fetched_at,
            content_type,
            size=None if body is None else len(body),
            error=error,
            method=method,
            elapsed=elapsed,
            body=body or None,
        )

    def sealed(self) -> Document:
        """This document with its body hashed and compressed (itself if already sealed)."""
        if self.body is None:
            return self
        return replace(
            self,
            sha256=hashlib.sha256(self.body).hexdigest(),
            compressed=zlib.compress(self.body, 1),
            body=None,
        )

    def stored_as(self, sha256: str) -> Document:
        """This document without its body, which the database already holds under `sha256`
        (`document_bodies`): nothing to compress, carry or write again."""
        return replace(self, sha256=sha256, compressed=None, body=None)


@dataclass
class BlockRule:
    """One rule exactly as a server published it, plus its normalised reading."""

    pattern: str  # text as published: clear name, masked `exa***le.com`, wildcard `*.x.com`
    severity: str  # normalised: suspend, silence, reject_media, reject_reports, quarantine, other
    severity_raw: str  # the server's own word
    blocked: str | None = None  # the domain when published in clear
    digest: str | None = None  # SHA-256 hex the blocker gave (Mastodon)
    reason: str | None = None
    kind: str = "clear"  # clear | masked | wildcard


@dataclass
class ListResult:
    """A peer or block list as read from one host, with how readable it was."""

    visibility: str | None = None
    items: list[Any] = field(default_factory=list)
    truncated: bool = False


@dataclass(frozen=True)
class PeerHistory:
    """What a re-crawl that reads only what is new needs to know of a server's stored peer
    list before it starts; which names the list holds is asked a page at a time
    (`StoredPeerList.unlisted`), so the crawl never holds whole stored lists."""

    listed: int  # how many names the stored list holds now
    full_due: bool  # this crawl reads the list in full (`--full-every`), so removals are seen


class StoredPeerList(Protocol):
    """One server's stored peer list, as the store answers for it during a visit."""

    async def history(self) -> PeerHistory | None:
        """None when the server has no stored row (a first visit)."""

    async def unlisted(self, names: list[str]) -> list[str]:
        """The names (in their order) the stored list does not hold."""


@dataclass(frozen=True)
class Recalled:
    """What the database remembers of a domain that lets a visit ask and carry less."""

    #: The stored peer list, asked for only by adapters whose list only grows.
    peer_list: StoredPeerList | None = None
    #: SHA-256 digests of big answers the database holds already (`document_bodies`).
    bodies: Container[bytes] = frozenset()
    #: Where its NodeInfo document was last time, when found by plain discovery.
    nodeinfo_path: str | None = None


#: A first visit: nothing remembered.
NOTHING_RECALLED = Recalled()


@dataclass
class Observation:
    """Everything learned about one domain in one visit."""

    domain: str
    status: str = PENDING
    error_kind: str | None = None
    error_detail: str | None = None
    software_raw: str | None = None
    software: str | None = None
    family: str | None = None
    version: str | None = None
    nodeinfo_version: str | None = None
    nodeinfo_url: str | None = None
    counts: dict[str, int | None] = field(default_factory=dict)
    open_registrations: bool | None = None
    name: str | None = None
    description: str | None = None
    #: Lowercased BCP 47 tags the server declares, in first-seen order; None = none declared.
    languages: list[str] | None = None
    #: The public address the host was reached at (first of its guarded DNS answer); None
    #: when nothing resolved it (`--via` without a resolver).
    address: str | None = None
    quality_flags: set[str] = field(default_factory=set)
    opt_out: str | None = None  # reason code when the instance opted out
    opt_out_source: str | None = None
    moved_to: str | None = None
    peers: list[str] | None = None  # normalised peer domains; None = not read
    peers_visibility: str | None = None
    peers_truncated: bool = False
    # A 304 to the conditional request: the list is still there, as stored last time.
    peers_unchanged: bool = False
    # `peers` holds only the names new since the stored list (a list that only grows, read
    # newest first): they are added, and nothing stored is taken as removed.
    peers_added_only: bool = False
    blocks: list[BlockRule] | None = None  # None = not read (see blocks_visibility)
    blocks_visibility: str | None = None
    blocks_unchanged: bool = False
    # path -> (ETag, Last-Modified) of each list answer that was read (or confirmed by a 304),
    # sent back next crawl; kept by the store in `http_validators`.
    validators: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    # path -> until when (Unix seconds) the server lets that answer be reused without asking.
    fresh_until: dict[str, float] = field(default_factory=dict)
    not_modified: int = 0  # answers that were 304 Not Modified
    reused: int = 0  # answers not asked for: robots.txt under a day old, others still fresh
    rejected_names: Counter[str] = field(default_factory=Counter)
    documents: list[Document] = field(default_factory=list)
    requests: int = 0
    #: Of `requests`, those spent identifying a server whose NodeInfo names no software or that
    #: has none (NodeInfo2 and API probes), not counting a probe answer the adapter reused.
    probe_requests: int = 0
    retry_after: float | None = None
    skip_reason: str | None = None  # visited but deliberately not crawled (crawl-delay cap)

    def discovered(self, *, include_peers: bool = True) -> list[tuple[str, str]]:
        """(domain, how) pairs this visit adds to the frontier."""
        found: list[tuple[str, str]] = []
        if self.moved_to:
            found.append((self.moved_to, "redirect"))
        if include_peers:
            found.extend((peer, "peer") for peer in self.peers or ())
        for rule in self.blocks or ():
            if rule.blocked:
                found.append((rule.blocked, "block"))
        return found
