"""/platforms and /map: Datasette's test client for what the pages carry, a real Chromium for
what they draw (offline, at desktop and phone width), and planted script text that must not run.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
from pathlib import Path

import pytest

from observatory.charts import CHARTS, chart_rows
from tests.small_world import build_world
from tests.support import HOSTILE_HTML, datasette_for, rows

pytestmark = pytest.mark.asyncio(loop_scope="session")

SPEC = re.compile(r'<script type="application/json" id="spec-([a-z0-9-]+)">(.*?)</script>', re.S)


def specs(html: str) -> dict[str, dict]:
    return {slug: json.loads(text) for slug, text in SPEC.findall(html)}


def expected_rows(db: Path, chart) -> list[dict]:
    connection = sqlite3.connect(db)
    try:
        return chart_rows(connection, chart)
    finally:
        connection.close()


async def test_platforms_page_carries_every_chart_with_the_databases_rows(demo_db):
    ds = await datasette_for(demo_db)
    page = await ds.client.get("/platforms")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    found = specs(page.text)
    assert list(found) == [chart.slug for chart in CHARTS]
    for chart in CHARTS:
        truth = expected_rows(demo_db, chart)
        assert found[chart.slug]["datasets"]["rows"] == truth, chart.slug
        assert f'href="/platforms/{chart.slug}.csv"' in page.text
        data = await ds.client.get(f"/platforms/{chart.slug}.csv")
        assert data.status_code == 200 and data.headers["content-type"].startswith("text/csv")
        written = list(csv.DictReader(io.StringIO(data.text)))
        assert written == [
            {k: "" if v is None else str(v) for k, v in row.items()} for row in truth
        ], chart.slug
    as_json = await ds.client.get("/platforms/concentration.json")
    assert as_json.json() == expected_rows(demo_db, CHARTS[4])
    assert (await ds.client.get("/platforms/no-such-chart.csv")).status_code == 404


async def test_map_page_carries_the_stored_layout(demo_db):
    ds = await datasette_for(demo_db)
    page = await ds.client.get("/map")
    assert page.status_code == 200
    spec = specs(page.text)["map"]
    nodes = spec["datasets"]["nodes"]
    stored = rows(demo_db, "SELECT domain, x, y FROM map_nodes ORDER BY rank")
    assert [(n["domain"], n["x"], n["y"]) for n in nodes] == [
        (r["domain"], r["x"], r["y"]) for r in stored
    ]
    assert all(n["href"].startswith("/instance?domain=") for n in nodes)
    (edges,) = rows(demo_db, "SELECT count(*) AS n FROM map_edges")
    assert len(spec["datasets"]["edges"]) == min(edges["n"], 8000)


async def test_pages_say_what_to_run_before_analyze(tmp_path):
    ds = await datasette_for(build_world(tmp_path / "raw.db"))  # crawled, never analysed
    page = await ds.client.get("/platforms")
    assert page.status_code == 200
    assert 'data-missing="platform-share"' in page.text and "fediscope analyze" in page.text
    assert "concentration" in specs(page.text)  # drawn straight from instances
    unmapped = await ds.client.get("/map")
    assert unmapped.status_code == 200 and 'id="fs-map-missing"' in unmapped.text
    assert (await ds.client.get("/platforms/platform-share.csv")).status_code == 404


async def test_planted_server_text_is_escaped_in_the_map_data(hostile_db):
    db, planted = hostile_db
    ds = await datasette_for(db)
    for path in ("/map", "/platforms"):
        page = await ds.client.get(path)
        assert page.status_code == 200
        assert "<script>alert(" not in page.text and "<img src=x" not in page.text
    spec = specs((await ds.client.get("/map")).text)["map"]
    named = {n["domain"]: n["name"] for n in spec["datasets"]["nodes"]}
    assert HOSTILE_HTML in named[planted["domain"]]  # kept as data, escaped in the page


# -- in Chromium ---------------------------------------------------------------------------

ALL_DRAWN = (
    "Array.from(document.querySelectorAll('[data-spec]'))"
    ".every(e => e.getAttribute('data-drawn') === '1')"
)
MARKS = (
    "Array.from(document.querySelectorAll('[data-spec]')).map(e => {"
    "  const svg = e.querySelector('svg');"
    "  return [e.id, svg ? svg.querySelectorAll('path, text, line').length : 0];"
    "})"
)
# A screen point inside the map circle of one server that no circle drawn after it covers,
# found from Vega's scenegraph (circles are drawn largest first, so small ones lie on top).
POINT_OF = """(domain) => {
  const view = document.getElementById('chart-map').__fsView;
  let symbols = null;
  const walk = (mark) => {
    if (mark.marktype === 'symbol' && (mark.items || []).some(i => (i.datum || {}).rank)) {
      symbols = mark; return;
    }
    for (const item of mark.items || []) for (const child of item.items || []) walk(child);
  };
  walk(view.scenegraph().root);
  const items = symbols.items;
  const index = items.findIndex(i => i.datum.domain === domain);
  const hit = items[index];
  const radius = (item) => Math.sqrt(item.size / Math.PI);
  const above = items.slice(index + 1);
  let spot = null;
  const r = radius(hit);
  for (let step = 0; step <= 6 && !spot; step++) {
    for (let turn = 0; turn < 12 && !spot; turn++) {
      const dx = Math.cos(turn * Math.PI / 6) * r * step / 7;
      const dy = Math.sin(turn * Math.PI / 6) * r * step / 7;
      const x = hit.x + dx, y = hit.y + dy;
      if (!above.some(o => (o.x - x) ** 2 + (o.y - y) ** 2 <= (radius(o) + 1) ** 2)) {
        spot = [x, y];
      }
    }
  }
  if (!spot) return null;
  let [x, y] = spot;
  let group = symbols.group;
  while (group) { x += group.x || 0; y += group.y || 0; group = group.mark && group.mark.group; }
  const [ox, oy] = view.origin();
  const box = view.container().querySelector('canvas').getBoundingClientRect();
  const pad = view.padding();
  return [box.left + pad.left + ox + x, box.top + pad.top + oy + y];
}"""

# Keep only one server's circle in the drawn map (through Vega's own data API), so the pointer
# can reach it wherever it lies.
ISOLATE = """(domain) => {
  const view = document.getElementById('chart-map').__fsView;
  const keep = view.data('nodes').filter(d => d.domain === domain);
  return view.change('nodes', vega.changeset().remove(() => true).insert(keep)).runAsync()
    .then(() => keep.length);
}"""


async def test_platforms_charts_draw_offline_at_desktop_and_phone_width(browser_page):
    page = browser_page.page
    response = await browser_page.open("/platforms")
    assert response.status == 200
    await page.wait_for_function(ALL_DRAWN, timeout=60_000)
    marks = dict(await page.evaluate(MARKS))
    assert len(marks) == len(CHARTS)
    assert all(count > 10 for count in marks.values()), marks
    await browser_page.screenshot("platforms")
    async with page.expect_download() as download:
        await page.click('[data-download="png"][data-chart="chart-concentration"]')
    png = await (await download.value).path()
    assert Path(png).read_bytes()[:4] == b"\x89PNG"
    assert (await download.value).suggested_filename == "fediscope-concentration.png"
    async with page.expect_download() as download:
        await page.click('[data-download="svg"][data-chart="chart-platform-share"]')
    assert Path(await (await download.value).path()).read_text().lstrip().startswith("<svg")
    await page.set_viewport_size({"width": 390, "height": 844})
    await browser_page.open("/platforms")
    await page.wait_for_function(ALL_DRAWN, timeout=60_000)
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the charts make a phone scroll sideways"
    await browser_page.screenshot("platforms-390px")
    assert browser_page.page_errors == [] and browser_page.console_errors == []


async def test_map_draws_toggles_block_edges_and_shows_a_server_on_hover(browser_page, demo_db):
    page = browser_page.page
    await page.set_viewport_size({"width": 1280, "height": 1600})  # the whole map on screen
    await browser_page.open("/map")
    await page.wait_for_selector('#chart-map[data-drawn="1"] canvas', timeout=60_000)
    painted = await page.evaluate(
        "(() => { const c = document.querySelector('#chart-map canvas');"
        " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 200 || d[i+1] < 200) n++;"
        " return n; })()"
    )
    assert painted > 1000, "the map canvas is empty"
    rules = (
        "(() => { let n = 0; const walk = (m) => { for (const it of m.items || []) {"
        " if (m.marktype === 'rule') n++; for (const c of it.items || []) walk(c); } };"
        " walk(document.getElementById('chart-map').__fsView.scenegraph().root); return n; })()"
    )
    for node in rows(
        demo_db, "SELECT domain, name FROM map_nodes JOIN instances USING (domain) ORDER BY rank"
    ):
        point = await page.evaluate(POINT_OF, node["domain"])
        if point:  # the largest server not hidden under smaller ones
            break
    await page.mouse.move(*point)
    tooltip = page.locator("#vg-tooltip-element")
    await tooltip.wait_for(state="visible")
    shown = await tooltip.inner_text()
    assert node["domain"] in shown and node["name"] in shown
    assert await page.evaluate(rules) == 0  # block edges are off by default
    await page.check(".vega-bind input[type=checkbox]")
    await page.wait_for_function(f"{rules} > 0")
    await browser_page.screenshot("map")
    await page.set_viewport_size({"width": 390, "height": 844})
    await browser_page.open("/map")
    await page.wait_for_selector('#chart-map[data-drawn="1"] canvas', timeout=60_000)
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await browser_page.screenshot("map-390px")
    assert browser_page.page_errors == []


async def test_planted_name_shows_as_text_in_the_map_tooltip_and_never_runs(
    hostile_page, hostile_db
):
    _db, planted = hostile_db
    page = hostile_page.page
    await page.set_viewport_size({"width": 1280, "height": 1600})
    await hostile_page.open("/map")
    await page.wait_for_selector('#chart-map[data-drawn="1"] canvas', timeout=60_000)
    await page.evaluate(ISOLATE, planted["domain"])
    await page.mouse.move(*await page.evaluate(POINT_OF, planted["domain"]))
    tooltip = page.locator("#vg-tooltip-element")
    await tooltip.wait_for(state="visible")
    assert '<script>alert("fs-script")</script>' in await tooltip.inner_text()
    assert "<script" not in await tooltip.inner_html()
    assert await page.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
    await hostile_page.screenshot("hostile-map-tooltip")
    await hostile_page.open("/platforms")
    await page.wait_for_function(ALL_DRAWN, timeout=60_000)
    assert hostile_page.dialogs == [] and hostile_page.page_errors == []
