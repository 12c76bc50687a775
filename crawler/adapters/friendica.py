"""Friendica and GNU social.

Endpoints:
- `GET /api/statusnet/config.json`: `site.private` true is an opt-out.
- Friendica: `GET /statistics.json` (kept as a document) and `GET /blocklist/domain/download`,
  a CSV of `pattern,reason` rows (patterns may use `*`/`?` wildcards; severity suspend).
  Friendica has no peers endpoint.
- GNU social: Mastodon-style `/api/v1/instance/peers` where present; no block list.
"""

from __future__ import annotations

import csv
import io
from typing import ClassVar

from crawler.adapters.base import Visit, register, visibility_of
from crawler.adapters.mastodon import read_flat_peers
from crawler.lenient import mapping
from crawler.observation import PUBLIC, UNSUPPORTED, ListResult


@register
class FriendicaAdapter:
    families: ClassVar[tuple[str, ...]] = ("friendica", "gnusocial")

    async def collect(self, visit: Visit) -> None:
        config = await visit.get_json("/api/statusnet/config.json")
        private = mapping(mapping(config.value).get("site")).get("private")
        if private is True or private in ("true", "1", 1):
            visit.opt_out("site_private", "statusnet config site.private")
            return
        if visit.family == "gnusocial":
            await read_flat_peers(visit, missing=UNSUPPORTED)
            visit.unsupported(blocks=True)
            return
        await visit.fetch("/statistics.json")
        visit.unsupported(peers=True)
        response = await visit.fetch("/blocklist/domain/download")
        visibility = visibility_of(response, missing=UNSUPPORTED)
        rules = []
        if visibility == PUBLIC:
            text = (response.body or b"").decode("utf-8", errors="replace")
            for row in csv.reader(io.StringIO(text)):
                if row and row[0].strip() and not row[0].lstrip().startswith("#"):
                    reason = row[1] if len(row) > 1 else None
                    rules.append(visit.rule(row[0], "blocked", reason))
        visit.set_blocks(ListResult(visibility, rules))
