"""The instance state machine and retry schedule, with an explicit clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crawler.fetch import errors
from crawler.lifecycle import (
    DEAD_AFTER,
    DEAD_AFTER_FAILURES,
    RETRY_CAP,
    PreviousState,
    retry_delay,
    transition,
)
from crawler.observation import Observation

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def failed(kind: str, retry_after: float | None = None) -> Observation:
    return Observation("x.test", status="unreachable", error_kind=kind, retry_after=retry_after)


def test_each_error_kind_has_its_own_base_and_doubles_up_to_the_cap():
    assert retry_delay(errors.CONNECT, 1) == timedelta(hours=1)
    assert retry_delay(errors.CONNECT, 2) == timedelta(hours=2)
    assert retry_delay(errors.DNS, 1) == timedelta(hours=12)
    assert retry_delay(errors.TIMEOUT, 1) == timedelta(hours=3)
    assert retry_delay(errors.BAD_JSON, 1) == DAY
    assert retry_delay(errors.CONNECT, 30) == RETRY_CAP


def test_retry_after_longer_than_the_schedule_is_obeyed():
    assert retry_delay(errors.HTTP_429, 1, retry_after=86400) == DAY


def test_dead_needs_repeated_failures_spread_over_time():
    state = PreviousState()
    now = T0
    # Many failures within a few hours: still unreachable, never dead.
    for _ in range(DEAD_AFTER_FAILURES + 3):
        change = transition(state, failed(errors.CONNECT), now, DAY)
        assert change.status == "unreachable"
        state = PreviousState(change.status, change.failures, change.first_failure_at)
        now += timedelta(minutes=30)
    # Once the failures span a week, the next failure makes it dead.
    change = transition(state, failed(errors.CONNECT), T0 + DAY * 8, DAY)
    assert change.status == "dead"
    assert change.next_visit - (T0 + DAY * 8) > 20 * DAY


def test_a_week_without_enough_failures_is_not_dead():
    state = PreviousState("unreachable", 2, T0)
    change = transition(state, failed(errors.TIMEOUT), T0 + DEAD_AFTER * 2, DAY)
    assert change.status == "unreachable"
    assert change.failures == 3


def test_success_resets_failures_and_schedules_a_revisit():
    state = PreviousState("dead", 9, T0)
    alive = Observation("x.test", status="alive")
    change = transition(state, alive, T0 + DAY * 40, timedelta(hours=20))
    assert (change.status, change.failures, change.first_failure_at) == ("alive", 0, None)
    assert timedelta(hours=17) < change.next_visit - (T0 + DAY * 40) < timedelta(hours=23)


def test_skipped_for_crawl_delay_keeps_the_state():
    state = PreviousState("alive", 0, None)
    skipped = Observation(
        "x.test", status="pending", error_kind=errors.CRAWL_DELAY_TOO_LONG, skip_reason="x"
    )
    change = transition(state, skipped, T0, DAY)
    assert change.status == "alive"
    assert change.next_visit - T0 == timedelta(days=7)
