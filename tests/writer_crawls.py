"""Hand-built crawls for the store writer's tests: a writer, a clock, and Observations.

`Crawls` stores one `Observation` at a time in the current crawl with the writer the crawler
uses; the `crawls` fixture (conftest) gives a fresh one per test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from crawler.domains import SANDBOX
from crawler.observation import BlockRule, Observation
from crawler.store.writer import StoreWriter

T0 = datetime(2026, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
WEEK = 7 * DAY


class Crawls:
    """A writer and a clock: `visit` stores one Observation in the current crawl."""

    def __init__(self, path: Path):
        self.writer = StoreWriter(str(path), SANDBOX)
        self.now = T0
        self.crawl_id = 0

    def begin(self, at: datetime | None = None, seeds: tuple[str, ...] = ("a.test",)) -> int:
        self.now = at or self.now
        self.crawl_id, resumed = self.writer.begin_crawl(list(seeds), {}, self.now)
        assert not resumed
        self.writer.add_seeds(seeds, "seed", self.now)
        return self.crawl_id

    def finish(self) -> None:
        self.writer.finish_crawl(self.crawl_id, self.now)

    def visit(self, observation: Observation, hops: int | None = 0, after=timedelta(0)):
        return self.writer.record_visit(observation, self.crawl_id, hops, self.now, DAY + after)

    def rows(self, sql: str, *params) -> list[tuple]:
        return self.writer.connection.execute(sql, params).fetchall()


def alive(domain: str = "a.test", **fields) -> Observation:
    fields.setdefault("software", "mastodon")
    fields.setdefault("counts", {"users_total": 10})
    return Observation(domain, status="alive", **fields)


def rule(pattern: str, raw: str = "suspend", reason: str | None = None) -> BlockRule:
    severity = {"suspend": "suspend", "silence": "silence"}.get(raw, "other")
    return BlockRule(pattern, severity, raw, pattern, None, reason, "clear")


def intervals(crawls: Crawls, source: str = "a.test") -> set[tuple]:
    return set(
        crawls.rows(
            "SELECT t.name, p.first_crawl, p.removed_crawl FROM peer_intervals p "
            "JOIN domains s ON s.id = p.source_id JOIN domains t ON t.id = p.target_id "
            "WHERE s.name = ?",
            source,
        )
    )


def crawl_counts(crawls: Crawls, crawl_id: int) -> tuple:
    return crawls.rows(
        "SELECT visited, alive, failed, peer_edges_added, peer_edges_removed, not_modified "
        "FROM crawls WHERE id = ?",
        crawl_id,
    )[0]
