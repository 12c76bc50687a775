"""Misskey family (misskey, sharkey, firefish, iceshrimp, ...).

`POST /api/meta` (description) and `POST /api/federation/instances` ({limit<=100, offset, sort,
blocked, suspended, silenced, notResponding}) paged by offset until an empty array. The
unfiltered walk lists every known host, blocked ones too. `sort` `+firstRetrievedAt` /
`-firstRetrievedAt` orders by when the server first met each host, newest / oldest first, as
Misskey does (`endpoints/federation/instances.ts`); other sorts keep the list order.
Blocks: isBlocked (blocked), isSilenced (silenced), manual suspension (suspended); automatic
suspensions of dead hosts are listed but are not rules. `/api/v1/instance/peers` does not exist
here (404).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

import numpy as np
import orjson

from crawler.sandbox.languages import declared
from crawler.sandbox.model import Host
from crawler.sandbox.platforms.common import JSON, Ctx, Handler, Reply, json_reply

NO_SUCH_ENDPOINT = Reply(
    404,
    b'{"error":{"message":"No such endpoint.","code":"NO_SUCH_ENDPOINT",'
    b'"id":"b1b3b2e4-2d52-4d47-8f3e-2a4a5a1c1b5e","kind":"client"}}',
    JSON,
)
AUTO_SUSPENSION = {
    "dead": "autoSuspendedForNotResponding",
    "hang": "autoSuspendedForNotResponding",
    "gone": "goneSuspended",
}
TIME = "2024-05-01T00:00:00.000Z"


def invalid_param(reason: str) -> Reply:
    """Misskey's 400 for a bad parameter."""
    return json_reply(
        {
            "error": {
                "message": "Invalid param.",
                "code": "INVALID_PARAM",
                "id": "3d81ceae-475f-4600-b2a8-2bc116157532",
                "kind": "client",
                "info": {"reason": reason},
            }
        },
        status=400,
    )


def metadata(ctx: Ctx) -> object:
    """NodeInfo metadata as Misskey serves it."""
    h = ctx.host
    return {
        "nodeName": h.title,
        "nodeDescription": h.description,
        "maintainer": {"name": "admin", "email": f"admin@{h.domain}"},
        "langs": declared(h),
        "tosUrl": f"https://{h.domain}/tos",
        "repositoryUrl": "https://github.com/misskey-dev/misskey",
        "feedbackUrl": "https://github.com/misskey-dev/misskey/issues/new",
        "disableRegistration": not h.open_reg,
        "disableLocalTimeline": False,
        "disableGlobalTimeline": False,
        "emailRequiredForSignup": h.idx % 2 == 0,
        "enableHcaptcha": False,
        "enableRecaptcha": False,
        "maxNoteTextLength": 3000,
        "enableEmail": True,
        "enableServiceWorker": True,
        "proxyAccountName": "proxy",
        "themeColor": "#86b300",
    }


def meta(ctx: Ctx) -> Reply:
    """POST /api/meta."""
    h = ctx.host
    return json_reply(
        {
            "maintainerName": "admin",
            "maintainerEmail": f"admin@{h.domain}",
            "version": h.version,
            "name": h.title,
            "uri": f"https://{h.domain}",
            "description": h.description,
            "langs": declared(h),
            "tosUrl": f"https://{h.domain}/tos",
            "repositoryUrl": "https://github.com/misskey-dev/misskey",
            "disableRegistration": not h.open_reg,
            "emailRequiredForSignup": h.idx % 2 == 0,
            "maxNoteTextLength": 3000,
            "features": {
                "registration": h.open_reg,
                "localTimeline": True,
                "globalTimeline": True,
                "miauth": True,
            },
        }
    )


def _first_retrieved(epoch: int) -> str:
    """When a host was first met: the base list on TIME, later ones a day per epoch after."""
    return f"{date(2024, 5, 1) + timedelta(days=epoch)}T00:00:00.000Z"


