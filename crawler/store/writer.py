"""`StoreWriter`: turns finished visits into rows, each visit all or nothing.

This is the trust boundary's other side: it receives validated `Observation`s and owns every
write. A visit is stored whole or not at all (its own transaction, or its own savepoint in a
batch), so Ctrl-C or kill -9 leaves a valid database: the next run resumes the same crawl,
skipping what finished and keeping what was discovered.
During a crawl the writer lives in a process of its own (`crawler.store.process`).
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Any, TypeVar

import orjson

from crawler.domains import DomainPolicy
from crawler.fetch.robots import ROBOTS_TTL_SECONDS, StoredRobots
from crawler.nodeinfo import DISCOVERY_FLAGS
from crawler.observation import ALIVE, GONE, OPTED_OUT, PENDING, Observation, PeerHistory
from crawler.store import blocks as block_store
from crawler.store import documents, peers
from crawler.store.ids import DomainIds
from crawler.store.instances import apply_visit, insert_discovered, iso, record_exclusion
from crawler.store.schema import open_database
from crawler.store.transport import ArrivedNames, CrawlIdMap

T = TypeVar("T")


@dataclass
class VisitResult:
    """What the engine needs back after a visit was stored."""

    status: str
    new_domains: list[tuple[str, str]] = field(default_factory=list)
    peer_edges_added: int = 0
    peer_edges_removed: int = 0
    block_events: dict[str, int] = field(default_factory=dict)
    store_seconds: float = 0.0
    peer_store_seconds: float = 0.0
    error: str | None = None  # why the visit could not be stored (status "error")


@dataclass
class CrawlCounts:
    """What stored visits add to their crawl's counters (`crawls` row, `rejected_names`)."""

    visited: int = 0
    alive: int = 0
    failed: int = 0
    requests: int = 0
    probe_requests: int = 0
    peer_edges_added: int = 0
    peer_edges_removed: int = 0
    store_seconds: float = 0.0
    peer_store_seconds: float = 0.0
    not_modified: int = 0
    reused: int = 0
    rejected: Counter[str] = field(default_factory=Counter)

    def add(self, observation: Observation, result: VisitResult) -> None:
        self.visited += 1
        self.alive += result.status == ALIVE
        self.failed += result.status not in (ALIVE, OPTED_OUT, PENDING, GONE)
        self.requests += observation.requests
        self.probe_requests += observation.probe_requests
        self.peer_edges_added += result.peer_edges_added
        self.peer_edges_removed += result.peer_edges_removed
        self.store_seconds += result.store_seconds
        self.peer_store_seconds += result.peer_store_seconds
        self.not_modified += observation.not_modified
        self.reused += observation.reused
        self.rejected.update(observation.rejected_names)


