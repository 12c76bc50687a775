"""`who-blocks DOMAIN`: every instance whose published rules block a domain, and the coverage.

A rule matches the asked domain when it names it in clear (`exact`), names a parent domain on
platforms whose blocks cover subdomains (`parent`: Mastodon, GoToSocial), is a wildcard rule
over it (`wildcard`), carries its SHA-256 digest (`digest`: certain, and only ever computed for
the domain someone asks about), or is a `*`-masked name with the same length, dots and visible
letters (`candidate`, with a confidence of 1 / number of known domains the mask fits).

The coverage line is the denominator: how many block lists were read, how many could not be
read and why, and the active users behind each, so that "nobody blocks you" is honest.

`answer(connection, domain)` is the whole answer the CLI, the /who-blocks page (JSON, CSV) and
the tests share; `block_changes` is what changed for the domain (from block_events), which the
page lists and the `block_changes` canned query serves as an Atom feed.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass, field
from typing import Any

from crawler.blocks import (
    digest_of,
    match_rank,
    match_rule,
    severity_rank,
    strongest_by,
)
from crawler.domains import REAL_NETWORK, SANDBOX

#: Why a block list could not be read, in the words every answer (CLI and page) uses.
NOT_READABLE_LABELS = {
    "restricted": "restricted (shown to logged-in users only)",
    "hidden": "hidden (not published)",
    "disallowed": "disallowed by robots.txt",
    "error": "unreadable (errors)",
}
NOT_READABLE = tuple(NOT_READABLE_LABELS)


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
    status: str | None = None  # the blocker's lifecycle status now (alive, unreachable, dead...)
    mutual: bool = False  # the asked domain's own public list blocks this blocker too


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

    @property
    def reasons(self) -> list[tuple[str, str, int, int]]:
        """(reason, its label, lists, active users) for every reason a list was not readable."""
        return [
            (key, label, self.not_readable.get(key, 0), self.users_not_readable.get(key, 0))
            for key, label in NOT_READABLE_LABELS.items()
        ]


@dataclass
class BlockChange:
    """One added, removed or changed rule that covers the asked domain (from block_events)."""

    id: int
    at: str | None
    crawl_id: int | None
    blocker: str
    event: str  # added | removed | changed
    severity: str | None
    severity_raw: str | None
    previous_severity: str | None
    reason: str | None
    previous_reason: str | None
    pattern: str
    match: str
    first_observation: bool  # the first time the blocker's list could be read


@dataclass
class Asked:
    """What fediscope knows about the asked domain itself."""

    known: bool = False
    status: str | None = None
    software: str | None = None
    users_active_month: int | None = None


@dataclass
class SharedListMatch:
    """An imported shared block list that covers the asked domain (graph.adoption)."""

    source: str
    pattern: str
    match: str  # exact | parent | wildcard | suffix (read as Mastodon reads its import format)
    blockers: int  # servers whose published rules certainly block the domain
    adopters: int  # of those, servers whose rules cover >= 90% of the list


@dataclass
class WhoBlocksAnswer:
    domain: str
    blockers: list[Blocker]
    coverage: Coverage
    changes: list[BlockChange] = field(default_factory=list)
    asked: Asked = field(default_factory=Asked)
    shared_lists: list[SharedListMatch] = field(default_factory=list)

    @property
    def certain(self) -> list[Blocker]:
        """Blockers whose rule certainly covers the domain (everything but mask candidates)."""
        return [b for b in self.blockers if b.match != "candidate"]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["coverage"]["lists_not_readable"] = self.coverage.lists_not_readable
        data["summary"] = summary_line(self)
        data["headline"] = headline(self)
        data["shared_lists_line"] = shared_lists_line(self)
        return data


def valid_domain(raw_domain: str) -> str:
    """The normalised domain, or InvalidQuery saying why it is not one."""
    domain, reason = REAL_NETWORK.check(raw_domain)
    if domain is None:
        domain, reason = SANDBOX.check(raw_domain)
    if domain is None:
        raise InvalidQuery(f"{raw_domain!r} is not a valid domain name ({reason})")
    return domain


def who_blocks(db_path: str, raw_domain: str) -> WhoBlocksAnswer:
    """`answer` on a database file opened read-only, for scripts and notebooks (the CLI and
    the pages open their connection and call `answer`)."""
    domain = valid_domain(raw_domain)
    connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return answer(connection, domain)
    finally:
        connection.close()


def answer(
    connection: sqlite3.Connection, raw_domain: str, with_changes: bool = True
) -> WhoBlocksAnswer:
    """Blockers, coverage, changes and what is known of the domain, on an open connection."""
    domain = valid_domain(raw_domain)
    rules = _rule_rows(connection, domain, active_only=not with_changes)  # one scan for both
    blocked_back = blocked_by(connection, domain)
    blockers = find_blockers(connection, domain, rules)
    coverage = block_coverage(connection)
    changes = block_changes(connection, domain, rules=rules) if with_changes else []
    row = connection.execute(
        "SELECT status, software, users_active_month FROM instances WHERE domain = ?", (domain,)
    ).fetchone()
    asked = Asked(True, *row) if row else Asked()
    for blocker in blockers:
        blocker.mutual = blocker.blocker in blocked_back
    certain = {b.blocker for b in blockers if b.match != "candidate"}
    shared = on_shared_lists(connection, domain, certain)
    return WhoBlocksAnswer(domain, blockers, coverage, changes, asked, shared)


def on_shared_lists(
    connection: sqlite3.Connection, domain: str, blockers: set[str]
) -> list[SharedListMatch]:
    """The imported lists whose entries cover `domain` (masked entries never do), and how many
    of `blockers` cover at least 90% of each list (`shared_list_adoption`, built by analyze)."""
    labels = domain.split(".")
    names = [".".join(labels[i:]) for i in range(len(labels))]  # the domain and its parents
    marks = ",".join("?" * len(names))
    strongest: dict[str, tuple[str, str]] = {}
    for source, blocked, pattern, kind in connection.execute(
        "SELECT source, blocked, blocked_pattern, kind FROM imported_blocks WHERE "
        f"blocked IN ({marks}) OR kind IN ('wildcard', 'suffix') ORDER BY source, blocked_pattern",
        names,
    ):
        match = match_rule(domain, digest_of(domain), "mastodon", blocked, pattern, None, kind)
        certain = match is not None and match != "candidate"
        if certain and (
            source not in strongest or match_rank(match) < match_rank(strongest[source][1])
        ):
            strongest[source] = (pattern, match)
    found = []
    for source, (pattern, match) in sorted(strongest.items()):
        try:
            adopted = {
                server
                for (server,) in connection.execute(
                    "SELECT server FROM shared_list_adoption WHERE source = ? AND coverage >= 0.9",
                    (source,),
                )
            }
        except sqlite3.OperationalError:  # not analysed yet
            adopted = set()
        adopters = len(blockers & adopted)
        found.append(SharedListMatch(source, pattern, match, len(blockers), adopters))
    return found


def shared_lists_line(answer: WhoBlocksAnswer) -> str:
    """ "also on shared lists: tier0 (12 of the 31 servers blocking it cover at least 90% of
    tier0)", or "" when no imported list covers the domain."""
    parts = [
        f"{s.source} ({s.adopters:,} of the {s.blockers:,} {_servers(s.blockers)} blocking it "
        f"cover at least 90% of {s.source})"
        for s in answer.shared_lists
    ]
    if not parts:
        return ""
    return "also on shared lists: " + "; ".join(parts)


