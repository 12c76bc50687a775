"""Shared block list adoption against a hand-computed small world (tests/small_world.py).

The list `tier0` below has six matchable entries and one masked entry:
bad.test, spam.test, d.test, *.evil.test (wide), sub.farm.test, a.test; `b*d.test` (masked).
Readable servers in crawl 3: a.test, b.ops.test (mastodon), c.test (misskey), e.test (pleroma).
"""

from __future__ import annotations

import json
import sqlite3
from hashlib import sha256
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from crawler.cli import cli
from crawler.importer import import_blocklist
from graph.analyze import analyze
from observatory.blocklists import blocklists
from observatory.dataset import export_dataset
from observatory.who_blocks import format_answer, who_blocks
from tests.small_world import build_world

TIER0 = (
    "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\n"
    "bad.test,suspend,false,false,,false\n"
    "spam.test,suspend,false,false,,false\n"
    "d.test,silence,false,false,,false\n"
    "*.evil.test,suspend,false,false,,false\n"
    "sub.farm.test,suspend,false,false,,false\n"
    "a.test,suspend,false,false,,false\n"
    "b*d.test,suspend,false,false,,true\n"
)


def _rule(blocker: str, pattern: str, kind: str, blocked: str | None, digest: str | None) -> str:
    digest_sql = f"'{sha256(digest.encode()).hexdigest()}'" if digest else "NULL"
    blocked_sql = f"'{blocked}'" if blocked else "NULL"
    return (
        "INSERT INTO blocks (blocker, blocked, blocked_pattern, blocked_digest, kind, severity, "
        f"severity_raw, first_crawl, last_crawl, active) VALUES ('{blocker}', {blocked_sql}, "
        f"'{pattern}', {digest_sql}, '{kind}', 'suspend', 'suspend', 3, 3, 1)"
    )


#: Added to the small world's rules (each comment: which entry it covers, for whom).
EXTRA_RULES = [
    # a.test (mastodon): a parent rule with its digest covers sub.farm.test; evil.test in clear
    # covers *.evil.test because Mastodon blocks cover subdomains.
    _rule("a.test", "farm.test", "clear", "farm.test", "farm.test"),
    _rule("a.test", "evil.test", "clear", "evil.test", "evil.test"),
    # b.ops.test: a suffix rule over the whole `test` zone covers all six entries.
    _rule("b.ops.test", "*.test", "suffix", None, None),
    # c.test (misskey): evil.test and farm.test in clear do NOT cover *.evil.test or
    # sub.farm.test (Misskey blocks are not read as covering subdomains); spam.test does.
    _rule("c.test", "evil.test", "clear", "evil.test", None),
    _rule("c.test", "farm.test", "clear", "farm.test", None),
    _rule("c.test", "spam.test", "clear", "spam.test", None),
    # e.test (pleroma): a wildcard covers *.evil.test; a masked name without digest is only a
    # candidate for spam.test and covers nothing.
    _rule("e.test", "*.evil.test", "wildcard", None, None),
    _rule("e.test", "s**m.test", "masked", None, None),
]

#: (entries, covered) by hand:
#: a.test: 6 entries minus its own name = 5; bad, spam, d (exact), *.evil (exact on a
#:   subdomain-covering platform), sub.farm (parent) -> 5 of 5.
#: b.ops.test: 6 of 6 through *.test.
#: c.test: bad, d, spam (exact) -> 3 of 6.
#: e.test: bad (digest of its masked rule), *.evil (wildcard) -> 2 of 6.
EXPECTED = {
    "a.test": (5, 5, 1.0),
    "b.ops.test": (6, 6, 1.0),
    "c.test": (6, 3, 0.5),
    "e.test": (6, 2, 0.333333),
}


def _execute(db: Path, *statements: str) -> None:
    connection = sqlite3.connect(db)
    for statement in statements:
        connection.execute(statement)
    connection.commit()
    connection.close()


def _query(db: Path, sql: str, *args: object) -> list[tuple]:
    connection = sqlite3.connect(db)
    try:
        return connection.execute(sql, args).fetchall()
    finally:
        connection.close()


def _next_crawl(db: Path, crawl: int, *changes: str) -> None:
    _execute(
        db,
        "INSERT INTO crawls (id, started_at, finished_at, status, seeds) VALUES "
        f"({crawl}, '2026-01-{crawl + 20}T10:00:00Z', NULL, 'finished', '[]')",
        *changes,
    )
    analyze(str(db))


