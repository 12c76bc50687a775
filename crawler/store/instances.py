"""`instances` rows: the current state of every known domain, and its time series.

A failed visit keeps what was known before (software, counts) and only moves the lifecycle; an
opted-out instance keeps nothing but its domain, status and reason.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta

from crawler.domains import DomainPolicy, display_name
from crawler.lifecycle import PreviousState, transition
from crawler.observation import ALIVE, OPTED_OUT, PUBLIC, Observation
from crawler.store.ids import DomainIds
from crawler.store.stats import record_stats

DATA_COLUMNS = (
    "software",
    "software_raw",
    "family",
    "version",
    "users_total",
    "users_active_month",
    "users_active_halfyear",
    "local_posts",
    "local_comments",
    "open_registrations",
    "name",
    "description",
    "languages",
    "address",
    "quality_flags",
    "nodeinfo_version",
    "nodeinfo_url",
    "peers_visibility",
    "peers_count",
    "peers_truncated",
    "blocks_visibility",
    "blocks_count",
)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def insert_discovered(
    connection: sqlite3.Connection,
    policy: DomainPolicy,
    ids: DomainIds,
    discovered: list[tuple[str, str]],
    source: str,
    hops: int | None,
    now: str,
) -> None:
    """New `pending` rows for newly seen domains (how, and from which source)."""
    connection.executemany(
        "INSERT OR IGNORE INTO instances (domain, domain_id, display_name, registrable_domain, "
        "status, first_seen, discovered_by, discovered_via, hops) "
        "VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?)",
        (
            (
                name,
                ids.id_of(name),
                display_name(name),
                policy.registrable(name),
                now,
                how,
                source,
                None if hops is None else hops + 1,
            )
            for name, how in discovered
        ),
    )


def apply_visit(
    connection: sqlite3.Connection,
    observation: Observation,
    crawl_id: int,
    now: datetime,
    recrawl_after: timedelta,
) -> str:
    """Update the visited domain's row and time series; return the stored status."""
    row = connection.execute(
        "SELECT status, failures, first_failure_at, peers_count, peers_truncated, blocks_count "
        "FROM instances WHERE domain = ?",
        (observation.domain,),
    ).fetchone()
    previous = PreviousState(row[0], row[1] or 0, parse_iso(row[2])) if row else PreviousState()
    # Lists answered 304 are the lists stored last time: their counts carry over.
    carried: dict[str, object] = {}
    if row and observation.peers_unchanged:
        carried.update(peers_count=row[3], peers_truncated=row[4])
    if row and observation.peers_added_only:
        # Only names the stored list lacked were kept: the stored count grows by them.
        added = len(observation.peers or ())
        carried.update(peers_count=(row[3] or 0) + added, peers_truncated=row[4])
    if row and observation.blocks_unchanged:
        carried["blocks_count"] = row[5]
    change = transition(previous, observation, now, recrawl_after)
    stamp = iso(now)
    common = {
        "status": change.status,
        "status_reason": observation.opt_out or observation.error_kind,
        "error_detail": observation.error_detail,
        "moved_to": observation.moved_to,
        "last_visit": stamp,
        "next_visit": iso(change.next_visit),
        "failures": change.failures,
        "first_failure_at": iso(change.first_failure_at) if change.first_failure_at else None,
        "last_crawl_id": crawl_id,
    }
    # What this visit learnt (only an alive server tells anything); also the stats row.
    data = {**_data_fields(observation), **carried} if observation.status == ALIVE else {}
    if data:
        common.update(data)
        common["last_seen"] = stamp
        if observation.peers_visibility == PUBLIC and not observation.peers_added_only:
            common["peers_full_crawl"] = crawl_id
    elif observation.status == OPTED_OUT:
        common.update(dict.fromkeys(DATA_COLUMNS))
        common["error_detail"] = observation.opt_out_source
    assignments = ", ".join(f"{column} = ?" for column in common)
    connection.execute(
        f"UPDATE instances SET {assignments} WHERE domain = ?",
        (*common.values(), observation.domain),
    )
    _append_stats(connection, observation.domain, change.status, crawl_id, stamp, data)
    return change.status


def _data_fields(observation: Observation) -> dict[str, object]:
    counts = observation.counts
    return {
        "software": observation.software,
        "software_raw": observation.software_raw,
        "family": observation.family,
        "version": observation.version,
        "users_total": counts.get("users_total"),
        "users_active_month": counts.get("users_active_month"),
        "users_active_halfyear": counts.get("users_active_halfyear"),
        "local_posts": counts.get("local_posts"),
        "local_comments": counts.get("local_comments"),
        "open_registrations": (
            None if observation.open_registrations is None else int(observation.open_registrations)
        ),
        "name": observation.name,
        "description": observation.description,
        "languages": None if observation.languages is None else json.dumps(observation.languages),
        "address": observation.address,
        "quality_flags": ",".join(sorted(observation.quality_flags)) or None,
        "nodeinfo_version": observation.nodeinfo_version,
        "nodeinfo_url": observation.nodeinfo_url,
        "peers_visibility": observation.peers_visibility,
        "peers_count": None if observation.peers is None else len(observation.peers),
        "peers_truncated": int(observation.peers_truncated),
        "blocks_visibility": observation.blocks_visibility,
        "blocks_count": None if observation.blocks is None else len(observation.blocks),
    }


def _append_stats(
    connection: sqlite3.Connection,
    domain: str,
    status: str,
    crawl_id: int,
    stamp: str,
    data: dict[str, object],
) -> None:
    """The visit's time-series row, from the data fields stored on the instance (none unless
    it was alive; counts of lists answered 304 already carried over)."""
    record_stats(
        connection,
        domain,
        crawl_id,
        stamp,
        (
            status,
            data.get("software"),
            data.get("version"),
            data.get("users_total"),
            data.get("users_active_month"),
            data.get("users_active_halfyear"),
            data.get("local_posts"),
            data.get("peers_count"),
            data.get("blocks_count"),
            data.get("quality_flags"),
            data.get("blocks_visibility"),
            data.get("languages"),
            data.get("address"),
        ),
    )


def record_exclusion(
    connection: sqlite3.Connection,
    domain: str,
    reason: str,
    source: str | None,
    crawl_id: int | None,
    now: str,
) -> None:
    connection.execute(
        "INSERT OR REPLACE INTO exclusions (domain, reason, source, at, crawl_id) "
        "VALUES (?, ?, ?, ?, ?)",
        (domain, reason, source, now, crawl_id),
    )