class StoreWriter:
    """Synchronous writer over one connection (use it from one thread only)."""

    def __init__(self, path: str, policy: DomainPolicy):
        self.db = open_database(path)
        self.connection: sqlite3.Connection = self.db.conn
        self.policy = policy
        self._load_ids()

    def _load_ids(self) -> None:
        """Read the domain ids as committed (again after a rollback took new ones back)."""
        self.ids = DomainIds(self.connection)
        self.crawl_ids = CrawlIdMap(self.ids)

    def close(self) -> None:
        self.connection.close()

    # -- crawls ---------------------------------------------------------------------------

    def begin_crawl(
        self, seeds: list[str], settings: dict[str, Any], now: datetime
    ) -> tuple[int, bool]:
        """(crawl id, resumed): continue an unfinished crawl or start a new one."""
        row = self.connection.execute(
            "SELECT id FROM crawls WHERE status = 'running' ORDER BY id DESC LIMIT 1"
        ).fetchone()
        if row:
            return row[0], True
        with self._transaction():
            cursor = self.connection.execute(
                "INSERT INTO crawls (started_at, status, seeds, via, contact, user_agent, "
                "fediscope_version, settings, visited, alive, failed, requests, probe_requests, "
                "rejected_names, peer_edges_added, peer_edges_removed) "
                "VALUES (?, 'running', ?, ?, ?, ?, ?, ?, 0, 0, 0, 0, 0, 0, 0, 0)",
                (
                    iso(now),
                    json.dumps(seeds),
                    settings.get("via"),
                    settings.get("contact"),
                    settings.get("user_agent"),
                    settings.get("version"),
                    json.dumps(settings, sort_keys=True, default=str),
                ),
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid, False

    def finish_crawl(
        self,
        crawl_id: int,
        now: datetime,
        *,
        interrupted: bool = False,
        busiest: list[dict[str, Any]] | None = None,
    ) -> None:
        """Close the crawl; `busiest`: the shared addresses that carried most requests."""
        status = "running" if interrupted else "finished"
        with self._transaction():
            self.connection.execute(
                "UPDATE crawls SET finished_at = ?, status = ?, "
                "busiest_addresses = coalesce(?, busiest_addresses) WHERE id = ?",
                (
                    None if interrupted else iso(now),
                    status,
                    json.dumps(busiest) if busiest else None,
                    crawl_id,
                ),
            )

    def add_seeds(self, seeds: Iterable[str], how: str, now: datetime) -> list[str]:
        """Make sure seed domains exist as instances; return the ones that were new."""
        seeds = list(dict.fromkeys(seeds))
        with self._transaction():
            new = self.ids.ensure(seeds)
            insert_discovered(
                self.connection,
                self.policy,
                self.ids,
                [(name, how) for name in new],
                None,
                -1,
                iso(now),
            )
            self.connection.executemany(
                "UPDATE instances SET hops = 0 WHERE domain = ?", ((s,) for s in seeds)
            )
        return new

    def due_domains(
        self, crawl_id: int, now: datetime, seeds: list[str], recrawl_after: timedelta
    ) -> list[tuple[str, int | None]]:
        """Domains to visit in this crawl, seeds first, then by hops and discovery order.

        Due: never visited, or past the scheduled next visit, or alive and last visited at
        least `recrawl_after` ago (this crawl's setting wins over the one that scheduled it).
        """
        rows = self.connection.execute(
            "SELECT domain, hops FROM instances "
            "WHERE (last_crawl_id IS NULL OR last_crawl_id != :crawl) "
            "AND (next_visit IS NULL OR next_visit <= :now "
            "     OR (status = 'alive' AND last_visit <= :alive_cutoff)) "
            "AND domain NOT IN (SELECT domain FROM exclusions WHERE crawl_id = :crawl) "
            "ORDER BY hops IS NULL, hops, domain_id",
            {"crawl": crawl_id, "now": iso(now), "alive_cutoff": iso(now - recrawl_after)},
        ).fetchall()
        seed_set = set(seeds)
        ordered = [row for row in rows if row[0] in seed_set]
        ordered += [row for row in rows if row[0] not in seed_set]
        return [(domain, hops) for domain, hops in ordered]

    def last_visit_requests(self) -> dict[str, int]:
        """domain -> the answers its last visit logged (one per request), for the servers
        whose last visit made more than one request (one that never answered made one)."""
        return dict(
            self.connection.execute(
                "SELECT l.domain, count(*) FROM document_log l "
                "JOIN instances i ON i.domain = l.domain AND l.last_crawl_id = i.last_crawl_id "
                "GROUP BY l.domain HAVING count(*) > 1"
            )
        )

    def visited_in_crawl(self, crawl_id: int) -> list[str]:
        return [
            row[0]
            for row in self.connection.execute(
                "SELECT domain FROM instances WHERE last_crawl_id = ?", (crawl_id,)
            )
        ]

    def known_domains(self) -> list[str]:
        return [row[0] for row in self.connection.execute("SELECT domain FROM instances")]

    def load_validators(self) -> dict[str, dict[str, tuple[str | None, str | None]]]:
        """domain -> path -> (ETag, Last-Modified) kept from the lists stored last."""
        validators: dict[str, dict[str, tuple[str | None, str | None]]] = {}
        for domain, path, etag, last_modified in self.connection.execute(
            "SELECT domain, path, etag, last_modified FROM http_validators "
            "WHERE etag IS NOT NULL OR last_modified IS NOT NULL"
        ):
            validators.setdefault(domain, {})[path] = (etag, last_modified)
        return validators

    def load_stored_bodies(self, min_size: int) -> set[bytes]:
        """SHA-256 digests of the answers of at least `min_size` bytes that each domain's last
        visit got: a re-crawl given the same answer need not compress or send it again."""
        return {
            bytes.fromhex(sha256)
            for (sha256,) in self.connection.execute(
                "SELECT DISTINCT log.body_sha256 FROM document_log AS log "
                "JOIN instances ON instances.domain = log.domain "
                "AND instances.last_crawl_id = coalesce(log.last_crawl_id, log.crawl_id) "
                "WHERE log.size >= ? AND log.body_sha256 IS NOT NULL",
                (min_size,),
            )
        }

    def load_nodeinfo_paths(self, crawl_id: int, full_every: int) -> dict[str, str]:
        """domain -> path of the NodeInfo document its last visit found by plain discovery
        (through `/.well-known/nodeinfo`, on the same host, over HTTPS), for the domains this
        crawl need not discover again. Each domain discovers in full once every `full_every`
        crawls, in the crawl its name picks (spread, so no crawl does them all), and so still
        sees a document that moved or a newer schema it now links."""
        if full_every <= 1:
            return {}
        paths: dict[str, str] = {}
        for domain, url, flags in self.connection.execute(
            "SELECT domain, nodeinfo_url, quality_flags FROM instances "
            "WHERE status = 'alive' AND nodeinfo_url IS NOT NULL"
        ):
            prefix = f"https://{domain}/"
            if not url.startswith(prefix) or DISCOVERY_FLAGS & set((flags or "").split(",")):
                continue
            if zlib.crc32(domain.encode()) % full_every != crawl_id % full_every:
                paths[domain] = sys.intern(url[len(prefix) - 1 :])
        return paths

    def load_fresh(self, now: float) -> dict[str, dict[str, float]]:
        """domain -> path -> until when (Unix seconds) a stored answer is still fresh at `now`."""
        fresh: dict[str, dict[str, float]] = {}
        for domain, path, until in self.connection.execute(
            "SELECT domain, path, fresh_until FROM http_validators WHERE fresh_until > ?", (now,)
        ):
            fresh.setdefault(domain, {})[path] = until
        return fresh

    def load_robots(self, now: float) -> dict[str, StoredRobots]:
        """domain -> its latest robots.txt answer when fetched less than a day before `now`
        (Unix seconds) and usable as rules: 2xx, or 4xx other than 429 ("allow everything")."""
        since = datetime.fromtimestamp(now - ROBOTS_TTL_SECONDS, UTC)
        latest: dict[str, StoredRobots | None] = {}
        for domain, status, body, fetched_at in self.connection.execute(
            "SELECT log.domain, log.status, bodies.body, "
            "coalesce(log.last_fetched_at, log.fetched_at) AS at "
            "FROM document_log AS log LEFT JOIN document_bodies AS bodies "
            "ON bodies.sha256 = log.body_sha256 AND bodies.encoding = 'zlib' "
            "WHERE log.url = 'https://' || log.domain || '/robots.txt' AND log.method = 'GET' "
            "AND at >= ? ORDER BY at, log.id",
            (since.isoformat(timespec="milliseconds").replace("+00:00", "Z"),),
        ):
            usable = status is not None and (200 <= status < 300 or 400 <= status < 500)
            latest[domain] = (
                StoredRobots(status, body, fetched_at) if usable and status != 429 else None
            )
        return {domain: answer for domain, answer in latest.items() if answer is not None}

    def peer_history(self, domain: str, crawl_id: int, full_every: int) -> PeerHistory | None:
        """How long a domain's stored peer list is and whether this crawl must read it in
        full."""
        row = self.connection.execute(
            "SELECT domain_id, peers_full_crawl FROM instances WHERE domain = ?", (domain,)
        ).fetchone()
        if row is None or row[0] is None:
            return None
        source_id, full_crawl = row
        (listed,) = self.connection.execute(
            "SELECT count(*) FROM peer_intervals WHERE source_id = ? AND removed_crawl IS NULL",
            (source_id,),
        ).fetchone()
        full_due = full_crawl is None or crawl_id - full_crawl >= full_every
        return PeerHistory(listed=listed, full_due=full_due)

    def unlisted_peers(self, domain: str, names: list[str]) -> list[str]:
        """The names (in their order) that the domain's stored peer list does not hold: one
        page of a list read newest first, checked against the open edges by primary key."""
        ids = list(map(self.ids.get, names))
        source_id = self.ids.get(domain)
        known_ids = [target for target in ids if target is not None]
        listed: set[int] = set()
        if source_id is not None and known_ids:
            listed = {
                target
                for (target,) in self.connection.execute(
                    "SELECT target_id FROM peer_intervals WHERE source_id = ? "
                    "AND removed_crawl IS NULL AND target_id IN (SELECT value FROM json_each(?))",
                    (source_id, orjson.dumps(known_ids)),
                )
            }
        return [name for name, target in zip(names, ids, strict=True) if target not in listed]

    # -- visits ---------------------------------------------------------------------------

    def record_visit(
        self,
        observation: Observation,
        crawl_id: int,
        hops: int | None,
        now: datetime,
        recrawl_after: timedelta,
        origin: tuple[str, str] | None = None,
    ) -> VisitResult:
        """Store everything a visit produced, atomically.

        `origin` (how, from which domain) describes a domain discovered during another visit
        that has not been stored yet; it is used only if this domain has no row.
        """
        try:
            with self._transaction():
                result = self._store_visit(observation, crawl_id, hops, now, recrawl_after, origin)
                counts = CrawlCounts()
                counts.add(observation, result)
                self._count_crawl(crawl_id, counts)
                return result
        except BaseException:
            self._load_ids()  # without the new ids of the rolled-back transaction
            raise

    def record_visits(
        self,
        visits: list[tuple[Observation, int | None, tuple[str, str] | None]],
        crawl_id: int,
        now: datetime,
        recrawl_after: timedelta,
    ) -> list[VisitResult]:
        """Store finished visits (observation, hops, origin) in one transaction, in order.

        One commit and one call for many visits: the crawl hands over whatever finished while
        the last batch was stored. Each visit has its own savepoint, so one that cannot be
        stored (a bug) is rolled back alone and comes back as an "error" result with the
        reason; the rest are kept.
        """
        results = []
        counts = CrawlCounts()
        with self._transaction():
            for observation, hops, origin in visits:
                self.connection.execute("SAVEPOINT visit")
                try:
                    result = self._store_visit(
                        observation, crawl_id, hops, now, recrawl_after, origin
                    )
                    counts.add(observation, result)
                except Exception as exc:
                    self.connection.execute("ROLLBACK TO visit")
                    self._load_ids()  # without the rolled-back ids
                    result = VisitResult(status="error", error=f"{type(exc).__name__}: {exc}")
                self.connection.execute("RELEASE visit")
                results.append(result)
            self._count_crawl(crawl_id, counts)
        return results

    def _store_visit(
        self,
        observation: Observation,
        crawl_id: int,
        hops: int | None,
        now: datetime,
        recrawl_after: timedelta,
        origin: tuple[str, str] | None,
    ) -> VisitResult:
        result = VisitResult(status=observation.status)
        started = time.perf_counter()
        self._record_visit(observation, crawl_id, hops, now, recrawl_after, result, origin)
        result.store_seconds = time.perf_counter() - started
        return result

    def _record_visit(
        self,
        observation: Observation,
        crawl_id: int,
        hops: int | None,
        now: datetime,
        recrawl_after: timedelta,
        result: VisitResult,
        origin: tuple[str, str] | None,
    ) -> None:
        stamp = iso(now)
        domain = observation.domain
        if domain not in self.ids:
            self.ids.ensure([domain])
            how, via = origin or ("seed", None)
            parent_hops = None if hops is None else hops - 1
            insert_discovered(
                self.connection, self.policy, self.ids, [(domain, how)], via, parent_hops, stamp
            )
        # How each name was found; peers (the bulk) need no tuple of their own.
        how_found: dict[str, str] = {}
        for name, how in observation.discovered(include_peers=False):
            how_found.setdefault(name, how)
        listed = observation.peers or ()
        if isinstance(listed, ArrivedNames):
            listed = self.crawl_ids.unmapped(listed)  # the others have ids already
        new_names = self.ids.ensure(chain(how_found, listed))
        result.new_domains = [(name, how_found.get(name, "peer")) for name in new_names]
        insert_discovered(
            self.connection, self.policy, self.ids, result.new_domains, domain, hops, stamp
        )
        result.status = apply_visit(self.connection, observation, crawl_id, now, recrawl_after)
        source_id = self.ids.id_of(domain)
        if observation.status == OPTED_OUT:
            peers.drop_peers(self.connection, source_id)
            block_store.drop_blocks(self.connection, domain)
            documents.drop_documents(self.connection, domain)
            self.connection.execute("DELETE FROM http_validators WHERE domain = ?", (domain,))
            record_exclusion(
                self.connection,
                domain,
                observation.opt_out or "opted_out",
                observation.opt_out_source,
                crawl_id,
                stamp,
            )
        else:
            self._record_lists(observation, source_id, crawl_id, stamp, result)
            documents.store_documents(self.connection, domain, crawl_id, observation.documents)
            self._record_exclusion_state(observation, crawl_id, stamp)

    def _record_lists(
        self,
        observation: Observation,
        source_id: int,
        crawl_id: int,
        stamp: str,
        result: VisitResult,
    ) -> None:
        if observation.status != ALIVE:
            return  # lists not read: the stored ones and their validators stay
        self._record_validators(observation, crawl_id)
        if observation.blocks_unchanged:
            block_store.mark_seen(self.connection, observation.domain, crawl_id, stamp)
        if observation.peers is not None:
            started = time.perf_counter()
            if isinstance(observation.peers, ArrivedNames):
                targets = self.crawl_ids.db_ids(observation.peers)
            else:
                targets = self.ids.ids_of(observation.peers)
            if observation.peers_added_only:
                result.peer_edges_added = peers.add_peers(
                    self.connection, source_id, targets, crawl_id
                )
            else:
                result.peer_edges_added, result.peer_edges_removed = peers.replace_peers(
                    self.connection, source_id, targets, crawl_id
                )
            result.peer_store_seconds = time.perf_counter() - started
        if observation.blocks is not None:
            result.block_events = block_store.apply_block_list(
                self.connection, observation.domain, observation.blocks, crawl_id, stamp
            )

    def _record_validators(self, observation: Observation, crawl_id: int) -> None:
        """Keep the validators of the lists read now; a list not read now drops its validator
        (its next answer is downloaded in full)."""
        domain = observation.domain
        self.connection.execute("DELETE FROM http_validators WHERE domain = ?", (domain,))
        validators, fresh = observation.validators, observation.fresh_until
        self.connection.executemany(
            "INSERT INTO http_validators (domain, path, etag, last_modified, crawl_id, "
            "fresh_until) VALUES (?, ?, ?, ?, ?, ?)",
            (
                (domain, path, *validators.get(path, (None, None)), crawl_id, fresh.get(path))
                for path in validators.keys() | fresh.keys()
            ),
        )

    def _record_exclusion_state(self, observation: Observation, crawl_id: int, stamp: str) -> None:
        domain = observation.domain
        if observation.status == GONE:
            record_exclusion(
                self.connection, domain, "gone", observation.error_detail, crawl_id, stamp
            )
        elif observation.status == PENDING and observation.skip_reason:
            record_exclusion(
                self.connection, domain, observation.skip_reason, "robots.txt", crawl_id, stamp
            )
        elif observation.status == ALIVE:
            self.connection.execute("DELETE FROM exclusions WHERE domain = ?", (domain,))

    def _count_crawl(self, crawl_id: int, counts: CrawlCounts) -> None:
        """Add the stored visits' counts to the crawl's row: once per transaction, since the
        row carries the crawl's seeds (a seed file may hold thousands of names) and every
        update rewrites it whole."""
        self.connection.execute(
            "UPDATE crawls SET visited = visited + ?, alive = alive + ?, failed = failed + ?, "
            "requests = requests + ?, probe_requests = coalesce(probe_requests, 0) + ?, "
            "rejected_names = rejected_names + ?, "
            "peer_edges_added = peer_edges_added + ?, peer_edges_removed = peer_edges_removed + ?, "
            "store_seconds = coalesce(store_seconds, 0) + ?, "
            "peer_store_seconds = coalesce(peer_store_seconds, 0) + ?, "
            "not_modified = coalesce(not_modified, 0) + ?, reused = coalesce(reused, 0) + ? "
            "WHERE id = ?",
            (
                counts.visited,
                counts.alive,
                counts.failed,
                counts.requests,
                counts.probe_requests,
                sum(counts.rejected.values()),
                counts.peer_edges_added,
                counts.peer_edges_removed,
                counts.store_seconds,
                counts.peer_store_seconds,
                counts.not_modified,
                counts.reused,
                crawl_id,
            ),
        )
        self.add_rejected(crawl_id, counts.rejected)

    def add_rejected(self, crawl_id: int, rejected: Counter[str]) -> None:
        self.connection.executemany(
            "INSERT INTO rejected_names (crawl_id, reason, count) VALUES (?, ?, ?) "
            "ON CONFLICT (crawl_id, reason) DO UPDATE SET count = count + excluded.count",
            ((crawl_id, reason, count) for reason, count in rejected.items()),
        )

    def exclude(
        self, domain: str, reason: str, source: str | None, crawl_id: int, now: datetime
    ) -> None:
        """Record that a known domain is not crawled (exclusion file, subdomain farm)."""
        self.exclude_all([(domain, reason, source)], crawl_id, now)

    def exclude_all(
        self, exclusions: list[tuple[str, str, str | None]], crawl_id: int, now: datetime
    ) -> None:
        """Record (domain, reason, source) exclusions in one transaction."""
        with self._transaction():
            for domain, reason, source in exclusions:
                record_exclusion(self.connection, domain, reason, source, crawl_id, iso(now))

    # -- plumbing -------------------------------------------------------------------------

    def _transaction(self) -> _Transaction:
        return _Transaction(self.connection)


class _Transaction:
    def __init__(self, connection: sqlite3.Connection):
        self.connection = connection

    def __enter__(self) -> sqlite3.Connection:
        self.connection.execute("BEGIN IMMEDIATE")
        return self.connection

    def __exit__(self, kind: object, *_: object) -> None:
        self.connection.execute("ROLLBACK" if kind else "COMMIT")


def utcnow() -> datetime:
    return datetime.now(UTC)
