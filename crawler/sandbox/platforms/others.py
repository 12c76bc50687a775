"""Smaller platforms: Pixelfed, Mbin/kbin, relays, Threads, Hubzilla, WordPress, Bridgy Fed,
diaspora and generic software (BookWyrm, Smithereen, unknown names) with Mastodon-style peers.
"""

from __future__ import annotations

from collections.abc import Callable

from crawler.sandbox.languages import declared
from crawler.sandbox.platforms.common import JSON, Ctx, Handler, Reply, json_reply
from crawler.sandbox.usage import api_count


def _describe(ctx: Ctx) -> object:
    return {"nodeName": ctx.host.title, "nodeDescription": ctx.host.description}


def _empty(ctx: Ctx) -> object:
    return {}


def _pixelfed_meta(ctx: Ctx) -> object:
    return {
        "nodeName": ctx.host.title,
        "software": {"homepage": "https://pixelfed.org", "repo": "https://github.com/pixelfed"},
        "config": {
            "features": {
                "timelines": {"local": True, "network": True},
                "mobile_apis": True,
                "stories": True,
                "video": True,
            }
        },
    }


def _relay_meta(ctx: Ctx) -> object:
    h = ctx.host
    if h.sw is None or h.sw.raw != "aoderelay":
        return {}
    return {"peers": ctx.world.peer_names(h)}


def _wordpress_meta(ctx: Ctx) -> object:
    h = ctx.host
    return {
        "nodeName": h.title,
        "nodeDescription": h.description,
        "nodeIcon": f"https://{h.domain}/wp-content/uploads/icon.png",
    }


def _bridgy_meta(ctx: Ctx) -> object:
    users = ctx.host.users
    return {"users": {"activitypub": users // 2, "atprotocol": users - users // 2, "webmention": 0}}


def _diaspora_meta(ctx: Ctx) -> object:
    return {"nodeName": ctx.host.title, "xmppChat": False, "adminAccount": "podmin"}


def flat_peers(ctx: Ctx) -> Reply:
    """GET /api/v1/instance/peers (Mastodon-compatible flat list)."""
    return Reply(200, ctx.world.flat_peers_json(ctx.host), JSON, cacheable=False)


def pixelfed_instance(ctx: Ctx) -> Reply:
    """GET /api/v1/instance on Pixelfed."""
    h = ctx.host
    raw = ctx.world.usage(h)
    return json_reply(
        {
            "uri": h.domain,
            "title": h.title,
            "short_description": h.description,
            "description": h.description,
            "email": f"admin@{h.domain}",
            "version": f"3.5.3 (compatible; Pixelfed {h.version})",
            "stats": {
                "user_count": api_count(raw.total),
                "status_count": api_count(raw.local_posts),
                "domain_count": h.peer_count,
            },
            "registrations": h.open_reg,
            "languages": declared(h),
        }
    )


def defederated(ctx: Ctx) -> Reply:
    """GET /api/defederated on Mbin/kbin."""
    rules = sorted(ctx.world.rules(ctx.host), key=lambda r: r.pattern)
    return json_reply({"instances": [r.pattern for r in rules]})


def siteinfo(ctx: Ctx) -> Reply:
    """GET /siteinfo.json on Hubzilla."""
    h = ctx.host
    raw = ctx.world.usage(h)
    return json_reply(
        {
            "url": f"https://{h.domain}",
            "platform": "hubzilla",
            "site_name": h.title,
            "version": h.version,
            "addons": [],
            "register_policy": "REGISTER_OPEN" if h.open_reg else "REGISTER_CLOSED",
            "invitation_only": False,
            "directory_mode": "DIRECTORY_MODE_NORMAL",
            "language": declared(h)[0],
            "hide_in_statistics": h.opt_out == "hide_in_statistics",
            "admin": [{"name": "admin", "address": f"admin@{h.domain}"}],
            "channels_total": api_count(raw.total),
            "channels_active_halfyear": api_count(raw.active_halfyear),
            "channels_active_monthly": api_count(raw.active_month),
            "local_posts": api_count(raw.local_posts),
        }
    )


METADATA: dict[str, Callable[[Ctx], object]] = {
    "pixelfed": _pixelfed_meta,
    "mbin": _empty,
    "relay": _relay_meta,
    "threads": _empty,
    "hubzilla": lambda ctx: {"nodeName": ctx.host.title},
    "wordpress": _wordpress_meta,
    "bridgy": _bridgy_meta,
    "diaspora": _diaspora_meta,
    "generic": _describe,
}
ROUTES: dict[str, dict[tuple[str, str], Handler]] = {
    "pixelfed": {
        ("GET", "/api/v1/instance"): pixelfed_instance,
        ("GET", "/api/v1/instance/peers"): flat_peers,
    },
    "mbin": {("GET", "/api/defederated"): defederated},
    "hubzilla": {("GET", "/siteinfo.json"): siteinfo},
    "generic": {("GET", "/api/v1/instance/peers"): flat_peers},
}
METADATA_FIRST = ("pixelfed",)
