"""Mastodon family (Mastodon, Hometown, glitch-soc, kmyblue, ...).

Endpoints:
- `GET /api/v2/instance` (4.x; description, `usage.users.active_month`, `languages`), falling
  back to `GET /api/v1/instance` on 404 (3.x). When a probe already read `/api/v1/instance` to
  identify the family (NodeInfo named no software), that answer is used and neither is asked
  again.
- `GET /api/v1/instance/peers`: a flat array of domains; Mastodon leaves its own blocked domains
  out. 404 when the peers API is off, 401 in limited-federation mode.
- `GET /api/v1/instance/domain_blocks` (4.0+): 200 list, 401 for users only, 404 hidden. Each
  entry: `domain` (obfuscated when the admin chose to), `digest` (SHA-256 of the real domain),
  `severity` (silence|suspend), `comment` (public reason or null).
- `GET /api/v1/instance/activity`: 12 weekly buckets (strings); kept as a document.

Discovery first: the peer list comes right after NodeInfo when NodeInfo gave a description
(4.3+: `metadata.nodeDescription` is the same setting as the v2 instance `description`, see
mastodon/mastodon `app/serializers/nodeinfo/serializer.rb` and
`app/serializers/rest/instance_serializer.rb`), which the visit has already checked for opt-out
tags; otherwise the instance document is read first, for that check. Blocks and activity come
after the peers.

The peer and block lists and the activity are requested conditionally: Rails sends an ETag
and answers a matching `If-None-Match` with 304, which means "unchanged since the last crawl".
"""

from __future__ import annotations

from typing import ClassVar

from crawler.adapters.base import Visit, register, visibility_of
from crawler.lenient import mapping, read_text, sequence
from crawler.observation import HIDDEN, PUBLIC, ListResult


async def read_instance(visit: Visit) -> None:
    """v2 instance, else v1: description (opt-out tags) and counts NodeInfo did not give."""
    answer = visit.reuse("GET", "/api/v1/instance") or await visit.get_json("/api/v2/instance")
    if answer.status == 404:
        answer = await visit.get_json("/api/v1/instance")
    document = mapping(answer.value)
    if not document:
        return
    obs = visit.observation
    obs.name = obs.name or read_text(document.get("title"), 500)
    description = read_text(document.get("description")) or read_text(
        document.get("short_description")
    )
    visit.check_description(description)
    visit.declare_languages(document.get("languages"))
    usage = mapping(mapping(document.get("usage")).get("users"))
    if "active_month" in usage:
        visit.fill_count("users_active_month", usage.get("active_month"))


async def read_flat_peers(visit: Visit, *, missing: str = HIDDEN) -> None:
    """`/api/v1/instance/peers` as a flat array of strings (Mastodon-compatible servers)."""
    answer = await visit.get_json("/api/v1/instance/peers", conditional=True)
    if answer.response.not_modified:
        visit.peers_unchanged(answer)
        return
    visibility = visibility_of(answer, missing=missing)
    if visibility == PUBLIC and not isinstance(answer.value, list):
        visibility = "error"
    visit.set_peers(ListResult(visibility, answer.value if visibility == PUBLIC else []), answer)


async def read_domain_blocks(visit: Visit) -> None:
    """`/api/v1/instance/domain_blocks`: published moderation, digests included."""
    answer = await visit.get_json("/api/v1/instance/domain_blocks", conditional=True)
    if answer.response.not_modified:
        visit.blocks_unchanged(answer)
        return
    visibility = visibility_of(answer, missing=HIDDEN)
    if visibility == PUBLIC and not isinstance(answer.value, list):
        visibility = "error"
    rules = []
    for entry in sequence(answer.value) if visibility == PUBLIC else []:
        entry = mapping(entry)
        severity = entry.get("severity")
        if not isinstance(severity, str):
            continue
        rules.append(
            visit.rule(entry.get("domain"), severity, entry.get("comment"), entry.get("digest"))
        )
    visit.set_blocks(ListResult(visibility, rules), answer)


@register
class MastodonAdapter:
    families: ClassVar[tuple[str, ...]] = ("mastodon",)

    async def collect(self, visit: Visit) -> None:
        if visit.description_checked:
            await read_flat_peers(visit)
            await read_instance(visit)
        else:
            await read_instance(visit)
            if visit.opted_out:
                return
            await read_flat_peers(visit)
        if visit.opted_out:
            return
        await read_domain_blocks(visit)
        await visit.fetch_document("/api/v1/instance/activity")
