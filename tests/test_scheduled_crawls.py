"""Scheduled crawls beside a running server: one writer job per database (a lock a crash
releases too), and Datasette answering without errors while a crawl and an analyze write."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from crawler.sandbox.process import sandbox_process
from crawler.store.lock import lock_path
from tests.support import QUICK_PACE

REPO = Path(__file__).resolve().parent.parent
FEDISCOPE = [sys.executable, "-m", "crawler"]
#: The sandbox process asks for short Crawl-delays and Retry-After (none of this is about pacing).
QUICK = ["--pace", str(QUICK_PACE)]


def run(*arguments: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*FEDISCOPE, *arguments], capture_output=True, text=True, cwd=REPO, timeout=timeout
    )


def wait_for(condition, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


def copy_database(source: Path, target: Path) -> None:
    with sqlite3.connect(source) as old, sqlite3.connect(target) as new:
        old.backup(new)


def integrity(db: Path) -> str:
    with sqlite3.connect(db) as connection:
        return connection.execute("PRAGMA integrity_check").fetchone()[0]


def test_second_crawl_exits_at_once_and_a_killed_holder_releases_the_lock(tmp_path):
    db = tmp_path / "locked.db"
    with sandbox_process(["--instances", "150", "--seed", "3", *QUICK], cwd=REPO) as sandbox:
        seeds = [f"--seed={seed}" for seed in sandbox.seeds]
        # A slow crawl (5 s between requests to a host) holds the lock long enough to be caught.
        holder = subprocess.Popen(
            [*FEDISCOPE, "crawl", "--db", str(db), "--via", sandbox.address, *seeds,
             "--min-gap", "5", "--no-progress"],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            lock = lock_path(str(db))
            wait_for(lambda: lock.exists() and lock.read_text().startswith("fediscope crawl"),
                     "the first crawl to take the lock")  # fmt: skip
            second = run("crawl", "--db", str(db), "--via", sandbox.address, *seeds, timeout=60)
            assert second.returncode != 0
            message = second.stderr.strip()
            assert "\n" not in message, message
            assert f"is in use by fediscope crawl (pid {holder.pid}," in message
            busy = run("analyze", "--db", str(db), timeout=60)
            assert busy.returncode != 0
            assert f"in use by fediscope crawl (pid {holder.pid}," in busy.stderr
            assert holder.poll() is None, "the holder finished before it could be killed"
            os.kill(holder.pid, signal.SIGKILL)
            holder.wait(timeout=30)
        finally:
            if holder.poll() is None:
                holder.kill()
                holder.wait()
        # (what the resumed crawl found is not asserted: a short timeout spares the wait on
        # the world's hanging hosts)
        resumed = run("crawl", "--db", str(db), "--via", sandbox.address, *seeds,
                      "--min-gap", "0", "--timeout", "2", "--no-progress")  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert "(resumed)" in resumed.stdout
    assert integrity(db) == "ok"
    assert run("analyze", "--db", str(db)).returncode == 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Reader(threading.Thread):
    """Asks the server a round of pages again and again, counting answers and errors."""

    def __init__(self, base: str, paths: list[str]) -> None:
        super().__init__(daemon=True)
        self.base, self.paths = base, paths
        self.answers: list[tuple[float, str]] = []
        self.errors: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for path in self.paths:
                try:
                    with urllib.request.urlopen(self.base + path, timeout=60) as response:
                        body = json.loads(response.read())
                    if response.status != 200 or ("rows" not in body and "tables" not in body):
                        self.errors.append(f"{path}: {response.status} {str(body)[:200]}")
                    else:
                        self.answers.append((time.monotonic(), path))
                except Exception as exc:  # every failure is a finding
                    detail = exc.read()[:300] if hasattr(exc, "read") else b""
                    self.errors.append(f"{path}: {exc!r} {detail!r}")

    def answered_between(self, start: float, end: float) -> int:
        return sum(1 for at, _ in self.answers if start <= at <= end)


def test_serve_answers_without_errors_while_a_crawl_and_an_analyze_write(demo_db, tmp_path):
    db = tmp_path / "live.db"
    copy_database(demo_db, db)
    port = free_port()
    server = subprocess.Popen(
        [*FEDISCOPE, "serve", "--db", str(db), "--port", str(port)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/live"
    paths = [
        ".json",
        "/instances.json?_size=20&_sort_desc=users_total",
        "/instance_stats.json?_size=20&crawl_id__gte=1",
        "/platform_share.json",
        "/blocked_domains.json?_size=20&_sort_desc=blockers",
        "/block_edges.json?_size=20",
        "/peer_edges.json?_size=20",
        "/block_events.json?_size=20&_sort_desc=id",
        "/most_blocked.json",
        "/block_list_coverage.json",
        "/crawls.json",
    ]
    reader = Reader(base, paths)
    try:

        def up() -> bool:
            try:
                with urllib.request.urlopen(base + ".json", timeout=5):
                    return True
            except OSError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                return False

        wait_for(up, "fediscope serve to answer")
        reader.start()
        # The demo world one epoch later: every known server is due and many things changed.
        # Its writes come as fast as the sandbox answers (a short gap, short polite waits):
        # the readers see them densest. What is asserted is the readers' answers, not what the
        # crawl found, so a short timeout only shortens the wait on the world's hanging hosts.
        with sandbox_process(
            ["--instances", "1000", "--seed", "1", "--epoch", "2", *QUICK], cwd=REPO
        ) as sandbox:
            started = time.monotonic()
            crawled = run("crawl", "--db", str(db), "--via", sandbox.address,
                          *[f"--seed={s}" for s in sandbox.seeds], "--concurrency", "128",
                          "--min-gap", "0.02", "--timeout", "2", "--recrawl-after", "0",
                          "--no-progress")  # fmt: skip
            crawl_window = (started, time.monotonic())
        assert crawled.returncode == 0, crawled.stderr
        started = time.monotonic()
        for _ in range(3):
            analyzed = run("analyze", "--db", str(db))
            assert analyzed.returncode == 0, analyzed.stderr
        analyze_window = (started, time.monotonic())
    finally:
        reader.stop.set()
        reader.join(timeout=120)
        server.terminate()
        server.wait(timeout=30)
    assert reader.errors == []
    assert reader.answered_between(*crawl_window) > 0
    assert reader.answered_between(*analyze_window) > 0
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT count(*) FROM crawls").fetchone()[0] == 3
    assert integrity(db) == "ok"


@pytest.mark.parametrize("job", ["crawl", "analyze"])
def test_the_lock_message_is_one_line_in_process(tmp_path, job):
    """The library raises DatabaseBusy while another holder (here: this test) has the lock."""
    from crawler.engine import CrawlSettings, crawl
    from crawler.store.lock import DatabaseBusy, database_lock
    from graph.analyze import analyze

    db = str(tmp_path / "x.db")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from crawler.store.lock import database_lock\n"
         f"with database_lock({db!r}, 'test'):\n    print('held', flush=True); time.sleep(600)"],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(DatabaseBusy, match=r"in use by fediscope test \(pid \d+"):
            if job == "crawl":
                crawl(CrawlSettings(db=db, seeds=["a.test"], via="127.0.0.1:9"))
            else:
                analyze(db)
    finally:
        holder.kill()
        holder.wait()
    with database_lock(db, "after"):
        pass