def blocked_by(connection: sqlite3.Connection, domain: str) -> set[str]:
    """Domains that `domain`'s own public rules block (block_edges, built by analyze)."""
    try:
        return {
            name
            for (name,) in connection.execute(
                "SELECT DISTINCT blocked FROM block_edges WHERE blocker = ?", (domain,)
            )
        }
    except sqlite3.OperationalError:  # not analysed yet
        return set()


def _rule_rows(connection: sqlite3.Connection, domain: str, active_only: bool) -> list[tuple]:
    """Rules that may cover `domain` (indexed look-ups; `match_rule` decides); the last
    columns are `active` and the blocker's status."""
    digest = digest_of(domain)
    parents = parent_domains(domain)
    marks = ",".join("?" * len(parents)) or "NULL"
    labels = domain.split(".")
    suffixes = [".".join(labels[i:]) for i in range(len(labels))]  # a rule's base must be one
    bases = ",".join("?" * len(suffixes))
    active = "b.active = 1 AND" if active_only else ""
    return connection.execute(
        f"""
        SELECT b.blocker, b.severity, b.severity_raw, b.reason, b.first_seen, b.last_seen,
               i.software, i.family, i.users_active_month, b.blocked, b.blocked_pattern,
               b.blocked_digest, b.kind, b.active, i.status
        FROM blocks b LEFT JOIN instances i ON i.domain = b.blocker
        WHERE {active} b.blocker != ? AND (
              b.blocked = ? OR b.blocked_digest = ?
              OR (b.kind IN ('wildcard', 'suffix') AND rtrim(ltrim(ltrim(
                    lower(b.blocked_pattern), '*'), '.'), '.') IN ({bases}))
              OR (b.kind = 'masked' AND length(b.blocked_pattern) = ?
                  AND lower(substr(b.blocked_pattern, 1, 1)) IN ('*', '?', ?)
                  AND lower(substr(b.blocked_pattern, -1, 1)) IN ('*', '?', ?))
              OR b.blocked IN ({marks}))
        """,
        (domain, domain, digest, *suffixes, len(domain), domain[0], domain[-1], *parents),
    ).fetchall()


