"""HTTP caching of the observatory's public pages: validators, 304s and an in-process cache.

Every public page, its .json/.csv, the chart data and the Atom feed change only when the data
does: a crawl finishes (or starts: pages then answer from the last finished crawl), `analyze`
rebuilds the derived tables, or `import-blocklist` replaces a list. `data_state` reads exactly
that (the finished crawls, a running crawl, the stamps in `data_state`), and its digest is the
ETag of every page. So:

- a request carrying the current ETag (If-None-Match) or a date not older than the data
  (If-Modified-Since) gets 304 before any page code runs;
- answers are kept in memory keyed by (data state, URL), least recently used first out, bounded
  by the sum of their body and header sizes (`max_bytes`; a single answer over an eighth of it
  is not kept); a new data state empties the cache at once. Concurrent requests for an answer
  being computed wait for that one computation instead of starting their own (the first
  requests after an analyze, when a story's link is hot, would otherwise each run the page);
- each response says `Cache-Control: public, max-age=N` (`no-cache` for N = 0), with no
  `Vary: Cookie`: the pages are the same for everyone. Requests with a cookie or credentials
  bypass all of this and keep Datasette's private handling.

The state is read again only when the database file or its WAL changes on disk (size or
modification time), so an idle server answers a conditional request without touching SQLite.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import sqlite3
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

#: The paths answered with validators: the six pages and their data, and the block feed.
PUBLIC = re.compile(
    r"^/($|platforms($|/[a-z0-9-]+\.(csv|json)$)|who-blocks(\.json|\.csv)?$"
    r"|instance(\.json)?$|map$|blocklists(\.json|\.csv)?$|[^/]+/block_changes\.atom$)"
)
#: Answers worth keeping: what the page computed, including its plain-sentence refusals.
KEPT_STATUSES = frozenset({200, 400, 404, 409})
DEFAULT_MAX_AGE = 300
DEFAULT_MAX_BYTES = 64 * 2**20


@dataclass(frozen=True)
class DataState:
    """What the pages' answers depend on, as an ETag and a Last-Modified date."""

    etag: str
    last_modified: datetime | None


def data_state(connection: sqlite3.Connection) -> tuple[str, str | None]:
    """(fingerprint, latest change as an ISO stamp) of a fediscope database."""
    parts: list[str] = []
    stamps: list[str] = []
    try:
        finished, count, finished_at = connection.execute(
            "SELECT max(id), count(*), max(finished_at) FROM crawls WHERE status = 'finished'"
        ).fetchone()
        (running,) = connection.execute(
            "SELECT count(*) FROM crawls WHERE status = 'running'"
        ).fetchone()
        parts += [f"crawl={finished}/{count}", f"running={running}"]
        stamps.append(finished_at or "")
    except sqlite3.OperationalError:
        parts.append("no crawls")
    try:
        for name, changed_at in connection.execute(
            "SELECT name, changed_at FROM data_state ORDER BY name"
        ):
            parts.append(f"{name}={changed_at}")
            stamps.append(changed_at or "")
    except sqlite3.OperationalError:
        parts.append("no data_state")
    latest = max((s for s in stamps if s), default=None)
    return ";".join(parts), latest


def _parse_stamp(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)


def _file_signature(path: str) -> tuple:
    signature = []
    for name in (path, path + "-wal"):
        try:
            stat = os.stat(name)
            signature.append((stat.st_size, stat.st_mtime_ns))
        except OSError:
            signature.append(None)
    return tuple(signature)


