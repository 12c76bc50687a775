"""The /platforms charts (observatory.charts) and `fediscope charts`: their data against
hand-computed figures (tests/small_world.py after `analyze`) and against the sandbox's ground
truth."""

from __future__ import annotations

import csv
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from observatory.charts import (
    BY_SLUG,
    CHARTS,
    FAMILY_COLOURS,
    SUSPECT_FLAGS,
    chart_rows,
    half_count,
    render_charts,
)
from tests.small_world import analysed_world
from tests.support import crawler_family, rows

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    return analysed_world(tmp_path_factory.mktemp("charts") / "world.db")


def data(path: Path, slug: str) -> list[dict]:
    connection = sqlite3.connect(path)
    try:
        return chart_rows(connection, BY_SLUG[slug])
    finally:
        connection.close()


def by(rows_: list[dict], *keys: str) -> dict:
    return {tuple(r[k] for k in keys) if len(keys) > 1 else r[keys[0]]: r for r in rows_}


def test_platform_share_three_ways_by_hand(world):
    # Latest crawl (3): a 120/50 and b.ops 60/12 (mastodon), c 40/10 (misskey), e 10/2
    # (pleroma); d did not answer. Servers 4, users 230, active users 74.
    share = by(data(world, "platform-share"), "family", "measure_order")
    assert share[("mastodon", 1)]["count"] == 2 and share[("mastodon", 1)]["share_percent"] == 50
    assert share[("misskey", 1)]["share_percent"] == 25
    assert share[("mastodon", 2)]["count"] == 180
    assert share[("mastodon", 2)]["share_percent"] == pytest.approx(78.26)  # 180 / 230
    assert share[("pleroma", 2)]["share_percent"] == pytest.approx(4.35)  # 10 / 230
    assert share[("mastodon", 3)]["count"] == 62
    assert share[("mastodon", 3)]["share_percent"] == pytest.approx(83.78)  # 62 / 74
    assert share[("misskey", 3)]["share_percent"] == pytest.approx(13.51)  # 10 / 74
    assert {r["family"] for r in share.values()} == {"mastodon", "misskey", "pleroma"}


def test_small_platforms_are_drawn_together_as_other(world, tmp_path):
    copy = tmp_path / "other.db"
    with sqlite3.connect(world) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    with sqlite3.connect(copy) as connection:
        connection.execute("UPDATE platform_share SET family = 'bookwyrm' WHERE family = 'pleroma'")
        connection.execute("UPDATE platform_share SET family = 'snac' WHERE family = 'misskey'")
    share = by(data(copy, "platform-share"), "family", "measure_order")
    assert set(share) == {(f, m) for f in ("mastodon", "other") for m in (1, 2, 3)}
    assert share[("other", 1)]["count"] == 2 and share[("other", 1)]["share_percent"] == 50
    assert share[("other", 3)]["count"] == 12  # 10 + 2 active users


def test_history_has_one_point_per_crawl_and_platform(world):
    history = by(data(world, "active-users-over-time"), "crawl_id", "family")
    # crawl 1: a 40 + b 10 (mastodon), c 30 (misskey); crawl 2: a 44, c suspect (no count),
    # d 5 (lemmy); crawl 3: a 50 + b 12, c 10, e 2.
    assert history[(1, "mastodon")]["active_users"] == 50
    assert history[(1, "misskey")]["active_users"] == 30
    assert history[(2, "lemmy")]["active_users"] == 5
    assert history[(3, "mastodon")]["active_users"] == 62
    assert history[(3, "pleroma")]["active_users"] == 2
    assert history[(3, "mastodon")]["crawl_started"] == "2026-01-19T10:00:00Z"
    assert {crawl for crawl, _f in history} == {1, 2, 3}


def test_one_crawl_draws_points_not_an_empty_chart(world, tmp_path):
    copy = tmp_path / "one.db"
    with sqlite3.connect(world) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    with sqlite3.connect(copy) as connection:
        connection.execute("DELETE FROM platform_share_history WHERE crawl_id < 3")
    connection = sqlite3.connect(copy)
    _date, rendered = render_charts(connection)
    connection.close()
    chart = next(r for r in rendered if r.chart.slug == "active-users-over-time")
    assert {r["crawl_id"] for r in chart.rows} == {3}
    marks = [layer["mark"]["type"] for layer in chart.spec["vconcat"][0]["layer"]]
    assert "point" in marks  # a single crawl still shows its values
    assert "One crawl so far" in json.dumps(chart.spec["title"])


