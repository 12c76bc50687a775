"""The observatory's Datasette configuration: metadata (table and column descriptions, canned
queries) and settings, shipped inside the package so an installed fediscope needs no checkout.

The files are `data/metadata.yml` and `data/settings.json`, the repository's Datasette
configuration directory (`datasette data/`); this package holds them as symlinks, which the
wheel build resolves into copies. The metadata describes one database, `fediverse`; every
served database gets that entry under its own name.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import yaml

HERE = Path(__file__).resolve().parent
METADATA = HERE / "metadata.yml"
SETTINGS = HERE / "settings.json"
#: The database name metadata.yml describes.
TEMPLATE_DATABASE = "fediverse"


@cache
def _metadata_bytes() -> bytes:
    return orjson.dumps(yaml.safe_load(METADATA.read_text(encoding="utf-8")))


def metadata() -> dict[str, Any]:
    """metadata.yml as a fresh dict (Datasette merges into what a hook returns)."""
    return orjson.loads(_metadata_bytes())


def metadata_for(database_names: Iterable[str]) -> dict[str, Any]:
    """The metadata with the `fediverse` entry also available under each of `database_names`
    (a fresh dict each time: Datasette merges other metadata into what a hook returns)."""
    return orjson.loads(_metadata_for(tuple(database_names)))


@cache
def _metadata_for(database_names: tuple[str, ...]) -> bytes:
    result = metadata()
    databases = result.setdefault("databases", {})
    if TEMPLATE_DATABASE in databases:
        for name in database_names:
            databases.setdefault(name, databases[TEMPLATE_DATABASE])
    return orjson.dumps(result)


def settings() -> dict[str, Any]:
    """settings.json: the Datasette settings `fediscope serve` runs with."""
    return json.loads(SETTINGS.read_text(encoding="utf-8"))


def apply_settings(datasette: Any) -> None:
    """Our settings wherever the operator left Datasette's default, so plain `datasette DB`
    runs the pages as `fediscope serve` does (the /platforms charts need more than Datasette's
    1 s time limit on a busy machine). Datasette 0.65 has no public setter; `_settings` is the
    dict `datasette.setting()` reads. Thread counts are fixed at start and stay as they are."""
    from datasette.app import DEFAULT_SETTINGS

    current = datasette._settings
    for name, value in settings().items():
        if name != "num_sql_threads" and current.get(name) == DEFAULT_SETTINGS.get(name):
            current[name] = value
