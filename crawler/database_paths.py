"""The database path a command is given: checked before any work, upgraded when older.

A user's mistake (a folder, a missing file, something that is not SQLite, a database from a
newer fediscope, an older one that cannot be written) becomes a `CLIError`: one line on stderr
and exit status 2, never a traceback.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import NoReturn

import click

DEFAULT_DB = "data/fediverse.db"


class CLIError(click.ClickException):
    """A one-line error with exit status 2."""

    exit_code = 2


def fail(message: str) -> NoReturn:
    raise CLIError(message)


def existing_database(path: str) -> str:
    """The path of an existing SQLite database this fediscope can read, or a CLIError."""
    from crawler.store.schema import is_fediscope_database

    file = Path(path)
    if file.is_dir():
        fail(
            f"{path} is a folder: pass the database file itself, e.g. --db {file / 'fediverse.db'}"
        )
    if not file.is_file():
        fail(f"database {path} does not exist (run `fediscope crawl --db {path}` first)")
    if not is_fediscope_database(path):
        fail(f"{path} is not a SQLite database")
    _refuse_newer(path)
    _upgrade_older(path)
    return path


def _upgrade_older(path: str) -> None:
    """Bring a database from an older fediscope to this schema (renames, no rebuild), or a
    CLIError saying how when it cannot be written."""
    from crawler.store.schema import SCHEMA_VERSION, open_database, schema_version

    version = schema_version(path)
    if not 0 < version < SCHEMA_VERSION:
        return
    try:
        open_database(path).close()
    except sqlite3.Error as exc:
        fail(
            f"{path} is from an older fediscope (schema {version}) and could not be upgraded "
            f"to schema {SCHEMA_VERSION} ({exc}): give fediscope write access to it and its folder"
        )


def _refuse_newer(path: str) -> None:
    """A CLIError when the database was written by a newer fediscope than this one."""
    from crawler.store.schema import SCHEMA_VERSION, schema_version

    version = schema_version(path)
    if version > SCHEMA_VERSION:
        fail(
            f"{path} was written by a newer fediscope (schema {version}, this one knows up to "
            f"{SCHEMA_VERSION}): upgrade fediscope (pip install -U fediscope)"
        )


def writable_database(path: str) -> str:
    """A path where a database exists or can be created (its folder must exist)."""
    from crawler.store.schema import is_fediscope_database

    file = Path(path)
    if file.is_dir():
        fail(
            f"{path} is a folder: pass the database file itself, e.g. --db {file / 'fediverse.db'}"
        )
    if file.exists() and not is_fediscope_database(path):
        fail(f"{path} is not a SQLite database")
    if file.exists():
        _refuse_newer(path)
    if not file.exists():
        if path == DEFAULT_DB:
            file.parent.mkdir(parents=True, exist_ok=True)
        elif not file.parent.is_dir():
            fail(f"folder {file.parent} for database {path} does not exist")
    return path


def open_read_only(path: str) -> sqlite3.Connection:
    """A read-only connection: query commands never write."""
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)