@pytest.fixture
def world(tmp_path: Path) -> Path:
    db = build_world(tmp_path / "world.db")
    _execute(db, *EXTRA_RULES)
    csv_file = tmp_path / "tier0.csv"
    csv_file.write_text(TIER0)
    import_blocklist(str(db), str(csv_file), "tier0")
    analyze(str(db))
    return db


def test_coverage_per_server_is_the_hand_computed_truth(world: Path) -> None:
    rows = _query(
        world, "SELECT server, entries, covered, coverage, crawl_id FROM shared_list_adoption"
    )
    assert {r[0]: r[1:4] for r in rows} == EXPECTED, "d.test is unreachable: no row"
    assert {r[4] for r in rows} == {3}


def test_summary_counts_adopters_and_their_active_users(world: Path) -> None:
    (row,) = _query(
        world,
        "SELECT crawl_id, crawl_date, entries, masked_entries, entries_published, servers, "
        "active_users, servers_90, active_users_90, servers_50, active_users_50, "
        "servers_90_change, servers_50_change FROM shared_list_summary WHERE source = 'tier0'",
    )
    # active users: a 50, b 12, c 10, e 2; >= 90%: a, b; >= 50%: a, b, c (0.5 counts).
    assert row == (3, "2026-01-19", 6, 1, 6, 4, 74, 2, 62, 3, 72, None, None)


def test_adoption_history_grows_only_with_change(world: Path) -> None:
    analyze(str(world))  # the same crawl again: nothing new
    _next_crawl(world, 4)  # nothing changed
    _next_crawl(world, 5, "UPDATE blocks SET active = 0 WHERE blocker = 'c.test' "
                "AND blocked_pattern = 'spam.test'")  # fmt: skip
    runs = _query(
        world,
        "SELECT server, covered, first_crawl, last_crawl FROM shared_list_adoption_runs "
        "ORDER BY server, first_crawl",
    )
    assert runs == [
        ("a.test", 5, 3, 5),
        ("b.ops.test", 6, 3, 5),
        ("c.test", 3, 3, 4),
        ("c.test", 2, 5, 5),
        ("e.test", 2, 3, 5),
    ]
    summary = _query(
        world,
        "SELECT crawl_id, servers_50, servers_50_change, servers_90_change "
        "FROM shared_list_summary ORDER BY crawl_id",
    )
    assert summary == [(3, 3, None, None), (4, 3, 0, 0), (5, 2, -1, 0)]


def test_a_crawl_skipped_by_analyze_breaks_the_run(world: Path) -> None:
    _execute(world, "UPDATE instances SET status = 'unreachable' WHERE domain = 'e.test'")
    _next_crawl(world, 4)
    _next_crawl(world, 5, "UPDATE instances SET status = 'alive' WHERE domain = 'e.test'")
    runs = _query(
        world,
        "SELECT first_crawl, last_crawl FROM shared_list_adoption_runs WHERE server = 'e.test' "
        "ORDER BY first_crawl",
    )
    assert runs == [(3, 3), (5, 5)], "e.test's list was not read in crawl 4"


def test_who_blocks_names_the_shared_lists_and_their_adopters(world: Path) -> None:
    answer = who_blocks(str(world), "bad.test")
    # blockers: a.test, b.ops.test, c.test (clear), e.test (digest); adopters >= 90%: a, b.
    assert [
        (s.source, s.pattern, s.match, s.blockers, s.adopters) for s in answer.shared_lists
    ] == [("tier0", "bad.test", "exact", 4, 2)]
    assert "also on shared lists: tier0 (2 of the 4 servers blocking it" in format_answer(answer)
    assert answer.to_dict()["shared_lists"][0]["adopters"] == 2


def test_who_blocks_shared_list_wildcards_and_masks(world: Path) -> None:
    # sub.evil.test: a.test (parent on Mastodon), b.ops.test (*.test), e.test (*.evil.test);
    # c.test's evil.test does not cover subdomains on Misskey.
    (shared,) = who_blocks(str(world), "sub.evil.test").shared_lists
    assert (shared.pattern, shared.match, shared.blockers, shared.adopters) == (
        "*.evil.test",
        "wildcard",
        3,
        2,
    )
    # The list's masked entry b*d.test may mean bed.test: it is no evidence.
    assert who_blocks(str(world), "bed.test").shared_lists == []
    # spam.test: a.test, b.ops.test (*.test) and c.test block it; c.test covers only 50%.
    assert (
        who_blocks(str(world), "spam.test")
        .to_dict()["shared_lists_line"]
        .startswith("also on shared lists: tier0 (2 of the 3")
    )


