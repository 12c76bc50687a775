"""What the CLI prints for admins and researchers, on the demo database."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys

from tests.support import rows


def fediscope(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crawler", *args], capture_output=True, text=True, timeout=120
    )


def most_blocked(db) -> str:
    return rows(db, "SELECT domain FROM blocked_domains ORDER BY blockers DESC LIMIT 1")[0][
        "domain"
    ]


def test_who_blocks_prints_every_blocker_and_the_coverage_line(demo_db):
    domain = most_blocked(demo_db)
    result = fediscope("who-blocks", domain, "--db", str(demo_db))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{domain}: blocked by ")
    assert lines[-1].startswith("coverage: ") and "block lists read" in lines[-1]
    answer = json.loads(fediscope("who-blocks", domain, "--db", str(demo_db), "--json").stdout)
    assert answer["domain"] == domain and answer["summary"] == lines[0]
    blockers = {b["blocker"] for b in answer["blockers"]}
    assert all(b in result.stdout for b in blockers)
    coverage = answer["coverage"]
    alive = rows(demo_db, "SELECT count(*) AS n FROM instances WHERE status = 'alive'")[0]["n"]
    counted = coverage["lists_read"] + coverage["lists_not_readable"] + coverage["unsupported"]
    assert counted == alive, "every live server is in the denominator"
    certain = {b["blocker"] for b in answer["blockers"] if b["match"] != "candidate"}
    expected = rows(demo_db, "SELECT blockers FROM blocked_domains WHERE domain = ?", domain)
    assert len(certain) == expected[0]["blockers"]


def test_who_blocks_for_an_unblocked_domain_says_so_honestly(demo_db):
    result = fediscope("who-blocks", "nobody-blocks-me.test", "--db", str(demo_db))
    assert result.returncode == 0
    assert "no published block list that we could read blocks it" in result.stdout
    assert "not readable" in result.stdout


def test_import_blocklist_is_kept_apart_from_crawled_lists(demo_db, tmp_path):
    db = tmp_path / "demo.db"
    shutil.copy(demo_db, db)
    before = rows(db, "SELECT count(*) AS n FROM blocks")[0]["n"]
    csv_file = tmp_path / "shared.csv"
    csv_file.write_text(
        "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\n"
        "spam-farm.social,suspend,false,false,spam,false\n"
        "kissl*lis.com,suspend,True,False,,True\n"
        "*.troll.example.net,silence,false,false,,false\n"
        "canary.tier0.example.com,suspend,false,false,,false\n"
        "noop-media.social,noop,true,false,,false"
    )
    result = fediscope(
        "import-blocklist", str(csv_file), "--source", "shared-tier0", "--db", str(db)
    )
    assert result.returncode == 0, result.stderr
    assert "imported 3 rules" in result.stdout and "2 rows skipped" in result.stdout
    imported = {r["blocked_pattern"]: r for r in rows(db, "SELECT * FROM imported_blocks")}
    assert set(imported) == {"spam-farm.social", "kissl*lis.com", "noop-media.social"}
    assert imported["kissl*lis.com"]["kind"] == "masked"
    assert imported["noop-media.social"]["severity"] == "reject_media"
    assert rows(db, "SELECT count(*) AS n FROM blocks")[0]["n"] == before
    again = fediscope(
        "import-blocklist", str(csv_file), "--source", "shared-tier0", "--db", str(db)
    )
    assert again.returncode == 0
    connection = sqlite3.connect(db)
    (count,) = connection.execute("SELECT count(*) FROM imported_blocks").fetchone()
    assert count == 3, "re-importing a source replaces it"
