"""`blocked_reach`: for each blocked domain, the share of active users whose server blocks it.

"What share of Mastodon users cannot reach threads.net?" The numerator is the monthly active
users of live servers with a certain matching rule (suspend: cannot reach; any severity:
limited), the denominator every live server's active users, overall (`family = 'all'`) and per
family. Servers whose block list could not be read count as not blocking, so the shares are
lower bounds; `active_users_unreadable` says how much is unknown.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Mapping
from typing import Any

ALL = "all"


def build_blocked_reach(connection: sqlite3.Connection, targets: Mapping[str, Any]) -> int:
    """(Re)build `blocked_reach` from resolved rules (graph.blocks.resolve_rules); row count."""
    alive: dict[str, tuple[str, int]] = {}
    denominator: Counter[str] = Counter()
    unreadable: Counter[str] = Counter()
    for domain, family, active, visibility in connection.execute(
        "SELECT domain, coalesce(family, 'unknown'), coalesce(users_active_month, 0), "
        "blocks_visibility FROM instances WHERE status = 'alive'"
    ):
        alive[domain] = (family, active)
        for key in (ALL, family):
            denominator[key] += active
            if visibility != "public":
                unreadable[key] += active
    connection.execute("DROP TABLE IF EXISTS blocked_reach")
    connection.execute(
        "CREATE TABLE blocked_reach (domain TEXT, family TEXT, servers_suspending INTEGER, "
        "active_users_suspending INTEGER, servers_limiting INTEGER, "
        "active_users_limiting INTEGER, active_users INTEGER, share_suspending REAL, "
        "share_limiting REAL, active_users_unreadable INTEGER, PRIMARY KEY (domain, family))"
    )
    rows = []
    for name in sorted(targets):
        target = targets[name]
        suspending = target.by_severity.get("suspend", ())
        tally: dict[str, list[int]] = {ALL: [0, 0, 0, 0]}
        for blocker in target.blockers:
            if blocker not in alive:
                continue
            family, active = alive[blocker]
            for key in (ALL, family):
                counts = tally.setdefault(key, [0, 0, 0, 0])
                if blocker in suspending:
                    counts[0] += 1
                    counts[1] += active
                counts[2] += 1
                counts[3] += active
        for key in sorted(tally):
            servers_s, users_s, servers_l, users_l = tally[key]
            total = denominator[key]
            rows.append(
                (
                    name,
                    key,
                    servers_s,
                    users_s,
                    servers_l,
                    users_l,
                    total,
                    round(users_s / total, 6) if total else None,
                    round(users_l / total, 6) if total else None,
                    unreadable[key],
                )
            )
    connection.executemany("INSERT INTO blocked_reach VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return len(rows)
