"""Block-graph tables: who is blocked by how many, by whom in public, and how consistently.

Every active rule is resolved against every domain the store has seen (again at each analyze,
so new domains resolve old digests): clear names, wildcard and suffix rules, parent-domain rules
(Mastodon and GoToSocial blocks cover subdomains), Mastodon digests, and `*`-masked names
(candidates only). Publication follows the blockers' intent:
- `blocked_domains` (aggregates) counts certain matches, digests included, without saying who;
- `block_edges`, `mutual_blocks` and the views name a blocker and a blocked domain together only
  where the blocker published the name in clear (or as a public wildcard/suffix rule);
- digest and candidate resolutions are never written as pairs.
"""

from __future__ import annotations

import hashlib
import math
import re
import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import networkx as nx

from crawler.blocks import SUBDOMAIN_BLOCKING_FAMILIES, covers, severity_rank, wildcard_base
from graph.blocked_reach import build_blocked_reach

PUBLIC_MATCHES = ("exact", "wildcard", "suffix", "parent")


@dataclass
class _Target:
    blockers: set[str] = field(default_factory=set)
    public_blockers: set[str] = field(default_factory=set)
    by_severity: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    via: Counter[str] = field(default_factory=Counter)
    candidates: set[str] = field(default_factory=set)


class _MaskIndex:
    """Known names that a `*`/`?`-masked pattern fits (crawler.blocks.mask_matches semantics).

    The names of each length are joined into one text and each distinct pattern becomes one
    anchored regular expression over it, so thousands of masked rules cost a C scan each
    instead of a Python comparison per rule and known name.
    """

    def __init__(self, names: list[str]) -> None:
        by_length: dict[int, list[str]] = defaultdict(list)
        for name in names:
            by_length[len(name)].append(name)
        self.texts = {length: "\n".join(group) for length, group in by_length.items()}
        self.found: dict[str, list[str]] = {}

    def names(self, pattern: str) -> list[str]:
        key = pattern.lower()
        if key not in self.found:
            text = self.texts.get(len(key), "")
            expression = "".join("[^.\n]" if ch in "*?" else re.escape(ch) for ch in key)
            self.found[key] = re.findall(f"^{expression}$", text, flags=re.MULTILINE)
        return self.found[key]


def resolve_rules(
    connection: sqlite3.Connection,
) -> tuple[dict[str, _Target], list[tuple[str, str, str, str, str]]]:
    """Match every active rule to known domains: (targets, public pairs).

    Public pairs are (blocker, blocked, severity, severity_raw, match) for matches the blocker
    published in the open.
    """
    names = [row[0] for row in connection.execute("SELECT name FROM domains")]
    by_digest = {hashlib.sha256(n.encode()).hexdigest(): n for n in names}
    name_set = set(names)
    fitting = _MaskIndex(names)
    families = dict(connection.execute("SELECT domain, family FROM instances"))
    rules = connection.execute(
        "SELECT blocker, blocked, blocked_pattern, blocked_digest, kind, severity, severity_raw "
        "FROM blocks WHERE active = 1"
    ).fetchall()
    targets: dict[str, _Target] = defaultdict(_Target)
    pairs: list[tuple[str, str, str, str, str]] = []
    wide_rules: list[tuple[str, str, str, str, str]] = []  # wildcard, suffix and parent rules
    for blocker, blocked, pattern, digest, kind, severity, raw in rules:
        matched: list[tuple[str, str]] = []
        if blocked:
            matched.append((blocked, "exact"))
            if families.get(blocker) in SUBDOMAIN_BLOCKING_FAMILIES:
                wide_rules.append((blocker, blocked, "parent", severity, raw))
        elif digest:
            if digest in by_digest:
                matched.append((by_digest[digest], "digest"))
        elif kind in ("wildcard", "suffix"):
            base = wildcard_base(pattern)
            if base:
                wide_rules.append((blocker, base, kind, severity, raw))
        elif kind == "masked":
            fits = fitting.names(pattern)
            for name in fits:
                if name != blocker:
                    targets[name].candidates.add(blocker)
        for name, how in matched:
            _count(targets, pairs, blocker, name, severity, raw, how)
    if wide_rules:
        by_base: dict[str, list[tuple[str, str, str, str]]] = defaultdict(list)
        for blocker, base, how, severity, raw in wide_rules:
            by_base[base].append((blocker, how, severity, raw))
        for name in name_set:
            labels = name.split(".")
            for start in range(len(labels)):
                base = ".".join(labels[start:])
                for blocker, how, severity, raw in by_base.get(base, ()):
                    if how == "parent" and not covers(base, name):
                        continue  # the exact match was counted already
                    _count(targets, pairs, blocker, name, severity, raw, how)
    return targets, pairs


def _count(
    targets: dict[str, _Target],
    pairs: list[tuple[str, str, str, str, str]],
    blocker: str,
    name: str,
    severity: str,
    raw: str,
    how: str,
) -> None:
    if name == blocker:
        return
    target = targets[name]
    target.blockers.add(blocker)
    target.by_severity[severity].add(blocker)
    target.via[how] += 1
    if how in PUBLIC_MATCHES:
        target.public_blockers.add(blocker)
        pairs.append((blocker, name, severity, raw, how))