def test_concentration_curve_and_half_count_by_hand(world, tmp_path):
    # Active users at the latest crawl: a 50, b.ops 12, c 10, e 2 = 74; a alone holds 67.6 %.
    curve = data(world, "concentration")
    assert [r["servers"] for r in curve] == [1, 2, 3, 4]
    assert [r["cumulative_share_percent"] for r in curve] == [67.57, 83.78, 97.3, 100.0]
    assert half_count(curve) == 1
    (table,) = rows(
        world,
        "SELECT half_count FROM concentration WHERE crawl_id = 3 AND unit = 'server' "
        "AND measure = 'active_users'",
    )
    assert table["half_count"] == half_count(curve)
    copy = tmp_path / "suspect.db"
    with sqlite3.connect(world) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    with sqlite3.connect(copy) as connection:
        # a's count flagged as suspect: b 12 of the remaining 24 is exactly half.
        connection.execute(
            "UPDATE instances SET quality_flags = 'x,absurd_count' WHERE domain = 'a.test'"
        )
    curve = data(copy, "concentration")
    assert curve[-1]["total_active_users"] == 24
    assert [r["cumulative_share_percent"] for r in curve] == [50.0, 91.67, 100.0]
    assert half_count(curve) == 1
    assert "absurd_count" in SUSPECT_FLAGS


def test_most_blocked_by_blockers_and_by_their_users(world):
    # bad.test: a, b.ops, c in clear and e through the digest of its masked rule = 4 blockers
    # with 50 + 12 + 10 + 2 = 74 active users; d.test: a and c (60); then one blocker each.
    top = data(world, "most-blocked")
    assert [(r["domain"], r["blockers"]) for r in top[:3]] == [
        ("bad.test", 4), ("d.test", 2), ("spam.test", 1),
    ]  # fmt: skip
    assert top[0]["suspend"] == 3 and top[0]["silence"] == 1
    reach = data(world, "most-blocked-by-reach")
    assert [(r["domain"], r["blockers_active_users"]) for r in reach[:3]] == [
        ("bad.test", 74), ("d.test", 60), ("spam.test", 50),
    ]  # fmt: skip


def test_severities_by_platform_by_hand(world):
    # mastodon rules: a suspends bad and d, silences spam; b.ops suspends bad -> 3 of 4 suspend.
    # misskey (c): 9 suspend, 1 silence. pleroma (e): its one masked rule, silence.
    severities = by(data(world, "severities-by-platform"), "family", "severity")
    assert severities[("mastodon", "suspend")]["share_percent"] == 75
    assert severities[("mastodon", "silence")]["share_percent"] == 25
    assert severities[("misskey", "suspend")]["rules"] == 9
    assert severities[("misskey", "suspend")]["share_percent"] == 90
    assert severities[("pleroma", "silence")]["share_percent"] == 100


def test_block_list_visibility_labels(world, tmp_path):
    copy = tmp_path / "vis.db"
    with sqlite3.connect(world) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    with sqlite3.connect(copy) as connection:
        connection.execute(
            "UPDATE instances SET blocks_visibility = 'hidden' WHERE domain = 'b.ops.test'"
        )
        connection.execute("UPDATE instances SET blocks_visibility = NULL WHERE domain = 'e.test'")
    visibility = by(data(copy, "blocklist-visibility"), "family", "visibility")
    assert visibility[("mastodon", "read")]["servers"] == 1
    assert visibility[("mastodon", "hidden")]["share_percent"] == 50
    assert visibility[("pleroma", "not read")]["servers"] == 1
    assert ("lemmy", "read") not in visibility  # d.test did not answer the latest crawl


def test_weekly_activity_is_three_series(world, tmp_path):
    copy = tmp_path / "weekly.db"
    with sqlite3.connect(world) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    with sqlite3.connect(copy) as connection:
        connection.execute("DELETE FROM weekly_activity_totals")
        connection.execute(
            "INSERT INTO weekly_activity_totals (week, week_start, servers, statuses, logins, "
            "registrations, partial_servers, complete) VALUES "
            "('2026-01-05', 1767571200, 2, 100, 20, 3, 0, 1), "
            "('2026-01-12', 1768176000, 2, 50, 10, 1, 2, 0)"
        )
    weekly = by(data(copy, "weekly-activity"), "week", "metric_order")
    assert weekly[("2026-01-05", 1)]["count"] == 100
    assert weekly[("2026-01-05", 2)]["metric"] == "Logins per week"
    assert weekly[("2026-01-12", 3)]["count"] == 1 and weekly[("2026-01-12", 3)]["complete"] == 0


