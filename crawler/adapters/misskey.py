"""Misskey family (Misskey, Sharkey, Firefish, Iceshrimp, Catodon, CherryPick, Calckey, ...).

Endpoints (all POST with a JSON body):
- `/api/meta` `{}`: name, description (opt-out tags) and declared languages (`langs`).
- `/api/federation/instances` `{"limit": 100, "offset": n, "sort": "+firstRetrievedAt"}`:
  every host the server knows, newest first, paged by offset until an empty page (capped at
  MAX_PAGES); each entry carries `isBlocked`, `isSilenced`, `isSuspended` and (newer)
  `suspensionState`.
- The same endpoint with `{"blocked": true}` and `{"suspended": true}`: the block rules when the
  unfiltered walk was cut short (MAX_PAGES) or its entries lack the moderation flags (an old
  fork). A complete walk whose entries carry them has every rule already: the filtered lists
  are subsets of it (`federation/instances.ts` filters the same table), and the suspended one
  lists every dead server Misskey stopped delivering to, often as long as the walk itself.
  Misskey publishes no reasons.
Discovery first: each page of the unfiltered walk goes to the frontier as soon as it is read,
and the walk comes right after NodeInfo when NodeInfo gave a description (Misskey's NodeInfo
`metadata.nodeDescription` is `meta.description`, misskey-dev/misskey
`packages/backend/src/server/NodeinfoServerService.ts`), already checked for opt-out tags;
otherwise `/api/meta` is read first, for that check. The block walks come after the peers.
Re-crawls read only what is new: Misskey keeps a row for every instance it has ever met and
has no code path that deletes one (dead servers are marked `isNotResponding` / suspended, not
removed: misskey-dev/misskey `packages/backend/src/core/FederatedInstanceService.ts` only
registers and updates), so the unfiltered list only grows. With a stored list, a re-crawl walks
it newest first (`sort: "+firstRetrievedAt"`, which orders by `firstRetrievedAt DESC` in
`packages/backend/src/server/api/endpoints/federation/instances.ts`) and stops after a page of
names already stored; the new names are added and nothing stored is removed. Silenced servers,
which the full walk reads off every entry, then come from their own filtered walk
(`{"silenced": true}`). Every `--full-every` crawls (default 7) the list is read in full again,
so a server an admin removed by hand is still seen to go.
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


#: Every walk pages newest first: a server met during the walk pushes the others one place on
#: (a name read twice, never one missed, unlike an order by counts that change), and an
#: unchanged list gives the same pages crawl after crawl (stored once, `document_bodies`).
NEWEST_FIRST = "+firstRetrievedAt"


@dataclass
class Walk:
    """The compact result of paging through `federation/instances` for one query."""

    visibility: str
    entries: list[tuple[Any, tuple[str, ...]]] = field(default_factory=list)  # (host, words)
    truncated: bool = False
    flagged: bool = True  # every entry carried isBlocked and isSuspended

    def has_every_rule(self) -> bool:
        """Read to its end with every entry's moderation flags: no filtered walk can add a rule."""
        return self.visibility == PUBLIC and not self.truncated and self.flagged


async def _read_page(
    visit: Visit, page: int, query: dict[str, Any], result: Walk
) -> tuple[list[tuple[Any, tuple[str, ...]]], bool] | None:
    """Read one page into `result`: its (host, words) entries and whether it was the last page.

    None when the walk must stop: the first page failing sets the list's visibility; a failure
    after it keeps what was read and marks the walk truncated.
    """
    body = {"limit": PAGE, "offset": page * PAGE, "sort": NEWEST_FIRST, **query}
    answer = await visit.post_json("/api/federation/instances", body)
    if answer.error or not isinstance(answer.value, list):
        if page == 0:
            state = visibility_of(answer, missing=UNSUPPORTED)
            result.visibility = ERROR if state == PUBLIC else state
        else:
            result.truncated = True
        return None
    objects = [entry for entry in answer.value if isinstance(entry, dict)]
    entries = [(entry.get("host"), moderation_words(entry)) for entry in objects]
    result.entries.extend(entries)
    result.flagged = result.flagged and all(
        "isBlocked" in entry and "isSuspended" in entry for entry in objects
    )
    return entries, len(answer.value) < PAGE


