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

from crawler.domains import DomainPolicy
from crawler.observation import BlockRule

_DIGEST = re.compile(r"[0-9a-fA-F]{64}")
SEVERITIES = ("suspend", "silence", "reject_media", "reject_reports", "quarantine", "other")

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
