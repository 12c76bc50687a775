"""kill -9 in the middle of a crawl, run it again: the result equals an uninterrupted crawl, and
no domain the killed crawl had finished is fetched again (the sandbox counts requests per host).

The kill does not depend on timing: the sandbox runs in this test's event loop, so between the
moment the test sees enough finished domains and the kill no request is answered, and what the
database holds at the kill is exactly what the resumed crawl must not fetch again."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from pathlib import Path

from crawler.sandbox import Sandbox, SandboxConfig
from tests.support import PATIENT, QUICK_PACE, crawl_via, rows

#: Hanging hosts drop the connection after a second, and both crawls wait for answers far
#: longer than any answering host needs (PATIENT), so that load on the machine cannot make one
#: crawl find a host alive that the other gave up on.
WORLD = {"instances": 300, "seed": 11, "pace": QUICK_PACE, "hang_seconds": 1.0}
KILL_AFTER = 40


def crawl_command(port: int, db: Path, seeds: list[str]) -> list[str]:
    seed_args = [arg for seed in seeds for arg in ("--seed", seed)]
    return [
        sys.executable, "-m", "crawler", "crawl", "--db", str(db), "--via", f"127.0.0.1:{port}",
        "--min-gap", "0.02", "--timeout", str(PATIENT["total_timeout"]), "--no-progress",
        *seed_args,
    ]  # fmt: skip


def finished_domains(db: Path) -> set[str]:
    """Domains whose visit is committed in the (only) crawl."""
    try:
        connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            found = connection.execute("SELECT domain FROM instances WHERE last_crawl_id = 1")
            return {row[0] for row in found}
        finally:
            connection.close()
    except sqlite3.Error:
        return set()


def snapshot(db: Path) -> dict[str, set]:
    """What a crawl produced, minus timestamps and the farm hosts chosen by arrival order."""
    farm = "spamfarm.test"
    return {
        "instances": {
            (r["domain"], r["status"], r["status_reason"], r["software"], r["users_total"])
            for r in rows(db, "SELECT * FROM instances")
            if not r["domain"].endswith(farm)
        },
        "peers": {
            (r["source"], r["target"])
            for r in rows(db, "SELECT source, target FROM peer_edges")
            if not r["source"].endswith(farm)
        },
        "blocks": {
            (r["blocker"], r["blocked_pattern"], r["severity_raw"], r["reason"], r["active"])
            for r in rows(db, "SELECT * FROM blocks")
        },
        "crawls": {(r["id"], r["status"]) for r in rows(db, "SELECT id, status FROM crawls")},
    }


async def test_kill_9_then_resume_equals_an_uninterrupted_crawl(tmp_path):
    sandbox = Sandbox(SandboxConfig(**WORLD))
    port = await sandbox.start()
    interrupted = tmp_path / "interrupted.db"
    try:
        process = await asyncio.create_subprocess_exec(
            *crawl_command(port, interrupted, sandbox.seeds),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            cwd=Path(__file__).parent.parent,
        )
        while len(finished_domains(interrupted)) < KILL_AFTER:
            assert process.returncode is None, "the crawl ended before it could be killed"
            await asyncio.sleep(0.05)
        # No await between the check and the kill: the sandbox answers nothing in between.
        os.kill(process.pid, signal.SIGKILL)
        await process.wait()
        finished = finished_domains(interrupted)
        assert len(finished) >= KILL_AFTER
        status = rows(interrupted, "SELECT status FROM crawls")
        assert status == [{"status": "running"}], "the crawl was not killed in the middle"
        requests_before = dict(sandbox.stats.requests)
        assert all(requests_before.get(domain, 0) > 0 for domain in finished)
        resumed = await asyncio.create_subprocess_exec(
            *crawl_command(port, interrupted, sandbox.seeds),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=Path(__file__).parent.parent,
        )
        out, err = await resumed.communicate()
        assert resumed.returncode == 0, err.decode()
        assert "(resumed)" in out.decode()
        fetched_again = {
            domain: sandbox.stats.requests[domain] - requests_before[domain]
            for domain in finished
            if sandbox.stats.requests[domain] != requests_before[domain]
        }
        assert fetched_again == {}, "the resumed crawl fetched finished domains again"
        assert sandbox.stats.total > sum(requests_before.values()), "the resume fetched nothing"
    finally:
        await sandbox.stop()

    fresh = Sandbox(SandboxConfig(**WORLD))
    port = await fresh.start()
    reference = tmp_path / "reference.db"
    try:
        await crawl_via(port, reference, fresh.seeds, min_gap=0.02, **PATIENT)
    finally:
        await fresh.stop()

    got, want = snapshot(interrupted), snapshot(reference)
    assert got["crawls"] == want["crawls"] == {(1, "finished")}
    assert got["instances"] == want["instances"]
    assert got["peers"] == want["peers"]
    assert got["blocks"] == want["blocks"]
