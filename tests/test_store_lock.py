"""The database's writer lock and what passes for a fediscope database.

One writer job at a time per database (`crawler.store.lock`); the refused job gets one line
naming the holder, whatever the lock file holds.
"""

from __future__ import annotations

import os

import pytest

from crawler.domains import SANDBOX
from crawler.store.lock import DatabaseBusy, _read, database_lock, lock_path
from crawler.store.schema import is_fediscope_database
from crawler.store.writer import StoreWriter


def test_one_writer_job_per_database(tmp_path):
    db = str(tmp_path / "locked.db")
    with database_lock(db, "crawl"):
        holder = lock_path(db).read_text()
        assert holder.startswith("fediscope crawl (pid ")
        with pytest.raises(DatabaseBusy) as busy, database_lock(db, "analyze"):
            pytest.fail("a second job got the lock")
        message = str(busy.value)
        assert message.startswith(f"{db} is in use by fediscope crawl (pid ")
        assert message.endswith("; try again when it has finished") and "\n" not in message
        assert lock_path(db).read_text() == holder, "the refused job must not touch the file"
    assert lock_path(db).read_text() == ""
    with database_lock(db, "analyze"):  # released: the next job gets it
        assert lock_path(db).read_text().startswith("fediscope analyze (pid ")
    with database_lock(str(tmp_path / "other.db"), "crawl"), database_lock(db, "crawl"):
        pass  # one lock per database, not one for all


def test_a_lock_file_left_by_a_dead_holder_names_nobody(tmp_path):
    db = str(tmp_path / "x.db")
    lock_path(db).write_text("")
    with database_lock(db, "crawl"), pytest.raises(DatabaseBusy, match="another fediscope job"):
        lock_path(db).write_text("")  # as if the holder's name were lost
        with database_lock(db, "crawl"):
            pass


def test_only_sqlite_files_and_empty_files_pass_for_a_database(tmp_path):
    empty, text, real = tmp_path / "empty.db", tmp_path / "notes.txt", tmp_path / "real.db"
    empty.write_bytes(b"")
    text.write_text("SQLite format 3 is what this file talks about, not what it is\n")
    StoreWriter(str(real), SANDBOX).close()
    assert is_fediscope_database(str(empty)) and is_fediscope_database(str(real))
    assert not is_fediscope_database(str(text))
    assert not is_fediscope_database(str(tmp_path / "missing.db"))
    assert not is_fediscope_database(str(tmp_path))  # a directory


HOLDER = b"fediscope \xff crawl "


def test_the_lock_names_a_holder_whatever_its_file_holds(tmp_path):
    db = str(tmp_path / "x.db")
    with database_lock(db, "crawl"):
        lock_path(db).write_bytes(HOLDER + b"x" * 300)
        with pytest.raises(DatabaseBusy) as busy, database_lock(db, "analyze"):
            pass
    holder = str(busy.value).removeprefix(f"{db} is in use by ").split(";")[0]
    # The first 200 bytes, a byte that is not UTF-8 replaced, and no traceback.
    assert holder == "fediscope \ufffd crawl " + "x" * (200 - len(HOLDER))


def test_an_unreadable_lock_file_names_nobody(tmp_path):
    descriptor = os.open(tmp_path, os.O_RDONLY)  # a directory: reading it fails
    try:
        assert _read(descriptor) == ""
    finally:
        os.close(descriptor)
