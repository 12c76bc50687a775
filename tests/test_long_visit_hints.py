"""Lists that name each peer's software (Misskey's `softwareName`, Lemmy's `software`) tell the
frontier which listed servers page their own peer lists: their visits are long and start early.
Servers of other software, unknown software and garbage are not named."""

from __future__ import annotations

from typing import Any

import orjson

from crawler.adapters.base import PAGED_VISIT_REQUESTS, Visit
from crawler.adapters.lemmy import LemmyAdapter
from crawler.adapters.misskey import MisskeyAdapter
from crawler.domains import DomainPolicy
from crawler.fetch import Response
from crawler.observation import Observation

POLICY = DomainPolicy(extra_tlds=frozenset({"test"}))
#: (host, software as published, whether it pages its peer list)
LISTED: list[tuple[str, Any, bool]] = [
    ("misskey.test", "misskey", True),
    ("shark.test", " Sharkey ", True),
    ("tube.test", "peertube", True),
    ("masto.test", "mastodon", False),
    ("unknown.test", "homebrew", False),
    ("nameless.test", None, False),
    ("number.test", 7, False),
    ("ICE.test", "iceshrimp.net", True),
]
PAGED = ["misskey.test", "shark.test", "tube.test", "ice.test"]


class Server:
    """Answers the one list an adapter reads, from LISTED; everything else is empty."""

    def __init__(self, paths: dict[str, object]):
        self.paths = paths

    async def request(self, domain, path, *, method="GET", json_body=None, **_):
        value = self.paths.get(path, {})
        if path == "/api/federation/instances":
            value = value[json_body["offset"] : json_body["offset"] + json_body["limit"]]
        return Response(
            domain, path, method, status=200, content_type="application/json",
            body=orjson.dumps(value), requests=1,
        )  # fmt: skip


async def hints_of(adapter: Any, server: Server, family: str) -> list[tuple[list[str], int]]:
    """The hints a visit gave; each name was handed to the frontier before its hint (only a
    pending name can move ahead)."""
    heard: list[tuple[list[str], int]] = []
    discovered: set[str] = set()

    def expect(names: list[str], requests: int) -> None:
        assert discovered.issuperset(names)
        heard.append((list(names), requests))

    observation = Observation("self.test", family=family)
    visit = Visit(
        server,  # type: ignore[arg-type]
        observation,
        POLICY,
        on_discover=lambda names, how: discovered.update(names),
        on_expect=expect,
    )
    await adapter.collect(visit)
    assert observation.peers is not None and len(observation.peers) == len(LISTED)
    return heard


async def test_misskey_entries_name_the_servers_whose_visits_walk_pages():
    entries = [{"host": host, "softwareName": software} for host, software, _ in LISTED]
    heard = await hints_of(
        MisskeyAdapter(), Server({"/api/federation/instances": entries}), "misskey"
    )
    assert heard == [(PAGED, PAGED_VISIT_REQUESTS)]


async def test_lemmy_linked_instances_name_them_too():
    linked = [{"id": i, "domain": host, "software": sw} for i, (host, sw, _) in enumerate(LISTED)]
    server = Server({"/api/v3/federated_instances": {"federated_instances": {"linked": linked}}})
    assert await hints_of(LemmyAdapter(), server, "lemmy") == [(PAGED, PAGED_VISIT_REQUESTS)]


async def test_a_list_without_such_servers_names_none():
    entries = [{"host": "masto.test", "softwareName": "mastodon"}] * 3
    entries += [{"host": f"m{i}.test"} for i in range(len(LISTED) - 1)]
    heard: list = []
    observation = Observation("self.test", family="misskey")
    visit = Visit(
        Server({"/api/federation/instances": entries}),  # type: ignore[arg-type]
        observation,
        POLICY,
        on_expect=lambda names, n: heard.append(names),
    )
    await MisskeyAdapter().collect(visit)
    assert heard == []
