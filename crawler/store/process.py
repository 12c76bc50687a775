"""`StoreProcess`: the crawl's `StoreWriter` in a process of its own.

Turning a visit into rows (domain ids, peer intervals, the document log, block events) is
Python work. On a thread it held the GIL the crawl's event loop needs: at full scale the store
took a third of the crawl's CPU and the loop, the bottleneck, waited for it. In a child process
it runs on the second core. Lists of checked names travel as crawl ids, each name once
(`crawler.store.transport`). Calls name a `StoreWriter` method (`StoreWriter.record_visits`) and
are run one at a time, in order, by the child's one writer.

Calls and answers travel as length-prefixed pickles over two socket pairs: calls are written
by one thread (`_Sender`), answers are read by the crawl's event loop. (A `ProcessPoolExecutor`
hands over every call and answer through helper threads that need the GIL: with the event loop
busy, each hand-over waited for the interpreter's switch interval, and the round trips of a
full-scale crawl's 5,000 batches added about a minute to the store's time. A call is one
hand-over, and a batch of megabytes no longer waits on the event loop's turns.)

The child is started by a fork server (`multiprocessing`'s forkserver, with the writer's
modules preloaded), never forked from the crawl itself: forking a process that runs an event
loop and threads can copy a lock held by another thread. It ignores Ctrl-C, so an interrupted
crawl closes its database through `close()` instead of losing the writer mid-transaction, and
it ends by itself when the crawl is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import pickle
import queue
import resource
import signal
import socket
import struct
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from crawler.domains import DomainPolicy
from crawler.store import transport
from crawler.store.transport import NameSender
from crawler.store.writer import StoreWriter

P = ParamSpec("P")
T = TypeVar("T")

_LENGTH = struct.Struct("!Q")
_CLOSE = "close"


class StoreStopped(RuntimeError):
    """The store process ended while the crawl still needed it."""


# -- the child ------------------------------------------------------------------------------


def _serve(
    calls: socket.socket, connection: socket.socket, path: str, policy: DomainPolicy
) -> None:
    """The child's loop: one call at a time, answered in order, until told to close."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_the_crawl, name="crawl-watch", daemon=True).start()
    stream = calls.makefile("rb")
    transport.start_receiving()
    writer: StoreWriter | None = None
    try:
        writer = StoreWriter(path, policy)
        _send(connection, ("ok", None))
    except Exception as exc:
        _send(connection, ("error", exc))
        return
    while (frame := _receive(stream)) is not None:
        method, args, kwargs = pickle.loads(frame)
        if method == _CLOSE:
            writer.close()
            usage = resource.getrusage(resource.RUSAGE_SELF)
            _send(connection, ("ok", (usage.ru_maxrss, usage.ru_utime + usage.ru_stime)))
            return
        try:
            answer = ("ok", method(writer, *args, **kwargs))
        except Exception as exc:
            answer = ("error", exc)
        _send(connection, answer)
    writer.close()  # the crawl went away without closing


def _exit_with_the_crawl() -> None:
    """End this process when the crawl that started it is gone (kill -9); what was not
    committed is rolled back by SQLite on the next open."""
    crawl = multiprocessing.parent_process()
    if crawl is not None:
        crawl.join()
        os._exit(1)


def _send(connection: socket.socket, answer: tuple[str, Any]) -> None:
    try:
        data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # an exception that cannot be pickled: send what it said
        data = pickle.dumps(("error", RuntimeError(f"{type(exc).__name__}: {answer[1]!r}")))
    connection.sendall(_LENGTH.pack(len(data)) + data)


def _receive(stream: Any) -> bytes | None:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    return stream.read(_LENGTH.unpack(head)[0])


def _context() -> multiprocessing.context.BaseContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["crawler.store.writer"])
    return context


# -- the crawl's side -----------------------------------------------------------------------


class _Sender:
    """Writes calls to the child from a thread of its own, in the order given.

    A batch of visits pickles to megabytes, and the event loop's transport writes a socket
    buffer's worth (about 200 kB) per turn of the loop: at full scale a turn takes a tenth of a
    second, so a batch reached the store over seconds while the store sat idle and finished
    visits waited. A blocking write from a thread streams it at once.
    """

    def __init__(self, connection: socket.socket):
        self._connection = connection
        self._frames: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="store-calls", daemon=True)
        self._thread.start()

    def send(self, frame: bytes) -> None:
        self._frames.put(frame)

    def close(self, timeout: float = 30.0) -> None:
        """Send what was given, then close the child's call channel (it ends its loop). A
        child that stopped reading has the channel shut after `timeout`, so that a call stuck
        in a full socket buffer cannot keep the crawl from ending."""
        self._frames.put(None)
        self._thread.join(timeout)
        if self._thread.is_alive():
            with contextlib.suppress(OSError):
                self._connection.shutdown(socket.SHUT_RDWR)
            self._thread.join()

    def _run(self) -> None:
        try:
            while (frame := self._frames.get()) is not None:
                self._connection.sendall(frame)
        except OSError:
            pass  # the child is gone: the answers' reader reports it
        finally:
            self._connection.close()


