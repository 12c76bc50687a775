"""Checked names travel to the store process as crawl ids, each name once, and are stored as
the same names: through the pickler and unpickler alone, and through a writer that rolls a
visit back."""

from __future__ import annotations

import pickle
from collections import Counter

import pytest

from crawler.checked_names import CheckedNames, NameTable
from crawler.store import transport
from crawler.store.transport import ArrivedNames, NameSender
from crawler.store.writer import StoreWriter
from tests.writer_crawls import DAY, alive, intervals


def checked(table: NameTable, names: list[str]) -> CheckedNames:
    return table.checked(dict.fromkeys(table.add(name, name) for name in names))


@pytest.fixture
def receiving():
    transport.start_receiving()
    yield
    transport.start_receiving()


def test_each_name_crosses_once_and_every_list_arrives_with_its_names(receiving):
    table, sender = NameTable(), NameSender()
    lists = [["a.test", "b.test"], ["b.test", "c.test", "a.test"], ["c.test"], ["d.test"]]
    frames = []
    for names in lists:
        frames.append(sender.dumps(("call", (checked(table, names),), {})))
        _, (arrived,), _ = pickle.loads(frames[-1])
        assert isinstance(arrived, ArrivedNames) and list(arrived) == names
        assert len(arrived) == len(names)
    assert b"a.test" in frames[0] and b"a.test" not in frames[1] and b"b.test" not in frames[1]
    assert frames[1].count(b"c.test") == 1 and b"test" not in frames[2]
    assert transport._RECEIVED == table.names == ["a.test", "b.test", "c.test", "d.test"]


def test_lists_without_ids_or_of_another_table_arrive_as_plain_lists(receiving):
    table, sender = NameTable(), NameSender()
    sender.dumps(checked(table, ["a.test"]))
    other = checked(NameTable(), ["x.test"])
    without_ids = CheckedNames(["y.test"])
    value = pickle.loads(sender.dumps([other, without_ids]))
    assert value == [["x.test"], ["y.test"]] and all(type(item) is list for item in value)
    assert pickle.loads(pickle.dumps(checked(table, ["b.test"]))) == ["b.test"]  # elsewhere


def test_names_of_a_call_that_could_not_be_pickled_go_with_the_next(receiving):
    table, sender = NameTable(), NameSender()
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        sender.dumps((checked(table, ["a.test"]), lambda: None))
    assert list(pickle.loads(sender.dumps(checked(table, ["b.test", "a.test"])))) == [
        "b.test",
        "a.test",
    ]


def test_a_call_unpickled_out_of_order_fails_loudly(receiving):
    table, sender = NameTable(), NameSender()
    sender.dumps(checked(table, ["a.test"]))  # never delivered
    later = sender.dumps(checked(table, ["b.test"]))
    with pytest.raises(ValueError, match="names from crawl id 1 arrived, 0 expected"):
        pickle.loads(later)


def test_ids_taken_back_by_a_rolled_back_visit_are_never_used(crawls, monkeypatch, receiving):
    """The rolled-back visit's peers got `domains` ids that its rollback took back; the same
    names listed again later must get new ids, not the forgotten ones."""
    crawls.begin()
    table, sender = NameTable(), NameSender()
    original = StoreWriter._record_lists

    def fail_for_bad(self, observation, *args):
        original(self, observation, *args)
        if observation.domain == "bad.test":
            raise ValueError("broken list")

    monkeypatch.setattr(StoreWriter, "_record_lists", fail_for_bad)

    def visit(domain: str, peers: list[str]):
        observation = alive(domain, peers=checked(table, peers), rejected_names=Counter())
        return pickle.loads(sender.dumps(observation))

    batch = [
        (visit("a.test", ["p1.test", "p2.test"]), 0, None),
        (visit("bad.test", ["q1.test", "p2.test", "q3.test"]), 1, ("peer", "a.test")),
        (visit("c.test", ["q3.test", "p2.test", "q2.test"]), 1, ("peer", "a.test")),
    ]
    assert all(isinstance(item[0].peers, ArrivedNames) for item in batch)
    results = crawls.writer.record_visits(batch, crawls.crawl_id, crawls.now, DAY)
    assert [r.status for r in results] == ["alive", "error", "alive"]
    assert [name for name, _ in results[2].new_domains] == ["q2.test", "q3.test"]
    assert intervals(crawls, "c.test") == {
        ("p2.test", 1, None),
        ("q2.test", 1, None),
        ("q3.test", 1, None),
    }
    monkeypatch.setattr(StoreWriter, "_record_lists", original)
    again = crawls.writer.record_visits(batch[1:2], crawls.crawl_id, crawls.now, DAY)
    assert again[0].error is None and [name for name, _ in again[0].new_domains] == ["q1.test"]
    assert intervals(crawls, "bad.test") == {
        ("q1.test", 1, None),
        ("p2.test", 1, None),
        ("q3.test", 1, None),
    }
    ids = dict(crawls.rows("SELECT name, id FROM domains"))
    assert len(set(ids.values())) == len(ids) == 8
