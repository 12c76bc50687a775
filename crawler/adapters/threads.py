"""Threads (threads.net).

Identified by its NodeInfo. It publishes no peer or block list that we know of, so the visit
records both as `unsupported` instead of guessing at endpoints.
"""

from __future__ import annotations

from typing import ClassVar

from crawler.adapters.base import Visit, register


@register
class ThreadsAdapter:
    families: ClassVar[tuple[str, ...]] = ("threads",)

    async def collect(self, visit: Visit) -> None:
        visit.unsupported(peers=True, blocks=True)
