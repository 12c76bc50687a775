"""Block rules: severity normalisation, pattern kinds and matching (pure functions).

Servers publish rules in their own words and forms. Here they get a normalised severity
(`suspend`, `silence`, `reject_media`, `reject_reports`, `quarantine`, `other`; the raw word is
kept), a kind (`clear`, `masked`, `wildcard`), and the matching used to answer "who blocks X":
exact names, wildcard rules, parent-domain rules (Mastodon and GoToSocial blocks cover
subdomains), Mastodon's SHA-256 digests (certain) and `*`-masked names (candidates only).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Hashable, Iterable
from typing import TypeVar

from crawler.domains import DomainPolicy
from crawler.observation import BlockRule

_DIGEST = re.compile(r"[0-9a-fA-F]{64}")

#: Normalised severities, strongest first: a server with several rules on one domain counts
#: once, at its strongest severity (who-blocks, profiles, the block graph, the map).
SEVERITY_ORDER = ("suspend", "silence", "quarantine", "reject_media", "reject_reports", "other")
#: Families whose domain blocks also apply to every subdomain of the blocked domain.
SUBDOMAIN_BLOCKING_FAMILIES = frozenset({"mastodon", "gotosocial"})
#: How a rule can cover a domain, most certain first (the strongest match per rule word wins).
MATCH_ORDER = ("exact", "digest", "wildcard", "suffix", "parent", "candidate")

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

#: Raw word -> normalised severity, for words that mean the same on every platform.
_COMMON = {
    "suspend": "suspend",
    "silence": "silence",
    "limit": "silence",
    "reject_media": "reject_media",
    "reject_reports": "reject_reports",
    "noop": "other",
    # Pleroma / Akkoma MRF SimplePolicy actions
    "reject": "suspend",
    "followers_only": "silence",
    "federated_timeline_removal": "silence",
    "media_removal": "reject_media",
    "report_removal": "reject_reports",
    "media_nsfw": "other",
    "avatar_removal": "other",
    "banner_removal": "other",
    "background_removal": "other",
    "reject_deletes": "other",
    "quarantine": "quarantine",
    # Misskey, Lemmy, Friendica, Mbin
    "blocked": "suspend",
    "silenced": "silence",
    "defederated": "suspend",
}

#: Words whose meaning depends on the platform.
_BY_FAMILY = {
    # GoToSocial `suspended_at`: a domain block.
    ("gotosocial", "suspended"): "suspend",
    # Misskey `isSuspended` (manual): delivery to the host stopped; not a block of it.
    ("misskey", "suspended"): "other",
}

#: Pleroma MRF SimplePolicy keys that are not restrictions.
NON_BLOCK_ACTIONS = frozenset({"accept"})


def normalise_severity(family: str | None, raw: str) -> str:
    """The normalised severity of a raw word, `other` when unknown."""
    word = raw.strip().lower()
    return _BY_FAMILY.get((family or "", word)) or _COMMON.get(word, "other")


def digest_of(domain: str) -> str:
    """SHA-256 hex digest of a normalised domain, as Mastodon publishes it."""
    return hashlib.sha256(domain.encode("ascii", errors="replace")).hexdigest()


def make_rule(
    policy: DomainPolicy,
    family: str | None,
    pattern: object,
    severity_raw: str,
    reason: object = None,
    digest: object = None,
) -> BlockRule | None:
    """A `BlockRule` from published values; None when the pattern is not a string at all."""
    if not isinstance(pattern, str) or not pattern.strip():
        return None
    text = pattern.strip()[:300]
    kind, blocked = classify_pattern(policy, text)
    clean_digest = digest.lower() if isinstance(digest, str) and _DIGEST.fullmatch(digest) else None
    return BlockRule(
        pattern=text,
        severity=normalise_severity(family, severity_raw),
        severity_raw=severity_raw,
        blocked=blocked,
        digest=clean_digest,
        reason=reason.strip()[:2000] or None if isinstance(reason, str) else None,
        kind=kind,
    )


def classify_pattern(policy: DomainPolicy, pattern: str) -> tuple[str, str | None]:
    """(kind, clear domain or None) of a published pattern.

    `clear` (a domain), `wildcard` (`*.x.com`: x.com and its subdomains), `suffix` (a public
    suffix such as `duckdns.org`, `.cf` or `cf`: everything under it), `masked` (obfuscated
    with `*`/`?`), or `invalid` (not a name at all).
    """
    if pattern.startswith("*."):
        rest = pattern[2:]
        if "*" not in rest and "?" not in rest:
            if policy.check(rest)[0]:
                return "wildcard", None
            if _suffix(policy, rest):
                return "suffix", None
    if "*" in pattern or "?" in pattern:
        return "masked", None
    domain, _ = policy.check(pattern)
    if domain is not None:
        return "clear", domain
    if _suffix(policy, pattern.lstrip(".")):
        return "suffix", None
    return "invalid", None


def _suffix(policy: DomainPolicy, name: str) -> bool:
    name = name.strip().lower().rstrip(".")
    return bool(name) and name.isascii() and policy.is_public_suffix(name)


def wildcard_base(pattern: str) -> str | None:
    """The name a wildcard or suffix rule covers: `example.com` for `*.example.com`."""
    return pattern.lower().lstrip("*").lstrip(".").rstrip(".") or None


def mask_matches(pattern: str, domain: str) -> bool:
    """Whether a `*`/`?`-masked name could be `domain`: same length, dots and visible letters.

    A `*` or `?` stands for exactly one character other than a dot (Mastodon, Pleroma and
    GoToSocial keep dots and length when they obfuscate).
    """
    if len(pattern) != len(domain):
        return False
    for masked, actual in zip(pattern.lower(), domain, strict=True):
        if masked in "*?":
            if actual == ".":
                return False
        elif masked != actual:
            return False
    return True


def covers(rule_domain: str, domain: str) -> bool:
    """Whether a rule on `rule_domain` also covers `domain` as one of its subdomains."""
    return domain.endswith("." + rule_domain)


def severity_rank(severity: str | None) -> int:
    """Position in SEVERITY_ORDER (0 = strongest); unknown words rank after every known one."""
    return SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER)


def match_rank(match: str | None) -> int:
    """Position in MATCH_ORDER (0 = most certain); no match ranks last."""
    return MATCH_ORDER.index(match) if match in MATCH_ORDER else len(MATCH_ORDER)


def strongest_by(
    items: Iterable[T], key: Callable[[T], K], severity: Callable[[T], str]
) -> dict[K, T]:
    """Each key (a blocker, a blocker and blocked pair) once, at its strongest severity; the
    first item seen wins a tie."""
    strongest: dict[K, T] = {}
    for item in items:
        current = strongest.get(key(item))
        if current is None or severity_rank(severity(item)) < severity_rank(severity(current)):
            strongest[key(item)] = item
    return strongest


def match_rule(
    domain: str,
    digest: str,
    family: str | None,
    blocked: str | None,
    pattern: str,
    rule_digest: str | None,
    kind: str,
) -> str | None:
    """How one rule covers `domain` (exact, digest, wildcard, suffix, parent, candidate), or None.

    The one block-matching rule: `fediscope who-blocks`, the pages, and, as the `block_match()`
    SQL function, the who_blocks, reach and block_changes canned queries all decide with it."""
    if blocked == domain:
        return "exact"
    if rule_digest is not None:
        # A digest is proof either way: a masked name with another digest is another domain.
        return "digest" if rule_digest == digest else None
    if kind in ("wildcard", "suffix"):
        base = wildcard_base(pattern)
        return kind if base and (domain == base or covers(base, domain)) else None
    if blocked and covers(blocked, domain) and family in SUBDOMAIN_BLOCKING_FAMILIES:
        return "parent"
    if kind == "masked" and mask_matches(pattern, domain):
        return "candidate"
    return None
