"""PeerTube: `/api/v1/config/about` and paged `/api/v1/server/followers` / `/following`.

Peers are the hosts on the other side of the follows: even positions of the peer list are
followed by this instance, odd positions follow it. No block list (unsupported).
"""

from __future__ import annotations

from crawler.sandbox.languages import declared
from crawler.sandbox.model import Host
from crawler.sandbox.platforms.common import Ctx, Handler, Reply, json_reply

TIME = "2023-01-01T00:00:00.000Z"
MAX_COUNT = 100


def metadata(ctx: Ctx) -> object:
    """NodeInfo metadata (taxonomy says posts are videos)."""
    h = ctx.host
    return {
        "taxonomy": {"postsName": "Videos"},
        "nodeName": h.title,
        "nodeDescription": h.description,
        "nodeConfig": {
            "search": {"remoteUri": {"users": True, "anonymous": False}},
            "transcoding": {"hls": {"enabled": True}},
        },
    }


def about(ctx: Ctx) -> Reply:
    """GET /api/v1/config/about."""
    h = ctx.host
    return json_reply(
        {
            "instance": {
                "name": h.title,
                "shortDescription": h.description,
                "description": h.description,
                "terms": "No spam.",
                "codeOfConduct": "",
                "hardwareInformation": "",
                "creationReason": "",
                "moderationInformation": "",
                "administrator": "",
                "maintenanceLifetime": "",
                "businessModel": "",
                "languages": declared(h),
                "categories": [],
            }
        }
    )


def _actor(host: Host, n: int) -> dict[str, object]:
    return {
        "id": n,
        "url": f"https://{host.domain}/accounts/peertube",
        "name": "peertube",
        "host": host.domain,
        "hostRedundancyAllowed": False,
        "followingCount": n % 7,
        "followersCount": n % 11,
        "createdAt": TIME,
        "updatedAt": TIME,
        "avatars": [],
    }


def _follows(ctx: Ctx, followers: bool) -> Reply:
    start, count = ctx.query.get("start", "0"), ctx.query.get("count", "15")
    if not (start.isdigit() and count.isdigit()) or not 0 < int(count) <= MAX_COUNT:
        return json_reply(
            {
                "type": "https://docs.joinpeertube.org/api-rest-reference.html",
                "title": "Bad Request",
                "status": 400,
                "detail": "Incorrect request parameters: count",
            },
            status=400,
        )
    world, h = ctx.world, ctx.host
    side = world.peer_list(h)[1 if followers else 0 :: 2]
    page = side[int(start) : int(start) + int(count)].tolist()
    local = _actor(h, 1)
    data = []
    for n, i in enumerate(page, start=int(start) + 2):
        remote = _actor(world.hosts[i], i + 2)
        data.append(
            {
                "id": n,
                "follower": remote if followers else local,
                "following": local if followers else remote,
                "score": 20,
                "state": "accepted",
                "createdAt": TIME,
                "updatedAt": TIME,
            }
        )
    return json_reply({"total": len(side), "data": data}, cacheable=False)


def followers(ctx: Ctx) -> Reply:
    """GET /api/v1/server/followers?start=&count=."""
    return _follows(ctx, True)


def following(ctx: Ctx) -> Reply:
    """GET /api/v1/server/following?start=&count=."""
    return _follows(ctx, False)


ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "/api/v1/config/about"): about,
    ("GET", "/api/v1/server/followers"): followers,
    ("GET", "/api/v1/server/following"): following,
}
