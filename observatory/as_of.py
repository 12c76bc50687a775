"""Answers as of a crawl: `?crawl=N` and the pages' view of the data while a crawl writes.

`as_of(connection, N)` shadows the live tables the answers read (instances, blocks,
block_events, block_edges, exclusions, crawls, instance_stats, peer_intervals, document_log,
platform_share, instance_metrics, domains) with TEMP views derived from the history the store
keeps, so the same library functions (observatory.summary,
observatory.who_blocks.answer, observatory.profile)
answer for the network as it was when crawl N was the latest finished crawl. SQLite resolves an
unqualified name in the temp schema first; the views read `main.` explicitly.

What each view derives from (nothing reads a later crawl, the clock or the schedule):
- instances: each domain's run of `instance_intervals` that covers crawl N or ends last before
  it (status, software, counts, block-list visibility); domains first seen by then and never
  visited are `pending`. Descriptions and bookkeeping not kept per crawl are empty.
Every view stays flattenable (the latest run or event per key is a correlated look-up on an
index), so a look-up reads a few rows of history: on a 3,000-server database a who-blocks
answer as of a crawl takes ~60 ms (15 ms live). Aggregates over every server (the coverage
line, the home page) read each server's latest run, ~0.1-0.2 s there.
- blocks: replayed from `block_events` up to crawl N (the last event of each rule decides
  whether it is active; a `changed` event replaces the pattern's other rules); first seen is
  the rule's last `added` event, last seen the blocker's last visit up to crawl N (the end of
  crawl N when the crawl visited it).
- peer_intervals: the intervals open at crawl N; instance_metrics is empty (degrees come from
  the intervals); platform_share is grouped from the `instances` view.
A server that opted out has its block history deleted (the store's opt-out rule), so it drops
out of past answers too: publishers' wishes outrank permanence.
"""

from __future__ import annotations

import sqlite3
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from crawler.software import family_of

T = TypeVar("T")


