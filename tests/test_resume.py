"""kill -9 in the middle of a crawl, run it again: the result equals an uninterrupted crawl."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from pathlib import Path

from crawler.sandbox import Sandbox, SandboxConfig
from tests.support import crawl_via, rows

WORLD = {"instances": 300, "seed": 11}


def crawl_command(port: int, db: Path, seeds: list[str]) -> list[str]:
    seed_args = [arg for seed in seeds for arg in ("--seed", seed)]
    return [
        sys.executable, "-m", "crawler", "crawl", "--db", str(db), "--via", f"127.0.0.1:{port}",
        "--min-gap", "0.02", "--timeout", "3", "--no-progress", *seed_args,
    ]  # fmt: skip


def visited(db: Path) -> int:
    try:
        connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            row = connection.execute("SELECT coalesce(sum(visited), 0) FROM crawls").fetchone()
        finally:
            connection.close()
    except sqlite3.Error:
        return 0
    return int(row[0])


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
        for _ in range(600):
            await asyncio.sleep(0.05)
            if visited(interrupted) >= 60:
                break
        os.kill(process.pid, signal.SIGKILL)
        await process.wait()
        done_before = visited(interrupted)
        assert 60 <= done_before < 300, "the crawl was not killed in the middle"
        resumed = await asyncio.create_subprocess_exec(
            *crawl_command(port, interrupted, sandbox.seeds),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=Path(__file__).parent.parent,
        )
        out, err = await resumed.communicate()
        assert resumed.returncode == 0, err.decode()
        assert "(resumed)" in out.decode()
    finally:
        await sandbox.stop()

    fresh = Sandbox(SandboxConfig(**WORLD))
    port = await fresh.start()
    reference = tmp_path / "reference.db"
    try:
        await crawl_via(port, reference, fresh.seeds, min_gap=0.02)
    finally:
        await fresh.stop()

    got, want = snapshot(interrupted), snapshot(reference)
    assert got["crawls"] == want["crawls"] == {(1, "finished")}
    assert got["instances"] == want["instances"]
    assert got["peers"] == want["peers"]
    assert got["blocks"] == want["blocks"]
