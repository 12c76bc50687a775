"""GoToSocial: robots.txt modes (see common.robots) and `/api/v1/instance/peers?filter=`.

Without a filter the peers endpoint answers a flat list of open domains; with
`filter=open,suspended` it answers objects (`domain`, `silenced_at`, `suspended_at`,
`public_comment`), suspended names sometimes `*`-obfuscated, sorted by domain. 401 unless the
admin exposes peers; 400 for unknown filters.
"""

from __future__ import annotations

from crawler.sandbox.languages import declared
from crawler.sandbox.platforms.common import JSON, Ctx, Handler, Reply, json_reply

UNAUTHORIZED = Reply(
    401, b'{"error":"Unauthorized: peers open query requires an authenticated account/user"}', JSON
)
SINCE = "2024-02-03T04:05:06.000Z"


def metadata(ctx: Ctx) -> object:
    """GoToSocial serves an empty metadata object."""
    return {}


def _bad_filter(value: str) -> Reply:
    return json_reply(
        {
            "error": f"Bad Request: filter {value} not recognized; accepted values "
            "are 'open', 'suspended'"
        },
        status=400,
    )


def peers(ctx: Ctx) -> Reply:
    """GET /api/v1/instance/peers[?filter=open,suspended]."""
    h = ctx.host
    if "gts_admin_open" not in h.quirks:
        return UNAUTHORIZED
    raw_filter = ctx.query.get("filter")
    wanted = {"open"} if raw_filter is None else set(raw_filter.split(","))
    unknown = sorted(wanted - {"open", "suspended"})
    if unknown:
        return _bad_filter(unknown[0])
    world = ctx.world
    rules = world.rules(h)
    silenced = {r.target: r for r in rules if r.severity_raw == "silenced"}
    open_names = world.peer_names(h)
    if raw_filter is None:
        return json_reply(open_names, cacheable=False)
    items: list[dict[str, object]] = []
    if "open" in wanted:
        hosts = world.by_domain
        for name in open_names:
            item: dict[str, object] = {"domain": name}
            rule = silenced.get(hosts[name].idx)
            if rule is not None:
                item["silenced_at"] = SINCE
                if rule.reason:
                    item["public_comment"] = rule.reason
            items.append(item)
    if "suspended" in wanted:
        for r in rules:
            if r.severity_raw == "suspended":
                item = {"domain": r.pattern, "suspended_at": SINCE}
                if r.reason:
                    item["public_comment"] = r.reason
                items.append(item)
    items.sort(key=lambda item: str(item["domain"]))
    return json_reply(items, cacheable=False)


def instance_v1(ctx: Ctx) -> Reply:
    """GET /api/v1/instance (disallowed by robots.txt on every GoToSocial host)."""
    h = ctx.host
    return json_reply(
        {
            "uri": h.domain,
            "account_domain": h.domain,
            "title": h.title,
            "description": h.description,
            "version": h.version,
            "registrations": h.open_reg,
            "languages": declared(h),
        }
    )


ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "/api/v1/instance/peers"): peers,
    ("GET", "/api/v1/instance"): instance_v1,
}
