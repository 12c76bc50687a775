"""`StoreProcess`: the crawl's writer in one child process, called in order, closed cleanly,
and a crawl that stops with one line when that process is gone."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import time
from datetime import UTC, datetime

import pytest

from crawler.domains import SANDBOX
from crawler.engine import Crawl, CrawlError, CrawlSettings
from crawler.observation import ALIVE, Observation
from crawler.store.process import StoreProcess, StoreStopped
from crawler.store.writer import StoreWriter

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def writer_pid(writer: StoreWriter) -> int:
    return os.getpid()


SPIN = 0.3


def spin(writer: StoreWriter, seconds: float) -> None:
    """Keep the writer's process busy on the CPU for `seconds` of its own CPU time."""
    until = time.process_time() + seconds
    while time.process_time() < until:
        pass


def slow_append(writer: StoreWriter, name: str, seconds: float) -> int:
    """Append a seed after a pause; return the writer's process id."""
    time.sleep(seconds)
    writer.add_seeds([name], "seed", T0)
    return os.getpid()


def sizes(writer: StoreWriter, names: list[str]) -> tuple[int, int]:
    """How many names arrived, and their total length."""
    return len(names), sum(map(len, names))


def sleep_in_child(writer: StoreWriter, seconds: float) -> None:
    time.sleep(seconds)


def read_nowhere(writer: StoreWriter) -> None:
    writer.connection.execute("SELECT * FROM nowhere")


def die(writer: StoreWriter) -> None:
    os._exit(3)


def interrupt_self(writer: StoreWriter) -> int:
    os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C reaches the whole process group
    time.sleep(0.05)
    return os.getpid()


async def test_calls_sent_ahead_arrive_whole_and_are_answered_in_order(tmp_path):
    """Calls sent before any answer is read, one larger than a socket buffer (a batch of
    peer lists is megabytes), reach the child whole and are answered in the order sent."""
    store = await StoreProcess(str(tmp_path / "store.db"), SANDBOX).open()
    big = [f"peer{index}.example.test" for index in range(400_000)]  # about 10 MB pickled
    answers = [store.send(sizes, big), store.send(sizes, ["a.test"]), store.send(sizes, big[:7])]
    assert await asyncio.gather(*answers) == [
        (400_000, sum(map(len, big))),
        (1, 6),
        (7, sum(map(len, big[:7]))),
    ]
    await store.close()


async def test_closing_does_not_wait_for_a_child_that_stopped_reading(tmp_path):
    """A call stuck in a full socket buffer (the child busy for a minute) is given up after
    the close timeout instead of holding the crawl's end."""
    store = await StoreProcess(str(tmp_path / "store.db"), SANDBOX).open()
    store.send(sleep_in_child, 60)
    store.send(sizes, [f"peer{index}.example.test" for index in range(400_000)])
    sender = store._sender
    assert sender is not None
    try:
        await asyncio.wait_for(asyncio.to_thread(sender.close, 0.5), 20)
    finally:
        assert store._process is not None
        store._process.kill()
        await store._stop()


async def test_every_call_runs_in_order_in_one_child_process(tmp_path):
    store = await StoreProcess(str(tmp_path / "store.db"), SANDBOX).open()
    crawl_id, resumed = await store.call(StoreWriter.begin_crawl, ["a.test"], {}, T0)
    assert (crawl_id, resumed) == (1, False)
    assert await store.call(StoreWriter.add_seeds, ["b.test"], "seed", T0) == ["b.test"]
    # Calls made while the writer is busy wait for it and run in the order they were made.
    calls = [store.call(slow_append, f"s{index}.test", 0.05 * (3 - index)) for index in range(3)]
    pids = set(await asyncio.gather(*calls))
    assert len(pids) == 1 and os.getpid() not in pids
    assert pids == {await store.call(writer_pid)}
    await store.call(spin, SPIN)
    await store.close()
    assert store.peak_rss_mib is not None and store.peak_rss_mib > 0
    # The child's CPU time is reported: at least the spin it was asked for, and not ours.
    assert store.cpu_seconds is not None and SPIN <= store.cpu_seconds < SPIN + 5
    # The writer's connection was closed: its write-ahead log is folded back and gone.
    assert not (tmp_path / "store.db-wal").exists()
    connection = sqlite3.connect(tmp_path / "store.db")
    order = [row[0] for row in connection.execute("SELECT name FROM domains ORDER BY id")]
    assert order == ["b.test", "s0.test", "s1.test", "s2.test"]
    with pytest.raises(StoreStopped):
        await store.call(writer_pid)


