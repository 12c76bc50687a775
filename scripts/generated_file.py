"""Write a generated file, or with `--check` say it is out of date (scripts/update_*.py)."""

from __future__ import annotations

import sys
from pathlib import Path


def write_or_check(path: Path, text: str, stale: str) -> int:
    """Write `text` to `path`; with --check, print `stale` and return 1 if the file differs."""
    if "--check" in sys.argv:
        current = path.read_text(encoding="utf-8") if path.is_file() else ""
        if current != text:
            print(stale)
            return 1
        return 0
    path.write_text(text, encoding="utf-8")
    return 0
