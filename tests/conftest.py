"""Session fixtures: a small demo database built by the real `fediscope demo --no-serve`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory) -> Path:
    """The default demo world (1,000 instances) crawled and analysed by `fediscope demo`."""
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    result = subprocess.run(
        [sys.executable, "-m", "crawler", "demo", "--no-serve", "--db", str(db)],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "built" in result.stdout
    return db
