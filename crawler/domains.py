"""Domain-name validation: the single gate every string passes before it becomes a host.

Peer lists, block lists, redirects and NodeInfo hrefs are attacker-controlled, so a string is
only crawled after it has been normalised (lowercase, IDNA 2008 A-label, no trailing dot) and
checked (no IP literals, ports, paths, userinfo or wildcards; label and name length limits; a
suffix on the Public Suffix List). Rejected strings come back with a reason so the crawl can
count them instead of crawling them.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache

import idna
from publicsuffixlist import PublicSuffixList

# RFC 6761 reserves `.test` for testing; the sandbox Fediverse lives there. It is accepted only
# when a crawl is routed through `--via`, so a real crawl never treats it as a real suffix.
SANDBOX_TLDS = frozenset({"test"})

_PSL = PublicSuffixList()
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_FORBIDDEN = re.compile(r"[/:@*?#\[\]\\\s%,;'\"<>|=+!$&()~`^{}]")
MAX_NAME = 253
MAX_LABEL = 63


class InvalidDomain(ValueError):
    """A string that cannot be a crawlable host name; `reason` is a short stable code."""

    def __init__(self, reason: str, raw: object):
        super().__init__(f"{reason}: {raw!r}"[:300])
        self.reason = reason


@dataclass(frozen=True)
class DomainPolicy:
    """Which suffixes count as public: the PSL, plus `extra_tlds` (only `test` in via mode)."""

    extra_tlds: frozenset[str] = frozenset()

    def normalise(self, raw: object) -> str:
        """Return the canonical A-label form of `raw` or raise `InvalidDomain`."""
        if not isinstance(raw, str):
            raise InvalidDomain("not_a_string", raw)
        return _normalise(raw, self.extra_tlds)

    def check(self, raw: object) -> tuple[str | None, str | None]:
        """(domain, None) when valid, (None, reason) when not. Never raises."""
        if not isinstance(raw, str):
            return None, "not_a_string"
        try:
            return _normalise(raw, self.extra_tlds), None
        except InvalidDomain as exc:
            return None, exc.reason

    def is_public_suffix(self, name: str) -> bool:
        """Whether a lowercase ASCII name is itself a public suffix (`co.uk`, `duckdns.org`)."""
        if name in self.extra_tlds:
            return True
        return _PSL.publicsuffix(name, accept_unknown=False) == name

    def registrable(self, domain: str) -> str:
        """The registrable domain (eTLD+1) of an already-normalised name."""
        return _registrable(domain, self.extra_tlds)


REAL_NETWORK = DomainPolicy()
SANDBOX = DomainPolicy(extra_tlds=SANDBOX_TLDS)


@lru_cache(maxsize=262_144)
def _normalise(raw: str, extra_tlds: frozenset[str]) -> str:
    name = raw.strip()
    if not name:
        raise InvalidDomain("empty", raw)
    if len(name) > 4 * MAX_NAME:
        raise InvalidDomain("too_long", raw)
    if _FORBIDDEN.search(name):
        raise InvalidDomain(_forbidden_reason(name), raw)
    if name.endswith("."):
        name = name[:-1]
    if _is_ip_literal(name):
        raise InvalidDomain("ip_literal", raw)
    if not name.isascii():
        name = _to_a_label(name, raw)
    name = name.lower()
    if len(name) > MAX_NAME:
        raise InvalidDomain("too_long", raw)
    labels = name.split(".")
    if len(labels) < 2:
        raise InvalidDomain("single_label", raw)
    for label in labels:
        if not label:
            raise InvalidDomain("empty_label", raw)
        if len(label) > MAX_LABEL:
            raise InvalidDomain("label_too_long", raw)
        if not _LABEL.match(label):
            raise InvalidDomain("bad_label", raw)
        if label.startswith("xn--") and not _valid_punycode(label):
            # Existing A-labels only need to be valid punycode: some registered names (emoji
            # domains under .tk, say) predate IDNA 2008 and are real hosts all the same.
            raise InvalidDomain("idna", raw)
    if labels[-1].isdigit():
        raise InvalidDomain("ip_literal", raw)
    if labels[-1] in extra_tlds:
        return name
    suffix = _PSL.publicsuffix(name, accept_unknown=False)
    if suffix is None:
        raise InvalidDomain("unknown_suffix", raw)
    if suffix == name:
        raise InvalidDomain("public_suffix", raw)
    return name


def _to_a_label(name: str, raw: str) -> str:
    """IDNA 2008 (UTS-46); names it refuses but IDNA 2003 allows (emoji domains registered
    before 2008) get the 2003 A-label, which is what Mastodon and Misskey store for them."""
    try:
        return idna.encode(name, uts46=True).decode("ascii")
    except idna.IDNAError:
        pass
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise InvalidDomain("idna", raw) from exc


def _valid_punycode(label: str) -> bool:
    try:
        return bool(label[4:].encode("ascii").decode("punycode"))
    except (UnicodeError, ValueError):
        return False


def _forbidden_reason(name: str) -> str:
    if "://" in name or "/" in name:
        return "url"
    if "@" in name:
        return "userinfo"
    if "*" in name or "?" in name:
        return "wildcard"
    if name.startswith("[") or name.count(":") > 1:
        return "ip_literal"
    if ":" in name:
        return "port"
    return "bad_character"


def _is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=200_000)
def _registrable(domain: str, extra_tlds: frozenset[str]) -> str:
    labels = domain.split(".")
    if labels[-1] in extra_tlds:
        return ".".join(labels[-2:])
    return _PSL.privatesuffix(domain, accept_unknown=False) or domain


def display_name(domain: str) -> str:
    """The Unicode form of an A-label domain, for people; falls back to the A-label."""
    if "xn--" not in domain:
        return domain
    try:
        return idna.decode(domain)
    except idna.IDNAError:
        return domain


def policy_for(via: str | None) -> DomainPolicy:
    """The domain policy of a crawl: the sandbox's `.test` names are valid only through `--via`."""
    return SANDBOX if via else REAL_NETWORK
