"""data/SCHEMA.md is generated from data/metadata.yml and linked from the README."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def test_schema_reference_is_current():
    result = subprocess.run(
        [sys.executable, "scripts/update_schema.py", "--check"],
        capture_output=True, text=True, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout


def test_schema_reference_has_every_described_column_and_is_linked():
    text = (REPO / "data" / "SCHEMA.md").read_text(encoding="utf-8")
    metadata = yaml.safe_load((REPO / "data" / "metadata.yml").read_text(encoding="utf-8"))
    for name, table in metadata["databases"]["fediverse"]["tables"].items():
        section = text.split(f"\n## `{name}`\n", 1)[1].split("\n## ", 1)[0]
        for column in table.get("columns", {}):
            assert f"| `{column}` |" in section, (name, column)
    assert "(data/SCHEMA.md)" in (REPO / "README.md").read_text(encoding="utf-8")
