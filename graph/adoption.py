"""`shared_list_adoption`: how much of each imported shared block list each server publishes.

For every list imported with `fediscope import-blocklist FILE --source NAME` and every server
whose block list was read in the latest crawl (alive, `blocks_visibility = 'public'`), count the
list's entries that the server's active rules cover, with who-blocks' own matching
(`crawler.blocks.match_rule`): the name in clear, a parent domain on platforms whose blocks
cover subdomains, a wildcard or suffix rule over it, or the name's SHA-256 digest. A masked rule
that merely fits (a candidate) covers nothing. A wildcard entry of the list (`*.x.com`) is
covered only by a rule that also covers every subdomain of x.com. The list's own masked entries
(`kissl*lis.com`) name no domain that can be checked, so they are not entries of the
denominator (the summary says how many a list has); nor is the server's own name.

Set-based: each list entry is indexed under the keys a covering rule can carry (its name, its
parents' names, its digest, the bases of wildcards over it); SQL hands over only the active rules
carrying one of those keys (indexed look-ups, plus the few wildcard rules), and `match_rule`
decides each distinct rule shape once, cached. Cost grows with the rules that hit a list, not
with servers x entries.

Tables (kept over crawls, growing only with change):
- `shared_list_adoption`: the latest analysed crawl, one row per list and server read;
- `shared_list_adoption_runs`: the same values as runs of consecutive analysed crawls
  (`first_crawl`..`last_crawl`), a new row only when a server's numbers change;
- `shared_list_summary`: per analysed crawl and list, servers covering >= 90% and >= 50% of it,
  the active users behind them, the change since the previous analysed crawl, and how many of the
  list's entries at least one server publishes.
"""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from crawler.blocks import SUBDOMAIN_BLOCKING_FAMILIES, digest_of, match_rule, wildcard_base

#: Coverage thresholds of the summary: a server "adopted" a list at >= 90%.
ADOPTED = 0.9
HALF = 0.5
#: Matches that cover the asked name and every subdomain whatever the platform.
_WIDE_MATCHES = frozenset({"wildcard", "suffix", "parent"})


@dataclass(frozen=True)
class ListEntry:
    """One matchable entry of a shared list."""

    pattern: str
    domain: str  # the clear name, or the base of a wildcard/suffix entry
    wide: bool  # a wildcard/suffix entry: the domain and all its subdomains
    digest: str

    def keys(self) -> list[str]:
        """Every value a rule covering this entry can carry in `blocked`, `blocked_digest` or as
        its wildcard base (a superset: `match_rule` decides)."""
        labels = self.domain.split(".")
        return [self.domain, self.digest, *(".".join(labels[i:]) for i in range(1, len(labels)))]


@dataclass
class SharedList:
    source: str
    entries: list[ListEntry]
    masked_entries: int


def shared_lists(connection: sqlite3.Connection) -> list[SharedList]:
    """The imported lists with their matchable entries (masked entries only counted)."""
    lists: dict[str, SharedList] = {}
    for (source,) in connection.execute("SELECT source FROM imported_blocklists ORDER BY source"):
        lists[source] = SharedList(source, [], 0)
    for source, pattern, blocked, kind in connection.execute(
        "SELECT source, blocked_pattern, blocked, kind FROM imported_blocks "
        "ORDER BY source, blocked_pattern"
    ):
        shared = lists.setdefault(source, SharedList(source, [], 0))
        if blocked:
            shared.entries.append(ListEntry(pattern, blocked, False, digest_of(blocked)))
        elif kind in ("wildcard", "suffix") and (base := wildcard_base(pattern)):
            shared.entries.append(ListEntry(pattern, base, True, digest_of(base)))
        else:
            shared.masked_entries += 1
    return list(lists.values())


def entry_covered(entry: ListEntry, family: str | None, rule: tuple) -> bool:
    """Whether one published rule (blocked, pattern, digest, kind) covers a list entry."""
    match = match_rule(entry.domain, entry.digest, family, *rule)
    if match is None or match == "candidate":
        return False
    return not entry.wide or match in _WIDE_MATCHES or family in SUBDOMAIN_BLOCKING_FAMILIES


@dataclass
class AdoptionRow:
    source: str
    server: str
    entries: int
    covered: int

    @property
    def coverage(self) -> float:
        return round(self.covered / self.entries, 6) if self.entries else 0.0


