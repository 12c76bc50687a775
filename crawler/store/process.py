"""`StoreProcess`: the crawl's `StoreWriter` in a process of its own.

Turning a visit into rows (domain ids, peer intervals, the document log, block events) is
Python work. On a thread it held the GIL the crawl's event loop needs: at full scale the store
took a third of the crawl's CPU and the loop, the bottleneck, waited for it. In a child process
it runs on the second core. Calls name a `StoreWriter` method (`StoreWriter.record_visit`) and
are run one at a time, in order, by the child's one writer; arguments and results are pickled
(an `Observation` with a 50,000-name peer list pickles in a few milliseconds).

The child is forked from a fork server (`multiprocessing`'s forkserver, with the writer's
modules preloaded), never from the crawl itself: forking a process that runs an event loop and
threads can copy a lock held by another thread. It ignores Ctrl-C, so an interrupted crawl
closes its database through `close()` instead of losing the writer mid-transaction, and it
ends by itself when the crawl is killed.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import resource
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Concatenate, ParamSpec, TypeVar

from crawler.domains import DomainPolicy
from crawler.store.writer import StoreWriter

P = ParamSpec("P")
T = TypeVar("T")

_writer: StoreWriter | None = None


class StoreStopped(RuntimeError):
    """The store process ended while the crawl still needed it."""


def _open(path: str, policy: DomainPolicy) -> None:
    global _writer
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_the_crawl, name="crawl-watch", daemon=True).start()
    _writer = StoreWriter(path, policy)


def _exit_with_the_crawl() -> None:
    """End this process when the crawl that started it is gone (kill -9): the executor's
    worker would otherwise wait for calls forever, holding the database open. What was not
    committed is rolled back by SQLite on the next open."""
    crawl = multiprocessing.parent_process()
    if crawl is not None:
        crawl.join()
        os._exit(1)


def _call(method: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
    if _writer is None:
        raise StoreStopped("the store was not opened")
    return method(_writer, *args, **kwargs)


def _close() -> int:
    """Close the writer; the process's peak resident memory in KiB."""
    global _writer
    if _writer is not None:
        _writer.close()
        _writer = None
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _context() -> multiprocessing.context.BaseContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["crawler.store.writer"])
    return context


class StoreProcess:
    """A `StoreWriter` in a child process; every call is awaited from the event loop."""

    def __init__(self, path: str, policy: DomainPolicy):
        self._path, self._policy = path, policy
        self._executor: ProcessPoolExecutor | None = None
        #: The child's peak resident memory in MiB, known once it closed.
        self.peak_rss_mib: int | None = None

    async def open(self) -> StoreProcess:
        self._executor = ProcessPoolExecutor(max_workers=1, mp_context=_context())
        try:
            await self._run(_open, self._path, self._policy)
        except BaseException:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
            raise
        return self

    async def call(
        self,
        method: Callable[Concatenate[StoreWriter, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run `method` (a `StoreWriter` function, e.g. `StoreWriter.begin_crawl`) in the child."""
        return await self._run(_call, method, args, kwargs)

    async def close(self) -> None:
        if self._executor is None:
            return
        try:
            self.peak_rss_mib = await self._run(_close) // 1024
        except StoreStopped:
            pass
        finally:
            self._executor.shutdown(wait=True)
            self._executor = None

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            raise StoreStopped("the store is closed")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, function, *args)
        except BrokenProcessPool as exc:
            raise StoreStopped(f"the store process stopped ({exc})") from None
