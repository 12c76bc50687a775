"""The adapter interface: how a platform family's peers, blocks and instance info are read.

An adapter is a small object with a `families` tuple and an async `collect(visit)` that calls
platform endpoints through `Visit` (which goes through the polite, guarded fetch layer), parses
the answers and fills `visit.observation`. Adapters never touch the database. Register new ones
with `@register`; `adapter_for(family)` falls back to the generic adapter.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from crawler.blocks import make_rule
from crawler.checked_names import TABLE_LIMIT, CheckedNames, NameTable, table_for
from crawler.domains import DomainPolicy
from crawler.fetch import Fetcher, Response
from crawler.fetch import errors as kinds
from crawler.languages import INVALID_FLAG, MAX_LANGUAGES, parse_languages
from crawler.lenient import read_count
from crawler.nodeinfo import NodeInfo, opt_out_tag
from crawler.observation import (
    DISALLOWED,
    ERROR,
    HIDDEN,
    NOTHING_RECALLED,
    PUBLIC,
    RESTRICTED,
    UNSUPPORTED,
    BlockRule,
    Document,
    ListResult,
    Observation,
    PeerHistory,
    Recalled,
)

#: Misskey and PeerTube page through peers; the cap keeps one host's visit bounded.
MAX_PAGES = 50
#: Answers at least this big are hashed and compressed on a worker thread as soon as they are
#: kept (smaller ones by the store process): a Misskey walk holds its 56 KB pages for a minute.
OFFLOAD_BYTES = 8 * 1024


class Adapter(Protocol):
    """A platform family's endpoints and parsers."""

    families: ClassVar[tuple[str, ...]]

    async def collect(self, visit: Visit) -> None: ...


_REGISTRY: dict[str, Adapter] = {}


def register(cls: type) -> type:
    """Class decorator: make an adapter available for its families."""
    instance = cls()
    for family in cls.families:
        _REGISTRY[family] = instance
    return cls


def adapter_for(family: str | None) -> Adapter:
    """The adapter of a family, or the generic fallback for unknown software."""
    from crawler import adapters  # noqa: F401  (import registers every adapter module)

    return _REGISTRY.get(family or "", _REGISTRY["*"])


@dataclass
class Answer:
    """A parsed answer: the JSON value, or why there is none, plus the raw response."""

    value: Any
    error: str | None
    response: Response

    @property
    def status(self) -> int | None:
        return self.response.status


