"""ActivityPub relays (activity-relay, aoderelay).

No extra endpoint: NodeInfo `metadata.peers` (and `metadata.blocks`, where present) are the
relay's subscribers and refused hosts.
"""

from __future__ import annotations

from typing import ClassVar

from crawler.adapters.base import Visit, register
from crawler.observation import PUBLIC, UNSUPPORTED, ListResult


@register
class RelayAdapter:
    families: ClassVar[tuple[str, ...]] = ("relay",)

    async def collect(self, visit: Visit) -> None:
        metadata = visit.nodeinfo.metadata if visit.nodeinfo else {}
        peers = metadata.get("peers")
        if isinstance(peers, list):
            visit.set_peers(ListResult(PUBLIC, peers))
        else:
            visit.set_peers(ListResult(UNSUPPORTED))
        blocks = metadata.get("blocks")
        if isinstance(blocks, list):
            visit.set_blocks(ListResult(PUBLIC, [visit.rule(host, "blocked") for host in blocks]))
        else:
            visit.unsupported(blocks=True)
