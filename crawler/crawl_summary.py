"""What one crawl run did: the counts `fediscope crawl` prints and the `crawls` row keeps."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class CrawlSummary:
    """What a crawl run did (also stored in the `crawls` row)."""

    crawl_id: int
    resumed: bool
    visited: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    discovered: int = 0
    excluded: Counter[str] = field(default_factory=Counter)
    peer_edges_added: int = 0
    seconds: float = 0.0
    seeds: list[str] = field(default_factory=list)
    seed_failures: dict[str, str] = field(default_factory=dict)
    errors: int = 0
    not_modified: int = 0  # answers that were 304 (unchanged since the last crawl)
    reused: int = 0  # answers not asked for: robots.txt under a day old, others still fresh
    busiest_addresses: list[dict[str, object]] = field(default_factory=list)
    event_loop: str = "asyncio"
    retried: int = 0  # visits that timed out while the crawler was overloaded, made again
    lowest_request_limit: int = 0  # the fewest requests the crawl allowed in flight at once
    store_peak_rss_mib: int | None = None  # the store process's own peak memory
    store_cpu_seconds: float | None = None  # the store process's own CPU time
    store_batches: int = 0  # calls that stored finished visits
    store_busy_seconds: float = 0.0  # wall time the crawl waited on those calls in all
    store_wait_seconds: float = 0.0  # finished visits' time blocked on a full store queue
    requests_parked: int = 0  # unanswered after `park_after`, then outside the global bound
    park_after: float | None = None  # the seconds that parked them

    def lines(self, concurrency: int) -> list[str]:
        """The report `fediscope crawl` prints; `concurrency` is the request limit asked for."""
        statuses = ", ".join(f"{n} {s}" for s, n in self.statuses.most_common())
        lines = [
            f"crawl {self.crawl_id}{' (resumed)' if self.resumed else ''}: "
            f"{self.visited} visited ({statuses or 'nothing due'}), "
            f"{self.discovered} new domains, "
            f"{self.requests} requests ({self.not_modified} unchanged: 304; "
            f"{self.reused} answers reused without asking), "
            f"{self.peer_edges_added} peer edges added, {self.seconds:.1f} s "
            f"on {self.event_loop}"
        ]
        if self.store_peak_rss_mib is not None:
            lines.append(
                f"  store process: peak memory {self.store_peak_rss_mib} MiB, "
                f"CPU {self.store_cpu_seconds or 0:.1f} s, {self.store_batches} batches in "
                f"{self.store_busy_seconds:.1f} s; finished visits waited "
                f"{self.store_wait_seconds:.1f} s in all for a full queue"
            )
        if self.requests_parked:
            lines.append(
                f"  {self.requests_parked} requests still unanswered after {self.park_after:g} s "
                "waited outside the --concurrency bound"
            )
        if self.lowest_request_limit < concurrency:
            lines.append(
                f"  overloaded: down to {self.lowest_request_limit} requests in flight; "
                f"{self.retried} visits that timed out meanwhile made again"
            )
        for row in self.busiest_addresses:
            lines.append(
                f"  address {row['address']}: {row['hosts']} hosts, {row['requests']} "
                f"requests, at most {row['max_in_flight']} at once, {row['queue_seconds']} s "
                f"queued, {row['backoffs']} backoffs"
            )
        return lines
