"""`import-blocklist`: shared block lists in Mastodon's CSV export format, as named sources.

Imported lists are kept apart from the instances' own published lists (`imported_blocks`,
`imported_blocklists`) so researchers can compare them. The reader copes with what real files
do: a header with or without `#` (`#domain,#severity,#reject_media,...`), booleans as
`true`/`True`/`false`/empty, obfuscated (`kissl*lis.com`) and wildcard (`*.example.com`) names,
sentinel rows meant to be deleted (text where a boolean belongs), canary names that are not
domains (`dni.invalid`), CRLF line ends and a missing final newline. A file with only a domain
column is read as Mastodon's importer reads it: every row a suspension.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from crawler.blocks import classify_pattern, normalise_severity
from crawler.domains import REAL_NETWORK, SANDBOX
from crawler.fetch.response import utc_now
from crawler.store.schema import open_database
from crawler.store.state import mark_changed

SEVERITY_WORDS = ("suspend", "silence", "noop")
_RESERVED = re.compile(r"(^|\.)(example\.(com|net|org)|example|invalid|localhost)$")
MAX_FILE_BYTES = 64 * 1024 * 1024


class BlocklistImportError(ValueError):
    """The file cannot be read as a block list."""


@dataclass
class ImportedRule:
    pattern: str
    blocked: str | None
    kind: str
    severity: str
    severity_raw: str
    reject_media: bool
    reject_reports: bool
    reason: str | None
    obfuscate: bool


@dataclass
class ImportResult:
    rows: int = 0
    skipped: int = 0
    skipped_by_reason: Counter[str] = field(default_factory=Counter)
    rules: list[ImportedRule] = field(default_factory=list)


def parse_blocklist(text: str) -> ImportResult:
    """Read Mastodon-format CSV text into rules (pure; no database)."""
    text = text.lstrip("\ufeff")
    try:
        table = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise BlocklistImportError(f"not a readable CSV file ({exc})") from exc
    if not table:
        raise BlocklistImportError("the file is empty")
    header = [cell.strip().lstrip("#").strip().lower() for cell in table[0]]
    if "domain" in header:
        body = table[1:]
    elif len(header) == 1 and _looks_like_a_name(header[0]):
        # No header at all: one domain per line, as Mastodon's importer reads such files.
        header, body = ["domain"], table
    else:
        raise BlocklistImportError(
            "no `domain` column in the header (expected Mastodon's export format: "
            "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate)"
        )
    column = {name: index for index, name in enumerate(header)}
    result = ImportResult()
    seen: set[str] = set()
    for number, row in enumerate(body, start=2):
        _check_quotes(row, number)
        if not any(cell.strip() for cell in row):
            continue
        rule, problem = _read_row(row, column)
        if rule is None:
            result.skipped += 1
            result.skipped_by_reason[problem or "invalid"] += 1
            continue
        if rule.pattern in seen:
            result.skipped += 1
            result.skipped_by_reason["duplicate"] += 1
            continue
        seen.add(rule.pattern)
        result.rules.append(rule)
    result.rows = len(result.rules)
    return result


def _looks_like_a_name(cell: str) -> bool:
    return "." in cell and " " not in cell.strip() and "," not in cell


#: A field swallowing later rows: an unbalanced quote (Mastodon rejects such files too).
_SWALLOWED_ROW = re.compile(r"\n[^,\n]*\.[^,\n]*,(suspend|silence|noop)\b", re.IGNORECASE)


def _check_quotes(row: list[str], number: int) -> None:
    for cell in row:
        if "\n" in cell and _SWALLOWED_ROW.search(cell):
            raise BlocklistImportError(
                f"unbalanced quote in the row starting at line {number}: it swallows later rows"
            )


def _cell(row: list[str], column: dict[str, int], name: str) -> str:
    index = column.get(name)
    return row[index].strip() if index is not None and index < len(row) else ""


def _boolean(value: str) -> bool | None:
    """true/false in any case, empty = false; None for anything else (a sentinel's text)."""
    word = value.strip().lower()
    if word in ("", "false", "0", "no"):
        return False
    if word in ("true", "1", "yes"):
        return True
    return None


def _read_row(row: list[str], column: dict[str, int]) -> tuple[ImportedRule | None, str | None]:
    pattern = _cell(row, column, "domain").lower().rstrip(".")
    if not pattern:
        return None, "empty_domain"
    severity_raw = (_cell(row, column, "severity") or "suspend").lower()
    if severity_raw not in SEVERITY_WORDS:
        return None, "unknown_severity"
    flags = {}
    for name in ("reject_media", "reject_reports", "obfuscate"):
        value = _boolean(_cell(row, column, name))
        if value is None:
            return None, "not_a_boolean"  # e.g. a sentinel row asking to be deleted
        flags[name] = value
    if _RESERVED.search(pattern):
        return None, "reserved_name"  # sentinels and canaries (RFC 2606 names), not servers
    kind, blocked = classify_pattern(REAL_NETWORK, pattern)
    if kind in ("invalid", "masked"):
        # A wildcard over a sandbox name is no real domain, so it would read as a mask.
        sandbox_kind, sandbox_blocked = classify_pattern(SANDBOX, pattern)
        if sandbox_kind not in ("invalid", "masked"):
            kind, blocked = sandbox_kind, sandbox_blocked
    if kind == "invalid":
        return None, "not_a_domain"  # canaries such as dni.invalid, TLD rules such as .cf
    severity = normalise_severity("mastodon", severity_raw)
    if severity_raw == "noop":
        if flags["reject_media"]:
            severity = "reject_media"
        elif flags["reject_reports"]:
            severity = "reject_reports"
    reason = _cell(row, column, "public_comment") or None
    return (
        ImportedRule(
            pattern,
            blocked,
            kind,
            severity,
            severity_raw,
            flags["reject_media"],
            flags["reject_reports"],
            reason,
            flags["obfuscate"],
        ),
        None,
    )


def import_blocklist(db_path: str, file: str, source: str) -> ImportResult:
    """Replace the named source's rules with the file's; return what was read."""
    source = source.strip()
    if not source or len(source) > 200:
        raise BlocklistImportError("--source must be a short, non-empty name")
    path = Path(file)
    if path.stat().st_size > MAX_FILE_BYTES:
        raise BlocklistImportError(f"{file} is larger than {MAX_FILE_BYTES // 2**20} MiB")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BlocklistImportError(f"{file} is not UTF-8 text") from exc
    result = parse_blocklist(text)
    if not result.rules:
        reasons = ", ".join(f"{n} {why}" for why, n in sorted(result.skipped_by_reason.items()))
        raise BlocklistImportError(
            f"no rule in {file} could be read ({reasons or 'no rows'}); "
            f"the stored list {source!r} is kept"
        )
    db = open_database(db_path)
    try:
        connection = db.conn
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("DELETE FROM imported_blocks WHERE source = ?", (source,))
        connection.executemany(
            "INSERT INTO imported_blocks (source, blocked_pattern, blocked, blocked_digest, kind, "
            "severity, severity_raw, reject_media, reject_reports, reason, obfuscate) "
            "VALUES (?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    source,
                    r.pattern,
                    r.blocked,
                    r.kind,
                    r.severity,
                    r.severity_raw,
                    int(r.reject_media),
                    int(r.reject_reports),
                    r.reason,
                    int(r.obfuscate),
                )
                for r in result.rules
            ),
        )
        connection.execute(
            "INSERT OR REPLACE INTO imported_blocklists (source, file_name, imported_at, rows, "
            "skipped_rows) VALUES (?, ?, ?, ?, ?)",
            (source, path.name, utc_now(), result.rows, result.skipped),
        )
        mark_changed(connection, "import")
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    finally:
        db.conn.close()
    return result
