"""GoToSocial.

Endpoints: `GET /api/v1/instance` (Mastodon-compatible): the declared `languages`.
`GET /api/v1/instance/peers?filter=open,suspended`: objects with `domain`,
`suspended_at`, `silenced_at`, `public_comment` (suspended names may be `*`-masked); 401 unless
the admin exposes them. GoToSocial's robots.txt disallows `/api/` by default and we obey it
(visibility `disallowed`); its default robots.txt also disallows NodeInfo and sets
`Crawl-delay: 500`, both handled before any adapter runs.
"""

from __future__ import annotations

from typing import Any, ClassVar

from crawler.adapters.base import Visit, register, visibility_of
from crawler.lenient import mapping, sequence
from crawler.observation import ERROR, PUBLIC, UNSUPPORTED, ListResult


@register
class GoToSocialAdapter:
    families: ClassVar[tuple[str, ...]] = ("gotosocial",)

    async def collect(self, visit: Visit) -> None:
        instance = await visit.get_json("/api/v1/instance")  # the probe's answer when there was one
        visit.declare_languages(mapping(instance.value).get("languages"))
        answer = await visit.get_json("/api/v1/instance/peers?filter=open,suspended")
        visibility = visibility_of(answer, missing=UNSUPPORTED)
        if visibility == PUBLIC and not isinstance(answer.value, list):
            visibility = ERROR
        peers: list[Any] = []
        rules = []
        for entry in sequence(answer.value) if visibility == PUBLIC else []:
            if isinstance(entry, str):  # a server that ignores the filter answers a flat list
                peers.append(entry)
                continue
            entry = mapping(entry)
            domain, reason = entry.get("domain"), entry.get("public_comment")
            if entry.get("suspended_at"):
                rules.append(visit.rule(domain, "suspended", reason))
                continue
            if entry.get("silenced_at"):
                rules.append(visit.rule(domain, "silenced", reason))
            peers.append(domain)
        visit.set_peers(ListResult(visibility, peers))
        visit.set_blocks(ListResult(visibility, rules))
