"""Misskey family (Misskey, Sharkey, Firefish, Iceshrimp, Catodon, CherryPick, Calckey, ...).

Endpoints (all POST with a JSON body):
- `/api/meta` `{}`: name and description (opt-out tags).
- `/api/federation/instances` `{"limit": 100, "offset": n, "sort": "+pubSub"}`: every host the
  server knows, paged by offset until an empty page (capped at MAX_PAGES); each entry carries
  `isBlocked`, `isSilenced`, `isSuspended` and (newer) `suspensionState`.
- The same endpoint with `{"blocked": true}` and `{"suspended": true}`: the block rules even when
  the unfiltered walk was cut short. Misskey publishes no reasons.
Severity: blocked -> suspend, silenced -> silence, manually suspended delivery -> other;
automatic suspensions (not responding, gone) are not moderation and are not recorded.
"""

from __future__ import annotations

from typing import Any, ClassVar

from crawler.adapters.base import MAX_PAGES, Answer, Visit, register, visibility_of
from crawler.lenient import mapping, read_text
from crawler.observation import PUBLIC, UNSUPPORTED, BlockRule, ListResult

PAGE = 100
_AUTOMATIC_SUSPENSIONS = frozenset({"autoSuspendedForNotResponding", "goneSuspended", "none"})


async def walk(visit: Visit, query: dict[str, Any]) -> tuple[list[dict[str, Any]], Answer, bool]:
    """All pages of `federation/instances` for a query: (entries, first answer, truncated)."""
    entries: list[dict[str, Any]] = []
    first: Answer | None = None
    for page in range(MAX_PAGES):
        body = {"limit": PAGE, "offset": page * PAGE, "sort": "+pubSub", **query}
        answer = await visit.post_json("/api/federation/instances", body)
        first = first or answer
        if answer.error or not isinstance(answer.value, list):
            return entries, first if not entries else answer, False
        batch = [entry for entry in answer.value if isinstance(entry, dict)]
        entries.extend(batch)
        if len(answer.value) < PAGE:
            return entries, first, False
    assert first is not None
    return entries, first, True


def rules_from(visit: Visit, entries: list[dict[str, Any]]) -> dict[tuple[str, str], BlockRule]:
    """Block rules keyed by (host, raw word) from instance entries."""
    rules: dict[tuple[str, str], BlockRule] = {}
    for entry in entries:
        host = entry.get("host")
        if not isinstance(host, str):
            continue
        words = []
        if entry.get("isBlocked") is True:
            words.append("blocked")
        if entry.get("isSilenced") is True:
            words.append("silenced")
        if entry.get("isSuspended") is True:
            state = entry.get("suspensionState")
            if not isinstance(state, str) or state not in _AUTOMATIC_SUSPENSIONS:
                words.append("suspended")
        for word in words:
            rule = visit.rule(host, word)
            if rule is not None:
                rules[(rule.pattern, word)] = rule
    return rules


@register
class MisskeyAdapter:
    families: ClassVar[tuple[str, ...]] = ("misskey",)

    async def collect(self, visit: Visit) -> None:
        meta = await visit.post_json("/api/meta", {})
        document = mapping(meta.value)
        visit.observation.name = visit.observation.name or read_text(document.get("name"), 500)
        if visit.check_description(read_text(document.get("description"))):
            return
        entries, first, truncated = await walk(visit, {})
        visibility = visibility_of(first, missing=UNSUPPORTED)
        if visibility == PUBLIC and first.error is None and not isinstance(first.value, list):
            visibility = "error"
        hosts = [entry.get("host") for entry in entries]
        visit.set_peers(ListResult(visibility, hosts, truncated=truncated))
        if visibility != PUBLIC:
            visit.set_blocks(ListResult(visibility))
            return
        rules = rules_from(visit, entries)
        for query in ({"blocked": True}, {"suspended": True}):
            more, answer, _ = await walk(visit, query)
            if answer.error:
                visit.set_blocks(ListResult("error"))
                return
            rules.update(rules_from(visit, more))
        visit.set_blocks(ListResult(PUBLIC, list(rules.values())))