class BadCrawl(ValueError):
    """A `?crawl=` value that names no finished crawl; `status` is the HTTP answer."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Crawl:
    id: int
    finished_at: str

    @property
    def date(self) -> str:
        return self.finished_at[:10]


#: Larger than any crawl number SQLite can store; longer strings are not crawl numbers.
MAX_DIGITS = 18


def parse_crawl(raw: str | None) -> int | None:
    """The crawl number of a `?crawl=` value; None when absent. BadCrawl (400) otherwise."""
    if raw is None or raw == "":
        return None
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or len(text) > MAX_DIGITS:
        raise BadCrawl(
            f"“{raw[:40]}” is not a crawl number: use ?crawl= with a whole number such as 1.",
            400,
        )
    number = int(text)
    if number < 1:
        raise BadCrawl("Crawl numbers start at 1.", 400)
    return number


def finished_crawl(connection: sqlite3.Connection, number: int) -> Crawl:
    """Crawl `number` if it finished; BadCrawl (404 unknown, 409 not finished) otherwise."""
    row = connection.execute(
        "SELECT id, status, finished_at FROM main.crawls WHERE id = ?", (number,)
    ).fetchone()
    if row is None:
        (latest,) = connection.execute(
            "SELECT max(id) FROM main.crawls WHERE status = 'finished'"
        ).fetchone()
        hint = f" The latest finished crawl is {latest}." if latest else ""
        raise BadCrawl(f"There is no crawl {number} in this database.{hint}", 404)
    if row[1] != "finished" or not row[2]:
        raise BadCrawl(
            f"Crawl {number} has not finished, so it has no answer yet; "
            "cite a finished crawl instead.",
            409,
        )
    return Crawl(row[0], row[2])


def latest_finished(connection: sqlite3.Connection) -> Crawl | None:
    row = connection.execute(
        "SELECT id, finished_at FROM main.crawls WHERE status = 'finished' "
        "AND finished_at IS NOT NULL ORDER BY id DESC LIMIT 1"
    ).fetchone()
    return Crawl(*row) if row else None


def crawl_running(connection: sqlite3.Connection) -> bool:
    """Whether a crawl has started writing and not finished (it may be interrupted)."""
    row = connection.execute("SELECT 1 FROM main.crawls WHERE status = 'running' LIMIT 1")
    return row.fetchone() is not None


def _views(n: int, finished_at: str) -> dict[str, str]:
    """The TEMP views as of crawl `n`. Each keeps the shape SQLite can flatten into the
    answers' queries (no GROUP BY or DISTINCT at the top; the latest run or event per key is a
    correlated subquery on an index), so a who-blocks look-up stays indexed instead of
    replaying the whole history per request."""
    end = "'" + finished_at.replace("'", "''") + "'"

    def last_visit(domain: str) -> str:
        """When `domain` was last visited up to crawl n: the end of crawl n when that crawl
        visited it (its run reaches n), else the end of its last run before."""
        return f"""(SELECT CASE WHEN r.last_crawl >= {n} THEN {end} ELSE r.last_observed_at END
                    FROM main.instance_intervals r WHERE r.domain = {domain}
                      AND r.first_crawl <= {n} ORDER BY r.first_crawl DESC LIMIT 1)"""

    def run(column: str) -> str:
        """`column` of the domain's latest run up to crawl n."""
        return f"""(SELECT r.{column} FROM main.instance_intervals r WHERE r.domain = i.domain
                    AND r.first_crawl <= {n} ORDER BY r.first_crawl DESC LIMIT 1)"""

    return {
        "crawls": f"SELECT * FROM main.crawls WHERE id <= {n}",
        # One row per known domain; each value is read from its latest run up to n by a
        # correlated look-up on the runs' primary key, which keeps the view flattenable (a
        # look-up of a few servers never expands every server's history).
        "instances": f"""
            SELECT i.domain AS domain, i.domain_id AS domain_id, i.display_name AS display_name,
                   i.registrable_domain AS registrable_domain, {run("software")} AS software,
                   {run("software")} AS software_raw,
                   fediscope_family({run("software")}) AS family, {run("version")} AS version,
                   {run("users_total")} AS users_total,
                   {run("users_active_month")} AS users_active_month,
                   {run("users_active_halfyear")} AS users_active_halfyear,
                   {run("local_posts")} AS local_posts, NULL AS local_comments,
                   NULL AS open_registrations, NULL AS name, NULL AS description,
                   {run("quality_flags")} AS quality_flags,
                   coalesce({run("status")}, 'pending') AS status,
                   NULL AS status_reason, NULL AS error_detail, NULL AS moved_to,
                   NULL AS nodeinfo_version, NULL AS nodeinfo_url, NULL AS peers_visibility,
                   {run("peers_count")} AS peers_count,
                   {run("blocks_visibility")} AS blocks_visibility,
                   {run("blocks_count")} AS blocks_count, i.first_seen AS first_seen,
                   {last_visit("i.domain")} AS last_seen, {last_visit("i.domain")} AS last_visit,
                   NULL AS next_visit, NULL AS failures, NULL AS first_failure_at,
                   i.discovered_by AS discovered_by, i.discovered_via AS discovered_via,
                   NULL AS hops, {run("last_crawl")} AS last_crawl_id
            FROM main.instances i
            WHERE i.first_seen <= {end} OR EXISTS (
                SELECT 1 FROM main.instance_intervals x
                WHERE x.domain = i.domain AND x.first_crawl <= {n})""",
        "instance_stats": f"SELECT * FROM main.instance_stats WHERE crawl_id <= {n}",
        "block_events": f"SELECT * FROM main.block_events WHERE crawl_id <= {n}",
        # One `blocks` row per pattern carries what the pattern determines (target, digest,
        # kind; indexed, so the answers' filters apply to it); the pattern's events up to n
        # give its rules: the last event of each rule word, unless a later `changed` event
        # replaced the pattern's rule.
        "blocks": f"""
            SELECT e.id AS id, p.blocker AS blocker, p.blocked AS blocked,
                   p.blocked_pattern AS blocked_pattern, p.blocked_digest AS blocked_digest,
                   p.kind AS kind, e.severity AS severity, e.severity_raw AS severity_raw,
                   e.reason AS reason,
                   coalesce((SELECT max(a.at) FROM main.block_events a
                      WHERE a.blocker = e.blocker AND a.blocked_pattern = e.blocked_pattern
                        AND a.event = 'added' AND a.crawl_id <= {n}), e.at) AS first_seen,
                   {last_visit("p.blocker")} AS last_seen,
                   NULL AS first_crawl, NULL AS last_crawl, e.event != 'removed' AS active
            FROM main.blocks p JOIN main.block_events e
              ON e.blocker = p.blocker AND e.blocked_pattern = p.blocked_pattern
            WHERE p.id = (SELECT min(q.id) FROM main.blocks q WHERE q.blocker = p.blocker
                            AND q.blocked_pattern = p.blocked_pattern)
              AND e.id = (SELECT max(x.id) FROM main.block_events x
                          WHERE x.blocker = e.blocker AND x.blocked_pattern = e.blocked_pattern
                            AND x.severity_raw = e.severity_raw AND x.crawl_id <= {n})
              AND NOT EXISTS (
                  SELECT 1 FROM main.block_events c WHERE c.blocker = e.blocker
                    AND c.blocked_pattern = e.blocked_pattern AND c.event = 'changed'
                    AND c.crawl_id <= {n} AND c.id > e.id)""",
        "block_edges": """
            SELECT blocker, blocked, severity, severity_raw, NULL AS reason
            FROM temp.blocks WHERE active AND blocked IS NOT NULL""",
        "exclusions": f"SELECT * FROM main.exclusions WHERE at <= {end}",
        "peer_intervals": f"""
            SELECT source_id, target_id, first_crawl, NULL AS removed_crawl
            FROM main.peer_intervals
            WHERE first_crawl <= {n} AND (removed_crawl IS NULL OR removed_crawl > {n})""",
        "instance_metrics": "SELECT NULL AS domain, NULL AS in_degree WHERE 0",
        "document_log": f"SELECT * FROM main.document_log WHERE crawl_id <= {n}",
        "domains": f"""
            SELECT id, name FROM main.domains WHERE id <= (
                SELECT coalesce(max(domain_id), 0) FROM main.instances
                WHERE first_seen <= {end})""",
        "shared_list_adoption": f"""
            SELECT source, server, entries, covered, coverage, {n} AS crawl_id
            FROM main.shared_list_adoption_runs WHERE first_crawl <= {n} AND last_crawl >= {n}""",
        # An imported list keeps no history (a new import replaces it), so no answer as of a
        # crawl can say which lists a domain was on then: they are left out, never guessed.
        "imported_blocks": "SELECT * FROM main.imported_blocks WHERE 0",
        "platform_share": """
            WITH alive AS (SELECT coalesce(family, 'unknown') AS family, users_total,
                                  users_active_month
                           FROM temp.instances WHERE status = 'alive'),
                 total AS (SELECT count(*) AS n, sum(users_total) AS users,
                                  sum(users_active_month) AS active FROM alive)
            SELECT family, count(*) AS instances, count(*) AS servers,
                   round(100.0 * count(*) / total.n, 2) AS instances_share,
                   coalesce(sum(users_total), 0) AS users,
                   coalesce(sum(users_active_month), 0) AS active_users,
                   round(100.0 * coalesce(sum(users_active_month), 0)
                         / nullif(total.active, 0), 2) AS active_users_share
            FROM alive, total GROUP BY family""",
    }


