"""Friendica: NodeInfo 1.0/2.0, `/statistics.json`, `/api/statusnet/config.json` (site.private
opt-out) and the CSV block list at `/blocklist/domain/download` (`pattern,reason` lines, `*`/`?`
wildcards). No peer list (404).
"""

from __future__ import annotations

import csv
import io

from crawler.sandbox.platforms.common import Ctx, Handler, Reply, json_reply
from crawler.sandbox.usage import api_count


def metadata(ctx: Ctx) -> object:
    """NodeInfo metadata."""
    return {"explicitContent": False, "nodeName": ctx.host.title}


def statistics(ctx: Ctx) -> Reply:
    """GET /statistics.json (diaspora-style statistics)."""
    h = ctx.host
    raw = ctx.world.usage(h)
    return json_reply(
        {
            "name": h.title,
            "network": "Friendica",
            "version": h.version,
            "registrations_open": h.open_reg,
            "total_users": api_count(raw.total),
            "active_users_halfyear": api_count(raw.active_halfyear),
            "active_users_monthly": api_count(raw.active_month),
            "local_posts": api_count(raw.local_posts),
            "services": [],
            "facebook": False,
            "twitter": False,
        }
    )


def config(ctx: Ctx) -> Reply:
    """GET /api/statusnet/config.json (GNU social compatible)."""
    h = ctx.host
    return json_reply(
        {
            "site": {
                "name": h.title,
                "server": h.domain,
                "theme": "frio",
                "logo": f"https://{h.domain}/images/friendica-64.png",
                "closed": "false" if h.open_reg else "true",
                "textlimit": "200000",
                "private": h.opt_out == "site_private",
                "ssl": "always",
                "sslserver": h.domain,
                "friendica": {"FRIENDICA_PLATFORM": "Friendica", "FRIENDICA_VERSION": h.version},
            }
        }
    )


def blocklist(ctx: Ctx) -> Reply:
    """GET /blocklist/domain/download: CSV `pattern,reason`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for r in sorted(ctx.world.rules(ctx.host), key=lambda r: r.pattern):
        writer.writerow([r.pattern, r.reason or ""])
    return Reply(200, out.getvalue().encode(), "text/csv; charset=utf-8")


ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "/statistics.json"): statistics,
    ("GET", "/api/statusnet/config.json"): config,
    ("GET", "/blocklist/domain/download"): blocklist,
}
