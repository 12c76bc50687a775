"""One writer job per database: an advisory lock on a sidecar file (`DB.lock`).

A crawl, an analyze or an import holds `flock(LOCK_EX)` on `DB.lock` while it runs; a second one
on the same database fails at once with a one-line message naming the holder. The kernel
releases the lock when the holder's process ends, however it ends (Ctrl-C, crash, `kill -9`), so
a stale lock cannot block the next scheduled crawl. The lock file is left in place (removing it
would race with a process that just opened it); what is written in it only names the holder for
the message, the lock itself is the flock. Readers (`serve`, `who-blocks`, `export`) take no lock:
SQLite's WAL gives them a consistent snapshot while a writer commits.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path


class DatabaseBusy(RuntimeError):
    """Another fediscope job holds the database's lock (one-line message)."""


def lock_path(db_path: str) -> Path:
    return Path(f"{db_path}.lock")


@contextlib.contextmanager
def database_lock(db_path: str, job: str) -> Iterator[None]:
    """Hold the database's writer lock for `job` (crawl, analyze, ...) or raise DatabaseBusy."""
    path = lock_path(db_path)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(descriptor) or "another fediscope job"
            raise DatabaseBusy(
                f"{db_path} is in use by {holder}; try again when it has finished"
            ) from None
        started = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"fediscope {job} (pid {os.getpid()}, since {started})".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(descriptor, 0)
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


def _read(descriptor: int) -> str:
    try:
        return os.pread(descriptor, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        return ""
