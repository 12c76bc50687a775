"""Session fixtures: a small demo database built by the real `fediscope demo --no-serve`, the
same database served by the real `fediscope serve`, and a headless Chromium to open its pages.

Browser tests (see tests/test_pages_browser.py) are async Playwright tests that run in the
session event loop: mark the module `pytestmark = pytest.mark.asyncio(loop_scope="session")`
and take the `browser_page` fixture.

Fetch-layer tests take `server` (a scripted loopback server, tests/fetch_harness.py) on
`clock` (a fake clock that records every politeness wait).
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.fetch_harness import FakeClock, ScriptedServer
from tests.writer_crawls import Crawls

REPO = Path(__file__).resolve().parent.parent
#: Screenshots of every page a browser test opened (git-ignored).
SCREENSHOTS = REPO / "tests" / "out"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
#: Anything a page asks for that is not this is recorded and refused.
LOOPBACK = re.compile(r"^https?://127\.0\.0\.1(:\d+)?/")


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory) -> Path:
    """The default demo world (1,000 instances) crawled and analysed by `fediscope demo`.

    Built with --quick (the servers ask for short polite waits, the crawl keeps a short gap):
    the same database without waiting out the demo's pacing. Its ground truth is beside it as
    demo.truth.json."""
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    result = subprocess.run(
        [sys.executable, "-m", "crawler", "demo", "--no-serve", "--quick", "--db", str(db)],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "built" in result.stdout
    return db


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_serving(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url + "/-/versions.json", timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


@contextmanager
def serving_command(
    arguments: list[str], cwd: Path, log: Path, env: dict[str, str] | None = None
) -> Iterator[str]:
    """A `serve` command line (`--port` added) in a child process on a free port, its output in
    `log`; yields its base URL once it answers, and stops it after."""
    port = free_port()
    with open(log, "w") as output:
        process = subprocess.Popen(
            [*arguments, "--port", str(port)],
            cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def serving(db: Path, log: Path) -> Iterator[str]:
    """`fediscope serve --db DB` in a child process on a free port; yields its base URL."""
    command = [sys.executable, "-m", "crawler", "serve", "--db", str(db)]
    with serving_command(command, REPO, log) as url:
        yield url


@pytest.fixture(scope="session")
def demo_server(demo_db, tmp_path_factory) -> Iterator[str]:
    """The real `fediscope serve --db <demo_db>` on a free port; yields its base URL."""
    with serving(demo_db, tmp_path_factory.mktemp("serve") / "serve.log") as url:
        yield url


@pytest.fixture(scope="session")
def hostile_db(demo_db, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A copy of the demo database with script and javascript: text planted where servers
    write (tests.support.plant_hostile_text); returns (path, planted domains)."""
    from tests.support import plant_hostile_text

    copy = tmp_path_factory.mktemp("hostile") / "hostile.db"
    return copy, plant_hostile_text(demo_db, copy)


@pytest.fixture(scope="session")
def hostile_server(hostile_db, tmp_path_factory) -> Iterator[str]:
    """`fediscope serve` on the hostile copy; yields its base URL."""
    with serving(hostile_db[0], tmp_path_factory.mktemp("serve") / "hostile.log") as url:
        yield url


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def chromium() -> AsyncIterator[Any]:
    """Debian's headless Chromium driven by Playwright (async API); skips if there is none."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"no Chromium at {CHROMIUM}: install Debian's (`apt-get install -y chromium`, as "
            ".ci/run does); Playwright's own browser download is never used"
        )
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class BrowserPage:
    """One browser tab on the demo server, recording what the page did."""

    page: Any
    base_url: str
    external: list[str] = field(default_factory=list)  # requests not to 127.0.0.1 (refused)
    dialogs: list[str] = field(default_factory=list)  # alert/confirm/prompt messages
    page_errors: list[str] = field(default_factory=list)  # uncaught JavaScript errors
    console_errors: list[str] = field(default_factory=list)

    async def open(self, path: str, wait_until: str = "networkidle") -> Any:
        """Go to `path` on the demo server; returns Playwright's response."""
        return await self.page.goto(self.base_url + path, wait_until=wait_until)

    async def screenshot(self, name: str) -> Path:
        """A full-page PNG under tests/out/ (named after the test's page)."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest_asyncio.fixture(loop_scope="session")
async def browser_page(chromium, demo_server) -> AsyncIterator[BrowserPage]:
    """A fresh browser context and tab (1280×900; set_viewport_size for a phone) on
    `demo_server`. Requests to anything but 127.0.0.1 are refused and recorded in `external`,
    and the test fails if there were any."""
    async for recorder in _browser_page(chromium, demo_server):
        yield recorder


@pytest_asyncio.fixture(loop_scope="session")
async def hostile_page(chromium, hostile_server) -> AsyncIterator[BrowserPage]:
    """Like browser_page, on `hostile_server` (the database with planted script text)."""
    async for recorder in _browser_page(chromium, hostile_server):
        yield recorder


async def _browser_page(chromium: Any, base_url: str) -> AsyncIterator[BrowserPage]:
    context = await chromium.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    recorder = BrowserPage(page, base_url)

    async def refuse(route: Any) -> None:
        await route.abort()  # the "request" event below has recorded it

    await context.route(lambda url: not LOOPBACK.match(url), refuse)
    page.on(
        "request",
        lambda request: (
            recorder.external.append(request.url)
            if not LOOPBACK.match(request.url)
            and urllib.parse.urlsplit(request.url).scheme not in ("data", "blob", "about")
            else None
        ),
    )

    async def dismiss(dialog: Any) -> None:
        recorder.dialogs.append(f"{dialog.type}: {dialog.message}")
        await dialog.dismiss()

    page.on("dialog", dismiss)
    page.on("pageerror", lambda error: recorder.page_errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            recorder.console_errors.append(message.text) if message.type == "error" else None
        ),
    )
    try:
        yield recorder
    finally:
        await context.close()
    external = [url for url in recorder.external if not url.startswith(("data:", "blob:"))]
    assert external == [], f"pages asked for addresses beyond 127.0.0.1: {external}"


def pytest_report_header() -> str:
    found = "found" if CHROMIUM.exists() else "missing: browser tests skip"
    return f"chromium: {CHROMIUM} {found}; screenshots: {SCREENSHOTS}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest_asyncio.fixture
async def server(clock: FakeClock) -> AsyncIterator[ScriptedServer]:
    async with ScriptedServer(clock) as running:
        yield running


@pytest.fixture
def crawls(tmp_path) -> Iterator[Crawls]:
    """A store writer on a fresh database and a clock (tests/writer_crawls.py)."""
    crawls = Crawls(tmp_path / "writer.db")
    yield crawls
    crawls.writer.close()
