"""`analyze`'s own work, with its analysis steps replaced by recorders: every step in order, each
in a transaction of its own under the database's writer lock, the peer edges loaded once, a
failing step rolled back, and the report it returns. (Each step's analysis has its own unit
tests; a real analyze run would make every graph mutant pay for all of them.)"""

from __future__ import annotations

import resource
import sqlite3

import pytest

import graph.analyze as analyze_module
from crawler.store.lock import lock_path
from crawler.store.schema import open_database
from graph.analyze import AnalyzeReport, _SharedEdges, analyze, peak_rss_mb, publication_steps

STEPS = [
    "indexes",
    "platform_share",
    "hops",
    "instance_metrics",
    "blocks",
    "shared_list_adoption",
    "history",
    "concentration",
    "weekly_activity",
    "block_camps",
    "federation",
    "version_share",
    "language_share",
    "hosting_share",
    "map_layout",
    "chart_specs",
    "chart_snapshots",
]
EDGES = ("sources", "targets")


class Recorder:
    """Stands in for every step: records its name, arguments and the transaction and lock it
    ran under, writes one row (to show its transaction committed), and answers like the step."""

    def __init__(self, db_path: str, failing: str | None = None) -> None:
        self.db_path = db_path
        self.failing = failing
        self.calls: list[tuple[str, tuple]] = []
        self.connections: set[sqlite3.Connection] = set()
        self.edge_loads = 0

    def step(self, name: str, answer: object):
        def run(connection: sqlite3.Connection, *args: object) -> object:
            assert connection.in_transaction, f"{name} ran outside a transaction"
            assert lock_path(self.db_path).read_text().startswith("fediscope analyze (pid ")
            self.calls.append((name, args))
            self.connections.add(connection)
            connection.execute("INSERT INTO data_state VALUES (?, 'x')", (name,))
            if name == self.failing:
                raise ValueError(f"{name} failed")
            return answer

        return run

    def edges(self, connection: sqlite3.Connection) -> tuple[str, str]:
        self.edge_loads += 1
        self.connections.add(connection)
        return EDGES

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        answers = {
            "ensure_target_index": None,
            "build_platform_share": 4,
            "build_hops": 9,
            "build_peer_metrics": "peer metrics",
            "build_block_tables": "block tables",
            "build_shared_list_adoption": "adoption",
            "build_history": "history",
            "build_concentration": "concentration",
            "build_weekly_activity": "activity",
            "build_block_camps": "camps",
            "build_federation": "federation",
            "build_version_share": "versions",
            "build_language_share": "languages",
            "build_hosting_share": "hosting",
            "build_map_layout": "map",
        }
        for function, answer in answers.items():
            monkeypatch.setattr(analyze_module, function, self.step(function, answer))
        monkeypatch.setattr(
            analyze_module,
            "ensure_target_index",
            lambda db: self.step("ensure_target_index", None)(db.conn),
        )
        monkeypatch.setattr(analyze_module, "current_peer_edges", self.edges)
        monkeypatch.setattr(
            analyze_module,
            "publication_steps",
            lambda connection: [
                ("chart_specs", lambda: self.step("chart_specs", "specs")(connection)),
                ("chart_snapshots", lambda: self.step("chart_snapshots", "kept")(connection)),
            ],
        )


def database(tmp_path, *crawls: int) -> str:
    path = str(tmp_path / "fediscope.db")
    db = open_database(path)
    for crawl in crawls:
        db.conn.execute("INSERT INTO crawls (id, started_at) VALUES (?, '2026-01-05')", (crawl,))
    db.conn.close()
    return path


def stored_steps(path: str) -> list[str]:
    with sqlite3.connect(path) as connection:
        return [row[0] for row in connection.execute("SELECT name FROM data_state ORDER BY rowid")]


