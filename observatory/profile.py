"""One server at a glance: the /instance page's answer.

Status and why, software, counts over time (instance_stats), peers (its own list and who lists
it), blocks given and received (with severities), data-quality flags, first/last seen, and the
raw answers (document_log) behind each number. Every look-up is by an indexed key: the domain,
its id in the peer graph, the blocker.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass, field
from typing import Any

from crawler.blocks import severity_rank, strongest_by
from observatory.who_blocks import find_blockers, valid_domain

#: instances columns shown on the profile (a subset: internal bookkeeping stays in SQL).
FIELDS = (
    "domain",
    "display_name",
    "name",
    "description",
    "software",
    "software_raw",
    "family",
    "version",
    "users_total",
    "users_active_month",
    "users_active_halfyear",
    "local_posts",
    "open_registrations",
    "quality_flags",
    "status",
    "status_reason",
    "error_detail",
    "moved_to",
    "nodeinfo_url",
    "peers_visibility",
    "peers_count",
    "blocks_visibility",
    "blocks_count",
    "first_seen",
    "last_seen",
    "last_visit",
    "next_visit",
    "failures",
    "discovered_by",
    "discovered_via",
    "hops",
)

#: Which stored answer stands behind which number, by the end of its URL path (one answer can
#: stand behind several: Lemmy's federated_instances lists peers and blocks).
DOCUMENT_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "nodeinfo",
        ("/nodeinfo/2.0", "/nodeinfo/2.1", "/nodeinfo/2.2", "/nodeinfo/1.0", "/nodeinfo/1.1",
         "/nodeinfo/2.0.json", "/nodeinfo/2.1.json", "/nodeinfo.json"),
    ),
    (
        "instance",
        ("/api/v1/instance", "/api/v2/instance", "/api/meta", "/api/v3/site",
         "/api/statusnet/config.json", "/api/v1/config/about", "/siteinfo.json",
         "/statistics.json"),
    ),
    (
        "peers",
        ("/api/v1/instance/peers", "/api/federation/instances", "/api/v3/federated_instances",
         "/api/v1/server/followers", "/api/v1/server/following"),
    ),
    (
        "blocks",
        ("/api/v1/instance/domain_blocks", "/api/defederated", "/blocklist/domain/download",
         "/api/v3/federated_instances", "/api/federation/instances"),
    ),
    ("robots", ("/robots.txt",)),
)  # fmt: skip


#: The largest listers are picked among at most this many (a popular server has tens of
#: thousands; sorting them all would cost the page ~0.1 s at full scale).
SAMPLE_FROM = 2000


@dataclass
class Point:
    crawl_id: int
    observed_at: str | None
    status: str | None
    users_total: int | None
    users_active_month: int | None
    peers_count: int | None
    blocks_count: int | None


@dataclass
class Document:
    id: int
    kind: str
    url: str
    status: int | None
    fetched_at: str | None
    crawl_id: int | None
    error: str | None


@dataclass
class Profile:
    domain: str
    known: bool
    instance: dict[str, Any] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    history: list[Point] = field(default_factory=list)
    listed_by: int | None = None  # servers whose peer list names it
    # the largest listers among the first SAMPLE_FROM (all of them for most servers)
    listed_by_sample: list[tuple[str, int | None]] = field(default_factory=list)
    blocks_given: dict[str, int] = field(default_factory=dict)  # severity -> active rules
    blocks_received: dict[str, int] = field(default_factory=dict)  # severity -> servers
    blockers: int = 0
    candidate_blockers: int = 0
    documents: list[Document] = field(default_factory=list)
    excluded: tuple[str, str | None] | None = None  # (reason, source) from exclusions

    @property
    def sample_from(self) -> int:
        """How many listers `listed_by_sample` picks the largest from (the page says so)."""
        return SAMPLE_FROM

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def profile(connection: sqlite3.Connection, raw_domain: str, sample: int = 10) -> Profile:
    """Everything the database knows about one server (InvalidQuery for a non-domain)."""
    domain = valid_domain(raw_domain)
    row = connection.execute(
        f"SELECT {', '.join(FIELDS)} FROM instances WHERE domain = ?", (domain,)
    ).fetchone()
    result = Profile(domain, known=row is not None)
    excluded = connection.execute(
        "SELECT reason, source FROM exclusions WHERE domain = ?", (domain,)
    ).fetchone()
    result.excluded = tuple(excluded) if excluded else None
    if row is None:
        return result
    result.instance = dict(zip(FIELDS, row, strict=True))
    result.flags = [f for f in (result.instance["quality_flags"] or "").split(",") if f]
    result.history = [
        Point(*r)
        for r in connection.execute(
            "SELECT crawl_id, observed_at, status, users_total, users_active_month, "
            "peers_count, blocks_count FROM instance_stats WHERE domain = ? ORDER BY crawl_id",
            (domain,),
        )
    ]
    _peers(connection, result, sample)
    result.blocks_given = dict(
        connection.execute(
            "SELECT severity, count(*) FROM blocks WHERE blocker = ? AND active = 1 "
            "GROUP BY severity ORDER BY count(*) DESC",
            (domain,),
        ).fetchall()
    )
    _received(connection, result)
    result.documents = _documents(connection, domain)
    return result


def _peers(connection: sqlite3.Connection, result: Profile, sample: int) -> None:
    """Who lists it: the analysed in-degree when there is one, and the largest listers."""
    id_row = connection.execute(
        "SELECT id FROM domains WHERE name = ?", (result.domain,)
    ).fetchone()
    if id_row is None:
        return
    try:
        metric = connection.execute(
            "SELECT in_degree FROM instance_metrics WHERE domain = ?", (result.domain,)
        ).fetchone()
    except sqlite3.OperationalError:
        metric = None
    if metric is not None:
        result.listed_by = metric[0]
    else:
        (result.listed_by,) = connection.execute(
            "SELECT count(*) FROM peer_intervals WHERE target_id = ? AND removed_crawl IS NULL",
            id_row,
        ).fetchone()
    result.listed_by_sample = [
        (name, users)
        for name, users in connection.execute(
            """
            SELECT d.name, i.users_active_month
            FROM (SELECT source_id FROM peer_intervals
                  WHERE target_id = ? AND removed_crawl IS NULL LIMIT ?) p
            JOIN domains d ON d.id = p.source_id
            LEFT JOIN instances i ON i.domain = d.name
            ORDER BY i.users_active_month DESC NULLS LAST, d.name LIMIT ?
            """,
            (id_row[0], SAMPLE_FROM, sample),
        )
    ]


def _received(connection: sqlite3.Connection, result: Profile) -> None:
    """Servers blocking it, each once at its strongest severity (as on /who-blocks)."""
    blockers = find_blockers(connection, result.domain)
    candidates = {b.blocker for b in blockers if b.match == "candidate"}
    certain = [b for b in blockers if b.match != "candidate"]
    strongest = {
        blocker: b.severity
        for blocker, b in strongest_by(certain, lambda b: b.blocker, lambda b: b.severity).items()
    }
    for severity in sorted(strongest.values(), key=lambda s: (severity_rank(s), s)):
        result.blocks_received[severity] = result.blocks_received.get(severity, 0) + 1
    result.blockers = len(strongest)
    result.candidate_blockers = len(candidates - set(strongest))


def _documents(connection: sqlite3.Connection, domain: str) -> list[Document]:
    """The latest stored answer of each kind (the raw documents behind the numbers)."""
    latest: dict[str, Document] = {}
    for row in connection.execute(
        "SELECT id, url, status, fetched_at, crawl_id, error FROM document_log "
        "WHERE domain = ? ORDER BY id DESC LIMIT 400",
        (domain,),
    ):
        path = "/" + row[1].split("?", 1)[0].split("://", 1)[-1].partition("/")[2]
        for kind, endings in DOCUMENT_KINDS:
            if kind not in latest and path.endswith(endings):
                latest[kind] = Document(row[0], kind, *row[1:])
    return [latest[kind] for kind, _ in DOCUMENT_KINDS if kind in latest]


def format_profile(answer: Profile) -> str:
    """The /instance page as text."""
    if not answer.known:
        if answer.excluded:
            return f"{answer.domain}: not published ({answer.excluded[0]})"
        return f"{answer.domain}: never seen"
    i = answer.instance
    given = ", ".join(f"{n:,} {s}" for s, n in answer.blocks_given.items()) or "none read"
    received = ", ".join(f"{n:,} {s}" for s, n in answer.blocks_received.items()) or "none"
    lines = [
        f"{answer.domain}: {i['status']}"
        + (f" ({i['status_reason']})" if i["status_reason"] else ""),
        f"software: {i['software'] or '-'} {i['version'] or ''}".rstrip(),
        f"users: {i['users_total']}; active users (month): {i['users_active_month']}",
        f"flags: {', '.join(answer.flags) or 'none'}",
        f"peers listed: {i['peers_count']}; listed by: {answer.listed_by}",
        f"blocks given: {given}; blocked by {answer.blockers:,} servers ({received})",
        f"first seen {i['first_seen']}; last seen {i['last_seen']}",
    ]
    lines += [
        f"  crawl {p.crawl_id}: users {p.users_total}, active {p.users_active_month}"
        for p in answer.history
    ]
    lines += [f"  {d.kind}: {d.url} (HTTP {d.status}, {d.fetched_at})" for d in answer.documents]
    return "\n".join(lines)
