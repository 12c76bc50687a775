"""The instance state machine and the re-visit schedule (pure functions).

    pending --visit--> alive | unreachable | gone | moved | opted_out | invalid
    unreachable --after >= DEAD_AFTER_FAILURES failures spread over >= DEAD_AFTER--> dead
    any failing state --success--> alive (failures reset)

Failures are retried on a schedule per error kind (each its own base delay, doubling with
every consecutive failure, capped), so a dead or struggling server is not hammered. Settled
states are revisited rarely. `fediscope crawl` on an existing database visits only what is due.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from crawler.fetch import errors
from crawler.observation import (
    ALIVE,
    DEAD,
    GONE,
    INVALID,
    MOVED,
    OPTED_OUT,
    PENDING,
    UNREACHABLE,
    Observation,
)

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

#: First retry delay per error kind; each further consecutive failure doubles it.
RETRY_BASE: dict[str, timedelta] = {
    errors.DNS: 12 * HOUR,
    errors.CONNECT: 1 * HOUR,
    errors.TLS: 6 * HOUR,
    errors.TIMEOUT: 3 * HOUR,
    errors.HTTP_5XX: 1 * HOUR,
    errors.HTTP_429: 1 * HOUR,
    errors.ROBOTS_UNAVAILABLE: 6 * HOUR,
    errors.BUDGET_EXHAUSTED: 6 * HOUR,
    errors.CRAWL_DELAY_TOO_LONG: 7 * DAY,
}
INVALID_RETRY_BASE = 1 * DAY
RETRY_CAP = 7 * DAY
DEAD_AFTER_FAILURES = 6
DEAD_AFTER = 7 * DAY
#: Settled states: how long until the next look.
REVISIT = {
    DEAD: 30 * DAY,
    GONE: 30 * DAY,
    MOVED: 30 * DAY,
    OPTED_OUT: 30 * DAY,
}


@dataclass(frozen=True)
class PreviousState:
    """What the store knew about a domain before this visit."""

    status: str = PENDING
    failures: int = 0
    first_failure_at: datetime | None = None


@dataclass(frozen=True)
class Transition:
    """The new lifecycle fields after a visit."""

    status: str
    failures: int
    first_failure_at: datetime | None
    next_visit: datetime


def retry_delay(
    error_kind: str | None, failures: int, retry_after: float | None = None
) -> timedelta:
    """Delay before the next attempt after `failures` consecutive failures (>= 1)."""
    base = RETRY_BASE.get(error_kind or "", INVALID_RETRY_BASE)
    delay = min(RETRY_CAP, base * 2 ** max(0, failures - 1))
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=min(retry_after, RETRY_CAP.total_seconds())))
    return delay


def jitter(domain: str, delay: timedelta, spread: float = 0.1) -> timedelta:
    """A stable per-domain jitter of +-`spread`, so revisits do not arrive in lockstep."""
    fraction = int.from_bytes(hashlib.blake2b(domain.encode(), digest_size=2).digest()) / 65535
    return delay * (1 + spread * (2 * fraction - 1))


def transition(
    previous: PreviousState,
    observation: Observation,
    now: datetime,
    recrawl_after: timedelta,
) -> Transition:
    """The lifecycle after a visit that ended in `observation.status`."""
    status = observation.status
    domain = observation.domain
    if status == ALIVE:
        return Transition(ALIVE, 0, None, now + jitter(domain, recrawl_after))
    if status in REVISIT:
        return Transition(status, 0, None, now + jitter(domain, REVISIT[status]))
    if status == PENDING:  # deliberately skipped (e.g. Crawl-delay above our cap)
        delay = retry_delay(observation.error_kind, 1)
        return Transition(
            previous.status, previous.failures, previous.first_failure_at, now + delay
        )
    failures = previous.failures + 1
    first_failure = previous.first_failure_at or now
    delay = retry_delay(observation.error_kind, failures, observation.retry_after)
    if (
        status == UNREACHABLE
        and failures >= DEAD_AFTER_FAILURES
        and now - first_failure >= DEAD_AFTER
    ):
        return Transition(DEAD, failures, first_failure, now + jitter(domain, REVISIT[DEAD]))
    if status == UNREACHABLE and previous.status == DEAD:
        # Still down: stay dead, look again in a month.
        return Transition(DEAD, failures, first_failure, now + jitter(domain, REVISIT[DEAD]))
    assert status in (UNREACHABLE, INVALID), status
    return Transition(status, failures, first_failure, now + jitter(domain, delay))
