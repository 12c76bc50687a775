"""/blocklists and the who-blocks "also on" line in Chromium, on a copy of the demo database
with two lists imported: `own-list`, the clear rules of the demo server that publishes the most
(so that server must show as covering 100% of it), and `wide-list`, the names blocked by at least
two servers plus names nobody blocks."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from crawler.importer import import_blocklist
from graph.analyze import analyze
from tests.conftest import _browser_page, serving

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(scope="module")
def lists_db(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    work = tmp_path_factory.mktemp("blocklists")
    db = work / "lists.db"
    shutil.copy(demo_db, db)
    connection = sqlite3.connect(db)
    (owner,) = connection.execute(
        "SELECT b.blocker FROM blocks b JOIN instances i ON i.domain = b.blocker "
        "WHERE b.active = 1 AND b.blocked IS NOT NULL AND i.status = 'alive' "
        "AND i.blocks_visibility = 'public' GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
    ).fetchone()
    own = [
        name
        for (name,) in connection.execute(
            "SELECT DISTINCT blocked FROM blocks WHERE blocker = ? AND active = 1 "
            "AND blocked IS NOT NULL AND blocked != ? ORDER BY 1",
            (owner, owner),
        )
    ]
    wide = [
        name
        for (name,) in connection.execute(
            "SELECT domain FROM blocked_domains WHERE blockers >= 2 ORDER BY 1 LIMIT 200"
        )
    ]
    connection.close()
    (work / "own.csv").write_text("domain\n" + "\n".join(own) + "\n")
    (work / "wide.csv").write_text("domain\n" + "\n".join([*wide, "nobody-blocks.test"]) + "\n")
    import_blocklist(str(db), str(work / "own.csv"), "own-list")
    import_blocklist(str(db), str(work / "wide.csv"), "wide-list")
    analyze(str(db))
    return db, owner


@pytest.fixture(scope="module")
def lists_server(lists_db, tmp_path_factory) -> Iterator[str]:
    with serving(lists_db[0], tmp_path_factory.mktemp("serve") / "lists.log") as url:
        yield url


@pytest_asyncio.fixture(loop_scope="session")
async def lists_page(chromium, lists_server) -> AsyncIterator:
    async for recorder in _browser_page(chromium, lists_server):
        yield recorder


async def test_blocklists_page_shows_the_adopters(lists_page, lists_db):
    db, owner = lists_db
    connection = sqlite3.connect(db)
    stored = {
        source: (n90, n50)
        for source, n90, n50 in connection.execute(
            "SELECT source, servers_90, servers_50 FROM shared_list_summary"
        )
    }
    connection.close()
    page = lists_page.page
    response = await lists_page.open("/blocklists")
    assert response.status == 200
    await page.wait_for_selector('#chart-shared-list-adoption[data-drawn="1"] svg', timeout=20000)
    shown = await page.eval_on_selector_all(
        "#fs-lists tr[data-list]",
        "rows => rows.map(r => [r.dataset.list, +r.getAttribute('data-servers-90'), "
        "+r.getAttribute('data-servers-50')])",
    )
    assert {name: (n90, n50) for name, n90, n50 in shown} == stored
    owner_row = page.locator(f'table[data-list="own-list"] tr[data-server="{owner}"]')
    assert "100 %" in await owner_row.inner_text(), "a server covers all of its own rules"
    await lists_page.screenshot("blocklists")
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.reload(wait_until="networkidle")
    await page.wait_for_selector('#chart-shared-list-adoption[data-drawn="1"] svg', timeout=20000)
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await lists_page.screenshot("blocklists-390px")
    csv = await page.request.get(lists_page.base_url + await page.get_attribute("#fs-csv", "href"))
    text = await csv.text()
    assert text.startswith("list,band,band_order,servers") and "own-list" in text
    assert lists_page.page_errors == [] and lists_page.dialogs == []


async def test_who_blocks_says_which_shared_lists_name_the_domain(lists_page, lists_db):
    db, _owner = lists_db
    connection = sqlite3.connect(db)
    (domain,) = connection.execute(
        "SELECT domain FROM blocked_domains WHERE blockers >= 2 ORDER BY 1 LIMIT 1"
    ).fetchone()
    connection.close()
    await lists_page.open(f"/who-blocks?domain={domain}")
    line = await lists_page.page.inner_text("#fs-shared-lists")
    assert line.startswith("also on shared lists:") and "wide-list (" in line
    await lists_page.screenshot("who-blocks-shared-lists")
