"""The pages in a real browser: Debian's Chromium on `fediscope serve` over the demo database.

Every page is opened, screenshotted under tests/out/, and must ask for nothing beyond
127.0.0.1 (the browser_page fixture fails the test otherwise).
"""

from __future__ import annotations

import pytest

from tests.support import plainly_blocked_domain, rows, true_blocks, truth_of

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_home_page_shows_the_databases_numbers(browser_page, demo_db):
    response = await browser_page.open("/")
    assert response.status == 200
    (alive,) = rows(demo_db, "SELECT count(*) AS n FROM instances WHERE status = 'alive'")
    tile = browser_page.page.locator('[data-key="servers_alive"]')
    assert (await tile.inner_text()).replace(",", "") == str(alive["n"])
    for entry in ("Platform share (for articles)", "Who blocks my server?", "Explore with SQL"):
        assert await browser_page.page.get_by_role("link", name=entry).count() == 1
    await browser_page.screenshot("home")
    await browser_page.page.set_viewport_size({"width": 390, "height": 844})
    width = await browser_page.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the home page scrolls sideways on a phone"
    await browser_page.screenshot("home-390px")
    assert browser_page.page_errors == [] and browser_page.dialogs == []


async def test_who_blocks_page_names_the_true_blockers(browser_page, demo_db):
    truth = truth_of(demo_db)
    domain = plainly_blocked_domain(truth, demo_db)
    expected = set(true_blocks(truth, demo_db, domain))
    page = browser_page.page
    await browser_page.open("/")
    await page.fill('input[name="domain"]', domain)
    await page.click('form.fs-form button[type="submit"]')
    await page.wait_for_selector("#fs-headline")
    assert page.url.endswith(f"/who-blocks?domain={domain}")  # a shareable URL
    certain = await page.eval_on_selector_all(
        '#fs-blockers tr[data-blocker]:not([data-match="candidate"])',
        "rows => rows.map(r => r.dataset.blocker)",
    )
    assert set(certain) == expected
    headline = await page.inner_text("#fs-headline")
    assert headline.startswith(f"{len(expected):,} servers with ")
    assert await page.locator("details.fs-sql pre").count() == 0
    await browser_page.screenshot("who-blocks")
    await page.set_viewport_size({"width": 390, "height": 844})
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await browser_page.screenshot("who-blocks-390px")
    feed = await page.get_attribute("#fs-feed", "href")
    response = await browser_page.open(feed)
    assert response.status == 200 and "atom" in response.headers["content-type"] + feed
    assert browser_page.page_errors == [] and browser_page.dialogs == []


async def test_instance_page_draws_its_chart(browser_page, demo_db):
    truth = truth_of(demo_db)
    domain = plainly_blocked_domain(truth, demo_db)
    page = browser_page.page
    response = await browser_page.open(f"/instance?domain={domain}")
    assert response.status == 200
    await page.wait_for_selector('#fs-history-chart[data-drawn="1"] svg', timeout=20000)
    marks = await page.locator(
        "#fs-history-chart svg path, #fs-history-chart svg .mark-symbol path"
    ).count()
    assert marks > 0, "the users chart drew nothing"
    users = truth["instances"][domain]["users_active_month"]
    assert f"{users:,} active users" in await page.inner_text("#fs-headline")
    await browser_page.screenshot("instance")
    await page.set_viewport_size({"width": 390, "height": 844})
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await browser_page.screenshot("instance-390px")
    assert browser_page.page_errors == [] and browser_page.dialogs == []


async def test_invalid_domain_shows_a_sentence(browser_page):
    response = await browser_page.open("/who-blocks?domain=https://x/y z")
    assert response.status == 400
    assert "is not a domain name" in await browser_page.page.inner_text("#fs-problem")
    await browser_page.screenshot("who-blocks-invalid")
