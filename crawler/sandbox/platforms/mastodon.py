"""Mastodon family (mastodon, glitch, hometown, kmyblue) and the subdomain-farm hosts.

Endpoints: NodeInfo 2.0, `/api/v2/instance` (404 on 3.x), `/api/v1/instance`,
`/api/v1/instance/peers` (flat; without the host's block targets; 401 in limited federation,
404 when disabled), `/api/v1/instance/domain_blocks` (200 / 401 / 404 with empty body) and
`/api/v1/instance/activity` (12 weekly buckets of strings).
"""

from __future__ import annotations

import dataclasses

from crawler.sandbox.assign import mastodon_nodeinfo_has_description
from crawler.sandbox.languages import declared
from crawler.sandbox.platforms.common import (
    JSON,
    JSON_NOT_FOUND,
    Ctx,
    Handler,
    Reply,
    json_reply,
)
from crawler.sandbox.usage import api_count

WEEK = 7 * 24 * 3600
LAST_WEEK = 1_730_678_400  # a Monday, 00:00 UTC
AUTH_REQUIRED = Reply(401, b'{"error":"This API requires an authenticated user"}', JSON)
TOKEN_INVALID = Reply(401, b'{"error":"The access token is invalid"}', JSON)
SEVERITY_ORDER = {"silence": 0, "suspend": 1}


def metadata(ctx: Ctx) -> object:
    """NodeInfo metadata: {} before 4.3, nodeName/nodeDescription after, [] on some forks."""
    h = ctx.host
    if "metadata_array" in h.quirks:
        return []
    if h.kind == "farm" or not mastodon_nodeinfo_has_description(h):
        return {}
    return {"nodeName": h.title, "nodeDescription": h.description}


def _configuration(ctx: Ctx) -> dict[str, object]:
    return {
        "urls": {
            "streaming": f"wss://{ctx.domain}",
            "status": None,
            "about": f"https://{ctx.domain}/about",
            "privacy_policy": f"https://{ctx.domain}/privacy-policy",
            "terms_of_service": None,
        },
        "accounts": {"max_featured_tags": 10, "max_pinned_statuses": 5},
        "statuses": {
            "max_characters": 500,
            "max_media_attachments": 4,
            "characters_reserved_per_url": 23,
        },
        "media_attachments": {"image_size_limit": 16777216, "video_size_limit": 103809024},
        "polls": {
            "max_options": 4,
            "max_characters_per_option": 50,
            "min_expiration": 300,
            "max_expiration": 2629746,
        },
        "translation": {"enabled": False},
        "limited_federation": "limited_federation" in ctx.host.quirks,
    }


def _contact(ctx: Ctx) -> dict[str, object]:
    return {
        "id": "1",
        "username": "admin",
        "acct": "admin",
        "display_name": f"{ctx.host.title} admin",
        "url": f"https://{ctx.domain}/@admin",
        "noindex": False,
    }


def instance_v2(ctx: Ctx) -> Reply:
    """GET /api/v2/instance."""
    h = ctx.host
    if "mastodon_v3" in h.quirks:
        return JSON_NOT_FOUND
    raw = ctx.world.usage(h)
    return json_reply(
        {
            "domain": h.domain,
            "title": h.title,
            "version": h.version,
            "source_url": "https://github.com/mastodon/mastodon",
            "description": h.description,
            "usage": {"users": {"active_month": api_count(raw.active_month)}},
            "thumbnail": {"url": f"https://{h.domain}/packs/media/images/preview.png"},
            "icon": [],
            "languages": declared(h),
            "configuration": _configuration(ctx),
            "registrations": {
                "enabled": h.open_reg,
                "approval_required": h.idx % 3 == 0,
                "message": None,
                "url": None,
            },
            "api_versions": {"mastodon": 2},
            "contact": {"email": f"admin@{h.domain}", "account": _contact(ctx)},
            "rules": [{"id": "1", "text": "Be excellent to each other.", "hint": ""}],
        }
    )


def instance_v1(ctx: Ctx) -> Reply:
    """GET /api/v1/instance (deprecated, still served)."""
    h = ctx.host
    raw = ctx.world.usage(h)
    return json_reply(
        {
            "uri": h.domain,
            "title": h.title,
            "short_description": h.description,
            "description": "",
            "email": f"admin@{h.domain}",
            "version": h.version,
            "urls": {"streaming_api": f"wss://{h.domain}"},
            "stats": {
                "user_count": api_count(raw.total),
                "status_count": api_count(raw.local_posts),
                "domain_count": h.peer_count,
            },
            "thumbnail": f"https://{h.domain}/packs/media/images/preview.png",
            "languages": declared(h),
            "registrations": h.open_reg,
            "approval_required": h.idx % 3 == 0,
            "invites_enabled": True,
            "contact_account": _contact(ctx),
            "rules": [],
        }
    )


#: Rails' `expires_in 1.day, public: true` (peers_controller.rb, activity_controller.rb) and
#: `expires_in 3.minutes, public: true` (domain_blocks_controller.rb), mastodon/mastodon
#: app/controllers/api/v1/instances/.
FRESH_FOR_A_DAY = (("Cache-Control", "max-age=86400, public"),)
FRESH_FOR_THREE_MINUTES = (("Cache-Control", "max-age=180, public"),)


def peers(ctx: Ctx) -> Reply:
    """GET /api/v1/instance/peers."""
    h = ctx.host
    if "limited_federation" in h.quirks:
        return AUTH_REQUIRED
    if "peers_disabled" in h.quirks:
        return Reply(404, b"", None)
    body = ctx.world.flat_peers_json(h)
    if "peers_broken" in h.quirks:
        body = body[: max(2, len(body) // 2)]
    return Reply(200, body, JSON, FRESH_FOR_A_DAY, cacheable=False)


def domain_blocks(ctx: Ctx) -> Reply:
    """GET /api/v1/instance/domain_blocks."""
    h = ctx.host
    visibility = ctx.world.blocks_visibility(h) if h.kind == "instance" else "hidden"
    if visibility == "restricted":
        return TOKEN_INVALID
    if visibility != "public":
        return Reply(404, b"", None)
    rules = sorted(ctx.world.rules(h), key=lambda r: (SEVERITY_ORDER[r.severity_raw], r.pattern))
    listing = [
        {"domain": r.pattern, "digest": r.digest, "severity": r.severity_raw, "comment": r.reason}
        for r in rules
    ]
    return dataclasses.replace(json_reply(listing), headers=FRESH_FOR_THREE_MINUTES)


def activity(ctx: Ctx) -> Reply:
    """GET /api/v1/instance/activity: 12 weekly buckets, all values strings."""
    h, epoch = ctx.host, ctx.world.epoch
    weekly = max(1, h.posts // 200)
    buckets = []
    for i in range(12):
        statuses = weekly * (100 + (h.idx * 7 + i * 13) % 40) // 100
        buckets.append(
            {
                "week": str(LAST_WEEK + epoch * WEEK - i * WEEK),
                "statuses": str(statuses if i else statuses // 3),
                "logins": str(max(1, h.active_month // 3 + i % 3)),
                "registrations": str((h.idx + i) % 5 if h.open_reg else 0),
            }
        )
    return dataclasses.replace(json_reply(buckets), headers=FRESH_FOR_A_DAY)


ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "/api/v2/instance"): instance_v2,
    ("GET", "/api/v1/instance"): instance_v1,
    ("GET", "/api/v1/instance/peers"): peers,
    ("GET", "/api/v1/instance/domain_blocks"): domain_blocks,
    ("GET", "/api/v1/instance/activity"): activity,
}
