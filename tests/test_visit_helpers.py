"""`Visit` helpers: `domains` validates, de-duplicates and counts rejected names the same way
whether the names were seen before (the C-speed path) or not; `fetch` keeps every answer and
seals big bodies at once."""

from __future__ import annotations

from collections import Counter

from crawler import checked_names
from crawler.adapters import base
from crawler.adapters.base import Visit
from crawler.domains import DomainPolicy
from crawler.observation import Observation, Recalled

POLICY = DomainPolicy(extra_tlds=frozenset({"test"}))


def visit_of(domain: str) -> Visit:
    return Visit(None, Observation(domain), POLICY)  # type: ignore[arg-type]


def test_names_are_normalised_deduplicated_and_the_host_left_out(monkeypatch):
    monkeypatch.setattr(checked_names, "_TABLES", {})
    names = ["B.test", "a.test", "b.test", "self.test", "a.test.", "c.test"]
    for _ in range(2):  # the second read takes the path of names already validated
        visit = visit_of("self.test")
        assert visit.domains(names) == ["b.test", "a.test", "c.test"]
        assert visit.observation.rejected_names == Counter()


def test_a_name_already_in_checked_form_is_kept_as_the_first_object_seen(monkeypatch):
    """Later lists map their copies of a name to that one object (cheap set and counter
    lookups); a name that needed normalising maps to its normalised form."""
    monkeypatch.setattr(checked_names, "_TABLES", {})
    first = ["".join(["a", ".test"]), "B.test"]  # built at run time: not interned constants
    for path in ("slow", "fast"):
        if path == "slow":  # a rejected name sends the whole list through the slow path
            found = visit_of("self.test").domains([*first, "bad name.test"])
        else:
            monkeypatch.setattr(checked_names, "_TABLES", {})
            found = visit_of("self.test").domains(first)
        assert found == ["a.test", "b.test"] and found[0] is first[0]
        again = visit_of("self.test").domains(["".join(["a", ".test"]), "B.test"])
        assert again == found and again[0] is first[0] and again[1] is found[1]


def test_each_checked_name_carries_the_id_every_spelling_of_it_maps_to(monkeypatch):
    monkeypatch.setattr(checked_names, "_TABLES", {})
    for names in (["B.test", "a.test", "self.test"], ["a.test.", " b.test ", "bad name.test"]):
        found = visit_of("self.test").domains(names)
        assert found == ["b.test", "a.test"] or found == ["a.test", "b.test"]
        table = found.table
        assert table is not None and found.ids is not None
        assert [table.names[number] for number in found.ids] == found
    assert found.ids.tolist() == [table.ids["a.test"], table.ids["b.test"]]
    assert table.ids["B.test"] == table.ids[" b.test "] == table.ids["b.test"]


def test_names_the_full_table_cannot_take_are_still_checked_but_carry_no_ids(monkeypatch):
    monkeypatch.setattr(checked_names, "_TABLES", {})
    monkeypatch.setattr(checked_names, "TABLE_LIMIT", 2)
    monkeypatch.setattr(base, "TABLE_LIMIT", 2)
    visit_of("self.test").domains(["a.test"])
    found = visit_of("self.test").domains(["a.test", "C.test", "b.test", "a.test"])
    assert found == ["a.test", "c.test", "b.test"] and found.ids is None
    found = visit_of("self.test").domains(["D.test", "a.test", "bad name.test", "self.test"])
    assert found == ["d.test", "a.test"] and found.ids is None
    assert "d.test" not in checked_names.table_for(POLICY.extra_tlds).ids
    found = visit_of("self.test").domains(["a.test", "bad name.test"])
    assert found == ["a.test"] and found.ids is not None


def test_rejected_names_are_counted_by_reason_every_time(monkeypatch):
    monkeypatch.setattr(checked_names, "_TABLES", {})
    names = ["a.test", "bad name.test", 7, {"host": "x.test"}, "localhost", "a.test"]
    for _ in range(2):
        visit = visit_of("self.test")
        assert visit.domains(iter(names)) == ["a.test"]
        rejected = visit.observation.rejected_names
        assert sum(rejected.values()) == 4
        assert rejected["not_a_string"] == 2
    visit = visit_of("self.test")
    assert visit.domains(names, count_rejected=False) == ["a.test"]
    assert visit.observation.rejected_names == Counter()


def test_a_list_of_known_names_is_not_counted_as_rejected(monkeypatch):
    monkeypatch.setattr(checked_names, "_TABLES", {})
    visit_of("self.test").domains(["x.test", "y.test"])
    visit = visit_of("x.test")
    assert visit.domains(["y.test", "x.test", "y.test"]) == ["y.test"]
    assert visit.observation.rejected_names == Counter()


async def test_a_big_answer_is_sealed_at_once_and_a_small_one_left_to_the_store():
    import hashlib

    from crawler.adapters.base import OFFLOAD_BYTES
    from crawler.fetch import Response

    bodies = {"/big": b"x" * OFFLOAD_BYTES, "/small": b"y" * 100}

    class Answers:
        async def request(self, domain, path, **_):
            return Response(domain, path, status=200, body=bodies[path], requests=1)

    visit = Visit(Answers(), Observation("self.test"), POLICY)  # type: ignore[arg-type]
    await visit.fetch("/big")
    await visit.fetch("/small")
    big, small = visit.observation.documents
    assert big.body is None and big.sha256 == hashlib.sha256(bodies["/big"]).hexdigest()
    assert small.body == bodies["/small"] and small.sha256 is None


async def test_a_big_answer_the_database_holds_is_hashed_but_not_compressed_or_kept():
    import hashlib
    import zlib

    from crawler.adapters.base import OFFLOAD_BYTES
    from crawler.fetch import Response

    stored, changed = b"s" * OFFLOAD_BYTES, b"c" * OFFLOAD_BYTES
    bodies = {"/stored": stored, "/changed": changed}

    class Answers:
        async def request(self, domain, path, **_):
            return Response(domain, path, status=200, body=bodies[path], requests=1)

    known = {hashlib.sha256(stored).digest()}
    recalled = Recalled(bodies=known)
    visit = Visit(Answers(), Observation("self.test"), POLICY, recalled=recalled)  # type: ignore[arg-type]
    await visit.fetch("/stored")
    await visit.fetch("/changed")
    same, new = visit.observation.documents
    assert same.sha256 == hashlib.sha256(stored).hexdigest() and same.size == len(stored)
    assert same.body is None and same.compressed is None
    assert new.sha256 == hashlib.sha256(changed).hexdigest()
    assert new.compressed is not None and zlib.decompress(new.compressed) == changed