#: Views over views come after what they read.
ORDER = (
    "crawls",
    "instances",
    "instance_stats",
    "block_events",
    "blocks",
    "block_edges",
    "exclusions",
    "peer_intervals",
    "instance_metrics",
    "document_log",
    "domains",
    "shared_list_adoption",
    "imported_blocks",
    "platform_share",
)


@contextmanager
def as_of(connection: sqlite3.Connection, crawl: Crawl) -> Iterator[sqlite3.Connection]:
    """Run the block with the live tables shadowed by their state as of `crawl`."""
    connection.create_function("fediscope_family", 1, family_of, deterministic=True)
    views = _views(int(crawl.id), crawl.finished_at)
    present = {
        name
        for (name,) in connection.execute(
            "SELECT name FROM main.sqlite_master WHERE type IN ('table', 'view')"
        )
    }
    created: list[str] = []
    try:
        for name in ORDER:
            # a view over a missing table (a database not analysed yet) must stay missing
            if name in present:
                connection.execute(f"CREATE TEMP VIEW {name} AS {views[name]}")
                created.append(name)
        yield connection
    finally:
        for name in reversed(created):
            connection.execute(f"DROP VIEW IF EXISTS temp.{name}")


@dataclass(frozen=True)
class Answering:
    """Which crawl a page answers as of, and the crawl it offers to cite.

    `view` is None when the live tables are read (no crawl is writing, no ?crawl= asked):
    they then hold exactly the last finished crawl. `pinned` is True for ?crawl=N."""

    view: Crawl | None
    cited: Crawl | None
    pinned: bool

    def run(self, function: Callable[..., T]) -> Callable[..., T]:
        """`function(connection, ...)` reading the data as of `view` (unchanged when live)."""
        crawl = self.view
        if crawl is None:
            return function

        def as_of_crawl(connection: sqlite3.Connection, *args: Any) -> T:
            with as_of(connection, crawl):
                return function(connection, *args)

        return as_of_crawl

    def citation(self, request: Any) -> dict[str, Any] | None:
        """What the page says about its crawl: number, date and the permalink."""
        if self.cited is None:
            return None
        params = {key: request.args.get(key) for key in request.args if key != "crawl"}
        params["crawl"] = str(self.cited.id)
        url = request.path + "?" + urllib.parse.urlencode(params)
        return {
            "crawl": self.cited.id,
            "date": self.cited.date,
            "finished_at": self.cited.finished_at,
            "url": url,
            "pinned": self.pinned,
        }


def answering(connection: sqlite3.Connection, raw: str | None) -> Answering:
    """What `?crawl=raw` asks for on this database (BadCrawl when it names no finished crawl).

    Without ?crawl=, a page reads the live tables unless a crawl is writing them: then it
    answers as of the last finished crawl, so no answer mixes half a crawl with the one
    before."""
    number = parse_crawl(raw)
    if number is not None:
        crawl = finished_crawl(connection, number)
        return Answering(crawl, crawl, True)
    latest = latest_finished(connection)
    if latest is not None and crawl_running(connection):
        return Answering(latest, latest, False)
    return Answering(None, latest, False)


async def answering_for(datasette: Any, database: Any, request: Any) -> Answering:
    """`answering` for a page request, on Datasette's read-only connection."""
    raw = request.args.get("crawl") if request is not None else None
    return await database.execute_fn(lambda connection: answering(connection, raw))
