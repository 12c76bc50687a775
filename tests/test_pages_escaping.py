"""Text a server wrote is shown, escaped, on every page and in the Atom feed, and never runs.

A copy of the demo database gets `<script>`, an `<img onerror>` and a `javascript:` URL in a
blocked server's name, description and version and in a public block reason against it
(tests.support.plant_hostile_text). The Datasette test client checks the HTML and the feed; a
real Chromium checks that nothing runs (no dialog, no script error, no javascript: link).
"""

from __future__ import annotations

import pytest

from tests.support import HOSTILE_URL, datasette_for

pytestmark = pytest.mark.asyncio(loop_scope="session")

RAW = ("<script>alert(", "<img src=x", 'href="javascript:', "href='javascript:")


def pages(planted: dict[str, str]) -> list[str]:
    domain, blocker = planted["domain"], planted["blocker"]
    return [
        "/",
        f"/who-blocks?domain={domain}",
        f"/instance?domain={domain}",
        f"/instance?domain={blocker}",
        "/about",
    ]


async def test_hostile_text_is_escaped_on_every_page_and_in_the_feed(hostile_db):
    db, planted = hostile_db
    ds = await datasette_for(db)
    for path in pages(planted):
        page = await ds.client.get(path)
        assert page.status_code == 200, path
        for raw in RAW:
            assert raw not in page.text, (path, raw)
    who = (await ds.client.get(f"/who-blocks?domain={planted['domain']}")).text
    assert "&lt;script&gt;alert(&#34;fs-script&#34;)&lt;/script&gt;" in who  # shown, escaped
    profile = (await ds.client.get(f"/instance?domain={planted['domain']}")).text
    assert profile.count("&lt;script&gt;") >= 2  # name and description (version too)
    assert HOSTILE_URL.replace('"', "&#34;") in profile  # shown as text, not as a link
    feed = await ds.client.get(f"/hostile/block_changes.atom?domain={planted['domain']}")
    assert feed.status_code == 200
    assert "<script>" not in feed.text and "<img" not in feed.text
    assert "&lt;script&gt;alert" in feed.text
    data = (await ds.client.get(f"/who-blocks.json?domain={planted['domain']}")).json()
    assert any(b["reason"] and "<script>" in b["reason"] for b in data["blockers"])  # kept as data


async def test_nothing_planted_runs_in_the_browser(hostile_page, hostile_db):
    _, planted = hostile_db
    paths = [*pages(planted), f"/hostile/block_changes.atom?domain={planted['domain']}"]
    await hostile_page.page.add_init_script("window.__fsRan = false;")
    for path in paths:
        response = await hostile_page.open(path)
        assert response.status == 200, path
        links = await hostile_page.page.evaluate(
            "Array.from(document.querySelectorAll('a[href]'))"
            ".filter(a => a.href.trim().toLowerCase().startsWith('javascript:')).length"
        )
        assert links == 0, path
        injected = await hostile_page.page.evaluate(
            "document.querySelectorAll('img[src=\"x\"], img[onerror]').length"
        )
        assert injected == 0, path
    await hostile_page.screenshot("hostile-who-blocks")
    assert hostile_page.dialogs == []
    assert hostile_page.page_errors == []
