"""The pages in a real browser: Debian's Chromium on `fediscope serve` over the demo database.

Every page is opened, screenshotted under tests/out/, and must ask for nothing beyond
127.0.0.1 (the browser_page fixture fails the test otherwise).
"""

from __future__ import annotations

import pytest

from tests.support import rows

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
