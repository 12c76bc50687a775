"""The README stays the truth: its Quickstart, CI's command and its command reference."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")


def quickstart_commands() -> list[str]:
    section = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def test_quickstart_is_two_commands_that_set_everything_up():
    demo, tests = quickstart_commands()
    for command in (demo, tests):
        assert command.startswith("python3 -m venv .venv && .venv/bin/pip install -e ")
    assert demo.endswith(".venv/bin/fediscope demo")
    assert "pytest" in tests and "'.[test]'" in tests


def test_ci_runs_the_readme_test_command_as_written():
    extracted = subprocess.run(
        ["awk", "/<!-- test-command -->/{f=1;next} f&&/^```/{n++;if(n==2)exit;next} f&&n==1{print}",
         "README.md"],
        capture_output=True, text=True, cwd=REPO, check=True,
    ).stdout.strip()  # fmt: skip
    assert extracted == quickstart_commands()[1]
    ci = (REPO / ".ci" / "run").read_text()
    assert "<!-- test-command -->" in ci and 'bash -euo pipefail -c "$test_command"' in ci


def test_command_reference_is_generated_from_the_cli():
    result = subprocess.run(
        [sys.executable, "scripts/update_readme.py", "--check"],
        capture_output=True, text=True, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout
