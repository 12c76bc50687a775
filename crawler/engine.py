"""The crawl engine: a frontier of domains, visited concurrently, stored as each one finishes.

`crawl(settings)` is what `fediscope crawl` runs. The frontier starts from the seeds and every
domain that is due (new, or whose re-visit time has come) and grows with the peers, block
targets and moves each visit reports. At most `hosts_in_flight` visits run at once; the fetch
layer bounds requests in flight globally, per host and per address. Hosts of one address
(shared hosting) run at most `VISITS_PER_ADDRESS_SLOT * per_address` visits at once; the others
wait aside, so a big provider's hosts never fill the visit slots that hosts elsewhere need.
Validators (ETag, Last-Modified) kept by the last crawl make list requests conditional. A
subdomain farm is capped per registrable domain; the exclusion file is honoured before any
request. Finished domains are stored in batches, each domain all or nothing, so an interrupted
crawl resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from functools import partial
from itertools import filterfalse

import aiohttp
from tqdm import tqdm

from crawler import PROJECT_URL, ROBOTS_TOKEN, __version__, eventloop
from crawler.adapters.base import OFFLOAD_BYTES
from crawler.crawl_summary import CrawlSummary
from crawler.domains import DomainPolicy, policy_for
from crawler.fetch import Fetcher, FetchSettings
from crawler.fetch import errors as kinds
from crawler.frontier import Frontier
from crawler.gc_pauses import crawl_collections
from crawler.load import LoadMonitor, Throttle, watch
from crawler.observation import (
    ALIVE,
    GONE,
    NOTHING_RECALLED,
    OPTED_OUT,
    PENDING,
    UNREACHABLE,
    Observation,
    PeerHistory,
    Recalled,
)
from crawler.operator_lists import ExclusionList, read_seed_file
from crawler.store.lock import database_lock
from crawler.store.process import StoreProcess, StoreStopped
from crawler.store.writer import StoreWriter, VisitResult, utcnow
from crawler.visit import visit_domain

log = logging.getLogger(__name__)

#: A finished visit on its way to the store: (observation, hops, (how found, found by)).
StoreItem = tuple[Observation, int | None, tuple[str, str] | None]

#: Finished visits waiting for the store; a full queue makes visits wait (backpressure).
STORE_QUEUE = 64
#: Batches sent to the store before the oldest one's answer is read.
BATCHES_AHEAD = 2
#: Hosts visited at once per allowed request in flight (a visit is mostly waiting out gaps).
HOSTS_PER_REQUEST_SLOT = 16
#: New visits wait while this many requests per request slot already wait for one: the slots
#: are busy for a while without them, and a visit begun now would only wait too, holding its
#: memory. Visits that wait out per-host gaps are not in that queue, so this is no bound on
#: how many visits run, only on how far the queue runs ahead.
WAITING_PER_REQUEST_SLOT = 2
#: Visits of one address's hosts at once per request slot of that address.
VISITS_PER_ADDRESS_SLOT = 4
#: Addresses reported in the crawl summary.
BUSIEST_ADDRESSES = 5


class CrawlError(Exception):
    """A crawl that cannot start or produced nothing usable (reported as a one-line error)."""


@dataclass
class CrawlSettings:
    """Everything `fediscope crawl` can be told; the defaults are the polite ones."""

    db: str = "data/fediverse.db"
    seeds: list[str] = field(default_factory=list)
    seed_file: str | None = None
    max_instances: int | None = None
    concurrency: int = 64
    per_address: int = 4
    conditional: bool = True  # send kept ETag / Last-Modified (If-None-Match, If-Modified-Since)
    #: Ask again even for what may be reused: robots.txt under a day old, answers still fresh.
    revalidate: bool = False
    hosts_in_flight: int | None = None
    via: str | None = None
    contact: str | None = None
    min_gap: float = 1.0
    burst: int = 1  # requests at the start of a visit sent back to back (1: none; CLI: 3)
    full_every: int = 7  # lists that only grow are read in full every N crawls, else newest first
    max_crawl_delay: float = 60.0
    host_budget: int = 100
    total_timeout: float = 30.0
    connect_timeout: float = 10.0
    read_timeout: float = 15.0
    max_body: int = 16 * 1024 * 1024
    subdomain_cap: int = 50
    exclude_file: str | None = None
    recrawl_after: timedelta = timedelta(hours=20)
    progress: bool = True
    clock: Callable[[], datetime] = utcnow
    resolver: aiohttp.abc.AbstractResolver | None = None
    uvloop: bool | None = None  # None: uvloop if installed, unless FEDISCOPE_UVLOOP=0
    adapt: bool = True  # fewer requests in flight while the crawler itself is overloaded


def user_agent(contact: str | None) -> str:
    """`fediscope/VERSION (+PROJECT_URL; CONTACT)`: who we are and how to reach the operator."""
    return f"fediscope/{__version__} (+{PROJECT_URL}; {contact or 'sandbox crawl via loopback'})"


class Crawl:
    """One run of the crawler over one database."""

    def __init__(self, settings: CrawlSettings):
        self.settings = settings
        self.policy: DomainPolicy = policy_for(settings.via)
        self.exclusions = ExclusionList.from_file(settings.exclude_file)
        self.queue = Frontier()
        # Every domain this crawl has dealt with: queued, visited, excluded, or known and not due.
        self.queued: set[str] = set()
        self.per_registrable: Counter[str] = Counter()
        self.pending_exclusions: list[tuple[str, str, str | None]] = []
        self.origins: dict[str, tuple[str, str]] = {}  # how and from where, until stored
        self.summary: CrawlSummary | None = None
        self.store: StoreProcess | None = None
        self.wakeup = asyncio.Event()
        self.to_store: asyncio.Queue[StoreItem | None]
        self.to_store = asyncio.Queue(maxsize=STORE_QUEUE)
        self.in_store = 0  # batches taken from to_store whose answer is not accounted yet
        self._last_answer = 0.0
        self.bar: tqdm | None = None
        self.started = 0  # visits begun (a host that waited aside is counted once)
        self.monitor = LoadMonitor()
        # Visits that timed out while the crawler was overloaded: made once more at the end.
        self.later: list[tuple[str, int | None]] = []
        self.retried: set[str] = set()
        #: Digests of the big answers the database holds (`StoreWriter.load_stored_bodies`).
        self.stored_bodies: set[bytes] = set()
        #: Where each known server's NodeInfo was (`StoreWriter.load_nodeinfo_paths`).
        self.nodeinfo_paths: dict[str, str] = {}

    def seeds(self) -> list[str]:
        raw = list(self.settings.seeds)
        if self.settings.seed_file:
            raw += read_seed_file(self.settings.seed_file)
        seeds = []
        for value in raw:
            domain, reason = self.policy.check(value)
            if domain is None:
                raise CrawlError(f"invalid seed {value!r} ({reason})")
            seeds.append(domain)
        return list(dict.fromkeys(seeds))

    def fetch_settings(self) -> FetchSettings:
        s = self.settings
        return FetchSettings(
            user_agent=user_agent(s.contact),
            via=s.via,
            concurrency=s.concurrency,
            per_address=s.per_address,
            min_gap=s.min_gap,
            burst=s.burst,
            max_crawl_delay=s.max_crawl_delay,
            host_budget=s.host_budget,
            max_body=s.max_body,
            total_timeout=s.total_timeout,
            connect_timeout=s.connect_timeout,
            read_timeout=s.read_timeout,
            robots_token=ROBOTS_TOKEN,
            domain_policy=self.policy,
            now=lambda: s.clock().timestamp(),
        )

    def offer(
        self,
        domain: str,
        hops: int | None,
        origin: tuple[str, str] | None = None,
        expected: int = 0,
    ) -> None:
        """Queue a domain for this crawl unless excluded or beyond its farm's cap; `expected`:
        the requests its last visit took (the longest visits start first)."""
        if domain in self.queued:
            return
        if domain.endswith(".onion"):
            # Valid names (real peer lists carry them) but reachable only through Tor.
            self.queued.add(domain)
            self.pending_exclusions.append((domain, "onion", "reachable only through Tor"))
            return
        entry = self.exclusions.match(domain)
        if entry is not None:
            self.queued.add(domain)
            self.pending_exclusions.append((domain, "exclusion_file", entry))
            return
        registrable = self.policy.registrable(domain)
        if self.per_registrable[registrable] >= self.settings.subdomain_cap:
            self.queued.add(domain)
            self.pending_exclusions.append((domain, "subdomain_farm", registrable))
            return
        self.per_registrable[registrable] += 1
        self.queued.add(domain)
        self.queue.push(domain, hops, seed=hops == 0, expected=expected)
        if origin is not None:
            self.origins[domain] = origin

    async def run(self) -> CrawlSummary:
        s = self.settings
        seeds = self.seeds()
        store = self.store = await StoreProcess(s.db, self.policy).open()
        started = time.monotonic()
        try:
            summary = await self._run(store, seeds)
        except StoreStopped as exc:
            raise CrawlError(f"{exc}; finished domains are stored, run again to resume") from None
        finally:
            await store.close()
        summary.seconds = time.monotonic() - started
        summary.store_peak_rss_mib = store.peak_rss_mib
        summary.store_cpu_seconds = store.cpu_seconds
        return summary

    async def _run(self, store: StoreProcess, seeds: list[str]) -> CrawlSummary:
        s = self.settings
        now = s.clock()
        record = {k: v for k, v in asdict(s).items() if k not in ("clock", "resolver")}
        record.update(user_agent=user_agent(s.contact), version=__version__, seeds=seeds)
        record["event_loop"] = eventloop.loop_name()
        crawl_id, resumed = await store.call(StoreWriter.begin_crawl, seeds, record, now)
        summary = self.summary = CrawlSummary(crawl_id, resumed, seeds=seeds)
        summary.event_loop = record["event_loop"]
        await store.call(StoreWriter.add_seeds, seeds, "seed", now)
        for domain in await store.call(StoreWriter.visited_in_crawl, crawl_id):
            self.queued.add(domain)
            self.per_registrable[self.policy.registrable(domain)] += 1
        due = await store.call(StoreWriter.due_domains, crawl_id, now, seeds, s.recrawl_after)
        lengths = await store.call(StoreWriter.last_visit_requests)
        for domain, hops in due:
            self.offer(domain, hops, expected=lengths.get(domain, 0))
        # Known domains that are not due are done for this crawl: a peer list naming them
        # must not bring them back before their time.
        self.queued.update(await store.call(StoreWriter.known_domains))
        await self._flush_exclusions(store, crawl_id)
        limit = s.max_instances if s.max_instances is not None else float("inf")
        # Visits mostly wait out per-host gaps, so many more hosts than requests are in flight.
        in_flight = s.hosts_in_flight or max(8, HOSTS_PER_REQUEST_SLOT * s.concurrency)
        waiting = max(8, WAITING_PER_REQUEST_SLOT * s.concurrency)
        self.bar = tqdm(
            total=len(self.queue),
            unit="inst",
            disable=not s.progress,
            dynamic_ncols=True,
            desc="crawl",
        )
        # A set: a seed file may hold thousands of names, and every stored visit asks.
        storing = asyncio.create_task(self._store_loop(store, crawl_id, frozenset(seeds)))
        storing.add_done_callback(lambda _: self.wakeup.set())
        slots = asyncio.Semaphore(in_flight)
        running: set[asyncio.Task[None]] = set()

        def finished(task: asyncio.Task[None]) -> None:
            running.discard(task)
            slots.release()
            self.wakeup.set()

        self.started = 0
        try:
            async with Fetcher(self.fetch_settings(), resolver=s.resolver) as fetcher:
                if s.conditional:
                    fetcher.validators = await store.call(StoreWriter.load_validators)
                self.stored_bodies = await store.call(StoreWriter.load_stored_bodies, OFFLOAD_BYTES)
                if not s.revalidate:
                    self.nodeinfo_paths = await store.call(
                        StoreWriter.load_nodeinfo_paths, crawl_id, s.full_every
                    )
                    now = s.clock().timestamp()
                    fetcher.stored_robots = await store.call(StoreWriter.load_robots, now)
                    if s.conditional:
                        fetcher.fresh = await store.call(StoreWriter.load_fresh, now)
                throttle = Throttle(s.concurrency)
                watching = asyncio.create_task(
                    watch(
                        self.monitor,
                        throttle,
                        fetcher.stats,
                        fetcher.limit_requests,
                        fetcher.answer_times,
                    )
                    if s.adapt
                    else asyncio.sleep(0)
                )
                try:
                    while True:
                        while self.queue and self.started < limit:
                            await fetcher.fewer_waiting_than(waiting)
                            await slots.acquire()
                            domain, hops = self.queue.pop()
                            self.started += 1
                            task = asyncio.create_task(self._visit(fetcher, domain, hops))
                            running.add(task)
                            task.add_done_callback(finished)
                            # Let the visit run up to its first request, so that the queue
                            # `fewer_waiting_than` looks at counts it.
                            await asyncio.sleep(0)
                        idle = not running and self.to_store.empty() and not self.in_store
                        calm = self.monitor.quiet(time.monotonic())
                        if self.later and (calm or (idle and not self.queue)):
                            # The servers that timed out while fediscope was overloaded.
                            for domain, hops in self.later:
                                self.queue.push(domain, hops, seed=True)
                            self.later.clear()
                            continue
                        if idle and (not self.queue or self.started >= limit):
                            break
                        # Before the wait too: the store loop may have ended (and woken this
                        # loop) while visits were being started.
                        stop_if_ended(storing)
                        self.wakeup.clear()
                        await self.wakeup.wait()
                        stop_if_ended(storing)
                finally:
                    watching.cancel()
                    # Every cut, not the limit at the moments this loop happened to look: it
                    # spends most of a big crawl waiting for a visit slot.
                    summary.lowest_request_limit = throttle.lowest
                summary.busiest_addresses = fetcher.addresses.busiest(BUSIEST_ADDRESSES)
                summary.requests_parked = fetcher.parked_total
                summary.park_after = fetcher.settings.park_after
            await self.to_store.put(None)
            await storing
        finally:
            if not storing.done():
                storing.cancel()
            self.bar.close()
        await store.call(
            StoreWriter.finish_crawl, crawl_id, s.clock(), busiest=summary.busiest_addresses
        )
        return summary

    async def _visit(self, fetcher: Fetcher, domain: str, hops: int | None) -> None:
        """Visit one domain unless its address is busy (then it waits aside for a turn)."""
        group = await fetcher.address_of(domain)
        if group is None:
            await self._visit_now(fetcher, domain, hops)
            return
        if group.visits >= VISITS_PER_ADDRESS_SLOT * fetcher.settings.per_address:
            group.parked.append((domain, hops))
            self.started -= 1
            return
        group.visits += 1
        try:
            await self._visit_now(fetcher, domain, hops)
        finally:
            group.visits -= 1
            if group.parked:
                # The next host of this address takes the freed turn, ahead of the frontier.
                self.queue.push(*group.parked.pop(0), seed=True)
                self.wakeup.set()

    async def _visit_now(self, fetcher: Fetcher, domain: str, hops: int | None) -> None:
        """Visit one domain and hand the result to the store loop (bounded: backpressure)."""
        child_hops = None if hops is None else hops + 1

        def discovered(names: list[str], how: str) -> None:
            # Peers and block targets join the frontier as soon as they are parsed, not when
            # the visit ends (a paged Misskey walk can take a minute at one request a second).
            # Every name ever counted was offered here (and `offer` marks every name it sees
            # as queued), so a list of names all counted before holds nothing new.
            if self.queue.count(names):
                for name in sorted(filterfalse(self.queued.__contains__, names)):
                    self.offer(name, child_hops, (how, domain))
            self.wakeup.set()

        began = time.monotonic()
        recalled = self._recalled(domain)
        observation = await visit_domain(fetcher, domain, self.policy, discovered, recalled)
        if self._retry_later(observation, began):
            self.later.append((domain, hops))
            self.started -= 1
            return
        item = (observation, hops, self.origins.pop(domain, None))
        if self.to_store.full():
            blocked = time.monotonic()
            await self.to_store.put(item)
            if self.summary is not None:
                self.summary.store_wait_seconds += time.monotonic() - blocked
        else:
            self.to_store.put_nowait(item)

    def _recalled(self, domain: str) -> Recalled:
        """What the database remembers of a domain, for its visit."""
        if self.store is None or self.summary is None:
            return NOTHING_RECALLED
        crawl_id, full_every = self.summary.crawl_id, self.settings.full_every
        stored_list = StoredListOf(self.store, domain, crawl_id, full_every)
        nodeinfo_path = self.nodeinfo_paths.pop(domain, None)
        return Recalled(stored_list, self.stored_bodies, nodeinfo_path)

    def _retry_later(self, observation: Observation, began: float) -> bool:
        """A timeout while the crawler was overloaded says nothing about the server: visit it
        once more at the end of the crawl instead of calling it unreachable.

        The request that timed out waited at most the total timeout, and not before the visit
        began: the crawler's overload during that wait is what may explain it."""
        domain = observation.domain
        timed_out = observation.status == UNREACHABLE and observation.error_kind == kinds.TIMEOUT
        if not timed_out or domain in self.retried:
            return False
        now = time.monotonic()
        waited_from = max(began, now - self.settings.total_timeout)
        if not self.monitor.explains_timeout(waited_from, now):
            return False
        self.retried.add(domain)
        if self.summary is not None:
            self.summary.retried += 1
        return True

    async def _store_loop(self, store: StoreProcess, crawl_id: int, seeds: frozenset[str]) -> None:
        """The only path to the store, in arrival order: every visit that finished while the
        last batch was being stored goes in the next batch (one call, one commit).

        Batches are sent by a task of their own, up to BATCHES_AHEAD before the oldest one's
        answer is read. At full scale one turn of the crawl's event loop takes a tenth of a
        second or more, and the store, answering within a turn, spent most of a crawl waiting
        for the next batch while finished visits waited for it."""
        summary = self.summary
        assert summary is not None
        sent: asyncio.Queue[tuple[list[StoreItem], asyncio.Future[list[VisitResult]]] | None]
        sent = asyncio.Queue()
        room = asyncio.Semaphore(BATCHES_AHEAD)
        sending = asyncio.create_task(self._send_batches(store, crawl_id, sent, room))
        try:
            while (item := await sent.get()) is not None:
                batch, answer = item
                results = await answer
                room.release()
                self._stored(summary, batch, results, seeds)
                await self._flush_exclusions(store, crawl_id)
                self.in_store -= 1
                self.wakeup.set()
            await sending
        finally:
            sending.cancel()

    async def _send_batches(
        self,
        store: StoreProcess,
        crawl_id: int,
        sent: asyncio.Queue[tuple[list[StoreItem], asyncio.Future[list[VisitResult]]] | None],
        room: asyncio.Semaphore,
    ) -> None:
        finished = False
        try:
            while not finished:
                batch, finished = await self._next_batch()
                if not batch:
                    continue
                self.in_store += 1
                await room.acquire()
                began = time.monotonic()
                answer = store.send(
                    StoreWriter.record_visits,
                    batch,
                    crawl_id,
                    self.settings.clock(),
                    self.settings.recrawl_after,
                )
                answer.add_done_callback(partial(self._store_answered, began))
                sent.put_nowait((batch, answer))
        finally:
            sent.put_nowait(None)  # the reader ends, and `await sending` says why

    def _store_answered(self, sent_at: float, _: asyncio.Future[list[VisitResult]]) -> None:
        """Count the store's busy time; a batch sent ahead waited for the one before it."""
        assert self.summary is not None
        answered = time.monotonic()
        self.summary.store_batches += 1
        self.summary.store_busy_seconds += answered - max(sent_at, self._last_answer)
        self._last_answer = answered

    async def _next_batch(self) -> tuple[list[StoreItem], bool]:
        """The visits waiting for the store (at least one unless the crawl ended), and whether
        the crawl ended."""
        batch = [await self.to_store.get()]
        while not self.to_store.empty() and batch[-1] is not None:
            batch.append(self.to_store.get_nowait())
        if batch[-1] is None:
            batch.pop()
            return batch, True
        return batch, False

    def _stored(
        self,
        summary: CrawlSummary,
        batch: list[StoreItem],
        results: list[VisitResult],
        seeds: frozenset[str],
    ) -> None:
        """Account for a stored batch; the store's new names join the frontier."""
        for (observation, hops, _), result in zip(batch, results, strict=True):
            if result.error:  # a bug must not stop the crawl; the domain is retried next run
                log.error("could not store the visit of %s: %s", observation.domain, result.error)
            self._account(summary, observation, result, seeds)
            child_hops = None if hops is None else hops + 1
            for name, how in result.new_domains:
                self.offer(name, child_hops, (how, observation.domain))
        self.bar.update(len(batch))
        self.bar.total = self.bar.n + len(self.queue) + self.to_store.qsize()
        self.bar.set_postfix(
            queued=len(self.queue),
            alive=summary.statuses[ALIVE],
            failed=summary.visited - summary.statuses[ALIVE],
            refresh=False,
        )

    def _account(
        self,
        summary: CrawlSummary,
        observation: Observation,
        result: VisitResult,
        seeds: frozenset[str],
    ) -> None:
        summary.visited += 1
        summary.statuses[result.status] += 1
        summary.requests += observation.requests
        summary.discovered += len(result.new_domains)
        summary.peer_edges_added += result.peer_edges_added
        summary.not_modified += observation.not_modified
        summary.reused += observation.reused
        if result.status == "error":
            summary.errors += 1
        if observation.domain in seeds and observation.status not in (ALIVE, OPTED_OUT, GONE):
            reason = observation.error_kind or observation.status
            if observation.status == PENDING:
                reason = observation.skip_reason or reason
            detail = f": {observation.error_detail}" if observation.error_detail else ""
            summary.seed_failures[observation.domain] = f"{reason}{detail}"

    async def _flush_exclusions(self, store: StoreProcess, crawl_id: int) -> None:
        if not self.pending_exclusions:
            return
        batch, self.pending_exclusions = self.pending_exclusions, []
        await store.call(StoreWriter.exclude_all, batch, crawl_id, self.settings.clock())
        if self.summary is not None:
            self.summary.excluded.update(reason for _, reason, _ in batch)