class AnswerCache:
    """Responses by key, least recently used out first, bounded by the bytes of their bodies."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES):
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[tuple, tuple[int, list, bytes]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: tuple) -> tuple[int, list, bytes] | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: tuple, status: int, headers: list, body: bytes) -> None:
        size = len(body) + sum(len(k) + len(v) for k, v in headers)
        if size > self.max_bytes // 8 or key in self._entries:
            return
        self._entries[key] = (status, headers, body)
        self.bytes += size
        while self.bytes > self.max_bytes:
            _, (_, old_headers, old_body) = self._entries.popitem(last=False)
            self.bytes -= len(old_body) + sum(len(k) + len(v) for k, v in old_headers)

    def clear(self) -> None:
        self._entries.clear()
        self.bytes = 0


class CachingMiddleware:
    """ASGI middleware around Datasette applying the module docstring's rules."""

    def __init__(
        self,
        app: Callable[[Scope, Receive, Send], Awaitable[None]],
        datasette: Any,
        max_age: int = DEFAULT_MAX_AGE,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ):
        self.app = app
        self.datasette = datasette
        self.max_age = max_age
        self.cache = AnswerCache(max_bytes)
        self._signature: tuple | None = None
        self._state: DataState | None = None
        self._in_flight: dict[tuple, asyncio.Future[None]] = {}
        self.hits = 0
        self.misses = 0

    def _databases(self) -> list[Any]:
        return [
            db
            for name, db in self.datasette.databases.items()
            if name not in ("_internal", "_memory") and getattr(db, "path", None)
        ]

    async def state(self) -> DataState | None:
        """The current data state of the served databases (re-read only when a file changed)."""
        databases = self._databases()
        if not databases:
            return None
        signature = tuple((db.path, _file_signature(db.path)) for db in databases)
        if signature == self._signature and self._state is not None:
            return self._state
        fingerprints, latest = [], None
        for database in databases:
            fingerprint, stamp = await database.execute_fn(data_state)
            fingerprints.append(f"{database.name}:{fingerprint}")
            moment = _parse_stamp(stamp)
            if moment is not None and (latest is None or moment > latest):
                latest = moment
        etag = '"' + hashlib.sha256("|".join(fingerprints).encode()).hexdigest()[:24] + '"'
        if self._state is None or etag != self._state.etag:
            self.cache.clear()
        self._state, self._signature = DataState(etag, latest), signature
        return self._state

    def _validators(self, state: DataState) -> list[tuple[bytes, bytes]]:
        control = f"public, max-age={self.max_age}" if self.max_age > 0 else "no-cache"
        headers = [(b"etag", state.etag.encode()), (b"cache-control", control.encode())]
        if state.last_modified is not None:
            headers.append((b"last-modified", format_datetime(state.last_modified, True).encode()))
        return headers

    @staticmethod
    def _not_modified(request_headers: dict[bytes, bytes], state: DataState) -> bool:
        if_none_match = request_headers.get(b"if-none-match")
        if if_none_match is not None:
            tags = {tag.strip() for tag in if_none_match.decode("latin-1").split(",")}
            return "*" in tags or state.etag in tags or f"W/{state.etag}" in tags
        since = request_headers.get(b"if-modified-since")
        if since is None or state.last_modified is None:
            return False
        try:
            moment = parsedate_to_datetime(since.decode("latin-1"))
        except (TypeError, ValueError):
            return False
        if moment.tzinfo is None:
            return False
        return state.last_modified <= moment

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("method") not in ("GET", "HEAD")
            or not PUBLIC.match(scope.get("path", ""))
        ):
            await self.app(scope, receive, send)
            return
        request_headers = dict(scope.get("headers") or [])
        if b"cookie" in request_headers or b"authorization" in request_headers:
            await self.app(scope, receive, send)
            return
        state = await self.state()
        if state is None:
            await self.app(scope, receive, send)
            return
        validators = self._validators(state)
        if self._not_modified(request_headers, state):
            await send({"type": "http.response.start", "status": 304, "headers": validators})
            await send({"type": "http.response.body", "body": b""})
            return
        key = (state.etag, scope["path"], scope.get("query_string", b""))
        if await self._send_kept(send, scope, key):
            return
        leader = self._in_flight.get(key)
        if leader is not None:  # the same answer is being computed: wait for it, once
            await asyncio.shield(leader)
            if await self._send_kept(send, scope, key):
                return
        self._in_flight[key] = asyncio.get_running_loop().create_future()
        try:
            await self._compute(scope, receive, send, key, validators)
        finally:
            self._in_flight.pop(key).set_result(None)

    async def _send_kept(self, send: Send, scope: Scope, key: tuple) -> bool:
        """Answer from the cache when it holds `key`; False when it does not."""
        kept = self.cache.get(key)
        if kept is None:
            return False
        self.hits += 1
        status, headers, body = kept
        await self._send(send, scope, status, headers, body)
        return True

    async def _compute(
        self, scope: Scope, receive: Receive, send: Send, key: tuple, validators: list
    ) -> None:
        self.misses += 1
        captured: dict[str, Any] = {"body": []}

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = message.get("headers", [])
            elif message["type"] == "http.response.body":
                captured["body"].append(message.get("body", b""))

        await self.app(scope, receive, capture)
        status = captured.get("status", 500)
        headers = [
            (name, value)
            for name, value in captured.get("headers", [])
            if name.lower() not in (b"vary", b"cache-control", b"etag", b"last-modified")
        ]
        body = b"".join(captured["body"])
        if status in KEPT_STATUSES:
            headers += validators
            # the state may have moved while the page ran: keep it under the state it started in
            self.cache.put(key, status, headers, body)
        else:
            headers.append((b"cache-control", b"no-store"))
        await self._send(send, scope, status, headers, body)

    @staticmethod
    async def _send(send: Send, scope: Scope, status: int, headers: list, body: bytes) -> None:
        headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )
