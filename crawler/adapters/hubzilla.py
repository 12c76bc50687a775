"""Hubzilla (and its Zot relatives).

Endpoint: `GET /siteinfo.json`; `hide_in_statistics` true is an opt-out; `language` is the one
language the site declares. No public peer or block list is known.
"""

from __future__ import annotations

from typing import ClassVar

from crawler.adapters.base import Visit, register
from crawler.lenient import mapping


@register
class HubzillaAdapter:
    families: ClassVar[tuple[str, ...]] = ("hubzilla",)

    async def collect(self, visit: Visit) -> None:
        answer = await visit.get_json("/siteinfo.json")
        site = mapping(answer.value)
        hidden = site.get("hide_in_statistics")
        if hidden is True or hidden in (1, "1", "true"):
            visit.opt_out("hide_in_statistics", "siteinfo.json hide_in_statistics")
            return
        visit.declare_languages(site.get("language"))
        visit.unsupported(peers=True, blocks=True)
