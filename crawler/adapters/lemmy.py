"""Lemmy (and PieFed, which implements the same API).

Endpoints:
- `GET /api/v3/site`: `site_view.site.{name, description}` (opt-out tags) and
  `site_view.counts` (`users`, `users_active_month`, `posts`) when NodeInfo lacks them.
- `GET /api/v3/federated_instances`: `{"federated_instances": {"linked": [...], "allowed":
  [...], "blocked": [...]}}` of `{domain, ...}` objects; null when federation is disabled.
  `linked` are the peers, `blocked` the block list (no reasons; severity suspend).
"""

from __future__ import annotations

from typing import ClassVar

from crawler.adapters.base import Visit, register, visibility_of
from crawler.lenient import mapping, read_text, sequence
from crawler.observation import PUBLIC, UNSUPPORTED, ListResult

_SITE_COUNTS = {
    "users_total": "users",
    "users_active_month": "users_active_month",
    "users_active_halfyear": "users_active_half_year",
    "local_posts": "posts",
    "local_comments": "comments",
}


@register
class LemmyAdapter:
    families: ClassVar[tuple[str, ...]] = ("lemmy",)

    async def collect(self, visit: Visit) -> None:
        site = await visit.get_json("/api/v3/site")
        site_view = mapping(mapping(site.value).get("site_view"))
        details = mapping(site_view.get("site"))
        obs = visit.observation
        obs.name = obs.name or read_text(details.get("name"), 500)
        text = read_text(details.get("description")) or read_text(details.get("sidebar"))
        if visit.check_description(text):
            return
        counts = mapping(site_view.get("counts"))
        for field, key in _SITE_COUNTS.items():
            if key in counts:
                visit.fill_count(field, counts.get(key))
        answer = await visit.get_json("/api/v3/federated_instances")
        visibility = visibility_of(answer, missing=UNSUPPORTED)
        federated = mapping(answer.value).get("federated_instances")
        if visibility == PUBLIC and not isinstance(federated, dict):
            # null when the server does not federate: nothing to publish.
            visibility = UNSUPPORTED if federated is None and answer.error is None else "error"
        federated = mapping(federated)
        linked = [mapping(item).get("domain") for item in sequence(federated.get("linked"))]
        visit.set_peers(ListResult(visibility, linked))
        rules = [
            visit.rule(mapping(item).get("domain"), "blocked")
            for item in sequence(federated.get("blocked"))
        ]
        visit.set_blocks(ListResult(visibility, rules))
