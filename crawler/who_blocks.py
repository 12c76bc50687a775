"""`who-blocks DOMAIN`: every instance whose published rules block a domain, and the coverage.

A rule matches the asked domain when it names it in clear (`exact`), names a parent domain on
platforms whose blocks cover subdomains (`parent`: Mastodon, GoToSocial), is a wildcard rule
over it (`wildcard`), carries its SHA-256 digest (`digest`: certain, and only ever computed for
the domain someone asks about), or is a `*`-masked name with the same length, dots and visible
letters (`candidate`, with a confidence of 1 / number of known domains the mask fits).

The coverage line is the denominator: how many block lists were read, how many could not be
read and why, and the active users behind each, so that "nobody blocks you" is honest.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass, field
from typing import Any

from crawler.blocks import covers, digest_of, mask_matches, wildcard_base
from crawler.domains import REAL_NETWORK, SANDBOX

#: Families whose domain blocks also apply to every subdomain of the blocked domain.
SUBDOMAIN_BLOCKING_FAMILIES = frozenset({"mastodon", "gotosocial"})
NOT_READABLE = ("restricted", "hidden", "disallowed", "error")


class InvalidQuery(ValueError):
    """The asked domain is not a valid domain name."""


@dataclass
class Blocker:
    blocker: str
    severity: str
    severity_raw: str
    reason: str | None
    first_seen: str | None
    last_seen: str | None
    software: str | None
    family: str | None
    users_active_month: int | None
    match: str  # exact | parent | wildcard | suffix | digest | candidate
    pattern: str
    confidence: float = 1.0


@dataclass
class Coverage:
    """How many block lists stand behind an answer."""

    lists_read: int = 0
    users_read: int = 0
    not_readable: dict[str, int] = field(default_factory=dict)
    users_not_readable: dict[str, int] = field(default_factory=dict)
    unsupported: int = 0
    users_unsupported: int = 0
    not_reached: int = 0

    @property
    def lists_not_readable(self) -> int:
        return sum(self.not_readable.values())


@dataclass
class WhoBlocksAnswer:
    domain: str
    blockers: list[Blocker]
    coverage: Coverage

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["coverage"]["lists_not_readable"] = self.coverage.lists_not_readable
        data["summary"] = summary_line(self)
        return data


def who_blocks(db_path: str, raw_domain: str) -> WhoBlocksAnswer:
    """The answer for one domain from a fediscope database."""
    domain, reason = REAL_NETWORK.check(raw_domain)
    if domain is None:
        domain, reason = SANDBOX.check(raw_domain)
    if domain is None:
        raise InvalidQuery(f"{raw_domain!r} is not a valid domain name ({reason})")
    connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        blockers = find_blockers(connection, domain)
        coverage = block_coverage(connection)
    finally:
        connection.close()
    return WhoBlocksAnswer(domain, blockers, coverage)


def find_blockers(connection: sqlite3.Connection, domain: str) -> list[Blocker]:
    """Active rules that match `domain`, the strongest match per blocker and rule word."""
    digest = digest_of(domain)
    parents = _parents(domain)
    marks = ",".join("?" * len(parents)) or "NULL"
    rows = connection.execute(
        f"""
        SELECT b.blocker, b.severity, b.severity_raw, b.reason, b.first_seen, b.last_seen,
               i.software, i.family, i.users_active_month, b.blocked, b.blocked_pattern,
               b.blocked_digest, b.kind
        FROM blocks b LEFT JOIN instances i ON i.domain = b.blocker
        WHERE b.active = 1 AND b.blocker != ? AND (
              b.blocked = ? OR b.blocked_digest = ?
              OR b.kind IN ('wildcard', 'suffix')
              OR (b.kind = 'masked' AND length(b.blocked_pattern) = ?)
              OR b.blocked IN ({marks}))
        """,
        (domain, domain, digest, len(domain), *parents),
    ).fetchall()
    found: dict[tuple[str, str], Blocker] = {}
    candidates: list[Blocker] = []
    for row in rows:
        (blocker, severity, raw, reason, first, last, software, family, users) = row[:9]
        blocked, pattern, rule_digest, kind = row[9:]
        match = _match(domain, digest, family, blocked, pattern, rule_digest, kind)
        if match is None:
            continue
        entry = Blocker(
            blocker, severity, raw, reason, first, last, software, family, users, match, pattern
        )
        if match == "candidate":
            candidates.append(entry)
            continue
        key = (blocker, raw)
        current = found.get(key)
        if current is None or (_RANK[match], pattern) < (_RANK[current.match], current.pattern):
            found[key] = entry
    if candidates:
        known = _domains_fitting(connection, {c.pattern for c in candidates})
        for entry in sorted(candidates, key=lambda c: c.pattern):
            key = (entry.blocker, entry.severity_raw)
            if key in found:
                continue
            entry.confidence = round(1 / max(1, known.get(entry.pattern, 1)), 4)
            found[key] = entry
    return sorted(
        found.values(),
        key=lambda b: (-(b.users_active_month or 0), b.blocker, b.severity_raw),
    )


_RANK = {"exact": 0, "digest": 1, "wildcard": 2, "suffix": 3, "parent": 4, "candidate": 5}


def _match(
    domain: str,
    digest: str,
    family: str | None,
    blocked: str | None,
    pattern: str,
    rule_digest: str | None,
    kind: str,
) -> str | None:
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


def _parents(domain: str) -> list[str]:
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(1, len(labels) - 1)]


def _domains_fitting(connection: sqlite3.Connection, patterns: set[str]) -> dict[str, int]:
    """How many known domains each masked pattern fits (the candidates' ambiguity)."""
    lengths = {len(p) for p in patterns}
    counts = dict.fromkeys(patterns, 0)
    marks = ",".join("?" * len(lengths))
    for (name,) in connection.execute(
        f"SELECT name FROM domains WHERE length(name) IN ({marks})", tuple(lengths)
    ):
        for pattern in patterns:
            if mask_matches(pattern, name):
                counts[pattern] += 1
    return counts


def block_coverage(connection: sqlite3.Connection) -> Coverage:
    """Block-list readability over every instance that answered (the answer's denominator)."""
    coverage = Coverage()
    for visibility, lists, users in connection.execute(
        "SELECT blocks_visibility, count(*), coalesce(sum(users_active_month), 0) "
        "FROM instances WHERE status = 'alive' GROUP BY blocks_visibility"
    ):
        if visibility == "public":
            coverage.lists_read, coverage.users_read = lists, users
        elif visibility == "unsupported":
            coverage.unsupported, coverage.users_unsupported = lists, users
        else:
            key = visibility if visibility in NOT_READABLE else "error"
            coverage.not_readable[key] = coverage.not_readable.get(key, 0) + lists
            coverage.users_not_readable[key] = coverage.users_not_readable.get(key, 0) + users
    (coverage.not_reached,) = connection.execute(
        "SELECT count(*) FROM instances WHERE status IN ('pending', 'unreachable', 'dead')"
    ).fetchone()
    return coverage


def summary_line(answer: WhoBlocksAnswer) -> str:
    by_severity: dict[str, int] = {}
    for blocker in {(b.blocker, b.severity) for b in answer.blockers}:
        by_severity[blocker[1]] = by_severity.get(blocker[1], 0) + 1
    instances = len({b.blocker for b in answer.blockers})
    detail = ", ".join(f"{n} {s}" for s, n in sorted(by_severity.items(), key=lambda x: -x[1]))
    if not instances:
        return f"{answer.domain}: no published block list that we could read blocks it"
    return f"{answer.domain}: blocked by {instances} instances ({detail})"


def coverage_line(coverage: Coverage) -> str:
    labels = {
        "restricted": "restricted (401/403)",
        "hidden": "hidden (404)",
        "disallowed": "disallowed by robots.txt",
        "error": "unreadable (errors)",
    }
    unreadable = ", ".join(
        f"{n:,} {labels.get(k, k)} ({coverage.users_not_readable.get(k, 0):,} active users)"
        for k, n in sorted(coverage.not_readable.items())
    )
    return (
        f"coverage: {coverage.lists_read:,} block lists read "
        f"({coverage.users_read:,} active users behind them); "
        f"not readable: {coverage.lists_not_readable:,}"
        + (f" [{unreadable}]" if unreadable else "")
        + f"; {coverage.unsupported:,} instances run software that publishes no block list "
        f"({coverage.users_unsupported:,} active users); "
        f"{coverage.not_reached:,} known instances not reached"
    )


def format_answer(answer: WhoBlocksAnswer) -> str:
    """The human-readable answer: summary, one line per blocker, coverage."""
    lines = [summary_line(answer)]
    if answer.blockers:
        header = ("BLOCKER", "SEVERITY", "RAW", "ACTIVE USERS", "SOFTWARE", "FIRST SEEN", "MATCH")
        rows = [header]
        for b in answer.blockers:
            match = b.match if b.match != "candidate" else f"candidate {b.confidence:.0%}"
            if b.match != "exact":
                match += f" ({b.pattern})"
            rows.append(
                (
                    b.blocker,
                    b.severity,
                    b.severity_raw,
                    "" if b.users_active_month is None else f"{b.users_active_month:,}",
                    b.software or "",
                    (b.first_seen or "")[:10],
                    match,
                )
            )
        widths = [max(len(str(row[i])) for row in rows) for i in range(len(header))]
        for row in rows:
            lines.append(
                "  ".join(
                    str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)
                ).rstrip()
            )
        reasons = [(b.blocker, b.reason) for b in answer.blockers if b.reason]
        if reasons:
            lines.append("public reasons:")
            lines.extend(f"  {blocker}: {reason}" for blocker, reason in reasons)
    lines.append(coverage_line(answer.coverage))
    return "\n".join(lines)
