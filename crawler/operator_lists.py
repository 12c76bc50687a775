"""What the operator hands a crawl in files: seed lists and the exclusion list."""

from __future__ import annotations

import csv
from pathlib import Path


def read_seed_file(path: str) -> list[str]:
    """Domains from a file: one per line, or a CSV whose header has a `domain` column."""
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not lines:
        return []
    header = [cell.strip().lstrip("#").lower() for cell in next(csv.reader([lines[0]]))]
    if "domain" in header:
        column = header.index("domain")
        rows = csv.reader(lines[1:])
        return [row[column].strip() for row in rows if len(row) > column and row[column].strip()]
    return [line.split(",")[0].strip() for line in lines]


class ExclusionList:
    """Domains and suffixes from `--exclude-file`: an entry excludes itself and its subdomains."""

    def __init__(self, entries: list[str]):
        self.entries = {entry.strip().lower().lstrip("*.").rstrip(".") for entry in entries}
        self.entries.discard("")

    @classmethod
    def from_file(cls, path: str | None) -> ExclusionList:
        if not path:
            return cls([])
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        return cls([line.split("#", 1)[0] for line in lines])

    def match(self, domain: str) -> str | None:
        labels = domain.split(".")
        for start in range(len(labels)):
            candidate = ".".join(labels[start:])
            if candidate in self.entries:
                return candidate
        return None