def stop_if_ended(storing: asyncio.Task[None]) -> None:
    """Raise what ended the store loop (StoreStopped when nothing did): the crawl stops too."""
    if storing.done():
        storing.result()
        raise StoreStopped("the store loop ended before the crawl")


@dataclass(frozen=True)
class StoredListOf:
    """A domain's stored peer list, answered by the store process a question at a time.

    A re-crawl starts the longest visits first, so the walks of every Misskey-family server
    run at once; holding their stored lists (1.7 million names at full scale) cost the crawl
    ~150 MiB. Asking per page costs a store call per page read, during the page's gap.
    """

    store: StoreProcess
    domain: str
    crawl_id: int
    full_every: int

    async def history(self) -> PeerHistory | None:
        return await self.store.call(
            StoreWriter.peer_history, self.domain, self.crawl_id, self.full_every
        )

    async def unlisted(self, names: list[str]) -> list[str]:
        return await self.store.call(StoreWriter.unlisted_peers, self.domain, names)


async def crawl_async(settings: CrawlSettings) -> CrawlSummary:
    """Run a crawl holding the database's writer lock (DatabaseBusy if another job has it)."""
    with database_lock(settings.db, "crawl"), crawl_collections():
        return await Crawl(settings).run()


def crawl(settings: CrawlSettings) -> CrawlSummary:
    """Run a crawl to the end (what `fediscope crawl` does)."""
    return eventloop.run(crawl_async(settings), use_uvloop=settings.uvloop)
