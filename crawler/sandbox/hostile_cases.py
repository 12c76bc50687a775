"""The hostile case table: which hosts exist, what each does, what a correct crawler records.

Expectations use the crawler's own vocabulary, the same the sandbox's ground truth uses: an
instance status (crawler.lifecycle: alive, unreachable, gone, moved, opted_out, invalid), an
error kind (crawler.fetch.errors) and quality flags (the names in crawler.nodeinfo and
crawler.lenient). The crawler's plan per
host is fixed: ``/robots.txt``, ``/.well-known/nodeinfo``, the NodeInfo href, then for the
Mastodon family ``/api/v2/instance``, ``/api/v1/instance/peers``,
``/api/v1/instance/domain_blocks``, ``/api/v1/instance/activity``. Rules these expectations
commit to (beyond the contract's own words):

- no request is ever retried, except after a 429 whose ``Retry-After`` the crawler accepts
  (then the same path is asked exactly once more); robots.txt included;
- the fixed-path NodeInfo fallback is tried only when the well-known answers 404;
- a permanent redirect to another host ends the host with ``moved`` at whichever request
  meets it first (for moved-away that is ``/robots.txt``);
- an IP-literal redirect/href target is ``unsafe_address`` even when its scheme is ``http``;
- the top-level ``error_kind`` is null for ``alive``, ``gone``, ``moved`` and ``opted_out``;
  per-endpoint failures of an alive host are listed in ``endpoint_errors``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crawler.sandbox.hostile_payloads import (
    IDN_DOMAIN,
    JUNK_PEERS_DOMAIN,
    LONG_LABEL_DOMAIN,
    MastodonProfile,
    junk_peers_expected,
    junk_peers_raw,
)

SUFFIX = "hostile.test"
TRAP_HOSTS = ("10.0.0.1", "10.1.2.3", "169.254.169.254", "localhost")

ROBOTS = "/robots.txt"
WELL_KNOWN = "/.well-known/nodeinfo"
NODEINFO = "/nodeinfo/2.0"
MASTODON_PLAN = [
    ROBOTS,
    WELL_KNOWN,
    NODEINFO,
    "/api/v2/instance",
    "/api/v1/instance/peers",
    "/api/v1/instance/domain_blocks",
    "/api/v1/instance/activity",
]


def _d(label: str) -> str:
    return f"{label}.{SUFFIX}"


MOVED_TARGET = _d("moved-target")


@dataclass(frozen=True)
class CaseSpec:
    """A case before it is served: `behaviour` names the `HostileHosts._h_*` handler."""

    domain: str
    behaviour: str
    description: str
    expected: dict[str, Any]


def profiles() -> list[MastodonProfile]:
    """Every Mastodon the hostile world serves (normal ones and the bases of some cases)."""
    m = MastodonProfile
    return [
        m(MOVED_TARGET, "Harbour Lights", "A small general-purpose server, the new home of"
          " moved-away.hostile.test.", 1843, 212, 530, 95_321, True,
          [_d("gone"), _d("html-200"), _d("nobot"), JUNK_PEERS_DOMAIN]),
        m(_d("nobot"), "Quiet Corner", "A quiet place for friends. #nobot: please do not"
          " index or crawl this server.", 57, 9, 20, 3_120, False,
          [MOVED_TARGET, _d("rate-limited")]),
        m(_d("rate-limited"), "Busy Bee", "A popular server behind a strict proxy.",
          4210, 603, 1422, 301_877, True, [MOVED_TARGET, _d("gone")]),
        m(JUNK_PEERS_DOMAIN, "Odd Ones", "Our peer list has seen things.", 920, 130, 288,
          50_211, False, junk_peers_raw()),
        m(_d("wrong-counts"), "Broken Abacus", "Our statistics are a work of fiction.",
          -12, {"value": 3}, [40], 5_000_000_000, "sometimes", [MOVED_TARGET]),
        m(_d("huge-peers-header"), "Tall Tales", "Our proxy exaggerates.", 312, 41, 97,
          18_822, True, [MOVED_TARGET, _d("nobot")]),
        m(IDN_DOMAIN, "Bücherstube", "Ein kleiner Server für Leseratten.", 77, 12, 30, 4_410,
          True, [MOVED_TARGET, JUNK_PEERS_DOMAIN]),
        m(LONG_LABEL_DOMAIN, "Long Name", "A name at the very limit of DNS.", 8, 2, 5, 640,
          False, [MOVED_TARGET]),
        m(_d("robots-deny-all"), "Private Garden", "Nobody crawls here.", 30, 4, 9, 1_200,
          False, [MOVED_TARGET]),
        m(_d("robots-deny-fediscope"), "Not You", "Crawlers welcome, one excepted.", 44, 6,
          15, 2_050, True, [MOVED_TARGET]),
        m(_d("retry-after-huge"), "Come Back Tomorrow", "Rate limits, generously applied.",
          510, 77, 160, 22_400, True, [MOVED_TARGET]),
    ]  # fmt: skip


def _stored(p: MastodonProfile, **override: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "software": "mastodon",
        "family": "mastodon",
        "version": p.version,
        "users_total": p.users_total,
        "users_active_month": p.active_month,
        "local_posts": p.local_posts,
        "open_registrations": p.open_registrations,
        "quality_flags": [],
    }
    row.update(override)
    return row


def _expect(
    domain: str,
    description: str,
    status: str,
    error_kind: str | None,
    requests: list[str],
    **extra: Any,
) -> dict[str, Any]:
    exp: dict[str, Any] = {
        "domain": domain,
        "description": description,
        "status": status,
        "error_kind": error_kind,
        "opt_out": None,
        "moved_to": None,
        "requests": requests,
        "stored": {},
        "peers": [],
        "peers_visibility": None,
        "blocks_visibility": None,
        "endpoint_errors": {},
        "forbidden_hosts": [],
        "timing": {},
    }
    unknown = set(extra) - set(exp)
    if unknown:
        raise KeyError(f"unknown expectation keys {unknown}")
    exp.update(extra)
    return exp


def case_specs() -> list[CaseSpec]:
    """All cases, in a stable order."""
    prof = {p.domain: p for p in profiles()}
    specs: list[CaseSpec] = []

    def add(label_or_domain: str, behaviour: str, description: str, *args: Any, **kw: Any) -> None:
        domain = label_or_domain if "." in label_or_domain else _d(label_or_domain)
        exp = _expect(domain, description, *args, **kw)
        specs.append(CaseSpec(domain, behaviour, description, exp))

    def alive(domain: str, peers: list[str] | None = None, **kw: Any) -> dict[str, Any]:
        p = prof[domain]
        readable = sorted(peers if peers is not None else p.peers)
        base = {"stored": _stored(p), "peers": readable, "peers_visibility": "public",
                "blocks_visibility": "hidden"}  # fmt: skip
        base.update(kw)
        return base

    rw = [ROBOTS, WELL_KNOWN]
    rwn = [ROBOTS, WELL_KNOWN, NODEINFO]
    wc = prof[_d("wrong-counts")]
    wc_flags = sorted(["negative_count", "count_wrong_type", "absurd_count", "bool_wrong_type"])
    wc_stored = _stored(
        wc,
        users_total=None,
        users_active_month=None,
        local_posts=None,
        open_registrations=None,
        quality_flags=wc_flags,
    )

    # fmt: off
    add("gzip-bomb", "gzip_bomb",
        "robots 404; the well-known is a gzip stream (Content-Encoding: gzip) expanding to"
        " 2 GiB of JSON whitespace", "invalid", "too_large", rw)
    add("endless-body", "endless_body",
        "the NodeInfo href answers a chunked JSON array that never ends", "invalid",
        "too_large", rwn)
    add("slow-drip", "slow_drip",
        "the well-known answers 200 at once, then one byte per second forever",
        "unreachable", "timeout", rw, timing={"drip_interval_s": 1.0})
    add("redirect-private", "redirect_private",
        "the well-known 302-redirects to https://10.0.0.1/.well-known/nodeinfo", "invalid",
        "unsafe_address", rw, forbidden_hosts=["10.0.0.1"])
    add("redirect-metadata", "redirect_metadata",
        "the well-known 301-redirects to http://169.254.169.254/latest/meta-data/ (not a"
        " move)", "invalid", "unsafe_address", rw, forbidden_hosts=["169.254.169.254"])
    add("nodeinfo-localhost", "nodeinfo_localhost",
        "JRD href https://localhost/nodeinfo/2.0 (a valid /nodeinfo/2.0 exists as bait for a"
        " wrong fallback)", "invalid", "invalid_url", rw, forbidden_hosts=["localhost"])
    add("nodeinfo-private", "nodeinfo_private",
        "JRD href https://10.1.2.3/nodeinfo/2.0 (a valid /nodeinfo/2.0 exists as bait for a"
        " wrong fallback)", "invalid", "unsafe_address", rw, forbidden_hosts=["10.1.2.3"])
    add("redirect-loop", "redirect_loop",
        "the well-known 302s to /loop/1, /loop/n to /loop/n+1 forever (odd n relative,"
        " even n absolute same-host URLs): 5 redirects followed, then redirect_loop",
        "invalid", "redirect_loop", [*rw, *(f"/loop/{i}" for i in range(1, 6))])
    add("html-200", "html_200",
        "a parked-domain HTML page with 200 on every path (robots.txt too: no rules, so"
        " allowed)", "invalid", "not_json", rw)
    add("truncated-json", "truncated_json",
        "NodeInfo cut in the middle (complete HTTP response, broken JSON)", "invalid",
        "bad_json", rwn)
    add("wrong-types", "wrong_types",
        "NodeInfo with every field of the wrong type", "invalid", "bad_shape", rwn)
    add("wrong-counts", "mastodon",
        "a Mastodon whose counts are negative (total), objects/lists (active), absurd"
        " (posts) and openRegistrations 'sometimes'; /api/v2/instance carries the same"
        " garbage", "alive", None, MASTODON_PLAN, **alive(wc.domain, stored=wc_stored))
    add("deep-nesting", "deep_nesting",
        "NodeInfo is [ * 100000 + ] * 100000", "invalid", "bad_json", rwn)
    add("robots-deny-all", "robots_deny_all",
        "robots.txt: User-agent: * / Disallow: / (a Mastodon behind it)", "opted_out", None,
        [ROBOTS], opt_out="robots")
    add("robots-deny-fediscope", "robots_deny_fediscope",
        "robots.txt disallows User-agent: fediscope, allows * (a Mastodon behind it)",
        "opted_out", None, [ROBOTS], opt_out="robots")
    add("nobot", "mastodon",
        "a normal Mastodon with #nobot in its NodeInfo nodeDescription", "opted_out", None,
        rwn, opt_out="nobot")
    add("gone", "gone", "410 on every path (robots 410 = allow)", "gone", None, rw)
    add("rate-limited", "rate_limited",
        "the first request to each path answers 429 Retry-After: 2, then a normal Mastodon",
        "alive", None, [p for p in MASTODON_PLAN for _ in range(2)],
        timing={"retry_after_s": 2, "min_retry_gap_s": 2.0, "retried_paths": MASTODON_PLAN},
        **alive(_d("rate-limited")))
    add("moved-away", "moved_away",
        f"301 on every path to https://{MOVED_TARGET}/<same path>; robots.txt is the first"
        " request to meet it", "moved", None, [ROBOTS], moved_to=MOVED_TARGET)
    add(MOVED_TARGET, "mastodon", "a normal small Mastodon (the target of moved-away)",
        "alive", None, MASTODON_PLAN, **alive(MOVED_TARGET))
    add(JUNK_PEERS_DOMAIN, "mastodon",
        "a normal Mastodon whose peer list is mostly junk (IPs, ports, URLs, wildcards,"
        " accounts, overlong labels, non-strings) plus a few valid names", "alive", None,
        MASTODON_PLAN, **alive(JUNK_PEERS_DOMAIN, junk_peers_expected()))
    add("huge-peers-header", "huge_peers_header",
        "peers announce Content-Length: 10 GiB with a tiny body: refuse before reading",
        "alive", None, MASTODON_PLAN,
        **alive(_d("huge-peers-header"), [], peers_visibility="error",
                endpoint_errors={"/api/v1/instance/peers": "too_large"}))
    add("retry-after-huge", "retry_after_huge",
        "NodeInfo answers 429 Retry-After: 86400 every time: give up at once, never wait",
        "unreachable", "http_429", rwn,
        timing={"retry_after_s": 86_400, "must_not_wait": True})
    add(IDN_DOMAIN, "mastodon",
        "a normal Mastodon on an IDN name (bücher.hostile.test), asked for by A-label",
        "alive", None, MASTODON_PLAN, **alive(IDN_DOMAIN))
    add(LONG_LABEL_DOMAIN, "mastodon",
        "a normal Mastodon whose first label is exactly 63 characters", "alive", None,
        MASTODON_PLAN, **alive(LONG_LABEL_DOMAIN))
    # fmt: on
    return specs
