"""The command line: bad input is one line on stderr with exit status 2, never a traceback."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys

import pytest


def fediscope(*args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crawler", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unknown_flag():
    assert_one_line_error(fediscope("crawl", "--frobnicate"), "--frobnicate")


def test_unknown_command():
    assert_one_line_error(fediscope("crawlx"), "crawlx")


@pytest.mark.parametrize(
    "command", ["analyze", "serve", "who-blocks x.social", "export --format csv --out /tmp/x"]
)
def test_missing_database(tmp_path, command):
    missing = str(tmp_path / "nope.db")
    assert_one_line_error(fediscope(*command.split(), "--db", missing), "does not exist")


def test_not_a_sqlite_database(tmp_path):
    bogus = tmp_path / "bogus.db"
    bogus.write_text("this is not a database\n")
    for command in (
        ["analyze"],
        ["who-blocks", "x.social"],
        ["crawl", "--seed", "a.test", "--via", "127.0.0.1:1"],
    ):
        assert_one_line_error(fediscope(*command, "--db", str(bogus)), "not a SQLite database")


#: Every command that reads or writes a database, with the arguments it needs besides --db.
DATABASE_COMMANDS = [
    ["analyze"],
    ["serve"],
    ["who-blocks", "x.social"],
    ["reach", "x.social"],
    ["profile", "x.social"],
    ["summary"],
    ["charts", "--out", "charts-out"],
    ["export", "--format", "csv", "--out", "export-out"],
    ["crawl", "--seed", "a.test", "--via", "127.0.0.1:1"],
]


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=lambda c: c[0])
def test_a_folder_instead_of_a_database(tmp_path, command):
    result = fediscope(*command, "--db", str(tmp_path), cwd=tmp_path)
    assert_one_line_error(result, "is a folder", "fediverse.db")


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=lambda c: c[0])
def test_a_database_from_a_newer_fediscope(tmp_path, command):
    from crawler.store.schema import SCHEMA_VERSION

    newer = tmp_path / "newer.db"
    with sqlite3.connect(newer) as connection:
        connection.execute("CREATE TABLE crawls (id INTEGER PRIMARY KEY)")
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    result = fediscope(*command, "--db", str(newer), cwd=tmp_path)
    assert_one_line_error(result, "newer fediscope", "upgrade fediscope")
    with sqlite3.connect(newer) as connection:  # and it was left as it was
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1


@pytest.mark.parametrize("command", [["serve", "--db", "DB"], ["demo", "--instances", "10"]])
def test_a_port_in_use(tmp_path, command):
    database = tmp_path / "empty.db"
    sqlite3.connect(database).close()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        arguments = [str(database) if a == "DB" else a for a in command]
        result = fediscope(*arguments, "--port", port, cwd=tmp_path)
    assert_one_line_error(result, f"port {port}", "in use", "--port")
    assert not (tmp_path / "data").exists(), "the demo started building before it checked"


def test_real_network_crawl_needs_a_contact(tmp_path, monkeypatch, capsys):
    """In-process with the crawl replaced: were the check to regress, nothing would leave the
    machine (a subprocess would crawl mastodon.social for real)."""
    import crawler.engine
    from crawler import cli

    started: list[object] = []
    monkeypatch.setattr(crawler.engine, "crawl", started.append)
    arguments = ["crawl", "--seed", "mastodon.social", "--db", str(tmp_path / "x.db")]
    monkeypatch.setattr(sys, "argv", ["fediscope", *arguments])
    with pytest.raises(SystemExit) as stopped:
        cli.main()
    assert started == [], "a real-network crawl started without a contact"
    assert stopped.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "--contact" in lines[0]


def test_invalid_seed(tmp_path):
    result = fediscope(
        "crawl", "--seed", "https://x.test/", "--via", "127.0.0.1:9", "--db", str(tmp_path / "x.db")
    )
    assert_one_line_error(result, "invalid seed")


def test_unreachable_seed(tmp_path):
    db = tmp_path / "x.db"
    result = fediscope(
        "crawl", "--seed", "nowhere.test", "--via", f"127.0.0.1:{closed_port()}",
        "--db", str(db), "--timeout", "2", "--no-progress",
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(error_lines) == 1 and "nowhere.test" in error_lines[0]
    connection = sqlite3.connect(db)
    status = connection.execute(
        "SELECT status FROM instances WHERE domain = 'nowhere.test'"
    ).fetchone()
    assert status == ("unreachable",), "the failure is recorded for the domain"


def test_bad_via(tmp_path):
    assert_one_line_error(
        fediscope("crawl", "--seed", "a.test", "--via", "nowhere", "--db", str(tmp_path / "x.db")),
        "--via",
    )


def test_import_blocklist_rejects_non_blocklists(tmp_path):
    bogus = tmp_path / "list.csv"
    bogus.write_text("name,count\nexample.com,3\n")
    result = fediscope(
        "import-blocklist", str(bogus), "--source", "x", "--db", str(tmp_path / "x.db")
    )
    assert_one_line_error(result, "domain")


def test_help_and_version():
    assert fediscope("--help").returncode == 0
    version = fediscope("--version")
    assert version.returncode == 0 and "fediscope" in version.stdout