GARDEN = "domain\nbad.test\nspam.test\nother.test\n"


def test_blocklists_answer_adoption_overlap_and_adopters(world: Path, tmp_path: Path) -> None:
    garden = tmp_path / "garden.csv"
    garden.write_text(GARDEN)
    import_blocklist(str(world), str(garden), "garden")
    analyze(str(world))
    result = blocklists(str(world))
    # garden (bad, spam, other): a.test 2/3, b.ops.test 3/3 (*.test), c.test 2/3, e.test 1/3.
    by_list = {
        s.source: (s.entries, s.masked_entries, s.servers_90, s.servers_50) for s in result.lists
    }
    assert by_list == {"garden": (3, 0, 1, 3), "tier0": (6, 1, 2, 3)}
    assert [(r["list"], r["band"], r["servers"], r["active_users"]) for r in result.chart_rows] == [
        ("garden", "at least 90%", 1, 12),
        ("garden", "50% to 90%", 2, 60),
        ("tier0", "at least 90%", 2, 62),
        ("tier0", "50% to 90%", 1, 10),
    ]
    # bad.test and spam.test are on both: 2 of garden's 3 rows, 2 of tier0's 7 (mask included).
    assert [
        (r["list"], r["other_list"], r["shared_entries"], r["share_percent"])
        for r in result.overlap
    ] == [
        ("garden", "tier0", 2, 66.7),
        ("tier0", "garden", 2, 28.6),
    ]
    assert [(a.server, a.coverage) for a in result.adopters if a.source == "tier0"] == [
        ("a.test", 1.0),
        ("b.ops.test", 1.0),
        ("c.test", 0.5),
    ]
    spec = result.chart
    assert spec is not None and "How many servers publish" in str(spec["title"])
    assert "crawl #3 of 2026-01-19" in str(spec)
    out = CliRunner().invoke(cli, ["blocklists", "--db", str(world)])
    assert out.exit_code == 0 and "tier0: 6 entries (1 masked" in out.output
    assert "2 cover >= 90% (62 active users)" in out.output


def test_a_bad_import_file_is_refused_and_keeps_the_stored_list(
    world: Path, tmp_path: Path
) -> None:
    before = _query(world, "SELECT * FROM imported_blocks ORDER BY blocked_pattern")
    broken = tmp_path / "broken.csv"
    for content, message in (
        (b"domain,severity\ndni.invalid,suspend\nx.test,explode\n", "no rule in"),
        (b"\xff\xfe\x00b\x00a\x00d", "not UTF-8"),
        (b"", "empty"),
    ):
        broken.write_bytes(content)
        out = CliRunner().invoke(
            cli, ["import-blocklist", str(broken), "--source", "tier0", "--db", str(world)]
        )
        assert out.exit_code != 0 and message in str(out.output) + str(out.exception)
        assert _query(world, "SELECT * FROM imported_blocks ORDER BY blocked_pattern") == before


def test_the_dataset_exports_the_adoption_tables(world: Path, tmp_path: Path) -> None:
    export_dataset(str(world), str(tmp_path / "dataset"))
    adoption = pq.read_table(tmp_path / "dataset" / "shared_list_adoption.parquet").to_pylist()
    assert {r["server"]: r["covered"] for r in adoption} == {
        server: covered for server, (_entries, covered, _coverage) in EXPECTED.items()
    }
    summary = pq.read_table(tmp_path / "dataset" / "shared_list_summary.parquet").to_pylist()
    assert [(r["source"], r["servers_90"]) for r in summary] == [("tier0", 2)]
    package = json.loads((tmp_path / "dataset" / "datapackage.json").read_text())
    described = {r["name"]: r for r in package["resources"]}
    assert "shared_list_adoption_runs" in described


def test_a_list_of_masked_names_only_has_no_entries(world: Path, tmp_path: Path) -> None:
    masked = tmp_path / "masked.csv"
    masked.write_text("domain\nb*d.test\ns**m.test\n")
    import_blocklist(str(world), str(masked), "masked-only")
    analyze(str(world))
    rows = _query(
        world, "SELECT DISTINCT entries, covered, coverage FROM shared_list_adoption "
        "WHERE source = 'masked-only'"
    )  # fmt: skip
    assert rows == [(0, 0, 0.0)]
    assert _query(world, "SELECT count(*) FROM shared_list_adoption WHERE source = 'tier0'") == [
        (4,)
    ]
