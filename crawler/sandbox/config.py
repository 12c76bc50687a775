"""Sandbox configuration: the knobs of the synthetic Fediverse and the scale profile."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FailureRates:
    """Share of instances (not seeds) given each failure mode or opt-out.

    Counts are exact (``round(rate * instances)``), and at least one host gets each mode once the
    sandbox has 200 instances or more, so every kind is present in the default sandbox.
    """

    dead: float = 0.06  # close the TCP connection without answering
    error500: float = 0.01  # 500 on every path except robots.txt (404)
    rate_limited: float = 0.02  # 429 + Retry-After: 1 (x pace) on the first request of a path
    gone: float = 0.01  # 410 on every path
    html: float = 0.01  # parked HTML page, 200 on every path
    moved: float = 0.01  # 301 on every path to another live instance
    robots_all: float = 0.01  # robots.txt "User-agent: * / Disallow: /"
    robots_ua: float = 0.005  # robots.txt disallows only "User-agent: fediscope"
    robots_500: float = 0.005  # robots.txt answers 500
    crawl_delay_2: float = 0.01  # Crawl-delay: 2 (x pace; allowed, must be honoured)
    no_nodeinfo: float = 0.003  # 404 everywhere (no well-known, no fallback)
    bad_json: float = 0.003  # NodeInfo document cut in the middle
    nobot: float = 0.01  # "#nobot" (or "#noindex") in the instance description


@dataclass
class Provider:
    """A hosting provider: `hosts` instances that resolve to one simulated `address`.

    Only `Sandbox.resolver()` knows these addresses (the crawler's `--via` connections all go to
    the sandbox port); the server counts requests in flight per provider. Every
    `rate_limit_every`-th request to the provider is answered 429 with an X-RateLimit-Reset
    `reset_seconds` ahead, and any request before that reset is counted as `early`.
    """

    address: str
    hosts: int
    rate_limit_every: int = 0  # 0 = never rate-limited
    reset_seconds: float = 0.3


@dataclass
class SandboxConfig:
    """What to simulate. Defaults suit tests (1000 instances, everything present)."""

    seed: int = 1
    instances: int = 1000  # Fediverse servers in the model (answering or failing)
    extra_dead_names: int = 0  # extra names that appear in peer lists but never answer
    hang_fraction: float = 0.01  # share of hosts that never answer
    latency_ms: tuple[int, int] = (0, 0)  # added latency per request, uniform in range
    hostile: bool = False  # mount crawler.sandbox.hostile.HostileHosts
    max_peers: int | None = None  # cap on the largest peer list (None = model default)
    record_log: bool | None = None  # per-request log; None = True when instances <= 5000
    log_limit: int = 2000  # log entries kept per host
    farm_size: int = 120  # hosts n1..nN.spamfarm.test (at most instances // 2; 0 = no farm)
    # Failure modes and opt-outs. False = every instance healthy, except that GoToSocial servers
    # keep their default robots.txt, which opts them out (the truth says so).
    failures: bool = True
    quirks: bool = True  # NodeInfo/endpoint deviations (False = textbook responses)
    rates: FailureRates = field(default_factory=FailureRates)
    hidden_fraction: float = 0.03  # instances no seed lists (reachable at hops >= 2)
    peer_exponent: float = 0.5  # peer list size ~ max_peers * rank ** -exponent
    hang_seconds: float = 3600.0  # how long a hanging host keeps the request open
    # Scale of the waits the servers ask of a polite crawler (Crawl-delay, Retry-After): 1 is
    # what real servers ask; tests not about pacing use a small one, so that a crawl does not
    # last as long as its slowest host's polite waits. Crawl-delays meant to exceed any
    # crawler's cap (GoToSocial's 500) are not scaled.
    pace: float = 1.0
    providers: list[Provider] = field(default_factory=list)  # shared hosting (see Provider)

    @classmethod
    def scale(cls, seed: int = 1) -> SandboxConfig:
        """The benchmark profile: 100,000 names, 25,000 answering, >= 20 million peer entries."""
        return cls(
            seed=seed,
            instances=25_000,
            extra_dead_names=75_000,
            hang_fraction=0.03,
            latency_ms=(20, 300),
            max_peers=80_000,
            # Flatter than the default so the lists a polite crawler can read (alive, public)
            # still total more than 20 million entries.
            peer_exponent=0.47,
        )

    @property
    def keep_log(self) -> bool:
        """Whether the server keeps the per-request log."""
        if self.record_log is not None:
            return self.record_log
        return self.instances <= 5000
