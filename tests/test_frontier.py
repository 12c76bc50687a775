"""The frontier: seeds first, then the most widely listed names, re-scored now and then."""

from __future__ import annotations

import pytest

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


def test_seeds_first_then_most_listed_then_discovery_order():
    frontier = Frontier(FakeClock())
    frontier.count(["b.example", "c.example", "c.example", "d.example"])
    for name in ("a.example", "b.example", "c.example", "d.example"):
        frontier.push(name, 1)
    frontier.push("seed.example", 0, seed=True)
    # c listed twice; b and d once each (b came first); a never.
    assert drain(frontier) == ["seed.example", "c.example", "b.example", "d.example", "a.example"]


def test_count_says_whether_a_list_names_anything_never_listed_before():
    frontier = Frontier(FakeClock())
    assert frontier.count(["a.example", "b.example"]) is True
    assert frontier.count(["b.example", "a.example"]) is False  # both counted before
    assert frontier.count(["a.example", "c.example"]) is True
    assert frontier.count([]) is False
    assert frontier.listed == {"a.example": 3, "b.example": 2, "c.example": 1}


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
    frontier.count(["c.example"] * 3)
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
