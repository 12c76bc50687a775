"""Pleroma family (Pleroma, Akkoma, Rebased).

Endpoints:
- NodeInfo `metadata.federation` (already fetched): `mrf_simple` (one host list per action:
  reject, followers_only, federated_timeline_removal, media_removal, media_nsfw,
  report_removal, avatar_removal, banner_removal, ...; `accept` is an allow-list, not a block),
  `mrf_simple_info` (`{action: {host: {"reason": ...}}}`), `quarantined_instances` and
  `quarantined_instances_info`. Hosts may be wildcard rules (`*.example.com`) or `*`-masked
  (transparency obfuscation, no digest). With MRF transparency off only `{"enabled": ...}` is
  published: the block list is hidden.
- NodeInfo `metadata.private` true: unauthenticated API access disabled, taken as an opt-out.
- Without NodeInfo metadata (no NodeInfo; the family came from the `/api/v1/instance` probe,
  `(compatible; Pleroma|Akkoma ...)`), the same `federation` and `private` values are read from
  that answer's `pleroma.metadata` (payloads/akkoma-api_v1_instance.json).
- `GET /api/v1/instance` (Mastodon-compatible): the declared `languages`.
- `GET /api/v1/instance/peers`: flat array of every known host (blocked ones included).
"""

from __future__ import annotations

from typing import Any, ClassVar

from crawler.adapters.base import Visit, register
from crawler.adapters.mastodon import read_flat_peers
from crawler.blocks import NON_BLOCK_ACTIONS
from crawler.lenient import mapping, sequence
from crawler.observation import HIDDEN, PUBLIC, ListResult


def federation_rules(visit: Visit, federation: dict[str, Any]) -> ListResult:
    """Block rules from NodeInfo `metadata.federation` (Pleroma MRF transparency)."""
    simple = federation.get("mrf_simple")
    quarantined = federation.get("quarantined_instances")
    if not isinstance(simple, dict) and not isinstance(quarantined, list):
        return ListResult(HIDDEN)
    info = mapping(federation.get("mrf_simple_info"))
    rules = []
    for action, hosts in mapping(simple).items():
        if action in NON_BLOCK_ACTIONS or not isinstance(action, str):
            continue
        reasons = mapping(info.get(action))
        for host in sequence(hosts):
            rules.append(visit.rule(host, action, _reason(reasons, host)))
    quarantine_info = mapping(
        mapping(federation.get("quarantined_instances_info")).get("quarantined_instances")
    )
    for host in sequence(quarantined):
        rules.append(visit.rule(host, "quarantine", _reason(quarantine_info, host)))
    return ListResult(PUBLIC, rules)


def _reason(reasons: dict[str, Any], host: object) -> Any:
    if not isinstance(host, str):
        return None
    entry = reasons.get(host)
    return mapping(entry).get("reason") if isinstance(entry, dict) else entry


@register
class PleromaAdapter:
    families: ClassVar[tuple[str, ...]] = ("pleroma",)

    async def collect(self, visit: Visit) -> None:
        metadata = visit.nodeinfo.metadata if visit.nodeinfo else {}
        probed = visit.probed.get(("GET", "/api/v1/instance"))
        if not metadata and probed is not None:
            metadata = mapping(mapping(mapping(probed.value).get("pleroma")).get("metadata"))
        if metadata.get("private") is True:
            visit.opt_out("akkoma_private", "nodeinfo metadata.private")
            return
        visit.set_blocks(federation_rules(visit, mapping(metadata.get("federation"))))
        instance = await visit.get_json("/api/v1/instance")  # the probe's answer when there was one
        visit.declare_languages(mapping(instance.value).get("languages"))
        await read_flat_peers(visit)
