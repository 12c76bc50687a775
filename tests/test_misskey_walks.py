"""Misskey's filtered walks (`blocked`, `suspended`) are read only when the unfiltered walk
cannot hold every rule: it was cut short, or its entries lack the moderation flags."""

from __future__ import annotations

import orjson
import pytest

from crawler.adapters import misskey
from crawler.adapters.base import Visit
from crawler.domains import DomainPolicy
from crawler.fetch import Response
from crawler.observation import PUBLIC, Observation

POLICY = DomainPolicy(extra_tlds=frozenset({"test"}))


def entry(index: int, *, flags: bool = True) -> dict:
    host = {"host": f"h{index}.test"}
    if flags:
        host.update(
            isBlocked=index % 10 == 0,
            isSilenced=False,
            isSuspended=index % 7 == 0,
            # h7, h14...: suspended by hand every 21st, the rest for not responding.
            suspensionState="manuallySuspended"
            if index % 21 == 0
            else "autoSuspendedForNotResponding",
        )
    return host


class Server:
    """One Misskey server's federation/instances, filtered and paged as Misskey does."""

    def __init__(self, size: int, *, flags_in_walk: bool = True):
        self.entries = [entry(index) for index in range(1, size + 1)]
        self.flags_in_walk = flags_in_walk  # False: an old fork's entries, host only
        self.asked: list[dict] = []

    async def request(self, domain, path, *, method="GET", json_body=None, **_):
        body = b"{}"
        if path == "/api/federation/instances":
            self.asked.append(json_body)
            chosen = [
                e
                for e in self.entries
                if not json_body.get("blocked") or e.get("isBlocked")
                if not json_body.get("suspended") or e.get("isSuspended")
            ]
            offset = json_body["offset"]
            page = chosen[offset : offset + json_body["limit"]]
            filtered = "blocked" in json_body or "suspended" in json_body
            if not self.flags_in_walk and not filtered:
                page = [{"host": e["host"]} for e in page]
            body = orjson.dumps(page)
        return Response(
            domain, path, method, status=200, content_type="application/json", body=body,
            requests=1,
        )  # fmt: skip

    def filters(self) -> list[str]:
        return sorted(
            {key for body in self.asked for key in ("blocked", "suspended") if key in body}
        )


async def collect(server: Server) -> Observation:
    observation = Observation("self.test", family="misskey")
    await misskey.MisskeyAdapter().collect(Visit(server, observation, POLICY))  # type: ignore[arg-type]
    return observation


def rules(observation: Observation) -> set[tuple[str, str]]:
    return {(rule.pattern, rule.severity_raw) for rule in observation.blocks or ()}


EXPECTED = {(f"h{i}.test", "blocked") for i in range(10, 131, 10)} | {
    (f"h{i}.test", "suspended") for i in range(21, 131, 21)
}


async def test_a_complete_walk_with_flags_has_every_rule_without_filtered_walks():
    server = Server(130)
    observation = await collect(server)
    assert [body["offset"] for body in server.asked] == [0, 100]
    assert server.filters() == []
    assert observation.blocks_visibility == PUBLIC
    assert rules(observation) == EXPECTED
    assert len(observation.peers) == 130


async def test_entries_without_flags_are_completed_by_the_filtered_walks():
    server = Server(130, flags_in_walk=False)
    observation = await collect(server)
    assert server.filters() == ["blocked", "suspended"]
    assert rules(observation) == EXPECTED


async def test_a_walk_cut_short_is_completed_by_the_filtered_walks(monkeypatch):
    monkeypatch.setattr(misskey, "MAX_PAGES", 1)
    server = Server(130)
    observation = await collect(server)
    assert server.filters() == ["blocked", "suspended"]
    assert observation.peers_truncated
    assert rules(observation) == EXPECTED  # h110..h130's rules come from the filtered walks


@pytest.mark.parametrize("size", [0, 5])
async def test_a_short_list_needs_one_page(size):
    server = Server(size)
    observation = await collect(server)
    assert len(server.asked) == 1 and server.filters() == []
    assert observation.blocks_visibility == PUBLIC
