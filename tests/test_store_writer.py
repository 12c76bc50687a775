"""`StoreWriter` fed hand-built Observations, crawl after crawl, compared with hand-built tables.

What the sandbox crawls pin slowly (peer intervals, block history, 304 carry-over, validators,
the stats runs, which domains are due, exclusions), pinned here in milliseconds: every visit is
an `Observation` written by the writer the crawler uses, with an explicit clock.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crawler.domains import SANDBOX
from crawler.fetch import errors
from crawler.observation import BlockRule, Document, Observation, PeerHistory
from crawler.store.lock import DatabaseBusy, database_lock, lock_path
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


@pytest.fixture
def crawls(tmp_path) -> Crawls:
    crawls = Crawls(tmp_path / "writer.db")
    yield crawls
    crawls.writer.close()


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


# -- peers --------------------------------------------------------------------------------


def test_peer_lists_become_intervals_and_unread_lists_change_nothing(crawls):
    crawls.begin()
    result = crawls.visit(alive(peers=["b.test", "c.test"]))
    assert (result.peer_edges_added, result.peer_edges_removed) == (2, 0)
    assert result.new_domains == [("b.test", "peer"), ("c.test", "peer")]
    crawls.finish()

    crawls.begin(T0 + DAY)
    result = crawls.visit(alive(peers=["c.test", "d.test"]))
    assert (result.peer_edges_added, result.peer_edges_removed) == (1, 1)
    assert result.new_domains == [("d.test", "peer")]
    crawls.finish()
    assert intervals(crawls) == {("b.test", 1, 2), ("c.test", 1, None), ("d.test", 2, None)}

    # 304: the list is the stored one; unreachable: not read; neither closes an interval.
    crawls.begin(T0 + 2 * DAY)
    crawls.visit(alive(peers=None, peers_unchanged=True, not_modified=1))
    crawls.finish()
    crawls.begin(T0 + 3 * DAY)
    crawls.visit(Observation("a.test", status="unreachable", error_kind=errors.CONNECT))
    crawls.finish()
    # b comes back: a new interval, the closed one stays as it was.
    crawls.begin(T0 + 4 * DAY)
    crawls.visit(alive(peers=["b.test", "c.test", "d.test"]))
    crawls.finish()
    assert intervals(crawls) == {
        ("b.test", 1, 2),
        ("b.test", 5, None),
        ("c.test", 1, None),
        ("d.test", 2, None),
    }
    assert [crawl_counts(crawls, n) for n in range(1, 6)] == [
        (1, 1, 0, 2, 0, 0),
        (1, 1, 0, 1, 1, 0),
        (1, 1, 0, 0, 0, 1),
        (1, 0, 1, 0, 0, 0),
        (1, 1, 0, 1, 0, 0),
    ]
    # The discovered names are pending rows one hop further, found from a.test.
    assert crawls.rows(
        "SELECT domain, status, hops, discovered_by, discovered_via FROM instances "
        "WHERE domain != 'a.test' ORDER BY domain"
    ) == [
        ("b.test", "pending", 1, "peer", "a.test"),
        ("c.test", "pending", 1, "peer", "a.test"),
        ("d.test", "pending", 1, "peer", "a.test"),
    ]


# -- blocks -------------------------------------------------------------------------------


def test_block_rules_added_removed_readded_and_changed_with_their_events(crawls):
    crawls.begin()
    crawls.visit(alive(blocks=[rule("x.test"), rule("y.test", "silence", "spam")]))
    crawls.finish()
    crawls.begin(T0 + DAY)  # x removed, y's severity changes, z added
    crawls.visit(alive(blocks=[rule("y.test", "suspend", "spam"), rule("z.test")]))
    crawls.finish()
    crawls.begin(T0 + 2 * DAY)  # x re-added, y's reason changes
    crawls.visit(alive(blocks=[rule("x.test"), rule("y.test", "suspend", "abuse"), rule("z.test")]))
    crawls.finish()
    crawls.begin(T0 + 3 * DAY)  # 304: seen again, nothing changed
    crawls.visit(alive(blocks=None, blocks_unchanged=True, not_modified=1))
    crawls.finish()
    crawls.begin(T0 + 4 * DAY)  # the list turned restricted: unreadable is not a removal
    crawls.visit(alive(blocks=None, blocks_visibility="restricted"))
    crawls.finish()

    day = [f"2026-03-0{n}T00:00:00Z" for n in range(1, 6)]
    assert crawls.rows(
        "SELECT crawl_id, blocked_pattern, blocked, event, severity, severity_raw, "
        "previous_severity, reason, previous_reason, at, first_observation "
        "FROM block_events WHERE blocker = 'a.test' ORDER BY id"
    ) == [
        (1, "x.test", "x.test", "added", "suspend", "suspend", None, None, None, day[0], 1),
        (1, "y.test", "y.test", "added", "silence", "silence", None, "spam", None, day[0], 1),
        (2, "x.test", "x.test", "removed", "suspend", "suspend", None, None, None, day[1], 0),
        (2, "y.test", "y.test", "changed", "suspend", "suspend", "silence", "spam", "spam",
         day[1], 0),
        (2, "z.test", "z.test", "added", "suspend", "suspend", None, None, None, day[1], 0),
        (3, "x.test", "x.test", "added", "suspend", "suspend", None, None, None, day[2], 0),
        (3, "y.test", "y.test", "changed", "suspend", "suspend", "suspend", "abuse", "spam",
         day[2], 0),
    ]  # fmt: skip
    # One row per rule: the re-added rule is the old row re-activated with its new start; a
    # changed rule keeps its first_seen; the 304 moved last_seen of every active rule.
    assert crawls.rows(
        "SELECT blocked_pattern, severity, reason, first_seen, last_seen, first_crawl, "
        "last_crawl, active FROM blocks WHERE blocker = 'a.test' ORDER BY blocked_pattern"
    ) == [
        ("x.test", "suspend", None, day[2], day[3], 3, 4, 1),
        ("y.test", "suspend", "abuse", day[0], day[3], 1, 4, 1),
        ("z.test", "suspend", None, day[1], day[3], 2, 4, 1),
    ]
    assert crawls.rows("SELECT blocks_count, blocks_visibility FROM instances WHERE domain = ?",
                       "a.test") == [(None, "restricted")]  # fmt: skip


def test_a_visit_reports_its_block_event_counts(crawls):
    crawls.begin()
    first = crawls.visit(alive(blocks=[rule("x.test"), rule("y.test")]))
    crawls.finish()
    crawls.begin(T0 + DAY)
    second = crawls.visit(alive(blocks=[rule("y.test", "silence"), rule("w.test")]))
    assert first.block_events == {"added": 2, "removed": 0, "changed": 0}
    assert second.block_events == {"added": 1, "removed": 1, "changed": 1}
    assert {name for name, how in first.new_domains if how == "block"} == {"x.test", "y.test"}


# -- 304 carry-over, validators ------------------------------------------------------------


def test_lists_answered_304_carry_their_counts_over(crawls):
    crawls.begin()
    crawls.visit(
        alive(
            peers=["b.test", "c.test", "d.test"],
            peers_truncated=True,
            blocks=[rule("x.test"), rule("y.test")],
            peers_visibility="public",
            blocks_visibility="public",
        )
    )
    crawls.finish()
    crawls.begin(T0 + DAY)
    crawls.visit(
        alive(
            counts={"users_total": 11},
            peers_unchanged=True,
            blocks_unchanged=True,
            peers_visibility="public",
            blocks_visibility="public",
            not_modified=2,
        )
    )
    crawls.finish()
    assert crawls.rows(
        "SELECT users_total, peers_count, peers_truncated, blocks_count FROM instances "
        "WHERE domain = 'a.test'"
    ) == [(11, 3, 1, 2)]
    assert crawls.rows(
        "SELECT crawl_id, users_total, peers_count, blocks_count FROM instance_stats "
        "WHERE domain = 'a.test' ORDER BY crawl_id"
    ) == [(1, 10, 3, 2), (2, 11, 3, 2)]
    assert crawl_counts(crawls, 2)[-1] == 2
    # A list neither read nor answered 304 has no count.
    crawls.begin(T0 + 2 * DAY)
    crawls.visit(alive(peers_visibility="error", blocks=[]))
    assert crawls.rows(
        "SELECT peers_count, peers_truncated, blocks_count FROM instances WHERE domain = 'a.test'"
    ) == [(None, 0, 0)]


def test_validators_are_kept_per_list_and_dropped_with_what_they_validate(crawls):
    peers, blocks = "/api/v1/instance/peers", "/api/v1/instance/domain_blocks"
    crawls.begin()
    crawls.visit(alive(validators={peers: ('"p1"', None), blocks: (None, "Sun, 01 Mar 2026")}))
    crawls.visit(alive("b.test", validators={peers: ('"b1"', None)}), hops=1)
    crawls.finish()
    assert crawls.writer.load_validators() == {
        "a.test": {peers: ('"p1"', None), blocks: (None, "Sun, 01 Mar 2026")},
        "b.test": {peers: ('"b1"', None)},
    }
    crawls.begin(T0 + DAY)
    crawls.visit(alive(validators={peers: ('"p2"', None)}))  # the block list came untagged
    crawls.visit(Observation("b.test", status="unreachable", error_kind=errors.TIMEOUT), hops=1)
    crawls.finish()
    assert crawls.rows("SELECT domain, path, etag, crawl_id FROM http_validators ORDER BY 1") == [
        ("a.test", peers, '"p2"', 2),
        ("b.test", peers, '"b1"', 1),  # not read: kept for the next try
    ]
    crawls.begin(T0 + 2 * DAY)
    crawls.visit(Observation("a.test", status="opted_out", opt_out="nobot", opt_out_source="x"))
    assert crawls.writer.load_validators() == {"b.test": {peers: ('"b1"', None)}}


# -- the stats runs -----------------------------------------------------------------------


def test_visits_that_see_the_same_values_extend_one_run(crawls):
    for day, observation in enumerate(
        [
            alive(version="4.3.0"),
            alive(version="4.3.0"),
            alive(version="4.3.1"),  # a change: a new run
            Observation("a.test", status="unreachable", error_kind=errors.CONNECT),
            Observation("a.test", status="unreachable", error_kind=errors.CONNECT),
            alive(version="4.3.1"),  # same values as crawl 3, but not adjacent
        ]
    ):
        crawls.begin(T0 + day * DAY)
        crawls.visit(observation)
        crawls.finish()
    day = [f"2026-03-0{n}T00:00:00Z" for n in range(1, 7)]
    assert crawls.rows(
        "SELECT first_crawl, last_crawl, observed_at, last_observed_at, status, software, "
        "version, users_total FROM instance_intervals WHERE domain = 'a.test' "
        "ORDER BY first_crawl"
    ) == [
        (1, 2, day[0], day[1], "alive", "mastodon", "4.3.0", 10),
        (3, 3, day[2], day[2], "alive", "mastodon", "4.3.1", 10),
        (4, 5, day[3], day[4], "unreachable", None, None, None),
        (6, 6, day[5], day[5], "alive", "mastodon", "4.3.1", 10),
    ]
    # A failed visit keeps what was known on the instance row; only the series says "down".
    assert crawls.rows(
        "SELECT status, version, failures, last_seen FROM instances WHERE domain = 'a.test'"
    ) == [("alive", "4.3.1", 0, day[5])]


# -- due_domains --------------------------------------------------------------------------


def due(crawls: Crawls, at: datetime, recrawl_after: timedelta = DAY) -> list[str]:
    crawl_id = crawls.begin(at)
    try:
        return [d for d, _ in crawls.writer.due_domains(crawl_id, at, ["a.test"], recrawl_after)]
    finally:
        crawls.finish()


def test_which_domains_are_due_follows_each_lifecycle_state(crawls):
    crawls.begin()
    crawls.visit(alive(peers=["b.test", "c.test", "d.test", "e.test", "f.test", "g.test"]))
    for observation in [
        alive("b.test"),
        Observation("c.test", status="unreachable", error_kind=errors.CONNECT),  # 1 h
        Observation("d.test", status="opted_out", opt_out="nobot"),  # 30 days
        Observation("e.test", status="gone"),  # 30 days
        Observation("f.test", status="invalid", error_kind="not_json"),  # 1 day
    ]:
        crawls.visit(observation, hops=1)
    # g.test was discovered and never visited: pending.
    assert [d for d, _ in crawls.writer.due_domains(1, T0, ["a.test"], DAY)] == ["g.test"]
    crawls.finish()

    # Jitter is +-10 %: each time below is clear of it.
    assert due(crawls, T0 + 0.5 * HOUR) == ["g.test"]
    assert due(crawls, T0 + 2 * HOUR) == ["c.test", "g.test"]
    # Alive domains are due once recrawl_after has passed (this crawl's setting wins).
    assert due(crawls, T0 + 2 * HOUR, recrawl_after=HOUR) == ["a.test", "b.test", "c.test",
                                                              "g.test"]  # fmt: skip
    assert due(crawls, T0 + 2 * DAY) == ["a.test", "b.test", "c.test", "f.test", "g.test"]
    assert due(crawls, T0 + 40 * DAY) == [
        "a.test", "b.test", "c.test", "d.test", "e.test", "f.test", "g.test"
    ]  # fmt: skip


def test_due_domains_put_seeds_first_then_hops_then_discovery(crawls):
    crawls.begin(seeds=("s.test",))
    crawls.visit(alive("s.test", peers=["p.test", "n.test"]))
    crawls.visit(alive("n.test", peers=["deep.test", "m.test"]), hops=1)
    crawls.finish()
    crawl_id = crawls.begin(T0 + HOUR, seeds=("late.test",))
    got = crawls.writer.due_domains(crawl_id, T0 + HOUR, ["late.test", "s.test"], WEEK)
    assert got == [("late.test", 0), ("p.test", 1), ("deep.test", 2), ("m.test", 2)]


def test_a_domain_visited_or_excluded_in_this_crawl_is_not_due_again(crawls):
    crawl_id = crawls.begin()
    crawls.visit(alive(peers=["b.test", "n1.farm.test"]))
    crawls.writer.exclude("n1.farm.test", "subdomain_farm", "farm.test", crawl_id, T0)
    assert crawls.writer.due_domains(crawl_id, T0, ["a.test"], timedelta(0)) == [("b.test", 1)]
    assert crawls.writer.visited_in_crawl(crawl_id) == ["a.test"]
    crawls.finish()
    # The farm exclusion held for its crawl only: the next crawl decides again.
    assert due(crawls, T0 + HOUR) == ["b.test", "n1.farm.test"]


# -- exclusions ---------------------------------------------------------------------------


def test_exclusions_follow_what_each_visit_found(crawls):
    crawls.begin()
    crawls.visit(
        alive(
            peers=["b.test"],
            blocks=[rule("x.test")],
            validators={"/p": ('"1"', None)},
            documents=[Document.keep("https://a.test/p", 200, "t", "application/json", b"[]")],
        )
    )
    crawls.visit(Observation("g.test", status="gone", error_detail="410"), hops=1)
    crawls.visit(
        Observation("s.test", status="pending", error_kind=errors.CRAWL_DELAY_TOO_LONG,
                    skip_reason="crawl_delay_too_long"),
        hops=1,
    )  # fmt: skip
    crawls.finish()
    crawls.begin(T0 + DAY)
    crawls.visit(Observation("a.test", status="opted_out", opt_out="nobot", opt_out_source="bio"))
    crawls.finish()
    assert crawls.rows("SELECT domain, reason, source, crawl_id FROM exclusions ORDER BY 1") == [
        ("a.test", "nobot", "bio", 2),
        ("g.test", "gone", "410", 1),
        ("s.test", "crawl_delay_too_long", "robots.txt", 1),
    ]
    # An opted-out server keeps its domain, status and reason, and nothing it published.
    for table in ("blocks", "block_events", "documents", "http_validators"):
        count = crawls.rows(f"SELECT count(*) FROM {table}")[0][0]
        assert count == 0, table
    assert intervals(crawls) == set()
    assert crawls.rows(
        "SELECT status, status_reason, error_detail, software, users_total, peers_count "
        "FROM instances WHERE domain = 'a.test'"
    ) == [("opted_out", "nobot", "bio", None, None, None)]
    # The skipped host keeps its state, with its next look a week on.
    assert crawls.rows("SELECT status, next_visit FROM instances WHERE domain = 's.test'") == [
        ("pending", "2026-03-08T00:00:00Z")
    ]
    # Back and willing: the exclusion goes.
    crawls.begin(T0 + 40 * DAY)
    crawls.visit(alive())
    assert [r[0] for r in crawls.rows("SELECT domain FROM exclusions ORDER BY 1")] == [
        "g.test",
        "s.test",
    ]


# -- crawls -------------------------------------------------------------------------------


def test_an_unfinished_crawl_is_resumed_and_counts_on(crawls):
    crawl_id = crawls.begin()
    crawls.visit(alive())
    crawls.writer.finish_crawl(crawl_id, T0 + HOUR, interrupted=True)
    assert crawls.writer.begin_crawl(["a.test"], {}, T0 + 2 * HOUR) == (crawl_id, True)
    crawls.visit(Observation("b.test", status="unreachable", error_kind=errors.DNS), hops=1)
    crawls.writer.finish_crawl(crawl_id, T0 + 3 * HOUR, busiest=[{"address": "192.0.2.1"}])
    assert crawls.rows(
        "SELECT status, finished_at, visited, alive, failed, busiest_addresses FROM crawls"
    ) == [("finished", "2026-03-01T03:00:00Z", 2, 1, 1, '[{"address": "192.0.2.1"}]')]
    assert crawls.writer.begin_crawl([], {}, T0 + DAY) == (crawl_id + 1, False)


def test_a_failed_store_rolls_the_whole_visit_back(crawls):
    crawls.begin()
    crawls.visit(alive(peers=["b.test"]))
    broken = alive(peers=["c.test"], blocks=[rule("x.test")], counts={"users_total": 99})
    broken.documents = [None]  # a bug after the peers and blocks were written
    with pytest.raises(AttributeError):
        crawls.visit(broken)
    assert intervals(crawls) == {("b.test", 1, None)}
    assert crawls.rows("SELECT count(*) FROM blocks")[0][0] == 0
    assert crawls.rows("SELECT users_total FROM instances WHERE domain = 'a.test'") == [(10,)]
    assert crawls.rows("SELECT domain FROM instances WHERE domain = 'c.test'") == []
    # The writer's id cache forgot the rolled-back names: they are written next time.
    crawls.visit(alive(peers=["c.test"]))
    assert intervals(crawls) == {("b.test", 1, 1), ("c.test", 1, None)}


# -- the lock -----------------------------------------------------------------------------


def test_one_writer_job_per_database(tmp_path):
    db = str(tmp_path / "locked.db")
    with database_lock(db, "crawl"):
        holder = lock_path(db).read_text()
        assert holder.startswith("fediscope crawl (pid ")
        with pytest.raises(DatabaseBusy) as busy, database_lock(db, "analyze"):
            pytest.fail("a second job got the lock")
        message = str(busy.value)
        assert message.startswith(f"{db} is in use by fediscope crawl (pid ")
        assert message.endswith("; try again when it has finished") and "\n" not in message
        assert lock_path(db).read_text() == holder, "the refused job must not touch the file"
    assert lock_path(db).read_text() == ""
    with database_lock(db, "analyze"):  # released: the next job gets it
        assert lock_path(db).read_text().startswith("fediscope analyze (pid ")
    with database_lock(str(tmp_path / "other.db"), "crawl"), database_lock(db, "crawl"):
        pass  # one lock per database, not one for all


def test_a_lock_file_left_by_a_dead_holder_names_nobody(tmp_path):
    db = str(tmp_path / "x.db")
    lock_path(db).write_text("")
    with database_lock(db, "crawl"), pytest.raises(DatabaseBusy, match="another fediscope job"):
        lock_path(db).write_text("")  # as if the holder's name were lost
        with database_lock(db, "crawl"):
            pass


def test_repeated_failures_spread_over_a_week_make_a_domain_dead(crawls):
    # The first failure's time survives each later failure; six over a week are dead.
    for n, day in enumerate([0, 2, 4, 6, 7, 8], start=1):
        crawls.begin(T0 + day * DAY)
        crawls.visit(Observation("a.test", status="unreachable", error_kind=errors.CONNECT))
        crawls.finish()
        state = crawls.rows(
            "SELECT status, failures, first_failure_at FROM instances WHERE domain = 'a.test'"
        )
        assert state == [("dead" if n == 6 else "unreachable", n, "2026-03-01T00:00:00Z")]


def test_seeds_and_exclusions_record_when_and_from_where(crawls):
    crawl_id = crawls.begin(seeds=("a.test", "s.test"))
    assert crawls.writer.add_seeds(["s.test", "t.test", "t.test"], "seed_file", T0) == ["t.test"]
    assert crawls.rows(
        "SELECT domain, status, first_seen, discovered_by, discovered_via, hops FROM instances"
    ) == [
        ("a.test", "pending", "2026-03-01T00:00:00Z", "seed", None, 0),
        ("s.test", "pending", "2026-03-01T00:00:00Z", "seed", None, 0),
        ("t.test", "pending", "2026-03-01T00:00:00Z", "seed_file", None, 0),
    ]
    assert sorted(crawls.writer.known_domains()) == ["a.test", "s.test", "t.test"]
    crawls.writer.exclude("t.test", "exclusion_file", "*.t.test", crawl_id, T0 + HOUR)
    assert crawls.rows("SELECT * FROM exclusions") == [
        ("t.test", "exclusion_file", "*.t.test", "2026-03-01T01:00:00Z", crawl_id)
    ]


def test_an_interrupted_crawl_stays_open_and_keeps_its_busiest_addresses(crawls):
    crawl_id = crawls.begin()
    busiest = [{"address": "192.0.2.1", "requests": 3}]
    crawls.writer.finish_crawl(crawl_id, T0 + HOUR, interrupted=True, busiest=busiest)
    assert crawls.rows("SELECT status, finished_at FROM crawls") == [("running", None)]
    crawls.writer.finish_crawl(crawl_id, T0 + 2 * HOUR)  # resumed, and nothing new to say
    assert crawls.rows("SELECT status, finished_at, busiest_addresses FROM crawls") == [
        ("finished", "2026-03-01T02:00:00Z", '[{"address": "192.0.2.1", "requests": 3}]')
    ]


def test_domain_ids_start_at_one_and_follow_on_after_a_reopen(tmp_path):
    path = tmp_path / "ids.db"
    first = StoreWriter(str(path), SANDBOX)
    first.add_seeds(["b.test", "a.test"], "seed", T0)
    assert (first.ids.get("a.test"), first.ids.get("b.test"), first.ids.get("c.test")) == (
        1,
        2,
        None,
    )
    first.close()
    again = StoreWriter(str(path), SANDBOX)
    again.add_seeds(["c.test"], "seed", T0)
    assert again.connection.execute("SELECT name, id FROM domains ORDER BY id").fetchall() == [
        ("a.test", 1),
        ("b.test", 2),
        ("c.test", 3),
    ]
    again.close()


def test_only_sqlite_files_and_empty_files_pass_for_a_database(tmp_path):
    from crawler.store.schema import is_fediscope_database

    empty, text, real = tmp_path / "empty.db", tmp_path / "notes.txt", tmp_path / "real.db"
    empty.write_bytes(b"")
    text.write_text("SQLite format 3 is what this file talks about, not what it is\n")
    StoreWriter(str(real), SANDBOX).close()
    assert is_fediscope_database(str(empty)) and is_fediscope_database(str(real))
    assert not is_fediscope_database(str(text))
    assert not is_fediscope_database(str(tmp_path / "missing.db"))
    assert not is_fediscope_database(str(tmp_path))  # a directory


HOLDER = b"fediscope \xff crawl "


def test_the_lock_names_a_holder_whatever_its_file_holds(tmp_path):
    db = str(tmp_path / "x.db")
    with database_lock(db, "crawl"):
        lock_path(db).write_bytes(HOLDER + b"x" * 300)
        with pytest.raises(DatabaseBusy) as busy, database_lock(db, "analyze"):
            pass
    holder = str(busy.value).removeprefix(f"{db} is in use by ").split(";")[0]
    # The first 200 bytes, a byte that is not UTF-8 replaced, and no traceback.
    assert holder == "fediscope \ufffd crawl " + "x" * (200 - len(HOLDER))


def test_the_default_clock_is_utc():
    from crawler.store.writer import utcnow

    assert utcnow().utcoffset() == timedelta(0)


def test_a_pattern_whose_rule_changes_kind_keeps_one_row(crawls):
    # Two rules for x (Pleroma lists one host under two actions), then one, then the other
    # kind again: the changed rule is updated in place and the stale inactive row goes.
    for day, words in enumerate([("suspend", "silence"), ("silence",), ("suspend",)]):
        crawls.begin(T0 + day * DAY)
        crawls.visit(alive(blocks=[rule("x.test", word) for word in words]))
        crawls.finish()
    assert crawls.rows(
        "SELECT crawl_id, event, severity_raw, previous_severity FROM block_events ORDER BY id"
    ) == [
        (1, "added", "suspend", None),
        (1, "added", "silence", None),
        (2, "removed", "suspend", None),
        (3, "changed", "suspend", "silence"),
    ]
    assert crawls.rows("SELECT severity_raw, first_crawl, active FROM blocks") == [
        ("suspend", 1, 1)
    ]


def test_a_reason_change_under_one_of_several_rules_is_a_change(crawls):
    crawls.begin()
    crawls.visit(alive(blocks=[rule("x.test", "reject", "spam"), rule("x.test", "media")]))
    crawls.finish()
    crawls.begin(T0 + DAY)
    result = crawls.visit(
        alive(blocks=[rule("x.test", "reject", "abuse"), rule("x.test", "media")])
    )
    assert result.block_events == {"added": 0, "removed": 0, "changed": 1}
    assert crawls.rows(
        "SELECT event, severity_raw, reason, previous_reason FROM block_events WHERE crawl_id = 2"
    ) == [("changed", "reject", "abuse", "spam")]
    assert crawls.rows(
        "SELECT severity_raw, reason, first_crawl, active FROM blocks ORDER BY severity_raw"
    ) == [("media", None, 1, 1), ("reject", "abuse", 1, 1)]


def test_every_count_and_field_of_an_alive_visit_is_stored(crawls):
    counts = {
        "users_total": 500,
        "users_active_month": 120,
        "users_active_halfyear": 300,
        "local_posts": 9000,
        "local_comments": 40,
    }
    crawls.begin()
    crawls.visit(
        alive(
            software="mastodon",
            software_raw="Mastodon",
            family="mastodon",
            version="4.3.2",
            counts=counts,
            open_registrations=False,
            name="A",
            description="about a",
            quality_flags={"stats_suspect", "count_from_string"},
            nodeinfo_version="2.1",
            nodeinfo_url="https://a.test/nodeinfo/2.1",
        )
    )
    columns = ", ".join(counts)
    assert crawls.rows(
        f"SELECT {columns}, software, software_raw, family, version, open_registrations, name, "
        "description, quality_flags, nodeinfo_version, nodeinfo_url FROM instances "
        "WHERE domain = 'a.test'"
    ) == [
        (500, 120, 300, 9000, 40, "mastodon", "Mastodon", "mastodon", "4.3.2", 0, "A",
         "about a", "count_from_string,stats_suspect", "2.1", "https://a.test/nodeinfo/2.1")
    ]  # fmt: skip
    assert crawls.rows(
        "SELECT users_total, users_active_month, users_active_halfyear, local_posts, "
        "quality_flags FROM instance_stats"
    ) == [(500, 120, 300, 9000, "count_from_string,stats_suspect")]


def test_a_rule_listed_twice_is_one_rule_and_reread_rules_are_seen_again(crawls):
    crawls.begin()
    first = crawls.visit(alive(blocks=[rule("x.test"), rule("x.test"), rule("y.test")]))
    assert first.block_events == {"added": 2, "removed": 0, "changed": 0}
    crawls.finish()
    crawls.begin(T0 + DAY)
    crawls.visit(alive(blocks=[rule("y.test")]))
    assert crawls.rows(
        "SELECT blocked_pattern, last_seen, last_crawl, active FROM blocks ORDER BY 1"
    ) == [
        ("x.test", "2026-03-01T00:00:00Z", 1, 0),  # removed: last seen in crawl 1
        ("y.test", "2026-03-02T00:00:00Z", 2, 1),
    ]


# -- what the crawl and the visit record about themselves ------------------------------------


def test_a_new_crawl_records_its_settings_and_runs_until_finished(crawls):
    settings = {
        "via": "127.0.0.1:8443",
        "version": "1.4.0",
        "user_agent": "fediscope/1.4.0 (+https://example.test/bot)",
        "contact": "ops@example.test",
        "started": T0,  # not JSON: written as text
    }
    crawl_id, resumed = crawls.writer.begin_crawl(["b.test", "a.test"], settings, T0)
    assert (crawl_id, resumed) == (1, False)
    assert crawls.rows(
        "SELECT started_at, status, seeds, via, contact, user_agent, fediscope_version, "
        "settings, visited, requests, rejected_names FROM crawls"
    ) == [
        (
            "2026-03-01T00:00:00Z",
            "running",
            '["b.test", "a.test"]',
            "127.0.0.1:8443",
            "ops@example.test",
            "fediscope/1.4.0 (+https://example.test/bot)",
            "1.4.0",
            '{"contact": "ops@example.test", "started": "2026-03-01 00:00:00+00:00", '
            '"user_agent": "fediscope/1.4.0 (+https://example.test/bot)", '
            '"version": "1.4.0", "via": "127.0.0.1:8443"}',
            0,
            0,
            0,
        )
    ]
    # Killed before it finished: the next run goes on with it.
    assert crawls.writer.begin_crawl(["a.test"], {}, T0 + HOUR) == (1, True)


def test_requests_and_rejected_names_are_counted_per_crawl(crawls):
    crawl_id = crawls.begin()
    crawls.visit(
        alive(
            requests=5,
            probe_requests=2,
            rejected_names=Counter(not_a_domain=2, ip_address=1),
        )
    )
    crawls.visit(
        Observation("b.test", status="unreachable", error_kind=errors.CONNECT, requests=1,
                    rejected_names=Counter(not_a_domain=4)),
        hops=1,
    )  # fmt: skip
    assert crawls.rows(
        "SELECT requests, probe_requests, rejected_names FROM crawls WHERE id = ?", crawl_id
    ) == [(6, 2, 7)]
    assert crawls.rows("SELECT crawl_id, reason, count FROM rejected_names ORDER BY reason") == [
        (crawl_id, "ip_address", 1),
        (crawl_id, "not_a_domain", 6),
    ]


def test_a_domain_stored_before_its_row_takes_its_origin_and_hops(crawls):
    crawls.begin()
    # Found during another visit not stored yet: it says how, and from where.
    crawls.writer.record_visit(
        alive(
            "far.test",
            peers=["next.test"],
            documents=[Document.keep("https://far.test/p", 200, "t", "application/json", b"[]")],
        ),
        crawls.crawl_id,
        3,
        T0 + HOUR,
        DAY,
        origin=("peer", "near.test"),
    )
    # No origin: it was a seed; no hops known: none is made up.
    crawls.writer.record_visit(alive("lone.test"), crawls.crawl_id, None, T0, DAY)
    assert crawls.rows(
        "SELECT domain, discovered_by, discovered_via, hops, first_seen FROM instances "
        "WHERE domain != 'a.test' ORDER BY domain"
    ) == [
        ("far.test", "peer", "near.test", 3, "2026-03-01T01:00:00Z"),
        ("lone.test", "seed", None, None, "2026-03-01T00:00:00Z"),
        ("next.test", "peer", "far.test", 4, "2026-03-01T01:00:00Z"),
    ]
    assert crawls.rows("SELECT domain, url, crawl_id FROM document_log") == [
        ("far.test", "https://far.test/p", 1)
    ]


def test_exclusions_record_when_and_the_default_reason(crawls):
    crawls.begin(T0 + HOUR)
    crawls.visit(Observation("a.test", status="opted_out"))  # no reason given
    crawls.visit(Observation("g.test", status="gone", error_detail="410 Gone"), hops=1)
    crawls.visit(
        Observation("p.test", status="pending", skip_reason="crawl_delay_too_long"), hops=1
    )
    # A pending visit without a reason to skip (a later try is due) excludes nothing.
    crawls.visit(Observation("q.test", status="pending"), hops=1)
    assert crawls.rows("SELECT * FROM exclusions ORDER BY domain") == [
        ("a.test", "opted_out", None, "2026-03-01T01:00:00Z", 1),
        ("g.test", "gone", "410 Gone", "2026-03-01T01:00:00Z", 1),
        ("p.test", "crawl_delay_too_long", "robots.txt", "2026-03-01T01:00:00Z", 1),
    ]


def test_a_list_read_for_its_newest_names_adds_edges_and_closes_none(crawls):
    crawls.begin()
    crawls.visit(alive(peers=["b.test", "c.test"], peers_truncated=True, peers_visibility="public"))
    crawls.finish()
    assert crawls.writer.peer_history("a.test", 2, 2) == PeerHistory(
        known=frozenset({"b.test", "c.test"}), full_due=False
    )
    crawls.begin(T0 + DAY)
    result = crawls.visit(alive(peers=["d.test"], peers_added_only=True, peers_visibility="public"))
    crawls.finish()
    assert (result.peer_edges_added, result.peer_edges_removed) == (1, 0)
    assert intervals(crawls) == {("b.test", 1, None), ("c.test", 1, None), ("d.test", 2, None)}
    # The count grows by the names added, the stored list stays truncated, and the last full
    # reading stays crawl 1.
    assert crawls.rows(
        "SELECT peers_count, peers_truncated, peers_full_crawl FROM instances "
        "WHERE domain = 'a.test'"
    ) == [(3, 1, 1)]
    assert crawl_counts(crawls, 2)[3:5] == (1, 0)
    # A full reading is due once `full_every` crawls have passed since crawl 1.
    known = frozenset({"b.test", "c.test", "d.test"})
    assert crawls.writer.peer_history("a.test", 3, 3) == PeerHistory(known, full_due=False)
    assert crawls.writer.peer_history("a.test", 4, 3) == PeerHistory(known, full_due=True)
    # A full reading closes the edges it no longer lists, and history shows only open ones.
    crawls.begin(T0 + 2 * DAY)
    crawls.visit(alive(peers=["d.test"], peers_visibility="public"))
    assert crawls.writer.peer_history("a.test", 4, 3) == PeerHistory(
        frozenset({"d.test"}), full_due=False
    )


def test_peer_history_of_a_domain_never_read(crawls):
    crawls.begin()
    crawls.visit(alive(peers=["b.test"], peers_visibility="restricted"))
    # Known but never read in full: the first reading must be full.
    assert crawls.writer.peer_history("b.test", 2, 5) == PeerHistory(frozenset(), full_due=True)
    assert crawls.writer.peer_history("nowhere.test", 2, 5) is None
    # A row from before the domains table (no id) has no stored list either.
    crawls.rows("INSERT INTO instances (domain, status) VALUES ('old.test', 'alive')")
    assert crawls.writer.peer_history("old.test", 2, 5) is None


def test_add_peers_skips_the_edges_already_open(crawls):
    from crawler.store.peers import add_peers

    crawls.begin()
    crawls.visit(alive(peers=["b.test", "c.test"]))
    ids = crawls.writer.ids
    added = add_peers(crawls.writer.connection, ids.id_of("a.test"),
                      [ids.id_of("c.test"), ids.id_of("b.test")], 2)  # fmt: skip
    assert added == 0
    crawls.writer.ids.ensure(["e.test", "d.test"])
    targets = [ids.id_of("e.test"), ids.id_of("c.test"), ids.id_of("d.test")]
    assert add_peers(crawls.writer.connection, ids.id_of("a.test"), targets, 2) == 2
    assert intervals(crawls) == {
        ("b.test", 1, None),
        ("c.test", 1, None),
        ("d.test", 2, None),
        ("e.test", 2, None),
    }


def test_an_unreadable_lock_file_names_nobody(tmp_path):
    import os

    from crawler.store.lock import _read

    descriptor = os.open(tmp_path, os.O_RDONLY)  # a directory: reading it fails
    try:
        assert _read(descriptor) == ""
    finally:
        os.close(descriptor)


def test_fields_a_server_left_out_are_null_and_the_rest_keep_their_form(crawls):
    crawls.begin()
    crawls.visit(
        alive(
            open_registrations=True,
            languages=["en", "de"],
            address="45.1.1.1",
            blocks_visibility="restricted",
        )
    )
    crawls.visit(alive("b.test", counts={}), hops=1)  # said nothing beyond its software
    assert crawls.rows(
        "SELECT domain, open_registrations, quality_flags, languages, address, users_total, "
        "peers_count, peers_truncated, blocks_count FROM instances ORDER BY domain"
    ) == [
        ("a.test", 1, None, '["en", "de"]', "45.1.1.1", 10, None, 0, None),
        ("b.test", None, None, None, None, None, None, 0, None),
    ]
    assert crawls.rows(
        "SELECT domain, quality_flags, languages, address, blocks_visibility FROM instance_stats "
        "ORDER BY domain"
    ) == [
        ("a.test", None, '["en", "de"]', "45.1.1.1", "restricted"),
        ("b.test", None, None, None, None),
    ]


def test_a_name_both_peered_and_blocked_was_found_by_its_block(crawls):
    crawls.begin()
    result = crawls.visit(
        alive(moved_to="new.test", peers=["x.test", "p.test"], blocks=[rule("x.test")])
    )
    assert result.new_domains == [("new.test", "redirect"), ("p.test", "peer"), ("x.test", "block")]
    assert crawls.rows(
        "SELECT domain, discovered_by FROM instances WHERE domain != 'a.test' ORDER BY domain"
    ) == [("new.test", "redirect"), ("p.test", "peer"), ("x.test", "block")]


def test_an_add_only_list_after_an_empty_one_counts_from_zero(crawls):
    crawls.begin()
    crawls.visit(alive(peers=[], peers_visibility="public"))
    crawls.finish()
    crawls.begin(T0 + DAY)
    crawls.visit(alive(peers=["b.test"], peers_added_only=True, peers_visibility="public"))
    assert crawls.rows("SELECT peers_count FROM instances WHERE domain = 'a.test'") == [(1,)]


def test_store_times_lie_within_the_call_and_add_up_per_crawl(crawls):
    import time

    crawls.begin()
    spans, results = [], []
    for observation, hops in [(alive(peers=["b.test", "c.test"]), 0), (alive("b.test"), 1)]:
        before = time.perf_counter()
        results.append(crawls.visit(observation, hops=hops))
        spans.append(time.perf_counter() - before)
    # Measured inside the call: positive and never longer than the call itself.
    for result, span in zip(results, spans, strict=True):
        assert 0 < result.store_seconds <= span
    assert 0 < results[0].peer_store_seconds <= results[0].store_seconds
    assert results[1].peer_store_seconds == 0  # no peer list read
    (stored,) = crawls.rows("SELECT store_seconds, peer_store_seconds FROM crawls")
    assert stored == pytest.approx(
        (sum(r.store_seconds for r in results), sum(r.peer_store_seconds for r in results))
    )


def test_a_batch_keeps_every_visit_but_the_one_that_cannot_be_stored(crawls, monkeypatch):
    crawls.begin()
    original = StoreWriter._record_lists

    def fail_for_bad(self, observation, *args):
        original(self, observation, *args)  # its peers got ids and edges, then it fails
        if observation.domain == "bad.test":
            raise ValueError("broken list")

    monkeypatch.setattr(StoreWriter, "_record_lists", fail_for_bad)
    batch = [
        (alive("a.test", peers=["p1.test", "p2.test"], requests=4), 0, None),
        (
            alive("bad.test", peers=["q1.test", "p2.test"], requests=8,
                  rejected_names=Counter(not_a_domain=3)),
            1,
            ("peer", "a.test"),
        ),
        (
            alive("c.test", peers=["p2.test", "q2.test"], requests=5,
                  rejected_names=Counter(not_a_domain=1)),
            1,
            ("peer", "a.test"),
        ),
    ]  # fmt: skip
    results = crawls.writer.record_visits(batch, crawls.crawl_id, crawls.now, DAY)
    assert [r.status for r in results] == ["alive", "error", "alive"]
    assert results[1].error == "ValueError: broken list" and results[0].error is None
    assert [name for name, _ in results[0].new_domains] == ["p1.test", "p2.test"]
    # q1 came only from the rolled-back visit: c's new names are q2 alone, with fresh ids.
    assert [name for name, _ in results[2].new_domains] == ["q2.test"]
    names = [row[0] for row in crawls.rows("SELECT name FROM domains ORDER BY id")]
    assert names == ["a.test", "p1.test", "p2.test", "c.test", "q2.test"]
    assert intervals(crawls, "c.test") == {("p2.test", 1, None), ("q2.test", 1, None)}
    assert crawls.rows("SELECT status FROM instances WHERE domain = 'bad.test'") == []
    # The crawl counts the stored visits only.
    assert crawls.rows("SELECT visited, alive, requests, rejected_names FROM crawls") == [
        (2, 2, 9, 1)
    ]
    assert crawls.rows("SELECT reason, count FROM rejected_names") == [("not_a_domain", 1)]
    # The writer goes on: the failed domain can be stored later.
    monkeypatch.setattr(StoreWriter, "_record_lists", original)
    assert (
        crawls.writer.record_visits(batch[1:2], crawls.crawl_id, crawls.now, DAY)[0].error is None
    )
    assert crawls.rows("SELECT status FROM instances WHERE domain = 'bad.test'") == [("alive",)]