def test_every_spec_is_valid_dated_sourced_and_uses_the_fixed_palette(world):
    connection = sqlite3.connect(world)
    date, rendered = render_charts(connection, validate=True)
    connection.close()
    assert date.crawl_id == 3 and date.date == "2026-01-19"
    drawn = [r for r in rendered if r.spec]
    assert len(drawn) >= len(CHARTS) - 1  # weekly activity has no answers in this world
    for item in drawn:
        text = json.dumps(item.spec)
        assert "crawl #3 of 2026-01-19" in text, item.chart.slug
        assert "Source:" in text and "fediscope" in text, item.chart.slug
        assert item.spec["datasets"]["rows"] == item.rows
        assert "http" not in text.replace("https://vega.github.io/schema", ""), item.chart.slug
        if '"colour_group"' in text or '"field": "family"' in text:
            for scale in _scales(item.spec):
                if scale.get("domain") == list(FAMILY_COLOURS):
                    assert scale["range"] == list(FAMILY_COLOURS.values())


def _scales(node):
    if isinstance(node, dict):
        if "scale" in node and isinstance(node["scale"], dict):
            yield node["scale"]
        for key, value in node.items():
            if key != "datasets":
                yield from _scales(value)
    elif isinstance(node, list):
        for value in node:
            yield from _scales(value)


# -- against the sandbox's truth -----------------------------------------------------------


def _truth_alive(demo_db: Path) -> dict[str, dict]:
    truth = json.loads(demo_db.with_suffix(".truth.json").read_text())
    reached = {
        r["domain"] for r in rows(demo_db, "SELECT domain FROM instances WHERE status = 'alive'")
    }
    return {
        d: t
        for d, t in truth["instances"].items()
        if t["expected_status"] == "alive" and d in reached
    }


def test_sandbox_platform_share_equals_the_truth(demo_db):
    """The truth's software, counts and statuses; families from fediscope's lineage table
    (the sandbox calls a fork such as fedired its own family, fediscope counts it as misskey)."""
    alive = _truth_alive(demo_db)
    expected: dict[tuple[str, int], int] = {}
    for t in alive.values():
        family = crawler_family(t)
        if family is None:
            continue  # no platform known (not even from its APIs): not part of any share
        group = family if family in FAMILY_COLOURS else "other"
        for order, value in ((1, 1), (2, t["users_total"]), (3, t["users_active_month"])):
            expected[(group, order)] = expected.get((group, order), 0) + (value or 0)
    share = by(data(demo_db, "platform-share"), "family", "measure_order")
    assert {k: r["count"] for k, r in share.items()} == expected
    servers = sum(v for (_g, order), v in expected.items() if order == 1)
    mastodon = share[("mastodon", 1)]["share_percent"]
    assert mastodon == pytest.approx(100 * expected[("mastodon", 1)] / servers, abs=0.01)


def test_sandbox_concentration_equals_the_truth(demo_db):
    alive = _truth_alive(demo_db)
    counts = sorted(
        (
            t["users_active_month"]
            for t in alive.values()
            if (t["users_active_month"] or 0) > 0
            and not set(t["quality_flags"]) & set(SUSPECT_FLAGS)
        ),
        reverse=True,
    )
    total, running, half = sum(counts), 0, 0
    for half, count in enumerate(counts, start=1):  # noqa: B007
        running += count
        if 2 * running >= total:
            break
    curve = data(demo_db, "concentration")
    assert curve[-1]["total_active_users"] == total
    assert curve[-1]["servers"] == len(counts)
    assert half_count(curve) == half


def test_fediscope_charts_writes_images_data_and_sources(demo_db, tmp_path):
    out = tmp_path / "charts"
    result = subprocess.run(
        [sys.executable, "-m", "crawler", "charts", "--db", str(demo_db), "--out", str(out)],
        capture_output=True, text=True, timeout=600, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    connection = sqlite3.connect(demo_db)
    (crawl, day) = connection.execute(
        "SELECT id, substr(coalesce(finished_at, started_at), 1, 10) FROM crawls "
        "ORDER BY id DESC LIMIT 1"
    ).fetchone()
    sources = (out / "SOURCES.md").read_text()
    assert f"crawl #{crawl} of {day}" in sources
    for chart in CHARTS:
        expected = chart_rows(connection, chart)
        assert expected, f"{chart.slug} has no data in the demo database"
        svg = (out / f"{chart.slug}.svg").read_text()
        assert svg.startswith("<svg") and "<text" in svg and chart.title.split()[0] in svg
        png = (out / f"{chart.slug}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
        with (out / f"{chart.slug}.csv").open(newline="") as handle:
            written = list(csv.DictReader(handle))
        assert written == [
            {k: "" if v is None else str(v) for k, v in row.items()} for row in expected
        ], chart.slug
        assert chart.title in sources and f"`{chart.slug}.csv`" in sources
    connection.close()
