"""The generic fallback for software without an adapter of its own.

Unknown software, BookWyrm, Smithereen, diaspora, WordPress and others: try the
Mastodon-compatible `GET /api/v1/instance/peers` (404 means the software has none: `unsupported`);
no block list is known for these.
"""

from __future__ import annotations

from typing import ClassVar

from crawler.adapters.base import Visit, register
from crawler.adapters.mastodon import read_flat_peers
from crawler.observation import UNSUPPORTED


@register
class GenericAdapter:
    families: ClassVar[tuple[str, ...]] = ("*", "bookwyrm", "smithereen")

    async def collect(self, visit: Visit) -> None:
        await read_flat_peers(visit, missing=UNSUPPORTED)
        visit.unsupported(blocks=True)