def test_every_step_runs_in_order_in_its_own_transaction(tmp_path, monkeypatch):
    path = database(tmp_path, 1, 3)
    recorder = Recorder(path)
    recorder.install(monkeypatch)
    ticks = iter(range(1000))  # a clock that moves by half a second each time it is read
    monkeypatch.setattr(analyze_module.time, "perf_counter", lambda: next(ticks) / 2)
    report = analyze(path)
    assert [name for name, _, _ in report.steps] == STEPS
    assert [what for _, what, _ in report.steps] == [
        "who-lists-X index on peer edges",
        "4 families",
        "9 instances reached from the seeds",
        "peer metrics", "block tables", "adoption", "history", "concentration", "activity",
        "camps", "federation", "versions", "languages", "hosting", "map", "specs", "kept",
    ]  # fmt: skip
    assert [seconds for _, _, seconds in report.steps] == [0.5] * len(STEPS)
    assert len(report.peak_rss_mb) == len(STEPS)
    assert all(isinstance(rss, float) and rss > 0 for rss in report.peak_rss_mb)
    # One connection for every step and for the edges.
    assert len(recorder.connections) == 1
    assert isinstance(recorder.connections.pop(), sqlite3.Connection)
    # The latest crawl's id goes to the steps that stamp it; the edges are loaded once.
    arguments = dict(recorder.calls)
    assert arguments["build_platform_share"] == (3,)
    assert arguments["build_hops"] == (EDGES,)
    assert arguments["build_peer_metrics"] == (3, EDGES)
    assert arguments["build_shared_list_adoption"] == (3,)
    assert arguments["build_map_layout"] == (3,)
    assert recorder.edge_loads == 1
    # Each step's writes were committed; the lock is free again.
    assert len(stored_steps(path)) == len(STEPS)
    assert lock_path(path).read_text() == ""


def test_without_crawls_the_steps_get_no_crawl_id(tmp_path, monkeypatch):
    path = database(tmp_path)
    recorder = Recorder(path)
    recorder.install(monkeypatch)
    analyze(path)
    assert dict(recorder.calls)["build_platform_share"] == (None,)


def test_a_failing_step_is_rolled_back_and_stops_the_run(tmp_path, monkeypatch):
    path = database(tmp_path, 1)
    recorder = Recorder(path, failing="build_history")
    recorder.install(monkeypatch)
    with pytest.raises(ValueError, match="build_history failed"):
        analyze(path)
    # The steps before it stay written; its own write is gone; nothing after it ran.
    assert stored_steps(path) == [
        "ensure_target_index",
        "build_platform_share",
        "build_hops",
        "build_peer_metrics",
        "build_block_tables",
        "build_shared_list_adoption",
    ]
    assert recorder.calls[-1][0] == "build_history"
    assert lock_path(path).read_text() == ""
    with sqlite3.connect(path) as connection:  # nothing left half-written or locked
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")


def test_shared_edges_are_loaded_once_and_let_go_by_their_last_user(monkeypatch):
    loads = []
    monkeypatch.setattr(analyze_module, "current_peer_edges", lambda c: loads.append(c) or EDGES)
    shared = _SharedEdges("the connection")
    assert shared.load() == EDGES
    assert shared.load() == EDGES
    assert loads == ["the connection"]
    assert shared.release() == EDGES
    assert shared.edges is None
    assert shared.release() == EDGES  # loaded again when asked again
    assert len(loads) == 2


def test_publication_steps_store_the_chart_specs_then_keep_the_snapshots(monkeypatch):
    import observatory.snapshots

    calls = []
    monkeypatch.setattr(
        observatory.snapshots, "store_chart_specs", lambda c: calls.append(("specs", c)) or "s"
    )
    monkeypatch.setattr(
        observatory.snapshots, "keep_chart_snapshots", lambda c: calls.append(("kept", c)) or "k"
    )
    steps = publication_steps("the connection")
    assert [name for name, _ in steps] == ["chart_specs", "chart_snapshots"]
    assert [step() for _, step in steps] == ["s", "k"]
    assert calls == [("specs", "the connection"), ("kept", "the connection")]


def test_report_lines_and_peak_rss():
    report = AnalyzeReport([("blocks", "3 blocked domains", 1.234), ("hops", "2", 0.0)], [12.6, 7])
    assert report.lines() == [
        "blocks: 3 blocked domains (1.23 s, peak RSS 13 MB)",
        "hops: 2 (0.00 s, peak RSS 7 MB)",
    ]
    with pytest.raises(ValueError):
        AnalyzeReport([("blocks", "x", 1.0)], []).lines()
    assert AnalyzeReport().lines() == []
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak = peak_rss_mb()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert before <= peak <= after
