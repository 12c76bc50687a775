"""`reach DOMAIN`: who can see one server's posts — the question a community or a brand asks.

Per software family, the live servers that list DOMAIN as a peer and do not suspend it (they
federate with it), with their users and active users; next to them the live servers that suspend
it (matched as `who-blocks` matches: clear names, parent domains, wildcards, digests; masked
candidates are not proof and do not count). What cannot be known is counted apart: live servers
whose peer list is not readable (they may federate with DOMAIN or not), and federating servers
whose block list is not readable (they may suspend it).
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass, field
from typing import Any

from observatory.who_blocks import find_blockers, valid_domain


@dataclass
class Tally:
    servers: int = 0
    users: int = 0
    active_users: int = 0

    def add(self, users: int | None, active: int | None) -> None:
        self.servers += 1
        self.users += users or 0
        self.active_users += active or 0


@dataclass
class FamilyReach:
    family: str
    reaching: Tally = field(default_factory=Tally)
    limiting: Tally = field(default_factory=Tally)  # reaching, with a silence-like rule
    suspending: Tally = field(default_factory=Tally)
    peers_unreadable: Tally = field(default_factory=Tally)
    reaching_blocks_unreadable: Tally = field(default_factory=Tally)


@dataclass
class ReachAnswer:
    domain: str
    known: bool
    families: list[FamilyReach]
    total: FamilyReach

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["summary"] = summary_line(self)
        return data


def reach(connection: sqlite3.Connection, raw_domain: str) -> ReachAnswer:
    """The reach of one domain (InvalidQuery when it is not a domain name)."""
    domain = valid_domain(raw_domain)
    row = connection.execute("SELECT id FROM domains WHERE name = ?", (domain,)).fetchone()
    peering: set[str] = set()
    if row is not None:
        peering = {
            name
            for (name,) in connection.execute(
                "SELECT s.name FROM peer_intervals p JOIN domains s ON s.id = p.source_id "
                "WHERE p.target_id = ? AND p.removed_crawl IS NULL",
                (row[0],),
            )
        }
    suspending: set[str] = set()
    limiting: set[str] = set()
    for blocker in find_blockers(connection, domain):
        if blocker.match == "candidate":
            continue
        (suspending if blocker.severity == "suspend" else limiting).add(blocker.blocker)
    families: dict[str, FamilyReach] = {}
    total = FamilyReach("all")
    for name, family, users, active, peers_visibility, blocks_visibility in connection.execute(
        "SELECT domain, coalesce(family, 'unknown'), users_total, users_active_month, "
        "peers_visibility, blocks_visibility FROM instances "
        "WHERE status = 'alive' AND domain != ? ORDER BY domain",
        (domain,),
    ):
        entry = families.setdefault(family, FamilyReach(family))
        tallies: list[Tally] = []
        if name in suspending:
            tallies += [entry.suspending, total.suspending]
        elif name in peering:
            tallies += [entry.reaching, total.reaching]
            if name in limiting:
                tallies += [entry.limiting, total.limiting]
            if blocks_visibility != "public":
                tallies += [entry.reaching_blocks_unreadable, total.reaching_blocks_unreadable]
        elif peers_visibility != "public":
            tallies += [entry.peers_unreadable, total.peers_unreadable]
        for tally in tallies:
            tally.add(users, active)
    ordered = sorted(
        (f for f in families.values() if f.reaching.servers or f.suspending.servers
         or f.peers_unreadable.servers),
        key=lambda f: (-f.reaching.active_users, -f.reaching.servers, f.family),
    )  # fmt: skip
    return ReachAnswer(domain, row is not None, ordered, total)


def summary_line(answer: ReachAnswer) -> str:
    t = answer.total
    return (
        f"{answer.domain}: {t.reaching.servers} servers federate with it "
        f"({t.reaching.users} users, {t.reaching.active_users} active); "
        f"{t.suspending.servers} suspend it ({t.suspending.active_users} active users); "
        f"unknown: {t.peers_unreadable.servers} servers with unreadable peer lists "
        f"({t.peers_unreadable.active_users} active users), "
        f"{t.reaching_blocks_unreadable.servers} federating servers with unreadable block lists"
    )


def format_answer(answer: ReachAnswer) -> str:
    """A plain-text table per family, then the summary."""
    header = (
        f"{'family':<16}{'reaching':>10}{'users':>12}{'active':>10}"
        f"{'suspending':>12}{'active':>10}{'unknown':>9}{'active':>10}"
    )
    lines = [header]
    for f in [*answer.families, answer.total]:
        lines.append(
            f"{f.family:<16}{f.reaching.servers:>10}{f.reaching.users:>12}"
            f"{f.reaching.active_users:>10}{f.suspending.servers:>12}"
            f"{f.suspending.active_users:>10}{f.peers_unreadable.servers:>9}"
            f"{f.peers_unreadable.active_users:>10}"
        )
    if not answer.known:
        lines.append(f"{answer.domain} is not in this database: nobody lists it as a peer.")
    lines.append(summary_line(answer))
    lines.append(
        "unknown = live servers whose peer list is not readable; reaching counts servers that "
        "list it as a peer and do not suspend it (silencing ones included, see --json 'limiting')."
    )
    return "\n".join(lines)