class Visit:
    """One host's visit: fetch helpers that keep every answer, and the observation to fill."""

    def __init__(
        self,
        fetcher: Fetcher,
        observation: Observation,
        policy: DomainPolicy,
        nodeinfo: NodeInfo | None = None,
        on_discover: Callable[[list[str], str], None] | None = None,
        recalled: Recalled = NOTHING_RECALLED,
    ):
        self.fetcher = fetcher
        self.recalled = recalled
        self.observation = observation
        self.policy = policy
        self.nodeinfo = nodeinfo
        self.on_discover = on_discover
        #: Probe answers that identified the family, by (method, path): the adapter's own
        #: request for the same endpoint reuses the answer instead of asking again.
        self.probed: dict[tuple[str, str], Answer] = {}
        #: Peers already handed to `on_discover` page by page (`discover`): the full list set
        #: later must not count them as listed a second time.
        self.discovered_peers = False

    @property
    def domain(self) -> str:
        return self.observation.domain

    @property
    def family(self) -> str | None:
        return self.observation.family

    @property
    def description_checked(self) -> bool:
        """NodeInfo gave the server's description, already checked for opt-out tags.

        Where the platform's NodeInfo description is the same setting as its instance API's
        (the adapter documents it), the peer list may be read before the instance document:
        discovery first.
        """
        return self.nodeinfo is not None and bool(self.nodeinfo.description)

    async def fetch(
        self,
        path: str,
        *,
        method: str = "GET",
        json_body: Any = None,
        domain: str | None = None,
        conditional: bool = False,
    ) -> Response:
        """Request a path of this host (or `domain`) and keep the answer as a document.

        `conditional`: send the validators kept from the last crawl; the caller must handle
        `response.not_modified` (a 304 carries no body).
        """
        response = await self.fetcher.request(
            domain or self.domain, path, method=method, json_body=json_body, conditional=conditional
        )
        self.observation.requests += response.requests
        self.observation.not_modified += response.not_modified and not response.reused
        self.observation.reused += response.reused
        if response.requests:
            document = self.keep(response)
            if document.body is not None and len(document.body) >= OFFLOAD_BYTES:
                index = len(self.observation.documents) - 1
                self.observation.documents[index] = await self._seal(document.body, document)
        return response

    async def _seal(self, body: bytes, document: Document) -> Document:
        """A big answer hashed and compressed off the event loop (both release the GIL), or,
        when the database holds the same body already (an unchanged page of a re-crawl),
        only hashed: a fifth of compressing's cost, no thread hand-over, nothing to carry."""
        if self.recalled.bodies:
            digest = hashlib.sha256(body)
            if digest.digest() in self.recalled.bodies:
                return document.stored_as(digest.hexdigest())
        return await asyncio.to_thread(document.sealed)

    async def get_json(
        self,
        path: str,
        *,
        method: str = "GET",
        json_body: Any = None,
        domain: str | None = None,
        conditional: bool = False,
    ) -> Answer:
        if domain is None and json_body in (None, {}):
            reused = self.reuse(method, path)
            if reused is not None:
                return reused
        response = await self.fetch(
            path, method=method, json_body=json_body, domain=domain, conditional=conditional
        )
        if response.moved_to:
            return Answer(None, kinds.REDIRECT_OFFSITE, response)
        value, error = response.json()
        return Answer(value, error, response)

    def reuse(self, method: str, path: str) -> Answer | None:
        """The probe answer for this endpoint, once: it then counts as the adapter's request."""
        answer = self.probed.pop((method, path), None)
        if answer is not None:
            self.observation.probe_requests -= answer.response.requests
        return answer

    async def post_json(self, path: str, body: Any) -> Answer:
        return await self.get_json(path, method="POST", json_body=body)

    def keep(self, response: Response) -> Document:
        """Keep an answer as a document of this visit (its body is sealed later)."""
        document = Document.keep(
            url=response.url,
            status=response.status,
            fetched_at=response.fetched_at,
            content_type=response.content_type[:200],
            body=response.body,
            error=response.error,
            method=response.method,
            elapsed=response.elapsed,
        )
        self.observation.documents.append(document)
        return document

    # -- helpers for adapters -------------------------------------------------------------

    def domains(self, values: Iterable[Any], *, count_rejected: bool = True) -> CheckedNames:
        """Validate published host names; count the rejected ones by reason (unless the same
        names are counted when the whole list is set)."""
        table = table_for(self.policy.extra_tlds)
        values = values if isinstance(values, list) else list(values)
        try:
            # Peer lists overlap heavily, so most names were checked in other lists: one lookup
            # each maps them to their checked form's id, deduplicated in the same C pass.
            unique = dict.fromkeys(map(table.ids.get, values))
        except TypeError:  # an unhashable value (a JSON object or array in the list)
            unique = {None: None}
        if None in unique and self._validate_new(values, table):
            unique = dict.fromkeys(map(table.ids.__getitem__, values))
        if None not in unique:
            unique.pop(table.ids.get(self.domain), None)
            return table.checked(unique)
        # A list with rejected names: each one is counted, the valid ones kept in order.
        numbers: dict[int, None] = {}
        in_order: dict[str, None] | None = None  # the names, once one could not take an id
        rejected = self.observation.rejected_names if count_rejected else Counter()
        for value in values:
            number = table.ids.get(value) if type(value) is str else None
            if number is None:
                domain, reason = self.policy.check(value)
                if domain is None:
                    rejected[reason or "invalid"] += 1
                    continue
                if not table.full:
                    number = table.add(value, domain)
                elif in_order is None:
                    in_order = dict.fromkeys(map(table.names.__getitem__, numbers))
            if in_order is None:
                numbers[number] = None
            else:
                in_order[domain if number is None else table.names[number]] = None
        if in_order is None:
            numbers.pop(table.ids.get(self.domain), None)
            return table.checked(numbers)
        in_order.pop(self.domain, None)
        return CheckedNames(in_order)

    def _validate_new(self, values: list[Any], table: NameTable) -> bool:
        """Check and remember the values not seen before; False when one is invalid or cannot
        be remembered (then the caller takes the slow path, which counts every rejected
        value)."""
        try:
            unseen = set(values).difference(table.ids)
        except TypeError:  # an unhashable value (a JSON object or array in the list)
            return False
        if len(table.ids) + len(unseen) > TABLE_LIMIT:
            return False
        for value in unseen:
            domain, _ = self.policy.check(value)
            if domain is None:
                return False
            table.add(value, domain)
        return True

    def rule(
        self,
        pattern: object,
        severity_raw: str,
        reason: object = None,
        digest: object = None,
    ) -> BlockRule | None:
        """A block rule in this host's family vocabulary (None for non-string patterns)."""
        return make_rule(self.policy, self.family, pattern, severity_raw, reason, digest)

    def fill_count(self, field: str, value: Any) -> None:
        """Fill a count NodeInfo did not give from a platform API, under the same rules.

        Nothing is filled once the stats were found zeroed, and an activity count larger than
        the total is not trusted.
        """
        obs = self.observation
        if obs.counts.get(field) is not None or "stats_zeroed" in obs.quality_flags:
            return
        flags: set[str] = set()
        number = read_count(value, flags)
        total = obs.counts.get("users_total")
        active = field.startswith("users_active")
        if active and number is not None and total is not None and number > total:
            obs.quality_flags.add("stats_suspect")
            return
        if field == "users_total" and number == 0:
            obs.quality_flags.add("stats_zeroed")
            return
        obs.counts[field] = number
        obs.quality_flags |= flags

    def check_description(self, text: str | None) -> bool:
        """Record a `#nobot`/`#noindex` opt-out found in an instance description."""
        if text and not self.observation.description:
            self.observation.description = text
        tag = opt_out_tag(text)
        if tag:
            self.opt_out(tag, "instance description")
            return True
        return False

    def declare_languages(self, value: Any) -> None:
        """Add the languages one answer declares (None: it has no such field); values that
        are not BCP 47 tags are dropped and flagged `languages_invalid`."""
        declared = parse_languages(value)
        if not declared.declared:
            return
        obs = self.observation
        known = obs.languages or []
        known += [tag for tag in declared.tags if tag not in known][: MAX_LANGUAGES - len(known)]
        obs.languages = known
        if declared.dropped:
            obs.quality_flags.add(INVALID_FLAG)

    def opt_out(self, reason: str, source: str) -> None:
        if self.observation.opt_out is None:
            self.observation.opt_out, self.observation.opt_out_source = reason, source

    @property
    def opted_out(self) -> bool:
        return self.observation.opt_out is not None

    def discover(self, values: Iterable[Any]) -> None:
        """Hand one page of a paged peer list to the frontier before the list is complete."""
        if self.on_discover is not None:
            self.discovered_peers = True
            self.on_discover(self.domains(values, count_rejected=False), "peer")

    async def stored_peers(self) -> PeerHistory | None:
        """What is stored of this server's peer list (None on a first visit or without a
        store)."""
        stored = self.recalled.peer_list
        return await stored.history() if stored is not None else None

    async def unlisted(self, names: list[str]) -> list[str]:
        """The names the stored peer list lacks (all of them without a store)."""
        stored = self.recalled.peer_list
        return await stored.unlisted(names) if stored is not None else names

    def set_peers(
        self, result: ListResult, answer: Answer | None = None, *, added_only: bool = False
    ) -> None:
        """The peer list as read; `answer` (a conditional one) keeps its validators.

        `added_only`: `result` holds only names the stored list lacks (a list that only grows,
        read newest first); the store adds them and removes nothing.
        """
        self.observation.peers_visibility = result.visibility
        self.observation.peers_truncated = result.truncated
        if result.visibility == PUBLIC:
            self.observation.peers_added_only = added_only
            self.observation.peers = self.domains(result.items)
            if answer is not None:
                self._keep_validators(answer.response)
            if self.on_discover is not None and not self.discovered_peers:
                self.on_discover(self.observation.peers, "peer")

    def peers_unchanged(self, answer: Answer) -> None:
        """A 304: the public list stored last time is still the list (nothing to parse)."""
        self.observation.peers_visibility = PUBLIC
        self.observation.peers_unchanged = True
        self._keep_validators(answer.response)

    def blocks_unchanged(self, answer: Answer) -> None:
        """A 304: the public block list stored last time is still the list."""
        self.observation.blocks_visibility = PUBLIC
        self.observation.blocks_unchanged = True
        self._keep_validators(answer.response)

    async def fetch_document(self, path: str) -> Response:
        """A document kept only for provenance, requested conditionally (a 304 = unchanged)."""
        response = await self.fetch(path, conditional=True)
        if response.ok or response.not_modified:
            self._keep_validators(response)
        return response

    def _keep_validators(self, response: Response) -> None:
        validators = response.validator if response.not_modified else response.validators
        if validators is not None:
            self.observation.validators[response.path] = validators
        if response.fresh_until is not None:
            self.observation.fresh_until[response.path] = response.fresh_until

    def set_blocks(self, result: ListResult, answer: Answer | None = None) -> None:
        """The block list as read; `answer` (a conditional one) keeps its validators."""
        self.observation.blocks_visibility = result.visibility
        if result.visibility == PUBLIC and answer is not None:
            self._keep_validators(answer.response)
        if result.visibility == PUBLIC:
            self.observation.blocks = [rule for rule in result.items if rule is not None]
            if self.on_discover is not None:
                clear = [rule.blocked for rule in self.observation.blocks if rule.blocked]
                self.on_discover(clear, "block")

    def unsupported(self, *, peers: bool = False, blocks: bool = False) -> None:
        if peers:
            self.observation.peers_visibility = UNSUPPORTED
        if blocks:
            self.observation.blocks_visibility = UNSUPPORTED


def visibility_of(answer: Answer | Response, *, missing: str = HIDDEN) -> str:
    """How readable a list endpoint was, from its answer (before parsing the items).

    `missing` is what a 404 means: `hidden` where the platform has the endpoint but the admin
    turned it off (Mastodon), `unsupported` where the software may not have it at all.
    """
    response = answer.response if isinstance(answer, Answer) else answer
    error = answer.error if isinstance(answer, Answer) else response.error
    if response.error == kinds.ROBOTS_DISALLOWED:
        return DISALLOWED
    if response.status in (401, 403):
        return RESTRICTED
    if response.status in (404, 410):
        return missing
    if error is not None or response.moved_to:
        return ERROR
    return PUBLIC
