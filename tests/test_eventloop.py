"""The crawl runs on uvloop when it is there and wanted, on asyncio otherwise, with one result."""

from __future__ import annotations

import asyncio
import sys

import pytest

from crawler import eventloop
from crawler.sandbox import Sandbox, SandboxConfig
from tests.support import crawl_via, rows


def crawl_small_world(db, use_uvloop: bool | None):
    """A whole sandbox crawl inside `eventloop.run` (sandbox and crawler on the chosen loop)."""

    async def go():
        sandbox = Sandbox(SandboxConfig(instances=40, seed=4, failures=False))
        port = await sandbox.start()
        try:
            return await crawl_via(port, db, sandbox.seeds), sandbox.truth()["instances"]
        finally:
            await sandbox.stop()

    return eventloop.run(go(), use_uvloop=use_uvloop)


def stored(db) -> tuple[dict[str, str], set[tuple[str, str]]]:
    statuses = {r["domain"]: r["status"] for r in rows(db, "SELECT domain, status FROM instances")}
    edges = {(r["source"], r["target"]) for r in rows(db, "SELECT * FROM peer_edges")}
    return statuses, edges


def test_a_crawl_gives_the_same_result_on_either_loop(tmp_path):
    pytest.importorskip("uvloop")
    results = {}
    for use_uvloop in (True, False):
        db = tmp_path / f"{use_uvloop}.db"
        summary, truth = crawl_small_world(db, use_uvloop)
        loop = "uvloop" if use_uvloop else "asyncio"
        assert summary.event_loop == loop
        recorded = rows(db, "SELECT json_extract(settings, '$.event_loop') AS loop FROM crawls")
        assert recorded == [{"loop": loop}]
        results[loop] = stored(db)
    assert results["uvloop"] == results["asyncio"]
    # Equal results are only worth something if they are right: with failures off, every
    # server is reached with the status the sandbox gives it, and every peer list is stored
    # in full ("90 % alive, over 100 edges" let a loop that loses answers pass).
    statuses, edges = results["asyncio"]
    assert statuses == {d: t["expected_status"] for d, t in truth.items()}
    assert edges == {(d, peer) for d, t in truth.items() for peer in t["peers"]}


def test_the_environment_turns_uvloop_off_or_requires_it(monkeypatch):
    monkeypatch.setenv(eventloop.ENV, "0")
    assert eventloop.loop_factory() is asyncio.new_event_loop
    assert eventloop.run(_loop_name()) == "asyncio"
    monkeypatch.setenv(eventloop.ENV, "1")
    monkeypatch.setitem(sys.modules, "uvloop", None)  # as if it were not installed
    with pytest.raises(eventloop.UvloopMissing):
        eventloop.loop_factory()
    monkeypatch.delenv(eventloop.ENV)
    assert eventloop.run(_loop_name()) == "asyncio"  # missing and not required: asyncio


async def _loop_name() -> str:
    return eventloop.loop_name()
