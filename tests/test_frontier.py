"""The frontier: seeds first, then the most widely listed names, re-scored now and then."""

from __future__ import annotations

import pytest

from crawler.checked_names import NameTable
from crawler.frontier import REBUILD_SECONDS, REBUILD_SHARE, Frontier


class FakeClock:
    """Monotonic seconds that move only when told (or by `step` on every read)."""

    def __init__(self, step: float = 0.0) -> None:
        self.now = 100.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def drain(frontier: Frontier) -> list[str]:
    order = []
    while frontier:
        order.append(frontier.pop()[0])
    return order


def plain(names: list[str]) -> list[str]:
    return names


def with_ids(table: NameTable):
    """Lists as a visit hands them over: distinct checked names carrying their ids."""

    def checked(names: list[str]):
        ids = dict.fromkeys(table.add(name, name) for name in names)
        return table.checked(ids)

    return checked


@pytest.fixture(params=["plain", "ids"])
def listed(request):
    return plain if request.param == "plain" else with_ids(NameTable())


def test_seeds_first_then_most_listed_then_discovery_order(listed):
    frontier = Frontier(FakeClock())
    frontier.count(listed(["b.example", "c.example", "d.example"]))
    frontier.count(listed(["c.example"]))
    for name in ("a.example", "b.example", "c.example", "d.example"):
        frontier.push(name, 1)
    frontier.push("seed.example", 0, seed=True)
    # c listed twice; b and d once each (b came first); a never.
    assert drain(frontier) == ["seed.example", "c.example", "b.example", "d.example", "a.example"]


def test_count_says_whether_a_list_names_anything_never_listed_before(listed):
    frontier = Frontier(FakeClock())
    assert frontier.count(listed(["a.example", "b.example"])) is True
    assert frontier.count(listed(["b.example", "a.example"])) is False  # both counted before
    assert frontier.count(listed(["a.example", "c.example"])) is True
    assert frontier.count(listed([])) is False
    counted = {name: frontier.listings(name) for name in ("a.example", "b.example", "c.example")}
    assert counted == {"a.example": 3, "b.example": 2, "c.example": 1}
    assert frontier.listings("never.example") == 0


def test_counts_by_ids_grow_with_the_table_and_add_to_counts_without_ids():
    table = NameTable()
    checked = with_ids(table)
    frontier = Frontier(FakeClock())
    frontier.count(checked(["a.example"]))
    many = [f"n{i}.example" for i in range(500)]
    assert frontier.count(checked(many)) is True  # ids beyond the array's first size
    assert frontier.count(["a.example", "n499.example"]) is True  # new to the plain counter
    other_table = with_ids(NameTable())(["a.example", "z.example"])
    assert frontier.count(other_table) is True  # counted without ids: z is new there
    assert frontier.listings("a.example") == 3 and frontier.listings("n499.example") == 2
    assert frontier.listings("n0.example") == 1


def test_pop_returns_hops_and_empty_raises():
    frontier = Frontier(FakeClock())
    frontier.push("a.example", 3)
    assert frontier.pop() == ("a.example", 3)
    assert not frontier and len(frontier) == 0
    with pytest.raises(IndexError):
        frontier.pop()


def test_pushing_again_keeps_one_entry_with_the_latest_hops():
    frontier = Frontier(FakeClock())
    frontier.push("a.example", 5)
    frontier.push("b.example", 1)
    frontier.push("a.example", 2)
    assert len(frontier) == 2
    assert sorted([frontier.pop(), frontier.pop()]) == [("a.example", 2), ("b.example", 1)]
    assert not frontier


def test_counts_after_push_reorder_only_at_the_next_rebuild():
    clock = FakeClock()
    frontier = Frontier(clock)
    for name in ("a.example", "b.example", "c.example"):
        frontier.push(name, 1)
    for _ in range(3):
        frontier.count(["c.example"])
    clock.now += REBUILD_SECONDS / 2
    assert frontier.pop()[0] == "a.example"  # heap not rebuilt yet: discovery order
    clock.now += REBUILD_SECONDS
    assert frontier.pop()[0] == "c.example"  # re-scored from the current counts
    assert frontier.pop()[0] == "b.example"


def test_a_slow_rebuild_makes_the_next_one_wait_longer():
    clock = FakeClock()
    frontier = Frontier(clock)
    for index in range(10):
        frontier.push(f"n{index}.example", 1)
    assert frontier.rebuild_interval == REBUILD_SECONDS
    clock.now += REBUILD_SECONDS + 1
    clock.step = 0.5  # each clock read inside the rebuild: it takes 0.5 s
    frontier.pop()
    clock.step = 0.0
    assert frontier.rebuild_interval == pytest.approx(0.5 / REBUILD_SHARE)
    # Counts that arrive now wait for that longer interval.
    frontier.count(["n9.example"] * 5)
    clock.now += REBUILD_SECONDS * 2
    assert frontier.pop()[0] == "n1.example"
    clock.now += 0.5 / REBUILD_SHARE
    assert frontier.pop()[0] == "n9.example"


def test_a_fast_rebuild_keeps_the_floor_interval():
    clock = FakeClock()
    frontier = Frontier(clock)
    frontier.push("a.example", 1)
    frontier.push("b.example", 1)
    clock.now += REBUILD_SECONDS + 1
    clock.step = 0.001
    frontier.pop()
    assert frontier.rebuild_interval == REBUILD_SECONDS