def damping_weight(rules: int) -> float:
    """What one blocker weighs in `damped_blockers`: 1 / log2(1 + its number of active rules).

    A list of one rule weighs 1, of 10 rules 0.29, of 5,000 rules 0.08: mass blockers count,
    but each of their rules says less about the blocked domain than a short list's.
    """
    return 1.0 / math.log2(1 + max(rules, 1))


def build_block_tables(connection: sqlite3.Connection) -> str:
    """(Re)build `blocked_domains`, `block_edges`, `mutual_blocks`, `blocks_by_platform`,
    and `blocked_reach`."""
    targets, pairs = resolve_rules(connection)
    users = dict(
        connection.execute(
            "SELECT domain, users_active_month FROM instances WHERE users_active_month IS NOT NULL"
        )
    )
    weights = {
        blocker: damping_weight(rules)
        for blocker, rules in connection.execute(
            "SELECT blocker, count(*) FROM blocks WHERE active = 1 GROUP BY blocker"
        )
    }
    connection.execute("DROP TABLE IF EXISTS blocked_domains")
    connection.execute(
        "CREATE TABLE blocked_domains (domain TEXT PRIMARY KEY, blockers INTEGER, "
        "suspend INTEGER, silence INTEGER, reject_media INTEGER, reject_reports INTEGER, "
        "quarantine INTEGER, other INTEGER, blockers_active_users INTEGER, "
        "via_exact INTEGER, via_digest INTEGER, via_rule INTEGER, candidate_blockers INTEGER, "
        "damped_blockers REAL, rank_blockers INTEGER, rank_active_users INTEGER, "
        "rank_damped INTEGER)"
    )
    connection.executemany(
        "INSERT INTO blocked_domains VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "NULL, NULL, NULL)",
        (
            (
                name,
                len(t.blockers),
                *(
                    len(t.by_severity.get(s, ()))
                    for s in ("suspend", "silence", "reject_media", "reject_reports", "quarantine")
                ),
                len(t.by_severity.get("other", ())),
                sum(users.get(b, 0) for b in t.blockers),
                t.via["exact"],
                t.via["digest"],
                t.via["wildcard"] + t.via["suffix"] + t.via["parent"],
                len(t.candidates - t.blockers),
                round(sum(weights.get(b, 1.0) for b in sorted(t.blockers)), 6),
            )
            for name, t in sorted(targets.items())
        ),
    )
    connection.execute(
        "UPDATE blocked_domains SET rank_blockers = r.a, rank_active_users = r.b, "
        "rank_damped = r.c FROM (SELECT domain, "
        "rank() OVER (ORDER BY blockers DESC) AS a, "
        "rank() OVER (ORDER BY blockers_active_users DESC) AS b, "
        "rank() OVER (ORDER BY damped_blockers DESC) AS c FROM blocked_domains) r "
        "WHERE r.domain = blocked_domains.domain"
    )
    reach_rows = build_blocked_reach(connection, targets)
    connection.execute("DROP TABLE IF EXISTS block_edges")
    connection.execute(
        "CREATE TABLE block_edges (blocker TEXT, blocked TEXT, severity TEXT, severity_raw TEXT, "
        "match TEXT, PRIMARY KEY (blocker, blocked, severity_raw))"
    )
    connection.executemany("INSERT OR IGNORE INTO block_edges VALUES (?, ?, ?, ?, ?)", pairs)
    mutual = _mutual_pairs(pairs)
    connection.execute("DROP TABLE IF EXISTS mutual_blocks")
    connection.execute(
        "CREATE TABLE mutual_blocks (domain_a TEXT, domain_b TEXT, a_blocks_b TEXT, "
        "b_blocks_a TEXT, PRIMARY KEY (domain_a, domain_b))"
    )
    connection.executemany("INSERT INTO mutual_blocks VALUES (?, ?, ?, ?)", mutual)
    _build_by_platform(connection)
    return (
        f"{len(targets)} blocked domains, {len(pairs)} public block edges, "
        f"{len(mutual)} mutual pairs, {reach_rows} blocked-reach rows"
    )


def _mutual_pairs(pairs: list[tuple[str, str, str, str, str]]) -> list[tuple[str, str, str, str]]:
    """Pairs that block each other, using networkx's reciprocity on the public block graph."""
    graph = nx.DiGraph()
    for blocker, blocked, severity, _raw, _how in pairs:
        strongest = graph.get_edge_data(blocker, blocked, {}).get("severity")
        if strongest is None or severity_rank(severity) < severity_rank(strongest):
            graph.add_edge(blocker, blocked, severity=severity)
    result = []
    for a, b in graph.edges():
        if a < b and graph.has_edge(b, a):
            result.append((a, b, graph[a][b]["severity"], graph[b][a]["severity"]))
    return sorted(result)


def _build_by_platform(connection: sqlite3.Connection) -> None:
    connection.execute("DROP TABLE IF EXISTS blocks_by_platform")
    connection.execute(
        "CREATE TABLE blocks_by_platform AS "
        "SELECT coalesce(i.family, 'unknown') AS family, b.severity, "
        "count(*) AS rules, count(DISTINCT b.blocker) AS blockers, "
        "sum(b.kind = 'masked') AS masked_rules, sum(b.kind IN ('wildcard', 'suffix')) "
        "AS wildcard_rules FROM blocks b LEFT JOIN instances i ON i.domain = b.blocker "
        "WHERE b.active = 1 GROUP BY 1, 2 ORDER BY 1, rules DESC"
    )
