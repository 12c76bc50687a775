"""`StoreWriter` fed hand-built Observations, crawl after crawl, compared with hand-built tables.

What the sandbox crawls pin slowly (peer intervals, block history, 304 carry-over, validators,
the stats runs, what a visit records), pinned here in milliseconds: every visit is an
`Observation` written by the writer the crawler uses, with an explicit clock
(tests/writer_crawls.py). Due domains, exclusions and a crawl's own row: test_store_crawls.py.
"""

from __future__ import annotations

from collections import Counter

import pytest

from crawler.fetch import errors
from crawler.observation import Document, Observation, PeerHistory
from crawler.store.writer import StoreWriter
from tests.writer_crawls import DAY, HOUR, T0, alive, crawl_counts, intervals, rule

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


def test_stored_bodies_are_the_big_answers_of_each_domains_last_visit(crawls):
    import hashlib
    import zlib

    def page(domain: str, body: bytes) -> Document:
        return Document.keep(f"https://{domain}/p", 200, "t", "application/json", body)

    def digest(body: bytes) -> bytes:
        return hashlib.sha256(body).digest()

    old, big, small, other = b"o" * 100, b"b" * 100, b"s" * 99, b"x" * 100
    crawls.begin()
    crawls.visit(alive(documents=[page("a.test", old)]))
    crawls.visit(alive("b.test", documents=[page("b.test", other)]), hops=1)
    crawls.finish()
    crawls.begin(T0 + DAY)
    crawls.visit(alive(documents=[page("a.test", big), page("a.test", small)]))
    crawls.finish()
    # a.test's first answer is not what its last visit got; b.test was not visited since.
    assert crawls.writer.load_stored_bodies(100) == {digest(big), digest(other)}

    # A later visit given the same body sends only its digest: the log row moves on and
    # points at the body stored the first time.
    crawls.begin(T0 + 2 * DAY)
    again = page("a.test", big).stored_as(hashlib.sha256(big).hexdigest())
    crawls.visit(alive(documents=[again]))
    crawls.finish()
    rows = crawls.rows(
        "SELECT crawl_id, last_crawl_id, body FROM documents "
        "WHERE domain = 'a.test' AND size = 100 ORDER BY id"
    )
    assert [(first, last, zlib.decompress(body)) for first, last, body in rows] == [
        (1, 1, old),
        (2, 3, big),
    ]


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
    assert crawls.writer.peer_history("a.test", 2, 2) == PeerHistory(listed=2, full_due=False)
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
    assert crawls.writer.peer_history("a.test", 3, 3) == PeerHistory(3, full_due=False)
    assert crawls.writer.peer_history("a.test", 4, 3) == PeerHistory(3, full_due=True)
    page = ["e.test", "c.test", "new.test", "b.test", "a.test", "d.test"]
    assert crawls.writer.unlisted_peers("a.test", page) == ["e.test", "new.test", "a.test"]
    # A full reading closes the edges it no longer lists; only open ones count as listed.
    crawls.begin(T0 + 2 * DAY)
    crawls.visit(alive(peers=["d.test"], peers_visibility="public"))
    assert crawls.writer.peer_history("a.test", 4, 3) == PeerHistory(1, full_due=False)
    assert crawls.writer.unlisted_peers("a.test", page) == [
        "e.test", "c.test", "new.test", "b.test", "a.test"
    ]  # fmt: skip
    # Another server's list is not this one's; a server without an id lists nothing.
    assert crawls.writer.unlisted_peers("b.test", ["d.test"]) == ["d.test"]
    assert crawls.writer.unlisted_peers("nowhere.test", ["d.test"]) == ["d.test"]
    assert crawls.writer.unlisted_peers("a.test", []) == []


def test_peer_history_of_a_domain_never_read(crawls):
    crawls.begin()
    crawls.visit(alive(peers=["b.test"], peers_visibility="restricted"))
    # Known but never read in full: the first reading must be full.
    assert crawls.writer.peer_history("b.test", 2, 5) == PeerHistory(0, full_due=True)
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
