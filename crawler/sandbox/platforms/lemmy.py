"""Lemmy: `GET /api/v3/site` and `GET /api/v3/federated_instances` (linked/allowed/blocked)."""

from __future__ import annotations

from crawler.sandbox.model import Host
from crawler.sandbox.platforms.common import Ctx, Handler, Reply, json_reply
from crawler.sandbox.usage import api_count

PUBLISHED = "2023-06-01T12:00:00.000000Z"


def metadata(ctx: Ctx) -> object:
    """Lemmy 0.19 serves an empty metadata object (0.18 none at all)."""
    return {}


def site(ctx: Ctx) -> Reply:
    """GET /api/v3/site."""
    h = ctx.host
    raw = ctx.world.usage(h)
    month = api_count(raw.active_month)
    return json_reply(
        {
            "site_view": {
                "site": {
                    "id": 1,
                    "name": h.title,
                    "sidebar": None,
                    "published": PUBLISHED,
                    "actor_id": f"https://{h.domain}/",
                    "description": h.description,
                    "inbox_url": f"https://{h.domain}/site_inbox",
                    "public_key": "-----BEGIN PUBLIC KEY-----\n...\n-----END PUBLIC KEY-----\n",
                    "instance_id": 1,
                },
                "local_site": {
                    "registration_mode": "Open" if h.open_reg else "Closed",
                    "federation_enabled": "no_protocols" not in h.quirks,
                },
                "counts": {
                    "site_id": 1,
                    "users": api_count(raw.total),
                    "posts": api_count(raw.local_posts),
                    "comments": h.posts // 3,
                    "communities": 1 + h.users // 50,
                    "users_active_day": month if not isinstance(month, int) else month // 9,
                    "users_active_week": month if not isinstance(month, int) else month // 3,
                    "users_active_month": month,
                    "users_active_half_year": api_count(raw.active_halfyear),
                },
            },
            "admins": [],
            "version": h.version,
            "all_languages": [],
            "discussion_languages": [],
            "taglines": [],
            "custom_emojis": [],
        }
    )


def _instance(other: Host) -> dict[str, object]:
    item: dict[str, object] = {"id": other.idx + 2, "domain": other.domain, "published": PUBLISHED}
    if other.sw is not None:
        item["software"] = other.sw.raw.lower()
        item["version"] = other.version
    return item


def federated_instances(ctx: Ctx) -> Reply:
    """GET /api/v3/federated_instances: linked (peers), allowed (empty), blocked."""
    world, h = ctx.world, ctx.host
    hosts = world.hosts
    linked = [_instance(hosts[i]) for i in world.peer_list(h).tolist()]
    blocked = [
        {"id": r.target + 2, "domain": r.pattern, "published": PUBLISHED}
        for r in sorted(world.rules(h), key=lambda r: r.pattern)
    ]
    body = {"federated_instances": {"linked": linked, "allowed": [], "blocked": blocked}}
    return json_reply(body, cacheable=False)


ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "/api/v3/site"): site,
    ("GET", "/api/v3/federated_instances"): federated_instances,
}