async def test_a_store_never_opened_closes_cleanly(tmp_path):
    store = StoreProcess(str(tmp_path / "never.db"), SANDBOX)
    await store.close()
    assert store.peak_rss_mib is None
    assert not (tmp_path / "never.db").exists()


async def test_an_error_in_the_writer_comes_back_and_the_writer_goes_on(tmp_path):
    store = await StoreProcess(str(tmp_path / "store.db"), SANDBOX).open()
    with pytest.raises(sqlite3.OperationalError, match="no such table: nowhere"):
        await store.call(read_nowhere)
    assert await store.call(StoreWriter.add_seeds, ["a.test"], "seed", T0) == ["a.test"]
    await store.close()


async def test_a_store_that_cannot_open_reports_why(tmp_path):
    with pytest.raises(sqlite3.OperationalError):
        await StoreProcess(str(tmp_path / "missing" / "dir" / "x.db"), SANDBOX).open()


async def test_a_dead_store_process_is_reported_not_waited_for(tmp_path):
    store = await StoreProcess(str(tmp_path / "store.db"), SANDBOX).open()
    with pytest.raises(StoreStopped, match="store process stopped"):
        await store.call(die)
    with pytest.raises(StoreStopped):
        await store.call(writer_pid)
    await store.close()  # nothing left to close; no error


async def test_ctrl_c_does_not_stop_the_writer(tmp_path):
    store = await StoreProcess(str(tmp_path / "store.db"), SANDBOX).open()
    pid = await store.call(interrupt_self)
    assert await store.call(writer_pid) == pid
    await store.close()


async def test_a_crawl_whose_store_stops_ends_with_one_line(tmp_path, monkeypatch):
    """The engine stops at once instead of visiting on with nowhere to store (the visits would
    wait on a full queue forever)."""
    original = StoreProcess.send

    def failing(self, method, *args, **kwargs):
        if method is StoreWriter.record_visits:
            raise StoreStopped("the store process stopped (test)")
        return original(self, method, *args, **kwargs)

    async def visit(fetcher, domain, policy, discovered, history, **hooks):
        discovered([f"p{index}.test" for index in range(200)], "peer")
        return Observation(domain, status=ALIVE)

    monkeypatch.setattr(StoreProcess, "send", failing)
    monkeypatch.setattr("crawler.engine.visit_domain", visit)
    settings = CrawlSettings(
        db=str(tmp_path / "c.db"), seeds=["a.test"], via="127.0.0.1:9", progress=False
    )
    with pytest.raises(CrawlError, match=r"store process stopped.*run again to resume"):
        await asyncio.wait_for(Crawl(settings).run(), 30)


ORPHAN = """
import asyncio, os, sys
from crawler.domains import SANDBOX
from crawler.store.process import StoreProcess
from tests.test_store_process import writer_pid

async def main():
    store = await StoreProcess(sys.argv[1], SANDBOX).open()
    print(await store.call(writer_pid), flush=True)
    os.kill(os.getpid(), 9)

asyncio.run(main())
"""


def test_a_killed_crawl_leaves_no_store_process_behind(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-c", ORPHAN, str(tmp_path / "k.db")],
        capture_output=True, text=True, cwd=repo, timeout=60,
    )  # fmt: skip
    assert result.returncode == -9, result.stderr
    store_pid = int(result.stdout.split()[0])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and Path(f"/proc/{store_pid}").exists():
        time.sleep(0.05)
    assert not Path(f"/proc/{store_pid}").exists()
    # What it had committed is still there.
    connection = sqlite3.connect(tmp_path / "k.db")
    assert connection.execute("SELECT count(*) FROM domains").fetchone() == (0,)
