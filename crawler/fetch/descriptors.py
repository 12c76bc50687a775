"""Open files a crawl may hold: raise the soft limit, and fit the parked requests under it.

At `--concurrency 512` a crawl holds up to 512 connections in flight and up to three times
as many parked ones (requests to servers that hang), next to the database, the store's pipes
and the resolver. Many systems start a process with a soft limit of 1,024 open files and a
far higher hard limit; a process may raise its own soft limit up to the hard one, as servers
and crawlers commonly do at start. Where even the hard limit is too low, fewer requests are
parked, so the pool never needs more sockets than the process may open (running out would
fail requests with EMFILE, as if their servers were unreachable).
"""

from __future__ import annotations

import resource

#: Open files kept for everything but connections: database and WAL, the store's socket
#: pairs, resolver threads, standard streams, Python's own.
RESERVED = 64
#: Connections the pool may need beyond the bound and the parked requests (see
#: `crawler.fetch.settings.connection_limit`).
SPARE = 8


def raise_open_file_limit(wanted: int) -> int:
    """Raise the soft limit on open files towards `wanted` (never above the hard limit and
    never lowering it); return the soft limit in force afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted  # no limit: as many as wanted
    if soft >= wanted:
        return soft
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target <= soft:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return soft
    return target


def parked_room(concurrency: int, wanted: int, open_files: int) -> int:
    """How many of the `wanted` parked requests fit next to `concurrency` in flight when the
    process may hold `open_files` files."""
    return max(0, min(wanted, open_files - RESERVED - SPARE - concurrency))


def room_for_parked(concurrency: int, wanted: int) -> int:
    """Raise the open-file limit for `concurrency` connections in flight and `wanted` parked
    ones; return how many parked ones fit under the limit in force (the crawler's rule, which
    the fetch floor follows too)."""
    open_files = raise_open_file_limit(concurrency + wanted + SPARE + RESERVED)
    return parked_room(concurrency, wanted, open_files)
