"""Shared pieces of every platform: replies, robots.txt, NodeInfo discovery and documents."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import orjson

from crawler import ROBOTS_TOKEN
from crawler.sandbox.catalog import AI_BOTS
from crawler.sandbox.model import GTS_FAILURES, Host, gts_mode
from crawler.sandbox.probes import nameless_variant, without_nodeinfo
from crawler.sandbox.truth import software_raw
from crawler.sandbox.usage import MISSING, usage_object
from crawler.sandbox.world import World

JSON = "application/json; charset=utf-8"
SCHEMA = "http://nodeinfo.diaspora.software/ns/schema/"
AS_APP = "https://www.w3.org/ns/activitystreams#Application"
MISSING_KEY = object()


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP answer, independent of aiohttp."""

    status: int = 200
    body: bytes = b""
    content_type: str | None = JSON
    headers: tuple[tuple[str, str], ...] = ()
    cacheable: bool = True


@dataclass(slots=True)
class Ctx:
    """One request as the renderers see it."""

    world: World
    host: Host
    name: str  # Host header (may be an api.<domain> helper host)
    method: str
    path: str
    query: Mapping[str, str]
    body: bytes

    @property
    def domain(self) -> str:
        """The instance's own domain."""
        return self.host.domain


Handler = Callable[[Ctx], Reply]


def json_reply(
    obj: object, status: int = 200, content_type: str = JSON, cacheable: bool = True
) -> Reply:
    """JSON-encoded reply."""
    return Reply(status, orjson.dumps(obj), content_type, cacheable=cacheable)


def text_reply(
    text: str,
    status: int = 200,
    content_type: str = "text/plain; charset=utf-8",
) -> Reply:
    """Plain-text reply."""
    return Reply(status, text.encode(), content_type)


NOT_FOUND = Reply(404, b"", "text/html; charset=utf-8")
JSON_NOT_FOUND = Reply(404, b'{"error":"Record not found"}', JSON)


# -- robots.txt ---------------------------------------------------------------------------

_MASTODON_STAR = "User-agent: *\nDisallow: /media_proxy/\nDisallow: /interact/\n"
_GTS_STAR = (
    "User-agent: *\n{delay}Disallow: /api/\nDisallow: /auth/\nDisallow: /oauth/\n"
    "Disallow: /fileserver/\nDisallow: /users/\nDisallow: /emoji/\nDisallow: /admin\n"
    "Disallow: /user\nDisallow: /settings/\nDisallow: /about/suspended\n"
    "Disallow: /.well-known/webfinger\n"
)


def _ai_groups() -> str:
    return "".join(f"User-agent: {bot}\nDisallow: /\n\n" for bot in AI_BOTS)


def _seconds(value: float) -> str:
    """A robots.txt Crawl-delay value: "2" for 2.0, "0.02" for 0.02."""
    return f"{value:g}"


def _gts_robots(h: Host, pace: float) -> str:
    mode = gts_mode(h)
    if mode in GTS_FAILURES:
        body = _GTS_STAR.format(delay="Crawl-delay: 500\n")
        if mode == "gts_default":
            body += "Disallow: /.well-known/nodeinfo\nDisallow: /nodeinfo/\n"
        return _ai_groups() + body
    delay = f"Crawl-delay: {_seconds(pace)}\n" if h.idx % 2 else ""
    allow = "" if mode == "gts_api_disallowed" else "Allow: /api/v1/instance/peers\n"
    if nameless_variant(h) or "nodeinfo_none" in h.quirks:
        allow = "Allow: /api/v1/instance\n"  # the admin lets the instance API be read
    return _ai_groups() + _GTS_STAR.format(delay=delay + allow)


def robots(h: Host, pace: float = 1.0) -> Reply:
    """robots.txt of a host (failure modes included); its Crawl-delays scaled by `pace`."""
    if h.failure == "robots_500":
        return Reply(500, b"<h1>Internal Server Error</h1>", "text/html; charset=utf-8")
    if h.failure == "robots_all":
        return text_reply("User-agent: *\nDisallow: /\n")
    if h.platform == "gotosocial":
        return text_reply(_gts_robots(h, pace))
    if h.failure == "spa_html" or "nameless_html" in h.quirks:
        return NOT_FOUND  # everything allowed: the crawler must see the HTML answers
    star = _MASTODON_STAR
    if h.failure == "crawl_delay_2":
        star += f"Crawl-delay: {_seconds(2 * pace)}\n"
    if "robots_no_peers" in h.quirks:
        star += "Disallow: /api/v1/instance/peers\n"
    head = _ai_groups()
    if h.failure == "robots_ua":
        head += f"User-agent: {ROBOTS_TOKEN}\nDisallow: /\n\n"
    if h.platform == "lemmy" and head == _ai_groups() and star == _MASTODON_STAR:
        return NOT_FOUND  # no robots.txt at all: everything allowed
    return text_reply(head + star)


# -- NodeInfo -------------------------------------------------------------------------------

LINKS: dict[str, list[tuple[str, str]]] = {
    "mastodon": [("2.0", "/nodeinfo/2.0")],
    "pleroma": [("2.0", "/nodeinfo/2.0.json"), ("2.1", "/nodeinfo/2.1.json")],
    "misskey": [("2.1", "/nodeinfo/2.1"), ("2.0", "/nodeinfo/2.0")],
    "lemmy": [("2.1", "/nodeinfo/2.1")],
    "peertube": [("2.0", "/nodeinfo/2.0.json")],
    "gotosocial": [("2.0", "/nodeinfo/2.0"), ("2.1", "/nodeinfo/2.1")],
    "friendica": [("1.0", "/nodeinfo/1.0"), ("2.0", "/nodeinfo/2.0")],
    "pixelfed": [("2.0", "/api/nodeinfo/2.0.json")],
    "wordpress": [(v, f"/wp-json/nodeinfo/{v}") for v in ("1.0", "1.1", "2.0", "2.1", "2.2")],
    "mbin": [("2.0", "/nodeinfo/2.0"), ("2.1", "/nodeinfo/2.1")],
    "relay": [("2.1", "/nodeinfo/2.1")],
    "threads": [("2.0", "/nodeinfo/2.0")],
    "hubzilla": [("1.0", "/nodeinfo/1.0"), ("2.0", "/nodeinfo/2.0")],
    "diaspora": [("1.0", "/nodeinfo/1.0"), ("2.0", "/nodeinfo/2.0")],
    "bridgy": [("2.1", "/nodeinfo.json")],
    "generic": [("2.0", "/nodeinfo/2.0"), ("2.1", "/nodeinfo/2.1")],
}
PROTOCOLS = {
    "friendica": ["dfrn", "activitypub", "diaspora"],
    "diaspora": ["diaspora"],
    "hubzilla": ["zot", "activitypub"],
    "bridgy": ["activitypub", "atprotocol", "nostr", "webmention"],
}
SERVICES = {
    "misskey": {"inbound": [], "outbound": ["atom1.0", "rss2.0"]},
    "peertube": {"inbound": [], "outbound": ["atom1.0", "rss2.0"]},
    "friendica": {"inbound": ["atom1.0", "rss2.0"], "outbound": ["atom1.0"]},
}


def nodeinfo_links(h: Host) -> list[tuple[str, str]]:
    """(version, path) of every NodeInfo document the host serves."""
    if without_nodeinfo(h):
        return []
    if h.platform == "lemmy" and (h.version or "").startswith("0.18"):
        return [("2.0", "/nodeinfo/2.0.json")]
    if h.platform == "relay" and h.sw and h.sw.raw == "aoderelay":
        return [("2.0", "/nodeinfo/2.0.json")]
    links = LINKS.get(h.platform, [("2.0", "/nodeinfo/2.0")])
    if "fallback_only" in h.quirks and ("2.0", "/nodeinfo/2.0") not in links:
        links = [*links, ("2.0", "/nodeinfo/2.0")]
    return links


