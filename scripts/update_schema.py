"""Regenerate data/SCHEMA.md, the human-readable schema reference, from data/metadata.yml.

    .venv/bin/python scripts/update_schema.py          # rewrite data/SCHEMA.md
    .venv/bin/python scripts/update_schema.py --check  # exit 1 if it is out of date

metadata.yml is the one place tables and columns are described (Datasette and the dataset's
datapackage.json read it too); tests/test_schema_doc.py runs the check so the page cannot drift.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml
from generated_file import write_or_check

from crawler.store.schema import TABLES, VIEWS
from observatory.dataset import LEFT_OUT, PARTITIONED

REPO = Path(__file__).resolve().parent.parent
METADATA = REPO / "data" / "metadata.yml"
SCHEMA = REPO / "data" / "SCHEMA.md"
TYPES = {int: "integer", str: "text", float: "real", bytes: "blob"}
#: Tables the store writes without sqlite-utils (crawler/store/schema.py RAW_SQL).
RAW_TYPES = {
    "peer_intervals": {
        "source_id": "integer",
        "target_id": "integer",
        "first_crawl": "integer",
        "removed_crawl": "integer",
    }
}


def _cell(text: object) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _kind(name: str, table: dict) -> str:
    if name in VIEWS:
        kind = "view"
    elif name.startswith("imported_"):
        kind = "table written by `fediscope import-blocklist`"
    elif name in TABLES or name in RAW_TYPES:
        kind = "table written by the crawl"
    else:
        kind = "derived by `fediscope analyze`"
    if table.get("hidden"):
        kind += ", hidden in Datasette"
    if name in PARTITIONED:
        layout = f"`{name}/crawl_id=N/part-0.parquet` (one Hive partition per crawl)"
    elif name == "peer_intervals":
        layout = "`peer_intervals/*.parquet` (validity intervals)"
    elif name in LEFT_OUT:
        layout = "not exported"
    else:
        layout = f"`{name}.parquet` (snapshot)"
    return f"{kind}; Parquet dataset: {layout}"


def generated_schema() -> str:
    metadata = yaml.safe_load(METADATA.read_text(encoding="utf-8"))
    tables = metadata["databases"]["fediverse"]["tables"]
    lines = [
        "# fediscope schema reference",
        "",
        "<!-- Generated from data/metadata.yml by scripts/update_schema.py: edit metadata.yml,",
        "     then run the script. tests/test_schema_doc.py fails when this page is stale. -->",
        "",
        "Every table and view of a fediscope database, and of the Parquet dataset written by",
        "`fediscope export --format parquet`. Times are UTC ISO 8601 text. A count a server did",
        "not give is empty (NULL), never 0. Types are SQLite's declared types where the crawl",
        "declares them.",
        "",
        "| table | kind | what |",
        "| --- | --- | --- |",
    ]
    for name, table in tables.items():
        text = _cell(table.get("description", "")).removeprefix("Derived by analyze. ")
        first = text.split(". ")[0].rstrip(".")
        lines.append(f"| [`{name}`](#{name}) | {_kind(name, table).split(';')[0]} | {first}. |")
    for name, table in tables.items():
        declared = RAW_TYPES.get(name) or {
            column: TYPES.get(kind, "")
            for column, kind in TABLES.get(name, ({}, "", set()))[0].items()
        }
        lines += [
            "",
            f"## `{name}`",
            "",
            _cell(table.get("description", "")),
            "",
            f"*{_kind(name, table)}.*",
            "",
            "| column | type | description |",
            "| --- | --- | --- |",
        ]
        for column, text in (table.get("columns") or {}).items():
            lines.append(f"| `{column}` | {declared.get(column, '')} | {_cell(text)} |")
    queries = metadata["databases"]["fediverse"].get("queries", {})
    if queries:
        lines += ["", "## Canned queries (Datasette)", "", "| query | parameters | title |"]
        lines.append("| --- | --- | --- |")
        for name, query in queries.items():
            params = ", ".join(f"`{p}`" for p in query.get("params", [])) or "none"
            lines.append(f"| `{name}` | {params} | {_cell(query.get('title', ''))} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    return write_or_check(
        SCHEMA, generated_schema(), "data/SCHEMA.md is out of date: run scripts/update_schema.py"
    )


if __name__ == "__main__":
    sys.exit(main())
