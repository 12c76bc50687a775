"""Pixelfed: Mastodon-compatible `/api/v1/instance` and `/api/v1/instance/peers`.

Pixelfed publishes no block list.
"""

from __future__ import annotations

from typing import ClassVar

from crawler.adapters.base import Visit, register
from crawler.adapters.mastodon import read_flat_peers, read_instance
from crawler.observation import UNSUPPORTED


@register
class PixelfedAdapter:
    families: ClassVar[tuple[str, ...]] = ("pixelfed",)

    async def collect(self, visit: Visit) -> None:
        await read_instance(visit)
        if visit.opted_out:
            return
        await read_flat_peers(visit, missing=UNSUPPORTED)
        visit.unsupported(blocks=True)