async def walk(visit: Visit, query: dict[str, Any], *, discover: bool = False) -> Walk:
    """All pages of `federation/instances` for a query, keeping only host and moderation words.

    `discover`: hand each page's hosts to the frontier as soon as the page is read.

    Each page's full instance objects (two dozen fields each) are dropped at once: a big
    server's walk would otherwise hold thousands of them for a minute.
    """
    result = Walk(PUBLIC)
    for page in range(MAX_PAGES):
        read = await _read_page(visit, page, query, result)
        if read is None:
            return result
        entries, last = read
        if discover:
            visit.discover(host for host, _ in entries)
        if last:
            return result
    result.truncated = True
    return result


@dataclass
class NewestWalk(Walk):
    """A newest-first walk: the names the stored list lacks, and whether it reached the end."""

    new: list[str] = field(default_factory=list)
    complete: bool = False  # the last page was short: every entry was read, as in a full walk


async def walk_new(visit: Visit) -> NewestWalk:
    """Newest first until a page holds no name the stored list lacks."""
    result = NewestWalk(PUBLIC)
    for page in range(MAX_PAGES):
        read = await _read_page(visit, page, {}, result)
        if read is None:
            return result
        entries, last = read
        fresh = await visit.unlisted(visit.domains(host for host, _ in entries))
        result.new.extend(fresh)
        visit.discover(fresh)
        if last:
            result.complete = True
            return result
        if not fresh:
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


async def read_blocks(visit: Visit, read: Walk, queries: list[dict[str, Any]]) -> None:
    """The block rules: those seen on the walk already read, then each filtered walk."""
    rules = rules_from(visit, read.entries)
    for query in queries:
        filtered = await walk(visit, query)
        if filtered.visibility != PUBLIC or filtered.truncated:
            visit.set_blocks(ListResult(ERROR))
            return
        rules.update(rules_from(visit, filtered.entries))
    visit.set_blocks(ListResult(PUBLIC, list(rules.values())))


async def read_meta(visit: Visit) -> bool:
    """`/api/meta`: the name, the declared languages, and whether the description opts the
    server out."""
    meta = await visit.post_json("/api/meta", {})
    document = mapping(meta.value)
    visit.observation.name = visit.observation.name or read_text(document.get("name"), 500)
    visit.declare_languages(document.get("langs"))
    return visit.check_description(read_text(document.get("description")))


@register
class MisskeyAdapter:
    families: ClassVar[tuple[str, ...]] = ("misskey",)

    async def collect(self, visit: Visit) -> None:
        stored = await visit.stored_peers()
        if stored is not None and stored.listed and not stored.full_due:
            await self.collect_new(visit)
            return
        if visit.description_checked:
            everything = await walk(visit, {}, discover=True)
            if await read_meta(visit):
                return
        else:
            if await read_meta(visit):
                return
            everything = await walk(visit, {}, discover=True)
        hosts = [host for host, _ in everything.entries]
        visit.set_peers(ListResult(everything.visibility, hosts, truncated=everything.truncated))
        if everything.visibility != PUBLIC:
            visit.set_blocks(ListResult(everything.visibility))
            return
        queries: list[dict[str, Any]] = [{"blocked": True}, {"suspended": True}]
        await read_blocks(visit, everything, [] if everything.has_every_rule() else queries)

    async def collect_new(self, visit: Visit) -> None:
        """A re-crawl: the names new since the stored list, then every block rule."""
        if not visit.description_checked and await read_meta(visit):
            return
        newest = await walk_new(visit)
        if visit.description_checked and await read_meta(visit):
            return
        if newest.visibility != PUBLIC:
            visit.set_peers(ListResult(newest.visibility))
            visit.set_blocks(ListResult(newest.visibility))
            return
        queries: list[dict[str, Any]] = [{"blocked": True}, {"suspended": True}]
        if newest.complete:  # a short list read to its end: the whole list, as a full walk
            hosts = [host for host, _ in newest.entries]
            visit.set_peers(ListResult(PUBLIC, hosts))
            if newest.has_every_rule():
                queries = []
        else:
            new = ListResult(PUBLIC, newest.new, truncated=newest.truncated)
            visit.set_peers(new, added_only=True)
            queries.append({"silenced": True})  # silenced flags of the entries not read
        await read_blocks(visit, newest, queries)
