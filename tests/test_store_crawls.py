"""`StoreWriter` across crawls: which domains are due, exclusions, and a crawl's own row.

Hand-built Observations stored crawl after crawl with an explicit clock (tests/writer_crawls.py),
compared with hand-built expectations.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from crawler.domains import SANDBOX
from crawler.fetch import errors
from crawler.observation import Document, Observation
from crawler.store.writer import StoreWriter
from tests.writer_crawls import DAY, HOUR, T0, WEEK, Crawls, alive, intervals, rule

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