def well_known(h: Host) -> Reply:
    """The discovery JRD (or 404 on fallback-only hosts and hosts without NodeInfo)."""
    if "fallback_only" in h.quirks or without_nodeinfo(h):
        return NOT_FOUND
    base = f"https://api.{h.domain}" if "api_host" in h.quirks else f"https://{h.domain}"
    links: list[dict[str, str]] = [
        {"rel": f"{SCHEMA}{version}", "href": f"{base}{path}"}
        for version, path in nodeinfo_links(h)
    ]
    if "extra_rels" in h.quirks or h.platform == "bridgy":
        links.append({"rel": AS_APP, "href": f"https://{h.domain}/actor"})
    if "links_object" in h.quirks:
        return json_reply({"links": links[-1] if len(links) == 1 else links[0]})
    content_type = "application/jrd+json" if h.platform == "bridgy" else JSON
    return json_reply({"links": links}, content_type=content_type)


def nodeinfo_doc(
    ctx: Ctx, version: str, metadata: object, metadata_first: bool = False
) -> dict[str, object]:
    """A NodeInfo document; `metadata` may be MISSING_KEY to leave the key out."""
    h = ctx.host
    software: dict[str, object] = {"name": software_raw(h), "version": h.version}
    if version >= "2.1" and h.platform in ("pleroma", "misskey", "lemmy", "wordpress"):
        software["repository"] = f"https://code.example.test/{h.sw.raw if h.sw else 'x'}"
    protocols: object = PROTOCOLS.get(h.platform, ["activitypub"])
    if version < "2.0":
        protocols = {"inbound": protocols, "outbound": protocols}
    raw = ctx.world.usage(h)
    comments = h.posts // 3 if h.platform in ("lemmy", "peertube", "friendica", "mbin") else None
    software = _nameless(h, software)
    doc: dict[str, object] = {"version": version}
    if software is not None:
        doc["software"] = software
    if "no_protocols" not in h.quirks:
        doc["protocols"] = protocols
    if not _bare(h):
        doc["services"] = SERVICES.get(h.platform, {"outbound": [], "inbound": []})
    doc["usage"] = usage_object(raw, comments)
    if raw.open_registrations is not MISSING:
        doc["openRegistrations"] = raw.open_registrations
    if version >= "2.2":
        doc["instance"] = {"name": h.title, "description": h.description or ""}
    if metadata is not MISSING_KEY and not _bare(h):
        doc["metadata"] = metadata
        if metadata_first:
            doc = {"metadata": metadata, **doc}
    return doc


#: How a nameless NodeInfo (crawler.sandbox.probes) spells its missing name.
NAMELESS: dict[str, object] = {"null": None, "empty": "", "number": 7, "unknown": "unknown",
                               "blank": "   "}  # fmt: skip


def _nameless(h: Host, software: dict[str, object]) -> dict[str, object] | None:
    variant = nameless_variant(h)
    if variant is None:
        return software
    if variant == "no_software":
        return None
    software = dict(software)
    if variant == "missing":
        del software["name"]
    else:
        software["name"] = NAMELESS[variant]
    return software


def nodeinfo2(ctx: Ctx) -> Reply:
    """`/.well-known/x-nodeinfo2` (NodeInfo2 1.0, as Friendica serves it)."""
    h = ctx.host
    raw = ctx.world.usage(h)
    doc: dict[str, object] = {
        "version": "1.0",
        "server": {
            "baseUrl": f"https://{h.domain}",
            "name": h.title,
            "software": software_raw(h),
            "version": h.version,
        },
        "protocols": PROTOCOLS.get(h.platform, ["activitypub"]),
        "services": SERVICES.get(h.platform, {"outbound": [], "inbound": []}),
    }
    if raw.open_registrations is not MISSING:
        doc["openRegistrations"] = raw.open_registrations
    doc["usage"] = usage_object(raw, h.posts // 3)
    return json_reply(doc)


def _bare(h: Host) -> bool:
    """No services and no metadata (Lemmy 0.18, some Mastodon 3.x forks)."""
    return "no_services_metadata" in h.quirks or (
        h.platform == "lemmy" and (h.version or "").startswith("0.18")
    )


def nodeinfo_reply(doc: dict[str, object], h: Host, version: str) -> Reply:
    """Serialise a NodeInfo document (truncated on `bad_json` hosts)."""
    body = orjson.dumps(doc)
    if h.failure == "bad_json":
        body = body[: len(body) // 2]
    return Reply(200, body, f'application/json; profile="{SCHEMA}{version}#"')