def _entry(other: Host, flags: str | None, met: int = 0) -> dict[str, object]:
    auto = AUTO_SUSPENSION.get(other.failure or "")
    state = "manuallySuspended" if flags == "suspended" else auto or "none"
    sw = other.sw
    return {
        "id": format(other.idx + 36**5, "x"),
        "firstRetrievedAt": _first_retrieved(met),
        "host": other.domain,
        "usersCount": other.users if sw else 0,
        "notesCount": other.posts if sw else 0,
        "followingCount": other.idx % 17,
        "followersCount": other.idx % 23,
        "isNotResponding": auto is not None,
        "isSuspended": state != "none",
        "suspensionState": state,
        "isBlocked": flags == "blocked",
        "softwareName": sw.raw.lower() if sw else None,
        "softwareVersion": other.version,
        "openRegistrations": other.open_reg if sw else None,
        "name": other.title or None,
        "description": other.description,
        "maintainerName": None,
        "maintainerEmail": None,
        "isSilenced": flags == "silenced",
        "isMediaSilenced": False,
        "iconUrl": None,
        "faviconUrl": None,
        "themeColor": None,
        "infoUpdatedAt": TIME,
        "latestRequestReceivedAt": TIME,
    }


def _params(ctx: Ctx) -> Mapping[str, object] | None:
    if ctx.method == "POST":
        try:
            params = orjson.loads(ctx.body or b"{}")
        except orjson.JSONDecodeError:
            return None
        return params if isinstance(params, dict) else None
    return {k: orjson.loads(v) if v in ("true", "false") else v for k, v in ctx.query.items()}


def _int(value: object, default: int) -> int | None:
    if value is None:
        return default
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _state(other: Host, flag: str | None) -> dict[str, bool]:
    auto = (other.failure or "") in AUTO_SUSPENSION
    return {
        "blocked": flag == "blocked",
        "silenced": flag == "silenced",
        "suspended": flag == "suspended" or auto,
        "notResponding": auto,
    }


def _wanted(state: dict[str, bool], params: Mapping[str, object]) -> bool:
    return all(
        not isinstance(params.get(key), bool) or params.get(key) == value
        for key, value in state.items()
    )


def instances(ctx: Ctx) -> Reply:
    """POST /api/federation/instances (GET with query parameters also accepted)."""
    params = _params(ctx)
    if params is None:
        return invalid_param("body must be a JSON object")
    limit, offset = _int(params.get("limit"), 30), _int(params.get("offset"), 0)
    if limit is None or not 1 <= limit <= 100:
        return invalid_param("limit must be an integer between 1 and 100")
    if offset is None or offset < 0:
        return invalid_param("offset must be a non-negative integer")
    world, h = ctx.world, ctx.host
    flags = {r.target: r.severity_raw for r in world.rules(h) if r.target >= 0}
    hosts = world.hosts
    delta = world.delta(h)
    met = delta.peers_added_at if delta is not None else {}
    filters = tuple(
        (k, params[k])
        for k in ("blocked", "suspended", "silenced", "notResponding")
        if isinstance(params.get(k), bool)
    )
    sort = (
        params.get("sort")
        if params.get("sort") in ("+firstRetrievedAt", "-firstRetrievedAt")
        else None
    )

    def listed() -> np.ndarray:
        known = world.peer_list(h).tolist()
        if filters:
            known = [i for i in known if _wanted(_state(hosts[i], flags.get(i)), params)]
        if sort is not None:
            known = sorted(known, key=lambda i: (met.get(i, 0), i), reverse=sort[0] == "+")
        return np.array(known, dtype=np.int64)

    listing = world.listing(("misskey", h.idx, filters, sort), listed)
    page = listing[offset : offset + limit].tolist()
    return json_reply(
        [_entry(hosts[i], flags.get(i), met.get(i, 0)) for i in page], cacheable=False
    )


ROUTES: dict[tuple[str, str], Handler] = {
    ("POST", "/api/meta"): meta,
    ("POST", "/api/federation/instances"): instances,
    ("GET", "/api/federation/instances"): instances,
}
NOT_FOUND = NO_SUCH_ENDPOINT
