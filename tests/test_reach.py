"""`fediscope reach`: the library, the CLI and the canned query, by hand and against the truth."""

from __future__ import annotations

import importlib.util
import json
import sqlite3
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from crawler.blocks import digest_of
from crawler.cli import cli
from graph.analyze import analyze
from observatory.reach import reach
from tests.small_world import build_world

REPO = Path(__file__).resolve().parent.parent


def reach_in(db: Path, domain: str):
    """`reach` on a read-only connection to `db`, as the CLI runs it."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return reach(connection, domain)
    finally:
        connection.close()


def canned(db: Path, domain: str) -> dict[str, dict]:
    """The `reach` canned query of data/metadata.yml, with the Datasette plugin's functions."""
    spec = importlib.util.spec_from_file_location("plugin", REPO / "observatory/plugin/sql.py")
    plugin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plugin)
    metadata = yaml.safe_load((REPO / "data/metadata.yml").read_text())
    sql = metadata["databases"]["fediverse"]["queries"]["reach"]["sql"]
    connection = sqlite3.connect(db)
    plugin.prepare_connection(connection)
    connection.row_factory = sqlite3.Row
    try:
        return {r["family"]: dict(r) for r in connection.execute(sql, {"domain": domain})}
    finally:
        connection.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    db = build_world(tmp_path_factory.mktemp("reach") / "world.db")
    connection = sqlite3.connect(db)
    # Everyone lists bad.test; a, b and c suspend it, e silences it through a digest rule.
    bad = connection.execute("SELECT id FROM domains WHERE name = 'bad.test'").fetchone()[0]
    for source in range(1, 6):
        connection.execute("INSERT INTO peer_intervals VALUES (?, ?, 1, NULL)", (source, bad))
    connection.execute("UPDATE instances SET blocks_visibility = 'hidden' WHERE domain = 'e.test'")
    connection.execute("UPDATE instances SET peers_visibility = 'hidden' WHERE domain = 'c.test'")
    connection.commit()
    connection.close()
    analyze(str(db))
    return db


def test_reach_by_hand(world):
    answer = reach_in(world, "BAD.test")
    total = answer.total
    # e (pleroma, 10 users, 2 active) federates, silencing; d is not alive.
    assert (total.reaching.servers, total.reaching.users, total.reaching.active_users) == (1, 10, 2)
    assert total.limiting.servers == 1 and total.reaching_blocks_unreadable.servers == 1
    # a (50), b (12), c (10) suspend; c's peer list is hidden but its block list is known.
    assert (total.suspending.servers, total.suspending.active_users) == (3, 72)
    assert total.peers_unreadable.servers == 0
    by_family = {f.family: f for f in answer.families}
    assert by_family["mastodon"].suspending.servers == 2
    assert by_family["pleroma"].reaching.servers == 1
    # The reach of a.test: b lists it (and suspends nothing of a); c's list is hidden.
    other = reach_in(world, "a.test").total
    assert (other.reaching.servers, other.peers_unreadable.servers) == (1, 1)


def test_canned_query_agrees_with_the_library(world):
    for domain in ("bad.test", "a.test", "nobody.test"):
        answer = reach_in(world, domain)
        rows = canned(world, domain)
        assert set(rows) == {f.family for f in answer.families}
        for f in answer.families:
            row = rows[f.family]
            assert (row["reaching_servers"], row["reaching_users"], row["reaching_active_users"],
                    row["reaching_limiting"], row["reaching_blocks_unreadable"],
                    row["suspending_servers"], row["suspending_active_users"],
                    row["unknown_servers"], row["unknown_active_users"]) == (
                f.reaching.servers, f.reaching.users, f.reaching.active_users,
                f.limiting.servers, f.reaching_blocks_unreadable.servers,
                f.suspending.servers, f.suspending.active_users,
                f.peers_unreadable.servers, f.peers_unreadable.active_users)  # fmt: skip


def test_cli_text_and_json(world):
    runner = CliRunner()
    result = runner.invoke(cli, ["reach", "bad.test", "--db", str(world), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["total"]["suspending"]["servers"] == 3
    assert "1 servers federate with it" in data["summary"]
    text = runner.invoke(cli, ["reach", "bad.test", "--db", str(world)])
    assert text.exit_code == 0 and "pleroma" in text.output
    bad = runner.invoke(cli, ["reach", "not a domain", "--db", str(world)])
    assert bad.exit_code != 0


def test_reach_matches_the_sandbox_truth(demo_db):
    truth = json.loads(demo_db.with_suffix(".truth.json").read_text())["instances"]
    alive = {
        d: t
        for d, t in truth.items()
        if t["expected_status"] == "alive" and t["hops"] is not None and not t["farm"]
    }
    listed: dict[str, int] = {}
    for t in alive.values():
        for peer in t.get("peers") or ():
            listed[peer] = listed.get(peer, 0) + 1
    # A list that became unreadable keeps its last-known rules in the store; the truth only
    # knows the current epoch, so those servers' domains are left out of the comparison.
    connection = sqlite3.connect(demo_db)
    stale: set[str] = set()
    for blocker, blocked, digest in connection.execute(
        "SELECT blocker, blocked, blocked_digest FROM blocks WHERE active = 1"
    ):
        if truth.get(blocker, {}).get("blocks_visibility") != "public":
            stale |= {blocked, digest}
    connection.close()
    checked = 0
    for domain in sorted(listed, key=lambda d: (-listed[d], d))[:40]:
        rules = [
            r
            for t in alive.values()
            for r in t.get("blocks") or ()
            if domain == r["true_domain"] or domain.endswith("." + r["true_domain"])
        ]
        if any(r["kind"] != "clear" or r["true_domain"] != domain for r in rules):
            continue  # masked, wildcard and parent rules are checked by the who-blocks tests
        if {domain, digest_of(domain)} & stale:
            continue
        suspenders = {d for d, t in alive.items()
                      for r in t.get("blocks") or () if r["true_domain"] == domain
                      and r["severity"] == "suspend"}  # fmt: skip
        reaching = {d for d, t in alive.items() if domain in (t.get("peers") or ())} - suspenders
        reaching.discard(domain)
        answer = reach_in(demo_db, domain).total
        assert answer.suspending.servers == len(suspenders - {domain}), domain
        assert answer.reaching.servers == len(reaching), domain
        users = sum(alive[d]["users_active_month"] or 0 for d in reaching)
        assert answer.reaching.active_users == users, domain
        checked += 1
    assert checked >= 10


@pytest.mark.asyncio(loop_scope="module")
async def test_canned_queries_run_in_datasette(demo_db):
    from tests.support import datasette_for

    ds = await datasette_for(demo_db)
    connection = sqlite3.connect(demo_db)
    (domain,) = connection.execute(
        "SELECT domain FROM blocked_reach WHERE family = 'all' "
        "ORDER BY servers_suspending DESC, domain LIMIT 1"
    ).fetchone()
    connection.close()
    response = await ds.client.get(f"/demo/reach.json?domain={domain}&_shape=array")
    assert response.status_code == 200
    web = {r["family"]: r["suspending_servers"] for r in response.json()}
    answer = reach_in(demo_db, domain)
    assert web == {f.family: f.suspending.servers for f in answer.families}
    ranked = await ds.client.get("/demo/most_blocked_three_ways.json?_shape=array")
    assert ranked.status_code == 200 and len(ranked.json()) > 0
