"""An installed fediscope serves the observatory without the checkout.

The wheel is built from the checkout and installed into a fresh venv in a temporary folder.
Its dependencies are pre-seeded from the test venv (linked, never fediscope itself: the
checkout's editable install is left out), and pip must find every one it requires among them
with no index. There, `fediscope demo --no-serve` builds a small database, and both
`fediscope serve` and plain `datasette DB` must serve every page, its JSON and CSV, a chart's
data, the Atom feed and every file the pages load, with the database's own numbers.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
import sysconfig
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import serving_command
from tests.support import REPO

#: What the test venv has that the fresh one must not see: fediscope itself, editable or not
#: (a linked package folder would also let the install write through the link).
CHECKOUT_ONLY = re.compile(
    r"^(__editable__.*fediscope.*|fediscope-.*\.dist-info|__pycache__|crawler|graph|observatory)$"
)


def run(arguments: list[str], cwd: Path, timeout: float = 180) -> str:
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    result = subprocess.run(
        arguments, cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{arguments} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv (outside the checkout) with the wheel installed; returns its bin folder."""
    where = tmp_path_factory.mktemp("wheel")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(where), str(REPO)],
        cwd=where)  # fmt: skip
    (wheel,) = where.glob("fediscope-*.whl")
    venv = where / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=where)
    bin_dir = venv / "bin"
    code = "import sysconfig; print(sysconfig.get_path('purelib'))"
    fresh = Path(run([str(bin_dir / "python"), "-c", code], cwd=where).strip())
    ours = Path(sysconfig.get_path("purelib"))
    for entry in ours.iterdir():
        if not CHECKOUT_ONLY.match(entry.name) and not (fresh / entry.name).exists():
            (fresh / entry.name).symlink_to(entry)
    run([sys.executable, "-m", "pip", "--python", str(bin_dir / "python"), "install", "-q",
         "--no-index", "--no-compile", str(wheel)], cwd=where)  # fmt: skip
    code = "import observatory.plugin as p; print(p.__file__)"
    located = run([str(bin_dir / "python"), "-c", code], cwd=where)
    assert Path(located.strip()).is_relative_to(venv), "fediscope was not imported from the wheel"
    return bin_dir


@pytest.fixture(scope="module")
def demo(installed, tmp_path_factory) -> Path:
    """`fediscope demo --no-serve` run by the installed fediscope, in a folder of its own."""
    home = tmp_path_factory.mktemp("elsewhere")
    output = run([str(installed / "fediscope"), "demo", "--no-serve", "--quick",
                  "--instances", "40", "--crawls", "1", "--db", "observatory.db"],
                 cwd=home)  # fmt: skip
    assert "built" in output
    return home / "observatory.db"


@contextmanager
def serving(arguments: list[str], cwd: Path) -> Iterator[str]:
    """The installed command serving, without this checkout on PYTHONPATH."""
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    log = cwd / f"serve-{Path(arguments[0]).name}.log"
    with serving_command(arguments, cwd, log, environment) as url:
        yield url


def get(url: str) -> tuple[int, str, str]:
    """(status, content type, body) of a GET."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            body = response.read().decode("utf-8", errors="replace")
            return response.status, response.headers.get("content-type", ""), body
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("content-type", ""), error.read().decode()


def check_observatory(base: str, db: Path) -> None:
    """Every page and its data from `base`, against the database's own numbers."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    (alive,) = connection.execute(
        "SELECT count(*) FROM instances WHERE status = 'alive'"
    ).fetchone()
    domain, blockers = connection.execute(
        "SELECT blocked, count(DISTINCT blocker) FROM blocks WHERE active = 1 "
        "AND blocked NOT LIKE '%*%' GROUP BY blocked ORDER BY 2 DESC, 1 LIMIT 1"
    ).fetchone()
    clear_blockers = {
        row[0]
        for row in connection.execute(
            "SELECT DISTINCT blocker FROM blocks WHERE active = 1 AND blocked = ?", (domain,)
        )
    }
    connection.close()
    assert blockers > 0
    query = urllib.parse.urlencode({"domain": domain})
    pages: dict[str, str] = {}
    for path in ("/", "/platforms", f"/who-blocks?{query}", "/blocklists", f"/instance?{query}",
                 "/map", "/about"):  # fmt: skip
        status, kind, body = get(base + path)
        assert status == 200 and kind.startswith("text/html"), (path, status, body[:300])
        pages[path] = body
    home = pages["/"]
    tile = re.search(r'data-key="servers_alive">([\d,]+)<', home)
    assert tile and int(tile.group(1).replace(",", "")) == alive
    assert "How this data was gathered" in pages["/about"]
    # Every stylesheet, script and image a page loads is served (static files, vendored Vega).
    loaded = {
        src
        for body in pages.values()
        for src in re.findall(r'(?:src|href)="(/[^"]*\.(?:js|css|png|svg))"', body)
    }
    assert any("vega.min.js" in src for src in loaded) and any(".css" in s for s in loaded)
    for src in loaded:
        assert get(base + src)[0] == 200, src
    # who-blocks: the page, its JSON and CSV name every blocker whose rule names the domain.
    status, _, body = get(f"{base}/who-blocks.json?{query}")
    answer = json.loads(body)
    assert status == 200 and {b["blocker"] for b in answer["blockers"]} >= clear_blockers
    status, kind, body = get(f"{base}/who-blocks.csv?{query}")
    assert status == 200 and "csv" in kind
    assert {row["blocker"] for row in csv.DictReader(io.StringIO(body))} >= clear_blockers
    assert all(blocker in pages[f"/who-blocks?{query}"] for blocker in clear_blockers)
    status, _, body = get(f"{base}/blocklists.json")
    assert status == 200 and "lists" in json.loads(body)
    status, _, body = get(f"{base}/instance.json?{query}")
    assert status == 200 and json.loads(body)["domain"] == domain
    # A chart's data: the rows the /platforms page says it draws.
    slug = re.search(r'href="/platforms/([a-z0-9-]+)\.csv"', pages["/platforms"]).group(1)
    status, kind, body = get(f"{base}/platforms/{slug}.csv")
    assert status == 200 and "csv" in kind and len(body.splitlines()) > 1
    status, _, body = get(f"{base}/platforms/{slug}.json")
    assert status == 200 and json.loads(body)
    # The Atom feed of block changes the who-blocks page links.
    feed = re.search(
        r'type="application/atom\+xml"[^>]*href="([^"]+)"', pages[f"/who-blocks?{query}"]
    )
    status, kind, body = get(base + feed.group(1).replace("&amp;", "&"))
    assert status == 200 and "xml" in kind and 'xmlns="http://www.w3.org/2005/Atom"' in body


def test_fediscope_serve_from_the_wheel(installed, demo):
    with serving([str(installed / "fediscope"), "serve", "--db", str(demo)], demo.parent) as url:
        check_observatory(url, demo)


def test_plain_datasette_with_fediscope_installed(installed, demo):
    with serving([str(installed / "python"), "-m", "datasette", "serve", str(demo)],
                 demo.parent) as url:  # fmt: skip
        check_observatory(url, demo)
        _, _, body = get(f"{url}/-/settings.json")
        assert json.loads(body)["sql_time_limit_ms"] == 3000  # the observatory's, not 1000
