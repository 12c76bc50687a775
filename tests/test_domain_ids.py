"""`DomainIds`: the store's name -> id map, extended in the caller's transaction."""

from __future__ import annotations

from crawler.store.ids import DomainIds
from crawler.store.schema import open_database


def test_ensure_ids_gives_ids_in_order_and_names_the_new_ones_sorted(tmp_path):
    connection = open_database(str(tmp_path / "ids.db")).conn
    ids = DomainIds(connection)
    assert ids.ensure_ids(["b.test", "a.test"]) == ([2, 1], ["a.test", "b.test"])
    # All known: nothing new, the same ids, duplicates kept in place.
    assert ids.ensure_ids(["a.test", "b.test", "a.test"]) == ([1, 2, 1], [])
    assert ids.ensure_ids(["z.test", "a.test", "c.test"]) == ([4, 1, 3], ["c.test", "z.test"])
    stored = dict(connection.execute("SELECT name, id FROM domains"))
    assert stored == {"a.test": 1, "b.test": 2, "c.test": 3, "z.test": 4}
    assert DomainIds(connection).ensure_ids(["z.test"]) == ([4], [])  # loaded back
