"""Publication: Datasette over a demo database, configured from data/."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
import yaml
from datasette.app import Datasette

from observatory.who_blocks import who_blocks
from tests.support import datasette_for, truth_blockers

DATA = Path(__file__).resolve().parent.parent / "data"


def schema(db: Path) -> dict[str, list[str]]:
    connection = sqlite3.connect(db)
    try:
        names = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                "AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {
            name: [r[1] for r in connection.execute(f"PRAGMA table_info([{name}])")]
            for name in names
        }
    finally:
        connection.close()


def test_every_table_and_column_is_described(demo_db):
    metadata = yaml.safe_load((DATA / "metadata.yml").read_text())
    described = metadata["databases"]["fediverse"]["tables"]
    missing = []
    for table, columns in schema(demo_db).items():
        if table not in described or not described[table].get("description"):
            missing.append(table)
            continue
        documented = described[table].get("columns", {})
        missing += [f"{table}.{c}" for c in columns if not documented.get(c)]
    assert missing == []
    stale = set(described) - set(schema(demo_db))
    assert stale == set(), "metadata describes tables that do not exist"


def a_digest_blocked_domain(db: Path) -> str:
    connection = sqlite3.connect(db)
    try:
        row = connection.execute(
            "SELECT domain FROM blocked_domains WHERE via_digest > 0 ORDER BY blockers DESC"
        ).fetchone()
    finally:
        connection.close()
    assert row, "the demo world has no digest-matched block"
    return row[0]


@pytest.mark.asyncio(loop_scope="module")
async def test_who_blocks_canned_query_agrees_with_the_cli(demo_db):
    ds = await datasette_for(demo_db)
    domain = a_digest_blocked_domain(demo_db)
    response = await ds.client.get(f"/demo/who_blocks.json?domain={domain}&_shape=array")
    assert response.status_code == 200
    web = {(r["blocker"], r["severity_raw"], r["match"]) for r in response.json()}
    cli = {(b.blocker, b.severity_raw, b.match) for b in who_blocks(str(demo_db), domain).blockers}
    assert web == cli
    assert "digest" in {match for _, _, match in web}


@pytest.mark.asyncio(loop_scope="module")
async def test_pages_render_with_descriptions_and_escaping(demo_db, tmp_path):
    ds = await datasette_for(demo_db)
    page = await ds.client.get("/demo/instances")
    assert page.status_code == 200
    assert "lowercase IDNA A-label" in page.text  # a column description
    # Text from servers is shown escaped: plant a hostile description in a copy.
    copy = tmp_path / "demo.db"
    shutil.copy(demo_db, copy)
    connection = sqlite3.connect(copy)
    with connection:
        (domain,) = connection.execute(
            "SELECT domain FROM instances WHERE status = 'alive' LIMIT 1"
        ).fetchone()
        connection.execute(
            "UPDATE instances SET description = '<script>alert(1)</script>' WHERE domain = ?",
            (domain,),
        )
    connection.close()
    row = await (await datasette_for(copy)).client.get(f"/demo/instances?domain={domain}")
    assert row.status_code == 200
    assert "<script>alert(1)</script>" not in row.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in row.text
    about = await ds.client.get("/about")
    assert about.status_code == 200 and "User-agent: fediscope" in about.text
    index = await ds.client.get("/")
    assert "CC-BY-4.0" in index.text


@pytest.mark.asyncio(loop_scope="module")
async def test_documents_can_be_read_with_unzip(demo_db):
    ds = await datasette_for(demo_db)
    response = await ds.client.get(
        "/demo.json?sql=select+unzip(body)+as+text+from+documents+where+url+like+'%25/nodeinfo/2%25'+limit+1&_shape=array"
    )
    assert response.status_code == 200
    assert '"software"' in response.json()[0]["text"]


@pytest.mark.asyncio(loop_scope="module")
async def test_plain_datasette_on_the_configuration_directory(demo_db, tmp_path):
    config = tmp_path / "data"
    shutil.copytree(
        DATA, config, ignore=shutil.ignore_patterns("*.db", "*.db-*", "*.json.tmp", "*.truth.json")
    )
    shutil.copy(demo_db, config / "demo.db")
    ds = Datasette([], config_dir=config)
    await ds.invoke_startup()
    response = await ds.client.get("/demo/platform_share.json?_shape=array&_size=max")
    assert response.status_code == 200
    shares = {r["family"]: r["servers"] for r in response.json()}
    stored = sqlite3.connect(demo_db).execute("SELECT family, count(*) FROM instances "
        "WHERE status = 'alive' AND family IS NOT NULL GROUP BY family").fetchall()  # fmt: skip
    assert shares == dict(stored)
    page = await ds.client.get("/demo/blocks")
    assert "The server&#39;s own word (suspend, reject" in page.text  # metadata.yml applies
    digest_domain = a_digest_blocked_domain(demo_db)
    response = await ds.client.get(f"/demo/who_blocks.json?domain={digest_domain}&_shape=array")
    assert response.status_code == 200
    truth = json.loads(demo_db.with_suffix(".truth.json").read_text())
    certain = {r["blocker"] for r in response.json() if r["match"] != "candidate"}
    assert certain == truth_blockers(truth)[digest_domain]


@pytest.mark.asyncio(loop_scope="module")
async def test_documents_page_previews_answers_and_links_the_whole_text(demo_db):
    # Datasette 0.65 cannot build binary-download links for rows of a view; the plugin renders
    # stored answers itself (this page answered 500 before).
    ds = await datasette_for(demo_db)
    page = await ds.client.get("/demo/documents?url__endswith=/nodeinfo/2.0&_size=5")
    assert page.status_code == 200
    assert "whole answer" in page.text and "&#34;software&#34;" in page.text
    link = page.text.split('">whole answer')[0].rsplit('href="', 1)[1].replace("&amp;", "&")
    whole = await ds.client.get(link)
    assert whole.status_code == 200 and '"software"' in whole.json()[0]["text"]
