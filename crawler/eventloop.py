"""The event loop a crawl runs on: uvloop where it is installed and wanted, asyncio otherwise.

At high concurrency the crawl is CPU-bound, and most of that CPU is the event loop and
aiohttp's transports (select, writes, timers), not fediscope's code; uvloop does that work in
libuv. It is installed by default where it builds (CPython on Linux and macOS, the `fast`
extra); nothing in fediscope depends on it. `FEDISCOPE_UVLOOP=0` (or `fediscope crawl
--no-uvloop`) turns it off, `FEDISCOPE_UVLOOP=1` makes its absence an error.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
ENV = "FEDISCOPE_UVLOOP"


class UvloopMissing(RuntimeError):
    """uvloop was required (FEDISCOPE_UVLOOP=1 or use_uvloop=True) but is not installed."""


def wanted(use_uvloop: bool | None = None) -> bool | None:
    """True/False when asked for explicitly (argument, then environment), None for "if any"."""
    if use_uvloop is not None:
        return use_uvloop
    value = os.environ.get(ENV, "").strip().lower()
    if value in ("0", "no", "false", "off"):
        return False
    if value in ("1", "yes", "true", "on"):
        return True
    return None


def loop_factory(use_uvloop: bool | None = None) -> Callable[[], asyncio.AbstractEventLoop]:
    """A factory of the loop to use (see `wanted`)."""
    choice = wanted(use_uvloop)
    if choice is not False:
        try:
            import uvloop
        except ImportError:
            if choice:
                raise UvloopMissing(
                    "uvloop is not installed (pip install 'fediscope[fast]')"
                ) from None
        else:
            return uvloop.new_event_loop
    return asyncio.new_event_loop


def run(coroutine: Coroutine[Any, Any, T], *, use_uvloop: bool | None = None) -> T:
    """`asyncio.run` on the chosen loop."""
    with asyncio.Runner(loop_factory=loop_factory(use_uvloop)) as runner:
        return runner.run(coroutine)


def loop_name(loop: asyncio.AbstractEventLoop | None = None) -> str:
    """`uvloop` or `asyncio`: which loop is running (recorded with each crawl)."""
    loop = loop or asyncio.get_running_loop()
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"
