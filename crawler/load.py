"""Is the crawler itself overloaded? Event-loop lag, timeouts and answer times, and what to do.

A request times out when its answer does not arrive in time, but under load the answer may
be sitting unread while the event loop is busy elsewhere: the server is then called
unreachable because fediscope was busy. Two signals tell the crawler's own overload apart
from slow servers:

- the event loop waking late, sustained: the mean lag of the last few looks. One long pause
  (a full garbage collection of a large heap takes a few tenths of a second) delays answers
  by that much, far below any timeout, and is not overload;
- a timeout share of recent answers far above the crawl's usual one, while the answers that
  do arrive are slow too. Without the slow answers a spike is the servers': the hanging
  servers of a wave of visits that started together time out together, and the last
  answers of a crawl are mostly from servers that hang.

While either holds, `Throttle` lowers the requests allowed in flight (multiplicatively) and
raises them again slowly once it passes (AIMD, as TCP does), and the engine visits the
servers that timed out meanwhile once more when the overload has passed (or at the end of
the crawl).

A timeout is blamed on the crawler only when it was overloaded for at least BLAME_SHARE of
the time the request was waiting. A blip of overload (a quarter-second of lag, a wave of
hanging servers) cannot explain a request that waited 30 s, and a server that hangs would
otherwise be waited for twice, often at the very end of the crawl.

`LoadMonitor.sample` and `Throttle.next_limit` are pure (times and counts in, verdicts out);
`watch` is the loop that feeds them.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from crawler.fetch import errors
from crawler.fetch.wire import AnswerTimes

#: Seconds between two looks at the event loop.
TICK = 0.25
#: The loop woke this much later than asked, on average over the last LAG_WINDOW looks:
#: callbacks (answers) wait that long too. Short stalls on a busy machine are normal and
#: harmless next to a timeout of seconds.
LAG_LIMIT = 0.25
LAG_WINDOW = 4
#: Seconds without overload before the visits that timed out are made again.
QUIET = 2.0
#: A recent timeout share above this, and several times the crawl's share so far, is a spike.
SPIKE_SHARE = 0.25
SPIKE_FACTOR = 3.0
#: Answers a window needs before its timeout share means anything.
MIN_ANSWERS = 20
#: A spike is the crawler's only while the answers that arrive take this many times their
#: usual time (mean over the crawl so far), judged on at least SLOW_MIN_ANSWERS of them.
SLOW_FACTOR = 3.0
SLOW_MIN_ANSWERS = 5
#: A timed-out request is the crawler's fault when it was overloaded for this share of the
#: request's wait (or more).
BLAME_SHARE = 0.25
#: Seconds of looks kept to judge a timeout by (longer than any request may wait).
HISTORY = 300.0


@dataclass
class LoadMonitor:
    """Remembers when the crawler was last overloaded, from lag and timeout samples."""

    last_overload: float = float("-inf")
    answers: int = 0
    timeouts: int = 0
    _seen: Counter[str] = field(default_factory=Counter)
    _lags: list[float] = field(default_factory=list)
    _times_seen: AnswerTimes = field(default_factory=AnswerTimes)
    #: The stretches of the last HISTORY seconds that were overloaded, (from, to), oldest
    #: first: each overloaded look stands for the time since the look before it.
    _overloaded: deque[tuple[float, float]] = field(default_factory=deque)
    _last_look: float | None = None

    def sample(self, now: float, lag: float, stats: Counter[str], times: AnswerTimes) -> bool:
        """Take one look (loop lag, the fetcher's answer counts and answer times so far);
        True if overloaded."""
        new_answers = sum(stats.values()) - sum(self._seen.values())
        new_timeouts = stats[errors.TIMEOUT] - self._seen[errors.TIMEOUT]
        self._seen = Counter(stats)
        usual = self.timeouts / self.answers if self.answers else 0.0
        self.answers += new_answers
        self.timeouts += new_timeouts
        share = new_timeouts / new_answers if new_answers >= MIN_ANSWERS else 0.0
        spike = share > SPIKE_SHARE and share > SPIKE_FACTOR * usual
        spike = spike and self._answers_slow(times)
        self._times_seen = AnswerTimes(times.answers, times.seconds)
        self._lags = [*self._lags[1 - LAG_WINDOW :], lag]
        overloaded = sum(self._lags) / LAG_WINDOW > LAG_LIMIT or spike
        if overloaded:
            self.last_overload = now
        self._remember(now, overloaded)
        return overloaded

    def _remember(self, now: float, overloaded: bool) -> None:
        """Keep this look's verdict for the stretch since the previous look."""
        since = self._last_look if self._last_look is not None else now - TICK
        self._last_look = now
        stretches = self._overloaded
        if overloaded:
            if stretches and stretches[-1][1] == since:
                stretches[-1] = (stretches[-1][0], now)  # the same stretch goes on
            else:
                stretches.append((since, now))
        while stretches and stretches[0][1] < now - HISTORY:
            stretches.popleft()

    def _answers_slow(self, times: AnswerTimes) -> bool:
        """Whether the answers since the last look took SLOW_FACTOR times their usual time."""
        seen = self._times_seen
        new = times.answers - seen.answers
        if new < SLOW_MIN_ANSWERS or not seen.answers:
            return False
        usual = seen.seconds / seen.answers
        return (times.seconds - seen.seconds) / new > SLOW_FACTOR * usual

    def overloaded_share(self, start: float, end: float) -> float:
        """The share of [start, end] (monotonic) the crawler was overloaded, by its looks."""
        if end <= start:
            return 0.0
        overloaded = 0.0
        for since, until in reversed(self._overloaded):
            if until <= start:
                break
            overloaded += max(0.0, min(until, end) - max(since, start))
        return overloaded / (end - start)

    def explains_timeout(self, waited_from: float, now: float) -> bool:
        """Whether a request that waited from `waited_from` until it timed out `now` may have
        timed out because the crawler was overloaded (BLAME_SHARE of the wait or more)."""
        return self.overloaded_share(waited_from, now) >= BLAME_SHARE

    def quiet(self, now: float) -> bool:
        """No overload for QUIET seconds: a good time to make the timed-out visits again."""
        return now - self.last_overload >= QUIET


@dataclass
class Throttle:
    """The requests allowed in flight: cut by a third when overloaded, back up by 5% + 1,
    never below an eighth of the ceiling (a loop stalled by other processes on the machine
    does not get faster by sending much less)."""

    ceiling: int
    floor: int = 0
    limit: int = 0
    lowest: int = 0  # the lowest limit set so far (the crawl reports it)

    def __post_init__(self) -> None:
        self.floor = min(self.ceiling, self.floor or max(8, self.ceiling // 8))
        self.limit = self.limit or self.ceiling
        self.lowest = self.limit

    def next_limit(self, overloaded: bool) -> int:
        if overloaded:
            self.limit = max(self.floor, int(self.limit * 2 / 3))
            self.lowest = min(self.lowest, self.limit)
        else:
            self.limit = min(self.ceiling, int(self.limit * 1.05) + 1)
        return self.limit


async def watch(
    monitor: LoadMonitor,
    throttle: Throttle,
    stats: Counter[str],
    apply: Callable[[int], None],
    times: AnswerTimes,
) -> None:
    """Sample the loop every TICK until cancelled; apply each new request limit."""
    loop = asyncio.get_running_loop()
    while True:
        asked = loop.time()
        await asyncio.sleep(TICK)
        lag = max(0.0, loop.time() - asked - TICK)
        overloaded = monitor.sample(time.monotonic(), lag, stats, times)
        before = throttle.limit
        if throttle.next_limit(overloaded) != before:
            apply(throttle.limit)
