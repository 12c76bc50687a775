"""PeerTube.

Endpoints:
- `GET /api/v1/config/about`: instance name, description (opt-out tags) and declared
  languages (`instance.languages`).
- `GET /api/v1/server/followers` and `/following` with `start`/`count` (<= 100), answering
  `{total, data: [ActorFollow]}`; the peers are the hosts on the other side of each follow.
PeerTube publishes no block list. Both lists are read in full on every crawl: unlike Misskey's
instance list they shrink (an admin removes a follower, a server stops following), so a
newest-first read could not see what left.
"""

from __future__ import annotations

from typing import Any, ClassVar

from crawler.adapters.base import MAX_PAGES, Visit, register, visibility_of
from crawler.lenient import mapping, read_text
from crawler.observation import ERROR, PUBLIC, UNSUPPORTED, ListResult

PAGE = 100
SIDES = (("followers", "follower"), ("following", "following"))


async def follow_hosts(visit: Visit, endpoint: str, side: str) -> tuple[list[Any], str, bool]:
    """(hosts, visibility, truncated) of one paged follow list."""
    hosts: list[Any] = []
    for page in range(MAX_PAGES):
        path = f"/api/v1/server/{endpoint}?start={page * PAGE}&count={PAGE}"
        answer = await visit.get_json(path)
        visibility = visibility_of(answer, missing=UNSUPPORTED)
        data = mapping(answer.value).get("data")
        if visibility != PUBLIC:
            return hosts, visibility, False
        if not isinstance(data, list):
            return hosts, ERROR, False
        hosts.extend(mapping(mapping(item).get(side)).get("host") for item in data)
        total = mapping(answer.value).get("total")
        if len(data) < PAGE or (isinstance(total, int) and (page + 1) * PAGE >= total):
            return hosts, PUBLIC, False
    return hosts, PUBLIC, True


@register
class PeerTubeAdapter:
    families: ClassVar[tuple[str, ...]] = ("peertube",)

    async def collect(self, visit: Visit) -> None:
        about = await visit.get_json("/api/v1/config/about")
        instance = mapping(mapping(about.value).get("instance"))
        visit.observation.name = visit.observation.name or read_text(instance.get("name"), 500)
        visit.declare_languages(instance.get("languages"))
        text = read_text(instance.get("description")) or read_text(instance.get("shortDescription"))
        if visit.check_description(text):
            return
        hosts: list[Any] = []
        truncated = False
        for endpoint, side in SIDES:
            found, visibility, cut = await follow_hosts(visit, endpoint, side)
            if visibility != PUBLIC:
                visit.set_peers(ListResult(visibility))
                break
            hosts.extend(found)
            truncated = truncated or cut
        else:
            visit.set_peers(ListResult(PUBLIC, hosts, truncated=truncated))
        visit.unsupported(blocks=True)
