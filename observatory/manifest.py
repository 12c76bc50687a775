"""The dataset's description of itself: manifest.json, datapackage.json, and `verify-dataset`.

manifest.json pins what a citation refers to: fediscope and schema versions, the crawls with
their dates and seeds, row counts and the SHA-256 of every data file. datapackage.json is a
Frictionless Data Package whose column descriptions come from data/metadata.yml, the one place
columns are described (Datasette shows the same text).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from crawler import PROJECT_URL, __version__

FORMAT = "fediscope-dataset"
FORMAT_VERSION = 2
#: What each format version changed, stated in every manifest so a reader of an older copy
#: knows what to rename.
FORMAT_CHANGES = {
    "2": (
        "Count columns are named servers everywhere: platform_share and software_share "
        "instances -> servers, instances_share -> servers_share, instances_without_users -> "
        "servers_without_users, instances_without_active_users -> "
        "servers_without_active_users; block_list_coverage instances -> servers "
        "(database schema 3)."
    ),
}
MANIFEST = "manifest.json"
DATAPACKAGE = "datapackage.json"
PARTITION_COLUMN = "crawl_id"
_FIELD_TYPES = {"int64": "integer", "double": "number", "string": "string", "bool": "boolean"}


class DatasetError(ValueError):
    """The dataset directory cannot be written or read as asked (one-line message)."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def file_entry(directory: Path, path: Path, resource: str | None, rows: int | None) -> dict:
    entry: dict[str, Any] = {"sha256": sha256_of(path), "bytes": path.stat().st_size}
    if resource is not None:
        entry["resource"] = resource
        entry["rows"] = rows
    return entry


def read_manifest(directory: Path) -> dict[str, Any]:
    """The manifest of a dataset directory ({} for a new or empty directory)."""
    path = directory / MANIFEST
    if not path.is_file():
        if any(directory.glob("*.parquet")):
            raise DatasetError(
                f"{directory} has Parquet files but no {MANIFEST}; export into a new directory"
            )
        return {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path} is not readable JSON: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DatasetError(f"{path} is not a fediscope dataset manifest")
    return manifest


def layout_of(resource: str, paths: list[str]) -> str:
    if all(f"/{PARTITION_COLUMN}=" in p for p in paths):
        return f"hive partitions by {PARTITION_COLUMN}"
    if all("/" in p for p in paths):
        return "validity intervals, one file per crawl that closed them and one of open ones"
    return "snapshot at export time"


def _by_resource(files: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for path, entry in sorted(files.items(), key=lambda item: _natural(item[0])):
        if "resource" in entry:
            grouped.setdefault(entry["resource"], []).append(path)
    return grouped


def _natural(path: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path)]


def write_manifest(
    directory: Path,
    previous: dict[str, Any],
    crawls: dict[int, dict[str, Any]],
    files: dict[str, dict[str, Any]],
    schema_version: int,
) -> None:
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    resources = {
        name: {
            "layout": layout_of(name, paths),
            "files": len(paths),
            "rows": sum(files[p]["rows"] for p in paths),
        }
        for name, paths in _by_resource(files).items()
    }
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "format_changes": FORMAT_CHANGES,
        "fediscope_version": __version__,
        "schema_version": schema_version,
        "source": PROJECT_URL,
        "created_at": previous.get("created_at", now),
        "updated_at": now,
        "crawls": {str(crawl_id): info for crawl_id, info in sorted(crawls.items())},
        "resources": resources,
        "files": dict(sorted(files.items(), key=lambda item: _natural(item[0]))),
    }
    _write_json(directory / MANIFEST, manifest)


def _write_json(path: Path, value: Any) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(partial, path)


def metadata_tables(metadata_path: Path | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metadata.yml, its table descriptions) — the one source of column descriptions."""
    from observatory.plugin.config import METADATA

    path = metadata_path or METADATA
    metadata = yaml.safe_load(path.read_text(encoding="utf-8"))
    return metadata, metadata["databases"]["fediverse"]["tables"]


def write_datapackage(directory: Path, files: dict[str, dict[str, Any]]) -> None:
    """A Frictionless Data Package (v1) for every resource in `files`."""
    import pyarrow.parquet as pq

    metadata, tables = metadata_tables()
    resources = []
    for name, paths in _by_resource(files).items():
        described = tables.get(name, {})
        columns = described.get("columns", {})
        schema = pq.read_schema(directory / paths[0])
        fields = [
            {
                "name": column.name,
                "type": _FIELD_TYPES.get(str(column.type), "any"),
                "description": columns.get(column.name, ""),
            }
            for column in schema
        ]
        resource: dict[str, Any] = {
            "name": name,
            "profile": "tabular-data-resource",
            "path": paths if len(paths) > 1 or "/" in paths[0] else paths[0],
            "format": "parquet",
            "mediatype": "application/vnd.apache.parquet",
            "description": _plain(described.get("description", "")),
            "bytes": sum(files[p]["bytes"] for p in paths),
            "schema": {"fields": fields},
        }
        if all(f"/{PARTITION_COLUMN}=" in p for p in paths):
            fields.append(
                {
                    "name": PARTITION_COLUMN,
                    "type": "integer",
                    "description": columns.get(PARTITION_COLUMN, "")
                    + " (Hive partition: in the path, not in the files)",
                }
            )
            resource["partitioning"] = {"style": "hive", "columns": [PARTITION_COLUMN]}
        if len(paths) == 1:
            resource["hash"] = f"sha256:{files[paths[0]]['sha256']}"
        resources.append(resource)
    package = {
        "profile": "tabular-data-package",
        "name": "fediscope-dataset",
        "title": metadata.get("title", "fediscope dataset"),
        "description": _plain(metadata.get("description_html", "")),
        "homepage": PROJECT_URL,
        "version": __version__,
        "licenses": [
            {"name": metadata.get("license"), "path": metadata.get("license_url")},
        ],
        "sources": [{"title": metadata.get("source"), "path": metadata.get("source_url")}],
        "resources": resources,
    }
    _write_json(directory / DATAPACKAGE, package)


def _plain(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", "", html).split())


@dataclass
class DatasetCheck:
    """The result of `verify-dataset`: what was checked and every problem found."""

    directory: Path
    files_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        if self.ok:
            return [f"{self.directory}: {self.files_checked} files match manifest.json"]
        return self.problems


def verify_dataset(directory: str) -> DatasetCheck:
    """Re-check every file against manifest.json: present, same size and SHA-256, nothing extra."""
    root = Path(directory)
    check = DatasetCheck(root)
    try:
        manifest = read_manifest(root)
    except DatasetError as exc:
        check.problems.append(str(exc))
        return check
    if not manifest:
        check.problems.append(f"{root} has no {MANIFEST}: not a fediscope dataset")
        return check
    listed = manifest.get("files", {})
    for name, entry in listed.items():
        path = root / name
        if not path.is_file():
            check.problems.append(f"{path}: missing (listed in {MANIFEST})")
            continue
        check.files_checked += 1
        if path.stat().st_size != entry.get("bytes") or sha256_of(path) != entry.get("sha256"):
            check.problems.append(
                f"{path}: SHA-256 does not match {MANIFEST} (changed after export)"
            )
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if path.is_file() and name != MANIFEST and name not in listed:
            check.problems.append(f"{path}: not listed in {MANIFEST} (added after export)")
    return check
