"""Regenerate the command reference in README.md from the CLI's own --help.

    .venv/bin/python scripts/update_readme.py          # rewrite README.md
    .venv/bin/python scripts/update_readme.py --check  # exit 1 if it is out of date

tests/test_readme.py runs the check, so the README cannot drift from the CLI.
"""

from __future__ import annotations

import sys
from pathlib import Path

from click.testing import CliRunner
from generated_file import write_or_check

from crawler.cli import cli

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- cli-help start -->", "<!-- cli-help end -->"


def generated_reference() -> str:
    runner = CliRunner()
    parts = []
    for name in ["", *sorted(cli.commands)]:
        args = [name, "--help"] if name else ["--help"]
        result = runner.invoke(cli, args, prog_name="fediscope", terminal_width=100)
        assert result.exit_code == 0, result.output
        title = f"fediscope {name}".strip()
        parts.append(f"### `{title}`\n\n```\n{result.output.rstrip()}\n```\n")
    return "\n".join(parts)


def with_reference(text: str) -> str:
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    return f"{before}{START}\n{generated_reference()}\n{END}{after}"


def main() -> int:
    return write_or_check(
        README,
        with_reference(README.read_text(encoding="utf-8")),
        "README.md's command reference is out of date: run scripts/update_readme.py",
    )


if __name__ == "__main__":
    sys.exit(main())