def compute_adoption(connection: sqlite3.Connection) -> tuple[list[AdoptionRow], dict[str, int]]:
    """(one row per list and readable server, entries published by at least one server per list)."""
    lists = shared_lists(connection)
    readable = connection.execute(
        "SELECT domain, family FROM instances "
        "WHERE status = 'alive' AND blocks_visibility = 'public' ORDER BY domain"
    ).fetchall()
    if not lists or not readable:
        return [], {shared.source: 0 for shared in lists}
    entries = [entry for shared in lists for entry in shared.entries]  # global entry numbers
    list_of = np.array([n for n, shared in enumerate(lists) for _ in shared.entries], np.int64)
    covered = _covered(connection, entries, readable)
    total = max(1, len(entries))  # lists of masked entries only have none
    # (server number, list number) -> entries covered; list number -> entries covered by anyone
    per_server = np.bincount(
        covered // total * len(lists) + list_of[covered % total],
        minlength=len(readable) * len(lists),
    ).reshape(len(readable), len(lists))
    published = np.bincount(list_of[np.unique(covered % total)], minlength=len(lists))
    names = [Counter(e.domain for e in shared.entries) for shared in lists]
    rows = [
        AdoptionRow(
            shared.source,
            server,
            len(shared.entries) - names[list_number][server],
            int(per_server[server_number, list_number]),
        )
        for server_number, (server, _family) in enumerate(readable)
        for list_number, shared in enumerate(lists)
    ]
    return rows, {shared.source: int(published[n]) for n, shared in enumerate(lists)}


def _covered(
    connection: sqlite3.Connection,
    entries: list[ListEntry],
    readable: list[tuple[str, str | None]],
) -> np.ndarray:
    """Every (server, entry) pair where the server's active rules cover the entry, coded as
    server number * len(entries) + entry number, without repeats.

    SQLite hands over the active rules that carry a key of the entries' index (indexed look-ups,
    plus the few wildcard rules); `match_rule` decides each distinct rule shape once; the pairs
    are one hashed set of integers."""
    index: dict[str, list[int]] = defaultdict(list)
    for number, entry in enumerate(entries):
        for key in set(entry.keys()):
            index[key].append(number)
    total = max(1, len(entries))
    servers = {server: (n * total, family) for n, (server, family) in enumerate(readable)}
    connection.execute("DROP TABLE IF EXISTS temp.adoption_keys")
    connection.execute("CREATE TEMP TABLE adoption_keys (key TEXT PRIMARY KEY)")
    connection.executemany("INSERT INTO temp.adoption_keys VALUES (?)", ((k,) for k in index))
    decided: dict[tuple, tuple[int, ...]] = {}
    pairs: set[int] = set()
    for key, blocker, rule in _matching_rules(connection):
        server = servers.get(blocker)
        if server is None:
            continue  # its list was not read in this crawl
        base, family = server
        shape = (family, key) if rule is None else (family, key, *rule)
        hits = decided.get(shape)
        if hits is None:
            as_published = rule or (key, key, None, "clear")
            hits = decided[shape] = tuple(
                n for n in index.get(key, ()) if entry_covered(entries[n], family, as_published)
            )
        if len(hits) == 1:
            pairs.add(base + hits[0])
        else:
            pairs.update(map(base.__add__, hits))
    connection.execute("DROP TABLE temp.adoption_keys")
    for number, entry in enumerate(entries):  # a server never blocks itself
        if entry.domain in servers:
            pairs.discard(servers[entry.domain][0] + number)
    return np.fromiter(pairs, dtype=np.int64, count=len(pairs))


def _matching_rules(connection: sqlite3.Connection) -> Iterator[tuple[str, str, tuple | None]]:
    """(key, blocker, rule) for every active rule carrying a key of `temp.adoption_keys`.

    `match_rule` decides a rule naming a domain in clear by that name and the platform (rule
    None: the name is the key), and a masked rule with a digest by the digest, so only those are
    read back: most rows then share a decided shape."""
    for key, blocker in connection.execute(
        "SELECT k.key, b.blocker FROM temp.adoption_keys k JOIN blocks b ON b.blocked = k.key "
        "WHERE b.active = 1"
    ):
        yield key, blocker, None
    for key, blocker, kind in connection.execute(
        "SELECT k.key, b.blocker, b.kind FROM temp.adoption_keys k "
        "JOIN blocks b ON b.blocked_digest = k.key WHERE b.active = 1 AND b.blocked IS NULL"
    ):
        yield key, blocker, (None, "", key, kind)  # the digest decides, never the mask
    for blocker, pattern, kind in connection.execute(
        "SELECT blocker, blocked_pattern, kind FROM blocks WHERE active = 1 "
        "AND kind IN ('wildcard', 'suffix') AND blocked IS NULL AND blocked_digest IS NULL"
    ):
        yield wildcard_base(pattern) or "", blocker, (None, pattern, None, kind)


def build_shared_list_adoption(connection: sqlite3.Connection, crawl_id: int | None) -> str:
    """(Re)build `shared_list_adoption`; extend the runs and the summary for `crawl_id`."""
    rows, published = compute_adoption(connection)
    _create_tables(connection)
    connection.execute("DELETE FROM shared_list_adoption")
    connection.executemany(
        "INSERT INTO shared_list_adoption VALUES (?, ?, ?, ?, ?, ?)",
        ((r.source, r.server, r.entries, r.covered, r.coverage, crawl_id) for r in rows),
    )
    if crawl_id is not None:
        _extend_runs(connection, rows, crawl_id)
        _write_summary(connection, crawl_id, published)
    sources = len(published)
    adopted = sum(1 for r in rows if r.coverage >= ADOPTED)
    return f"{sources} shared lists, {len(rows)} list-server rows, {adopted} with coverage >= 90%"


def _create_tables(connection: sqlite3.Connection) -> None:
    connection.execute(
        "CREATE TABLE IF NOT EXISTS shared_list_adoption (source TEXT, server TEXT, "
        "entries INTEGER, covered INTEGER, coverage REAL, crawl_id INTEGER, "
        "PRIMARY KEY (source, server))"
    )
    connection.execute(
        "CREATE TABLE IF NOT EXISTS shared_list_adoption_runs (source TEXT, server TEXT, "
        "entries INTEGER, covered INTEGER, coverage REAL, first_crawl INTEGER, "
        "last_crawl INTEGER, PRIMARY KEY (source, server, first_crawl)) WITHOUT ROWID"
    )
    connection.execute(
        "CREATE TABLE IF NOT EXISTS shared_list_summary (crawl_id INTEGER, crawl_date TEXT, "
        "source TEXT, entries INTEGER, masked_entries INTEGER, entries_published INTEGER, "
        "servers INTEGER, active_users INTEGER, servers_90 INTEGER, active_users_90 INTEGER, "
        "servers_50 INTEGER, active_users_50 INTEGER, servers_90_change INTEGER, "
        "servers_50_change INTEGER, PRIMARY KEY (crawl_id, source))"
    )


def _previous_crawl(connection: sqlite3.Connection, source: str, crawl_id: int) -> int | None:
    (previous,) = connection.execute(
        "SELECT max(crawl_id) FROM shared_list_summary WHERE source = ? AND crawl_id < ?",
        (source, crawl_id),
    ).fetchone()
    return previous


def _extend_runs(connection: sqlite3.Connection, rows: list[AdoptionRow], crawl_id: int) -> None:
    """A run goes on when the numbers are those of the previous analysed crawl; else a new run.

    Analysing the same crawl again replaces what that crawl wrote."""
    previous = {
        source: _previous_crawl(connection, source, crawl_id) for source in {r.source for r in rows}
    }
    connection.execute("DELETE FROM shared_list_adoption_runs WHERE first_crawl = ?", (crawl_id,))
    connection.executemany(
        "UPDATE shared_list_adoption_runs SET last_crawl = ? WHERE source = ? AND last_crawl = ?",
        ((before, source, crawl_id) for source, before in previous.items()),
    )
    latest = {
        (source, server): (first, last, entries, covered)
        for source, server, first, last, entries, covered in connection.execute(
            "SELECT source, server, max(first_crawl), last_crawl, entries, covered "
            "FROM shared_list_adoption_runs GROUP BY source, server"
        )
    }
    extend, start = [], []
    for row in rows:
        run = latest.get((row.source, row.server))
        if (
            run is not None
            and run[1] == previous.get(row.source)
            and run[2:]
            == (
                row.entries,
                row.covered,
            )
        ):
            extend.append((crawl_id, row.source, row.server, run[0]))
        else:
            start.append((row.source, row.server, row.entries, row.covered, row.coverage, crawl_id))
    connection.executemany(
        "UPDATE shared_list_adoption_runs SET last_crawl = ? "
        "WHERE source = ? AND server = ? AND first_crawl = ?",
        extend,
    )
    connection.executemany(
        "INSERT INTO shared_list_adoption_runs VALUES (?, ?, ?, ?, ?, ?, ?)",
        ((*row, crawl_id) for row in start),
    )


def _write_summary(
    connection: sqlite3.Connection, crawl_id: int, published: dict[str, int]
) -> None:
    masked = {s.source: (len(s.entries), s.masked_entries) for s in shared_lists(connection)}
    (date,) = connection.execute(
        "SELECT date(started_at) FROM crawls WHERE id = ?", (crawl_id,)
    ).fetchone() or (None,)
    for source, entries_published in published.items():
        previous = _previous_crawl(connection, source, crawl_id)
        totals = connection.execute(
            """
            SELECT count(*), coalesce(sum(i.users_active_month), 0),
                   count(*) FILTER (WHERE a.coverage >= ?),
                   coalesce(sum(i.users_active_month) FILTER (WHERE a.coverage >= ?), 0),
                   count(*) FILTER (WHERE a.coverage >= ?),
                   coalesce(sum(i.users_active_month) FILTER (WHERE a.coverage >= ?), 0)
            FROM shared_list_adoption a JOIN instances i ON i.domain = a.server
            WHERE a.source = ?
            """,
            (ADOPTED, ADOPTED, HALF, HALF, source),
        ).fetchone()
        before = connection.execute(
            "SELECT servers_90, servers_50 FROM shared_list_summary "
            "WHERE source = ? AND crawl_id = ?",
            (source, previous),
        ).fetchone()
        change = (totals[2] - before[0], totals[4] - before[1]) if before else (None, None)
        connection.execute(
            "INSERT OR REPLACE INTO shared_list_summary VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (crawl_id, date, source, *masked[source], entries_published, *totals, *change),
        )