def find_blockers(
    connection: sqlite3.Connection, domain: str, rules: list[tuple] | None = None
) -> list[Blocker]:
    """Active rules that match `domain`, the strongest match per blocker and rule word."""
    digest = digest_of(domain)
    if rules is None:
        rules = _rule_rows(connection, domain, active_only=True)
    found: dict[tuple[str, str], Blocker] = {}
    candidates: list[Blocker] = []
    for row in rules:
        if not row[13]:
            continue
        (blocker, severity, raw, reason, first, last, software, family, users) = row[:9]
        blocked, pattern, rule_digest, kind = row[9:13]
        match = match_rule(domain, digest, family, blocked, pattern, rule_digest, kind)
        if match is None:
            continue
        entry = Blocker(
            blocker, severity, raw, reason, first, last, software, family, users, match, pattern
        )
        entry.status = row[14]
        if match == "candidate":
            candidates.append(entry)
            continue
        key = (blocker, raw)
        current = found.get(key)
        if current is None or (match_rank(match), pattern) < (
            match_rank(current.match),
            current.pattern,
        ):
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


def block_changes(
    connection: sqlite3.Connection,
    domain: str,
    limit: int = 500,
    rules: list[tuple] | None = None,
) -> list[BlockChange]:
    """Rules covering `domain` that were added, removed or changed, newest first.

    Only certain matches (clear, parent, wildcard/suffix, digest): a masked name that merely
    fits is not news about this domain."""
    digest = digest_of(domain)
    if rules is None:
        rules = _rule_rows(connection, domain, active_only=False)
    matched: dict[tuple[str, str], str] = {}
    for row in rules:
        family, blocked, pattern, rule_digest, kind = row[7], *row[9:13]
        match = match_rule(domain, digest, family, blocked, pattern, rule_digest, kind)
        if match is not None and match != "candidate":
            key = (row[0], pattern)
            if key not in matched or match_rank(match) < match_rank(matched[key]):
                matched[key] = match
    changes: list[BlockChange] = []
    pairs = list(matched)
    for start in range(0, len(pairs), 400):  # one statement per 400 rules, not one per rule
        chunk = pairs[start : start + 400]
        values = ",".join("(?, ?)" for _ in chunk)
        for row in connection.execute(
            f"WITH r(blocker, pattern) AS (VALUES {values}) "
            "SELECT e.id, e.at, e.crawl_id, e.blocker, e.event, e.severity, e.severity_raw, "
            "e.previous_severity, e.reason, e.previous_reason, e.blocked_pattern, "
            "e.first_observation FROM r JOIN block_events e "
            "ON e.blocker = r.blocker AND e.blocked_pattern = r.pattern",
            [value for pair in chunk for value in pair],
        ):
            match = matched[(row[3], row[10])]
            changes.append(BlockChange(*row[:11], match, bool(row[11])))
    changes.sort(key=lambda c: (c.at or "", c.id), reverse=True)
    return changes[:limit]


