"""A re-crawl starts the visits that took the most requests last time first.

A paged walk (Misskey's federated instances, PeerTube's followers) goes one page a second;
started last, it ends the crawl alone. Visits run one at a time here, so the order they start
in is the frontier's order exactly.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

from crawler.domains import SANDBOX
from crawler.frontier import Frontier
from crawler.observation import Document, Observation
from crawler.sandbox import Sandbox, SandboxConfig
from crawler.store.writer import StoreWriter
from tests.support import QUICK_PACE, crawl_via, rows

WORLD = SandboxConfig(instances=60, seed=5, failures=False, farm_size=0, pace=QUICK_PACE)
ONE_AT_A_TIME = {"min_gap": 0.0, "concurrency": 1, "hosts_in_flight": 1}


async def test_a_recrawl_starts_the_longest_last_visits_first(tmp_path):
    db = tmp_path / "order.db"
    sandbox = Sandbox(WORLD)
    port = await sandbox.start()
    try:
        await crawl_via(port, db, sandbox.seeds, **ONE_AT_A_TIME)
        # Answers logged per domain in crawl 1: one per request made.
        last_visit = {
            row["domain"]: row["answers"]
            for row in rows(db, "SELECT domain, count(*) AS answers FROM document_log GROUP BY 1")
        }
        await crawl_via(port, db, sandbox.seeds, recrawl_after=timedelta(0), **ONE_AT_A_TIME)
    finally:
        await sandbox.stop()
    started = rows(
        db,
        "SELECT domain, min(last_fetched_at) AS first FROM document_log "
        "WHERE last_crawl_id = 2 GROUP BY domain ORDER BY first",
    )
    visits = [row for row in started if row["domain"] not in sandbox.seeds]
    lengths = [last_visit[row["domain"]] for row in visits]
    assert len(visits) > 30 and max(lengths) > min(lengths) + 3  # longer and shorter visits
    # Times are logged to the millisecond, and two short visits can start in the same one:
    # their order is unknown, so only a visit that started strictly later must be no longer.
    by_start: dict[str, list[int]] = {}
    for row, length in zip(visits, lengths, strict=True):
        by_start.setdefault(row["first"], []).append(length)
    groups = list(by_start.values())
    assert all(min(a) >= max(b) for a, b in pairwise(groups)), groups
    assert started[0]["domain"] in sandbox.seeds  # seeds still come first


def test_expected_requests_rank_above_listings_and_below_seeds():
    frontier = Frontier()
    frontier.count(["listed.example"] * 50)
    frontier.push("listed.example", 1)
    frontier.push("short.example", 1, expected=3)
    frontier.push("walk.example", 1, expected=30)
    frontier.push("seed.example", 0, seed=True)
    order = [frontier.pop()[0] for _ in range(4)]
    assert order == ["seed.example", "walk.example", "short.example", "listed.example"]


def test_the_expected_length_is_the_last_visits_not_the_history_of_all_visits(tmp_path):
    """a.test answered 3 requests in crawl 1 and 2 in crawl 2 (one answer unchanged, its row
    carried forward); b.test, visited only in crawl 1, answered 2; c.test made one request."""
    writer = StoreWriter(str(tmp_path / "lengths.db"), SANDBOX)
    t0 = datetime(2026, 3, 1, tzinfo=UTC)

    def visit(crawl: int, domain: str, paths: list[str]) -> None:
        documents = [
            Document.keep(f"https://{domain}{path}", 200, "t", "application/json", path.encode())
            for path in paths
        ]
        observation = Observation(domain, status="alive", software="mastodon")
        observation.documents = documents
        writer.record_visit(observation, crawl, 0, t0, timedelta(days=1))

    crawl, _ = writer.begin_crawl(["a.test"], {}, t0)
    visit(crawl, "a.test", ["/robots.txt", "/nodeinfo", "/peers"])
    visit(crawl, "b.test", ["/robots.txt", "/nodeinfo"])
    visit(crawl, "c.test", ["/robots.txt"])
    writer.finish_crawl(crawl, t0)
    crawl, _ = writer.begin_crawl(["a.test"], {}, t0 + timedelta(days=1))
    visit(crawl, "a.test", ["/nodeinfo", "/instance"])
    assert writer.last_visit_requests() == {"a.test": 2, "b.test": 2}
    writer.close()
