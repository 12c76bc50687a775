"""Pleroma family (pleroma, akkoma, rebased).

Blocks live in NodeInfo `metadata.federation` (MRF transparency): `mrf_simple` action lists,
`mrf_simple_info` reasons, `quarantined_instances(_info)`; wildcard (`*.x.test`) and obfuscated
entries. Transparency off -> `{"enabled": true}` only. Akkoma `metadata.private` (opt-out).
`/api/v1/instance/peers` is flat and includes blocked hosts; `/api/v1/instance` mirrors metadata.
"""

from __future__ import annotations

from crawler.sandbox.languages import declared
from crawler.sandbox.platforms.common import JSON, Ctx, Handler, Reply, json_reply
from crawler.sandbox.usage import api_count

ACTIONS = (
    "accept",
    "avatar_removal",
    "banner_removal",
    "federated_timeline_removal",
    "followers_only",
    "media_nsfw",
    "media_removal",
    "reject",
    "reject_deletes",
    "report_removal",
)
FEATURES = [
    "pleroma_api",
    "mastodon_api",
    "mastodon_api_streaming",
    "polls",
    "pleroma_explicit_addressing",
    "shareable_emoji_packs",
    "multifetch",
    "relay",
    "pleroma_emoji_reactions",
    "exposable_reactions",
    "profile_directory",
]
METADATA_FIRST = True


def federation(ctx: Ctx) -> dict[str, object]:
    """The MRF transparency block."""
    h = ctx.host
    if ctx.world.blocks_visibility(h) != "public":
        return {"enabled": True}
    simple: dict[str, list[str]] = {action: [] for action in ACTIONS}
    info: dict[str, dict[str, dict[str, str]]] = {}
    quarantined: list[str] = []
    quarantined_info: dict[str, dict[str, str]] = {}
    for rule in sorted(ctx.world.rules(h), key=lambda r: r.pattern):
        if rule.severity_raw == "quarantine":
            quarantined.append(rule.pattern)
            if rule.reason:
                quarantined_info[rule.pattern] = {"reason": rule.reason}
            continue
        simple[rule.severity_raw].append(rule.pattern)
        if rule.reason:
            info.setdefault(rule.severity_raw, {})[rule.pattern] = {"reason": rule.reason}
    return {
        "enabled": True,
        "exclusions": False,
        "mrf_policies": ["SimplePolicy", "ObjectAgePolicy", "HashtagPolicy"],
        "mrf_object_age": {"actions": ["delist", "strip_followers"], "threshold": 604800},
        "mrf_hashtag": {"federated_timeline_removal": [], "reject": [], "sensitive": ["nsfw"]},
        "mrf_simple": simple,
        "mrf_simple_info": info,
        "quarantined_instances": quarantined,
        "quarantined_instances_info": {"quarantined_instances": quarantined_info},
    }


def metadata(ctx: Ctx) -> object:
    """NodeInfo metadata (alphabetical keys, as Pleroma serialises them)."""
    h = ctx.host
    meta: dict[str, object] = {
        "accountActivationRequired": h.idx % 2 == 0,
        "features": FEATURES,
        "federation": federation(ctx),
        "invitesEnabled": False,
        "mailerEnabled": True,
        "nodeDescription": h.description,
        "nodeName": h.title,
        "pollLimits": {
            "max_expiration": 31536000,
            "max_option_chars": 200,
            "max_options": 20,
            "min_expiration": 0,
        },
        "postFormats": ["text/plain", "text/html", "text/markdown", "text/bbcode"],
        "private": h.opt_out == "akkoma_private",
        "staffAccounts": [f"https://{h.domain}/users/admin"],
        "suggestions": {"enabled": False},
    }
    return meta


def instance_v1(ctx: Ctx) -> Reply:
    """GET /api/v1/instance with the Mastodon-compatible version string."""
    h = ctx.host
    raw = ctx.world.usage(h)
    name = h.sw.raw.capitalize() if h.sw else "Pleroma"
    return json_reply(
        {
            "uri": f"https://{h.domain}",
            "title": h.title,
            "description": h.description,
            "email": f"admin@{h.domain}",
            "version": f"2.7.2 (compatible; {name} {h.version})",
            "urls": {"streaming_api": f"wss://{h.domain}"},
            "stats": {
                "user_count": api_count(raw.total),
                "status_count": api_count(raw.local_posts),
                "domain_count": h.peer_count,
            },
            "registrations": h.open_reg,
            "approval_required": False,
            "languages": declared(h),
            "max_toot_chars": 5000,
            "pleroma": {
                "metadata": {
                    "features": FEATURES,
                    "federation": federation(ctx),
                    "private": h.opt_out == "akkoma_private",
                }
            },
        }
    )


def peers(ctx: Ctx) -> Reply:
    """GET /api/v1/instance/peers: every known host, blocked ones included."""
    return Reply(200, ctx.world.flat_peers_json(ctx.host), JSON, cacheable=False)


ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "/api/v1/instance"): instance_v1,
    ("GET", "/api/v1/instance/peers"): peers,
}