def headline(answer: WhoBlocksAnswer) -> str:
    """The answer in one sentence: "31 servers with 12,400 active users block x: 25 suspend, 6
    silence" (certain matches; each server once, at its strongest severity)."""
    strongest = strongest_by(answer.certain, lambda b: b.blocker, lambda b: b.severity)
    candidates = {b.blocker for b in answer.blockers if b.match == "candidate"} - set(strongest)
    maybe = (
        f" {len(candidates):,} more {_servers(len(candidates))} "
        f"{'publishes' if len(candidates) == 1 else 'publish'} a masked name that may mean it."
        if candidates
        else ""
    )
    if not strongest:
        return (
            f"No block list that fediscope could read blocks {answer.domain}"
            f" ({answer.coverage.lists_read:,} read, {answer.coverage.lists_not_readable:,} not "
            f"readable).{maybe}"
        )
    users = sum(b.users_active_month or 0 for b in strongest.values())
    counts: dict[str, int] = {}
    for b in strongest.values():
        counts[b.severity] = counts.get(b.severity, 0) + 1
    detail = ", ".join(
        f"{counts[s]:,} {s}" for s in sorted(counts, key=lambda s: (severity_rank(s), s))
    )
    verb = "blocks" if len(strongest) == 1 else "block"
    gone = sum(1 for b in strongest.values() if b.status not in (None, "alive"))
    gone_note = f" {gone:,} of them did not answer in the last crawl." if gone else ""
    return (
        f"{len(strongest):,} {_servers(len(strongest))} with {users:,} active users {verb} "
        f"{answer.domain}: {detail}.{gone_note}{maybe}"
    )


def _servers(n: int) -> str:
    return "server" if n == 1 else "servers"


def parent_domains(domain: str) -> list[str]:
    """`a.b.example.social` -> [`b.example.social`, `example.social`]."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(1, len(labels) - 1)]


def _domains_fitting(connection: sqlite3.Connection, patterns: set[str]) -> dict[str, int]:
    """How many known domains each masked pattern fits (the candidates' ambiguity).

    Each pattern becomes a GLOB (`*` -> `[^.]`), whose literal prefix SQLite answers from the
    domains.name index instead of reading every name into Python."""
    return {
        pattern: connection.execute(
            "SELECT count(*) FROM domains WHERE name GLOB ?", (mask_glob(pattern),)
        ).fetchone()[0]
        for pattern in patterns
    }


def mask_glob(pattern: str) -> str:
    """The GLOB matching what `mask_matches(pattern, name)` accepts (names are lowercase)."""
    return "".join("[^.]" if ch in "*?" else "[[]" if ch == "[" else ch for ch in pattern.lower())


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
    # Most blockers first; equal counts in severity order, so the line never depends on the
    # order a set happened to iterate in (a permalink's answer must be byte-stable).
    ordered = sorted(by_severity.items(), key=lambda item: (-item[1], severity_rank(item[0])))
    detail = ", ".join(f"{n} {s}" for s, n in ordered)
    if not instances:
        return f"{answer.domain}: no published block list that we could read blocks it"
    return f"{answer.domain}: blocked by {instances} instances ({detail})"


def coverage_line(coverage: Coverage) -> str:
    users = coverage.users_not_readable
    unreadable = ", ".join(
        f"{n:,} {NOT_READABLE_LABELS.get(k, k)} ({users.get(k, 0):,} active users)"
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
    if answer.shared_lists:
        lines.append(shared_lists_line(answer))
    lines.append(coverage_line(answer.coverage))
    return "\n".join(lines)