class StoreProcess:
    """A `StoreWriter` in a child process; every call is awaited from the event loop."""

    def __init__(self, path: str, policy: DomainPolicy):
        self._path, self._policy = path, policy
        self._process: multiprocessing.process.BaseProcess | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._sender: _Sender | None = None
        self._answers: deque[asyncio.Future[Any]] = deque()
        self._names = NameSender()  # lists of checked names travel as ids
        self._reading: asyncio.Task[None] | None = None
        self._stopped: str | None = None
        #: The child's peak resident memory in MiB, known once it closed.
        self.peak_rss_mib: int | None = None
        #: The child's own CPU time: a forkserver's child, so wait4 never counts it for the crawl.
        self.cpu_seconds: float | None = None

    async def open(self) -> StoreProcess:
        calls, their_calls = socket.socketpair()
        answers, their_answers = socket.socketpair()
        process = _context().Process(
            target=_serve,
            args=(their_calls, their_answers, self._path, self._policy),
            name="fediscope-store",
        )
        process.start()  # the fork server sends the child its ends of the pairs
        their_calls.close()
        their_answers.close()
        self._process = process
        self._sender = _Sender(calls)
        self._reader, self._writer = await asyncio.open_unix_connection(sock=answers)
        self._reading = asyncio.create_task(self._read_answers())
        try:
            await self._expect()  # the writer opened (or why it could not)
        except BaseException:
            await self._stop()
            raise
        return self

    async def call(
        self,
        method: Callable[Concatenate[StoreWriter, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run `method` (a `StoreWriter` function, e.g. `StoreWriter.begin_crawl`) in the child."""
        return await self._send_request(method, args, kwargs)

    async def close(self) -> None:
        if self._process is None:
            return
        try:
            max_rss_kib, self.cpu_seconds = await self._send_request(_CLOSE, (), {})
            self.peak_rss_mib = max_rss_kib // 1024
        except StoreStopped:
            pass
        finally:
            await self._stop()

    def send(
        self,
        method: Callable[Concatenate[StoreWriter, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> asyncio.Future[T]:
        """Send a call now and return its answer to await later, so the child can start on it
        while the crawl prepares the next (calls still run one at a time, in the order sent)."""
        return self._send_request(method, args, kwargs)

    def _send_request(
        self, method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> asyncio.Future[Any]:
        if self._stopped is not None or self._sender is None:
            raise StoreStopped(self._stopped or "the store is closed")
        frame = self._names.dumps((method, args, kwargs))
        self._sender.send(_LENGTH.pack(len(frame)) + frame)
        return self._expect()

    def _expect(self) -> asyncio.Future[Any]:
        future = asyncio.get_running_loop().create_future()
        self._answers.append(future)
        return future

    async def _read_answers(self) -> None:
        """Answers come in the order the calls were sent: each settles the oldest call."""
        assert self._reader is not None
        try:
            while True:
                head = await self._reader.readexactly(_LENGTH.size)
                frame = await self._reader.readexactly(*_LENGTH.unpack(head))
                try:
                    status, value = pickle.loads(frame)
                except Exception as exc:  # an exception class that cannot be rebuilt here
                    status, value = "error", RuntimeError(f"unreadable store answer: {exc}")
                future = self._answers.popleft()
                if future.done():
                    continue
                if status == "ok":
                    future.set_result(value)
                else:
                    future.set_exception(value)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            code = self._process.exitcode if self._process is not None else None
            ended = "" if code is None else f" (exit code {code})"
            self._stopped = self._stopped or f"the store process stopped{ended}"
            while self._answers:
                future = self._answers.popleft()
                if not future.done():
                    future.set_exception(StoreStopped(self._stopped))

    async def _stop(self) -> None:
        self._stopped = self._stopped or "the store is closed"
        if self._sender is not None:
            await asyncio.to_thread(self._sender.close)
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self._writer.wait_closed()
        if self._reading is not None:
            await asyncio.gather(self._reading, return_exceptions=True)
        process, self._process, self._writer = self._process, None, None
        if process is not None:
            await asyncio.to_thread(process.join, 30)
            if process.is_alive():
                process.kill()
                await asyncio.to_thread(process.join)
