"""Block lists over time: rows for the rules, events for every change.

Each readable list is compared with the blocker's active rules: a pattern whose only rule
changed severity or reason is `changed` (the row is updated in place, first_seen kept), new
rules are `added` (or an old row is re-activated), vanished ones are `removed` (`active = 0`).
A list that could not be read is not compared at all: unreadable is not a removal.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from dataclasses import dataclass

from crawler.observation import BlockRule

_COLUMNS = "id, blocked_pattern, blocked, severity_raw, severity, reason, active"


@dataclass
class _Row:
    id: int
    pattern: str
    blocked: str | None
    severity_raw: str
    severity: str
    reason: str | None
    active: int


def apply_block_list(
    connection: sqlite3.Connection,
    blocker: str,
    rules: list[BlockRule],
    crawl_id: int,
    now: str,
) -> dict[str, int]:
    """Bring the `blocks` rows of `blocker` in line with `rules`; return event counts."""
    rows = [
        _Row(*row)
        for row in connection.execute(
            f"SELECT {_COLUMNS} FROM blocks WHERE blocker = ?", (blocker,)
        )
    ]
    first_observation = not rows
    active: dict[str, list[_Row]] = defaultdict(list)
    inactive: dict[tuple[str, str], _Row] = {}
    for row in rows:
        if row.active:
            active[row.pattern].append(row)
        else:
            inactive[(row.pattern, row.severity_raw)] = row
    published: dict[str, list[BlockRule]] = defaultdict(list)
    for rule in _unique(rules):
        published[rule.pattern].append(rule)

    events: list[tuple] = []
    counts = {"added": 0, "removed": 0, "changed": 0}

    def event(kind: str, rule_or_row: BlockRule | _Row, previous: _Row | None = None) -> None:
        counts[kind] += 1
        events.append(
            (
                blocker,
                rule_or_row.pattern,
                rule_or_row.blocked,
                kind,
                rule_or_row.severity,
                rule_or_row.severity_raw,
                previous.severity if previous else None,
                rule_or_row.reason,
                previous.reason if previous else None,
                crawl_id,
                now,
                int(first_observation),
            )
        )

    for pattern in sorted(set(active) | set(published)):
        old_rows, new_rules = active.get(pattern, []), published.get(pattern, [])
        if len(old_rows) == 1 and len(new_rules) == 1:
            old, new = old_rows[0], new_rules[0]
            if (old.severity_raw, old.reason) != (new.severity_raw, new.reason):
                if old.severity_raw != new.severity_raw:
                    # The pattern's single rule changed kind: update it in place.
                    stale = inactive.pop((pattern, new.severity_raw), None)
                    if stale is not None:
                        connection.execute("DELETE FROM blocks WHERE id = ?", (stale.id,))
                _update(connection, old.id, new, crawl_id, now)
                event("changed", new, old)
            continue
        old_by_word = {row.severity_raw: row for row in old_rows}
        for rule in new_rules:
            old = old_by_word.pop(rule.severity_raw, None)
            if old is None:
                revived = inactive.get((pattern, rule.severity_raw))
                if revived is not None:
                    _update(connection, revived.id, rule, crawl_id, now, reactivate=True)
                else:
                    _insert(connection, blocker, rule, crawl_id, now)
                event("added", rule)
            elif old.reason != rule.reason:
                _update(connection, old.id, rule, crawl_id, now)
                event("changed", rule, old)
        for gone in old_by_word.values():
            connection.execute("UPDATE blocks SET active = 0 WHERE id = ?", (gone.id,))
            event("removed", gone)

    mark_seen(connection, blocker, crawl_id, now)
    if events:
        connection.executemany(
            "INSERT INTO block_events (blocker, blocked_pattern, blocked, event, severity, "
            "severity_raw, previous_severity, reason, previous_reason, crawl_id, at, "
            "first_observation) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            events,
        )
    return counts


def mark_seen(connection: sqlite3.Connection, blocker: str, crawl_id: int, now: str) -> None:
    """The blocker's active rules were seen (again) in this crawl: what an unchanged list
    costs, whether it was read and compared or answered 304 Not Modified."""
    connection.execute(
        "UPDATE blocks SET last_seen = ?, last_crawl = ? WHERE blocker = ? AND active = 1",
        (now, crawl_id, blocker),
    )


def drop_blocks(connection: sqlite3.Connection, blocker: str) -> None:
    """Forget a blocker's list and its history (the instance opted out)."""
    connection.execute("DELETE FROM blocks WHERE blocker = ?", (blocker,))
    connection.execute("DELETE FROM block_events WHERE blocker = ?", (blocker,))


def _unique(rules: list[BlockRule]) -> list[BlockRule]:
    seen: set[tuple[str, str]] = set()
    unique = []
    for rule in rules:
        key = (rule.pattern, rule.severity_raw)
        if key not in seen:
            seen.add(key)
            unique.append(rule)
    return unique


def _insert(
    connection: sqlite3.Connection, blocker: str, rule: BlockRule, crawl_id: int, now: str
) -> None:
    connection.execute(
        "INSERT INTO blocks (blocker, blocked, blocked_pattern, blocked_digest, kind, severity, "
        "severity_raw, reason, first_seen, last_seen, first_crawl, last_crawl, active) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
        (
            blocker,
            rule.blocked,
            rule.pattern,
            rule.digest,
            rule.kind,
            rule.severity,
            rule.severity_raw,
            rule.reason,
            now,
            now,
            crawl_id,
            crawl_id,
        ),
    )


def _update(
    connection: sqlite3.Connection,
    row_id: int,
    rule: BlockRule,
    crawl_id: int,
    now: str,
    *,
    reactivate: bool = False,
) -> None:
    extra = ", first_seen = ?, first_crawl = ?" if reactivate else ""
    params: tuple = (rule.severity, rule.severity_raw, rule.reason, rule.digest, rule.blocked)
    params += (now, crawl_id) if reactivate else ()
    connection.execute(
        "UPDATE blocks SET severity = ?, severity_raw = ?, reason = ?, blocked_digest = ?, "
        f"blocked = ?, active = 1{extra} WHERE id = ?",
        (*params, row_id),
    )
