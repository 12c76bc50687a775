"""The pages through Datasette's test client, answers compared with the sandbox's truth."""

from __future__ import annotations

import csv
import io
import re
import sqlite3

import pytest
from datasette.app import Datasette

from observatory import site
from observatory.profile import profile
from observatory.who_blocks import block_changes
from tests.support import (
    CONTRACT_FLAGS,
    REPO,
    crawled_alive,
    datasette_for,
    plainly_blocked_domain,
    true_blocks,
    truth_of,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


def attributes(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</(p|table|dl|ul)>', html, re.S)
    assert match, f"no #{element_id}"
    return match.group(0)


def blocker_rows(html: str) -> set[tuple[str, str]]:
    table = attributes(html, "fs-blockers")
    return set(re.findall(r'<tr data-blocker="([^"]+)" data-match="([^"]+)">', table))


async def test_home_page_numbers_equal_the_truth(demo_db):
    truth = truth_of(demo_db)
    alive = crawled_alive(truth, demo_db)
    page = await (await datasette_for(demo_db)).client.get("/")
    assert page.status_code == 200
    numbers = {
        key: int(value.replace(",", ""))
        for key, value in re.findall(r'data-key="(\w+)">([\d,]+)<', page.text)
    }
    assert numbers["servers_alive"] == len(alive)
    assert numbers["users"] == sum(e["users_total"] or 0 for e in alive.values())
    assert numbers["active_users"] == sum(e["users_active_month"] or 0 for e in alive.values())
    # The sandbox's family names are its own (it calls a Misskey fork by its name), so the
    # platform count is bounded by the truth and the largest platform's servers must agree.
    families = [e["family"] for e in alive.values()]
    assert 1 < numbers["platforms"] <= len(set(families))
    largest = max(set(families), key=families.count)
    row = re.search(rf"<tr><td>{largest}</td><td class=\"fs-num\">([\d,]+)<", page.text)
    assert row and int(row.group(1).replace(",", "")) == families.count(largest)
    public = sum(e["blocks_visibility"] == "public" for e in alive.values())
    unreadable = sum(
        e["blocks_visibility"] in ("restricted", "hidden", "disallowed", "error")
        for e in alive.values()
    )
    assert (numbers["lists_read"], numbers["lists_not_readable"]) == (public, unreadable)
    for entry in ("Platform share (for articles)", "Who blocks my server?", "Explore with SQL"):
        assert entry in page.text
    for link in ('href="/map"', 'href="/about"', 'href="/demo/exclusions"', 'href="/demo"'):
        assert link in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")


async def test_who_blocks_names_exactly_the_true_blockers(demo_db):
    truth = truth_of(demo_db)
    domain = plainly_blocked_domain(truth, demo_db)
    expected = true_blocks(truth, demo_db, domain)
    alive = crawled_alive(truth, demo_db)
    ds = await datasette_for(demo_db)
    page = await ds.client.get(f"/who-blocks?domain={domain}")
    assert page.status_code == 200
    certain = {b for b, match in blocker_rows(page.text) if match != "candidate"}
    assert certain == set(expected)
    users = sum(alive[b]["users_active_month"] or 0 for b in expected)
    headline = attributes(page.text, "fs-headline")
    assert f"{len(expected):,} servers with {users:,} active users block {domain}:" in headline
    counted = headline.split(":", 1)[1].split(".", 1)[0]  # what follows is the masked maybes
    severities = re.findall(r"(\d+) (suspend|silence|\w+)", counted)
    strongest = {b: sorted(r["severity"] for r in rules) for b, rules in expected.items()}
    assert sum(int(n) for n, _ in severities) == len(strongest)
    assert "select " not in page.text.lower().split("show the sql")[0]  # no SQL unless asked
    # The same answer as JSON and CSV.
    data = (await ds.client.get(f"/who-blocks.json?domain={domain}")).json()
    assert {b["blocker"] for b in data["blockers"] if b["match"] != "candidate"} == set(expected)
    assert data["headline"] in headline
    table = list(
        csv.DictReader(io.StringIO((await ds.client.get(f"/who-blocks.csv?domain={domain}")).text))
    )
    assert {r["blocker"] for r in table if r["match"] != "candidate"} == set(expected)
    assert {(r["blocker"], r["severity_raw"]) for r in table} >= {
        (b, r["severity_raw"]) for b, rules in expected.items() for r in rules
    }


async def test_coverage_per_reason_equals_the_truth(demo_db):
    truth = truth_of(demo_db)
    alive = crawled_alive(truth, demo_db)
    domain = plainly_blocked_domain(truth, demo_db)
    page = await (await datasette_for(demo_db)).client.get(f"/who-blocks?domain={domain}")
    coverage = attributes(page.text, "fs-coverage")
    shown = {
        reason: (int(lists), int(users))
        for reason, lists, users in re.findall(
            r'data-reason="(\w+)" data-lists="(\d+)" data-users="(\d+)"', coverage
        )
    }
    for reason in ("restricted", "hidden", "disallowed", "error", "unsupported"):
        servers = [e for e in alive.values() if e["blocks_visibility"] == reason]
        assert shown[reason] == (
            len(servers),
            sum(e["users_active_month"] or 0 for e in servers),
        ), reason
    read = [e for e in alive.values() if e["blocks_visibility"] == "public"]
    assert f'data-lists-read="{len(read)}"' in coverage
    assert (
        f"({sum(e['users_active_month'] or 0 for e in read):,} active users behind them)"
        in coverage
    )


async def test_changes_and_the_atom_feed_match_the_truth(demo_db):
    truth = truth_of(demo_db)
    domain = plainly_blocked_domain(truth, demo_db)
    public = {
        d for d, e in crawled_alive(truth, demo_db).items() if e["blocks_visibility"] == "public"
    }
    words = {"block_added": "added", "block_removed": "removed"}
    expected = {
        (c["domain"], words.get(c["change"], "changed"))
        for c in truth["changes"]
        if c.get("pattern") == domain and c["domain"] in public
    }
    assert expected, "the chosen domain has a change between the crawls"
    connection = sqlite3.connect(f"file:{demo_db}?mode=ro", uri=True)
    changes = block_changes(connection, domain)
    connection.close()
    assert {(c.blocker, c.event) for c in changes if not c.first_observation} == expected
    ds = await datasette_for(demo_db)
    page = await ds.client.get(f"/who-blocks?domain={domain}")
    shown = set(re.findall(r'<tr data-blocker="([^"]+)" data-event="(\w+)">', page.text))
    assert shown == {(c.blocker, c.event) for c in changes}
    assert f'href="/demo/block_changes.atom?domain={domain}"' in page.text
    feed = await ds.client.get(f"/demo/block_changes.atom?domain={domain}")
    assert feed.status_code == 200 and feed.text.startswith("<?xml")
    ids = re.findall(r"<id>urn:fediscope:block-event:(\d+):", feed.text)
    assert sorted(map(int, ids)) == sorted(c.id for c in changes)
    quiet = await ds.client.get("/demo/block_changes.atom?domain=nobody-blocks-this.test")
    assert quiet.status_code == 200 and "has changed yet" in quiet.text


async def test_invalid_and_unknown_domains_get_a_sentence(demo_db):
    ds = await datasette_for(demo_db)
    for path in ("/who-blocks", "/instance"):
        bad = await ds.client.get(f"{path}?domain=not+a+domain%2Fat+all")
        assert bad.status_code == 400
        assert "is not a domain name" in bad.text and "Traceback" not in bad.text
        json_bad = await ds.client.get(f"{path}.json?domain=http://x")
        assert json_bad.status_code == 400 and "error" in json_bad.json()
        empty = await ds.client.get(path)
        assert empty.status_code == 200 and "<form" in empty.text
    unknown = await ds.client.get("/who-blocks?domain=never-seen-here.test")
    assert unknown.status_code == 200
    assert "No block list that fediscope could read blocks never-seen-here.test" in unknown.text
    assert 'id="fs-unknown"' in unknown.text
    missing = await ds.client.get("/instance?domain=never-seen-here.test")
    assert missing.status_code == 404 and "has never seen never-seen-here.test" in missing.text


async def test_instance_page_equals_the_truth(demo_db):
    truth = truth_of(demo_db)
    alive = crawled_alive(truth, demo_db)
    domain = plainly_blocked_domain(truth, demo_db)
    entry = truth["instances"][domain]
    ds = await datasette_for(demo_db)
    page = await ds.client.get(f"/instance?domain={domain}")
    assert page.status_code == 200
    data = (await ds.client.get(f"/instance.json?domain={domain}")).json()
    for key in ("software", "version", "users_total", "users_active_month", "family"):
        assert data["instance"][key] == entry[key], key
    assert set(data["flags"]) & CONTRACT_FLAGS == set(entry["quality_flags"])
    listers = {d for d, e in alive.items() if domain in e["peers"] and d != domain}
    assert data["listed_by"] == len(listers)
    assert {name for name, _ in data["listed_by_sample"]} <= listers
    assert data["blockers"] == len(true_blocks(truth, demo_db, domain))
    assert len(data["history"]) == 2  # the demo crawls twice
    kinds = {d["kind"] for d in data["documents"]}
    assert {"nodeinfo", "robots"} <= kinds
    for document in data["documents"]:
        assert f'href="/demo/documents?id={document["id"]}"' in page.text
    assert 'id="fs-history-chart"' in page.text and "vega-embed.min.js" in page.text
    assert f"{entry['users_active_month']:,} active users" in attributes(page.text, "fs-headline")


async def test_serving_is_read_only_limited_and_without_facet_suggestions(demo_db):
    ds = await datasette_for(demo_db)
    assert ds.setting("suggest_facets") is False
    assert 0 < ds.setting("sql_time_limit_ms") <= 5000
    assert 0 < ds.setting("max_returned_rows") <= 1000
    database = ds.get_database("demo")

    def write(connection: sqlite3.Connection) -> None:
        connection.execute("DELETE FROM crawls")

    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        await site.run_on(ds, database, write)

    def slow(connection: sqlite3.Connection) -> None:
        connection.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
        ).fetchone()

    with pytest.raises(site.TooSlow):
        await site.run_on(ds, database, slow)
    refused = await ds.client.get("/demo.json?sql=delete+from+crawls")
    assert refused.status_code == 400


async def test_pages_work_under_plain_datasette_and_pick_the_database(demo_db, tmp_path):
    import shutil

    config = tmp_path / "data"
    shutil.copytree(
        REPO / "data", config, ignore=shutil.ignore_patterns("*.db", "*.db-*", "*.truth.json")
    )
    shutil.copy(demo_db, config / "demo.db")
    shutil.copy(demo_db, config / "other.db")
    ds = Datasette([], config_dir=config)
    await ds.invoke_startup()
    home = await ds.client.get("/")
    css = "/-/static-plugins/fediscope/fediscope.css"
    assert home.status_code == 200 and f'href="{css}"' in home.text
    vega = await ds.client.get("/-/static-plugins/fediscope/vendor/vega-embed.min.js")
    assert vega.status_code == 200
    chosen = await ds.client.get("/?db=other")
    assert 'href="/other"' in chosen.text and 'href="/who-blocks?db=other"' in chosen.text
    truth = truth_of(demo_db)
    domain = plainly_blocked_domain(truth, demo_db)
    answer = await ds.client.get(f"/who-blocks.json?domain={domain}&db=other")
    assert {b["blocker"] for b in answer.json()["blockers"]} >= set(
        true_blocks(truth, demo_db, domain)
    )
    connection = sqlite3.connect(f"file:{demo_db}?mode=ro", uri=True)
    assert profile(connection, domain).known
    connection.close()


async def test_the_cli_gives_the_pages_answers(demo_db):
    import json
    import subprocess
    import sys

    ds = await datasette_for(demo_db)
    domain = plainly_blocked_domain(truth_of(demo_db), demo_db)

    def cli(*arguments: str) -> dict:
        result = subprocess.run(
            [sys.executable, "-m", "crawler", *arguments, "--db", str(demo_db), "--json"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return json.loads(result.stdout)

    page = (await ds.client.get(f"/instance.json?domain={domain}")).json()
    assert cli("profile", domain) == page
    who = (await ds.client.get(f"/who-blocks.json?domain={domain}")).json()
    assert cli("who-blocks", domain) == who
    home = (await ds.client.get("/")).text
    summary = cli("summary")
    assert f'data-key="servers_alive">{summary["servers_alive"]:,}<' in home


async def test_blockers_that_stopped_answering_are_marked(demo_db, tmp_path):
    import shutil

    copy = tmp_path / "demo.db"
    shutil.copy(demo_db, copy)
    truth = truth_of(demo_db)
    domain = plainly_blocked_domain(truth, demo_db)
    gone = sorted(true_blocks(truth, demo_db, domain))[0]
    connection = sqlite3.connect(copy)
    with connection:
        connection.execute("UPDATE instances SET status = 'unreachable' WHERE domain = ?", (gone,))
    connection.close()
    page = await (await datasette_for(copy)).client.get(f"/who-blocks?domain={domain}")
    assert "1 of them did not answer in the last crawl." in attributes(page.text, "fs-headline")
    row = page.text.split(f'<tr data-blocker="{gone}"', 1)[1].split("</tr>", 1)[0]
    assert "unreachable now" in row


async def test_mutual_blocks_are_marked(demo_db):
    truth = truth_of(demo_db)
    alive = crawled_alive(truth, demo_db)
    public = {d: e for d, e in alive.items() if e["blocks_visibility"] == "public"}

    def clear_targets(domain: str) -> set[str]:
        return {r["true_domain"] for r in public[domain]["blocks"] if r["kind"] == "clear"}

    pairs = sorted(
        (a, b)
        for a in public
        for b in clear_targets(a)
        if b in public
        and a in clear_targets(b)
        and all(r["kind"] == "clear" for r in public[a]["blocks"])  # only names in clear
    )
    assert pairs, "the demo world has no pair of servers blocking each other in clear"
    domain, other = pairs[0]
    page = await (await datasette_for(demo_db)).client.get(f"/who-blocks?domain={domain}")
    rows = dict(
        re.findall(r'<tr data-blocker="([^"]+)" data-match="[^"]+">(.*?)</tr>', page.text, re.S)
    )
    assert "mutual" in rows[other]
    marked = {b for b, row in rows.items() if ">mutual<" in row}
    assert marked == set(rows) & clear_targets(domain)
