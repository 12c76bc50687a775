"""Misskey family (Misskey, Sharkey, Firefish, Iceshrimp, Catodon, CherryPick, Calckey, ...).

Endpoints (all POST with a JSON body):
- `/api/meta` `{}`: name, description (opt-out tags) and declared languages (`langs`).
- `/api/federation/instances` `{"limit": 100, "offset": n, "sort": "+pubSub"}`: every host the
  server knows, paged by offset until an empty page (capped at MAX_PAGES); each entry carries
  `isBlocked`, `isSilenced`, `isSuspended` and (newer) `suspensionState`.
- The same endpoint with `{"blocked": true}` and `{"suspended": true}`: the block rules even when
  the unfiltered walk was cut short. Misskey publishes no reasons.
Severity: blocked -> suspend, silenced -> silence, manually suspended delivery -> other;
automatic suspensions (not responding, gone) are not moderation and are not recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from crawler.adapters.base import MAX_PAGES, Visit, register, visibility_of
from crawler.lenient import mapping, read_text
from crawler.observation import ERROR, PUBLIC, UNSUPPORTED, BlockRule, ListResult

PAGE = 100
_AUTOMATIC_SUSPENSIONS = frozenset({"autoSuspendedForNotResponding", "goneSuspended", "none"})


@dataclass
class Walk:
    """The compact result of paging through `federation/instances` for one query."""

    visibility: str
    entries: list[tuple[Any, tuple[str, ...]]] = field(default_factory=list)  # (host, words)
    truncated: bool = False


async def walk(visit: Visit, query: dict[str, Any]) -> Walk:
    """All pages of `federation/instances` for a query, keeping only host and moderation words.

    Each page's full instance objects (two dozen fields each) are dropped at once: a big
    server's walk would otherwise hold thousands of them for a minute.
    """
    result = Walk(PUBLIC)
    for page in range(MAX_PAGES):
        body = {"limit": PAGE, "offset": page * PAGE, "sort": "+pubSub", **query}
        answer = await visit.post_json("/api/federation/instances", body)
        if answer.error or not isinstance(answer.value, list):
            if page == 0:
                state = visibility_of(answer, missing=UNSUPPORTED)
                result.visibility = ERROR if state == PUBLIC else state
            else:
                result.truncated = True  # a failure after the first page keeps what was read
            return result
        result.entries.extend(
            (entry.get("host"), moderation_words(entry))
            for entry in answer.value
            if isinstance(entry, dict)
        )
        if len(answer.value) < PAGE:
            return result
    result.truncated = True
    return result


def moderation_words(entry: dict[str, Any]) -> tuple[str, ...]:
    """The raw words of the moderation flags an instance entry carries."""
    words = []
    if entry.get("isBlocked") is True:
        words.append("blocked")
    if entry.get("isSilenced") is True:
        words.append("silenced")
    if entry.get("isSuspended") is True:
        state = entry.get("suspensionState")
        if not isinstance(state, str) or state not in _AUTOMATIC_SUSPENSIONS:
            words.append("suspended")
    return tuple(words)


def rules_from(
    visit: Visit, entries: list[tuple[Any, tuple[str, ...]]]
) -> dict[tuple[str, str], BlockRule]:
    """Block rules keyed by (host, raw word) from compact instance entries."""
    rules: dict[tuple[str, str], BlockRule] = {}
    for host, words in entries:
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
        visit.declare_languages(document.get("langs"))
        if visit.check_description(read_text(document.get("description"))):
            return
        everything = await walk(visit, {})
        hosts = [host for host, _ in everything.entries]
        visit.set_peers(ListResult(everything.visibility, hosts, truncated=everything.truncated))
        if everything.visibility != PUBLIC:
            visit.set_blocks(ListResult(everything.visibility))
            return
        rules = rules_from(visit, everything.entries)
        for query in ({"blocked": True}, {"suspended": True}):
            filtered = await walk(visit, query)
            if filtered.visibility != PUBLIC or filtered.truncated:
                visit.set_blocks(ListResult(ERROR))
                return
            rules.update(rules_from(visit, filtered.entries))
        visit.set_blocks(ListResult(PUBLIC, list(rules.values())))
