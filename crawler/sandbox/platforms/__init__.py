"""Renderers of every platform family; `respond(ctx)` answers one request of a healthy host.

Failure modes (drops, hangs, 410, HTML, 301, 429 ...) are applied by the server before this.
"""

from __future__ import annotations

from collections.abc import Callable

from crawler.sandbox.platforms import (
    friendica,
    gotosocial,
    lemmy,
    mastodon,
    misskey,
    others,
    peertube,
    pleroma,
)
from crawler.sandbox.platforms.common import (
    MISSING_KEY,
    NOT_FOUND,
    Ctx,
    Handler,
    Reply,
    nodeinfo2,
    nodeinfo_doc,
    nodeinfo_links,
    nodeinfo_reply,
    robots,
    well_known,
)

__all__ = ["Ctx", "Reply", "respond"]

METADATA: dict[str, Callable[[Ctx], object]] = {
    "mastodon": mastodon.metadata,
    "pleroma": pleroma.metadata,
    "misskey": misskey.metadata,
    "lemmy": lemmy.metadata,
    "peertube": peertube.metadata,
    "gotosocial": gotosocial.metadata,
    "friendica": friendica.metadata,
    **others.METADATA,
}
ROUTES: dict[str, dict[tuple[str, str], Handler]] = {
    "mastodon": mastodon.ROUTES,
    "pleroma": pleroma.ROUTES,
    "misskey": misskey.ROUTES,
    "lemmy": lemmy.ROUTES,
    "peertube": peertube.ROUTES,
    "gotosocial": gotosocial.ROUTES,
    "friendica": friendica.ROUTES,
    **others.ROUTES,
}
NOT_FOUNDS: dict[str, Reply] = {"misskey": misskey.NOT_FOUND}
METADATA_FIRST = ("pleroma", *others.METADATA_FIRST)
HTML_PAGE = Reply(
    200,
    b"<!DOCTYPE html><html><head><title>Welcome</title></head><body><div id=app></div></body>"
    b"</html>",
    "text/html; charset=utf-8",
)


def nodeinfo(ctx: Ctx, version: str) -> Reply:
    """A NodeInfo document of the host at `version`."""
    h = ctx.host
    meta = METADATA.get(h.platform)
    metadata = meta(ctx) if meta else MISSING_KEY
    doc = nodeinfo_doc(ctx, version, metadata, h.platform in METADATA_FIRST)
    return nodeinfo_reply(doc, h, version)


def respond(ctx: Ctx) -> Reply:
    """Answer a request of a host that behaves normally."""
    h = ctx.host
    path = ctx.path
    for version, doc_path in nodeinfo_links(h):
        if path == doc_path:
            return nodeinfo(ctx, version)
    if ctx.name != h.domain:  # api.<domain> helper host serves NodeInfo only
        return NOT_FOUND
    if path == "/robots.txt":
        return robots(h, ctx.world.config.pace)
    if path == "/.well-known/nodeinfo":
        return well_known(h)
    if "nameless_html" in h.quirks:  # a catch-all web front: every other path is a page
        return HTML_PAGE
    if path == "/.well-known/x-nodeinfo2" and "nodeinfo2_only" in h.quirks:
        return nodeinfo2(ctx)
    handler = ROUTES.get(h.platform, {}).get((ctx.method, path))
    if handler is not None:
        return handler(ctx)
    return NOT_FOUNDS.get(h.platform, NOT_FOUND)
