"""One host's visit: the fixed plan every domain goes through.

robots.txt -> NodeInfo discovery (`/.well-known/nodeinfo`, the highest supported version; a
re-crawl first reads the document found last time, `StoreWriter.load_nodeinfo_paths`; fixed
paths only when the well-known document is missing; NodeInfo2 `/.well-known/x-nodeinfo2` only
when those are missing too) -> opt-out checks -> family identification by API probes, only
when NodeInfo names no software or there is none (`crawler.adapters.probe`) -> the family
adapter (instance info, peers, blocks). The result is an `Observation`; nothing here touches
the store.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit

from crawler.adapters.base import Answer, Visit, adapter_for
from crawler.adapters.probe import identify
from crawler.domains import DomainPolicy
from crawler.fetch import Fetcher
from crawler.fetch import errors as kinds
from crawler.fetch.guard import is_public_address
from crawler.languages import nodeinfo_languages
from crawler.nodeinfo import (
    FALLBACK_PATHS,
    NODEINFO2_PATH,
    WELL_KNOWN_PATH,
    BadShape,
    NodeInfo,
    opt_out_tag,
    parse_nodeinfo,
    parse_nodeinfo2,
    pick_nodeinfo_link,
)
from crawler.observation import (
    ALIVE,
    ERROR,
    GONE,
    INVALID,
    MOVED,
    NOTHING_RECALLED,
    OPTED_OUT,
    PENDING,
    UNREACHABLE,
    UNSUPPORTED,
    Observation,
    Recalled,
)

GONE_STATUSES = (410, 451)
log = logging.getLogger(__name__)


class VisitEnded(Exception):
    """Raised inside the plan when the visit's outcome is settled early."""


async def visit_domain(
    fetcher: Fetcher,
    domain: str,
    policy: DomainPolicy,
    on_discover: Callable[[list[str], str], None] | None = None,
    recalled: Recalled = NOTHING_RECALLED,
) -> Observation:
    """Run the plan for one domain and return what was observed; never raises.

    `on_discover(domains, how)` hears about peers and block targets as soon as they are read;
    `recalled` is what the database remembers of the domain (a re-crawl asks less).
    """
    observation = Observation(domain=domain)
    visit = Visit(fetcher, observation, policy, on_discover=on_discover, recalled=recalled)
    try:
        await _plan(visit)
    except VisitEnded:
        pass
    except Exception as exc:  # a parser bug must cost one domain, not the crawl
        log.exception("visit of %s failed inside fediscope", domain)
        observation.status, observation.error_kind = INVALID, kinds.CRAWLER_ERROR
        observation.error_detail = f"{type(exc).__name__}: {exc}"[:300]
        observation.peers = observation.blocks = None
    finally:
        observation.address = fetcher.address_reached(domain)
        fetcher.release(domain)
    if observation.opt_out:
        _redact(observation)
    return observation


async def _plan(visit: Visit) -> None:
    obs = visit.observation
    rules, robots_response = await visit.fetcher.robots(visit.domain)
    obs.requests += robots_response.requests
    if robots_response.reused:
        obs.reused += 1
    else:
        visit.keep(robots_response)
    if robots_response.moved_to:
        _end(obs, MOVED, moved_to=robots_response.moved_to)
    if rules.mode == "disallow_all":
        # No answer at all: report the network failure itself (its retry schedule differs);
        # an answer of 5xx/429 to robots.txt means "disallow everything for now" (RFC 9309).
        if robots_response.status is None and robots_response.error:
            obs.retry_after = robots_response.retry_after
            _end(obs, UNREACHABLE, robots_response.error, robots_response.detail)
        _end(obs, UNREACHABLE, kinds.ROBOTS_UNAVAILABLE, robots_response.detail)
    if not rules.allows(WELL_KNOWN_PATH):
        visit.opt_out("robots", "robots.txt")
        _end(obs, OPTED_OUT)
    nodeinfo = await _discover(visit)
    if nodeinfo is not None:
        visit.nodeinfo = nodeinfo
        _apply_nodeinfo(obs, nodeinfo)
        visit.declare_languages(nodeinfo_languages(nodeinfo.metadata))
        tag = opt_out_tag(nodeinfo.description)
        if tag:
            visit.opt_out(tag, "nodeinfo description")
            _end(obs, OPTED_OUT)
    if obs.family is None:  # NodeInfo names no software, or there is none: ask the APIs
        await _identify(visit, nodeinfo)
    obs.status, obs.error_detail = ALIVE, None
    if obs.family is None:
        return
    await adapter_for(obs.family).collect(visit)
    if visit.opted_out:
        obs.status = OPTED_OUT


async def _identify(visit: Visit, nodeinfo: NodeInfo | None) -> None:
    """Set the family from the platform APIs; end the visit when nothing identifies a server
    without NodeInfo. A nameless-NodeInfo server nothing identifies stays alive, its lists
    unsupported (no endpoint is known), or unreadable this time when a failure stopped the
    probes.
    """
    obs = visit.observation
    found = await identify(visit)
    obs.family = found.family
    if found.family is not None:
        return
    if nodeinfo is None:
        if found.stopped_by in kinds.NETWORK_ERRORS:
            _end(obs, UNREACHABLE, found.stopped_by, found.detail)
        if found.stopped_by == kinds.CRAWL_DELAY_TOO_LONG:
            obs.skip_reason = found.stopped_by
            _end(obs, PENDING, found.stopped_by, found.detail)
        _end(obs, INVALID, kinds.NO_NODEINFO, obs.error_detail)
    obs.peers_visibility = obs.blocks_visibility = ERROR if found.stopped_by else UNSUPPORTED


async def _discover(visit: Visit) -> NodeInfo | None:
    """Find and parse the host's NodeInfo; None when it has none (nor NodeInfo2).

    Ends the visit with the right outcome when an answer settles it (moved, gone, unreachable,
    broken NodeInfo).
    """
    obs = visit.observation
    if visit.recalled.nodeinfo_path is not None:
        nodeinfo = await _known_nodeinfo(visit, visit.recalled.nodeinfo_path)
        if nodeinfo is not None:
            return nodeinfo
    well_known = await visit.get_json(WELL_KNOWN_PATH)
    _end_on_failure(obs, well_known)
    if well_known.response.status is not None and 400 <= well_known.response.status < 500:
        return await _fallback(visit, well_known)
    if well_known.error:
        _end(obs, INVALID, well_known.error, well_known.response.detail)
    link = pick_nodeinfo_link(well_known.value)
    if link is None:
        _end(obs, INVALID, kinds.NO_NODEINFO, "no supported NodeInfo link")
    host, path = _href_target(visit, link.href)
    obs.nodeinfo_url = f"https://{host}{path}"
    document = await visit.get_json(path, domain=host)
    _end_on_failure(obs, document)
    return _parse(obs, document)


async def _known_nodeinfo(visit: Visit, path: str) -> NodeInfo | None:
    """NodeInfo read where the server's discovery document pointed last time, without asking
    that document again: one request fewer per server and re-crawl.

    None unless the answer is a NodeInfo document: the full discovery then follows, and decides
    as always. A move, a 410 or a network failure ends the visit here, as the same answer to
    the NodeInfo request of a full discovery would.
    """
    answer, nodeinfo = await _nodeinfo_at(visit, path)
    if nodeinfo is None or not answer.response.ok:
        return None
    visit.observation.nodeinfo_url = f"https://{visit.domain}{path}"
    return nodeinfo


async def _nodeinfo_at(visit: Visit, path: str) -> tuple[Answer, NodeInfo | None]:
    """The answer at a path of the host, and the NodeInfo document it is (None if it is
    not one); a move, a 410 or a network failure ends the visit."""
    answer = await visit.get_json(path)
    _end_on_failure(visit.observation, answer)
    if answer.error is not None or not isinstance(answer.value, dict):
        return answer, None
    try:
        return answer, parse_nodeinfo(answer.value)
    except BadShape:
        return answer, None


async def _fallback(visit: Visit, well_known: Answer) -> NodeInfo | None:
    """Fixed NodeInfo paths, then NodeInfo2, tried only because the well-known one is missing.

    None when neither gave a document (the reason is left in `error_detail`).
    """
    obs = visit.observation
    last = well_known
    for path in FALLBACK_PATHS:
        last, nodeinfo = await _nodeinfo_at(visit, path)
        if nodeinfo is not None:
            obs.nodeinfo_url = f"https://{visit.domain}{path}"
            obs.quality_flags.add("nodeinfo_without_discovery")
            return nodeinfo
    nodeinfo2 = await visit.get_json(NODEINFO2_PATH)
    obs.probe_requests += nodeinfo2.response.requests
    if nodeinfo2.response.moved_to or nodeinfo2.response.error in kinds.NETWORK_ERRORS:
        _end_on_failure(obs, nodeinfo2)  # a 404/410/robots refusal here only means "none"
    if nodeinfo2.error is None and nodeinfo2.response.ok:
        try:
            nodeinfo = parse_nodeinfo2(nodeinfo2.value)
        except BadShape:
            pass
        else:
            obs.nodeinfo_url = f"https://{visit.domain}{NODEINFO2_PATH}"
            return nodeinfo
    detail = (
        f"well-known answered HTTP {well_known.response.status}; no fixed path, NodeInfo2 or"
        " platform API worked"
    )
    obs.error_detail = f"{detail}; last: {last.error or last.status}"[:300]
    return None


def _parse(obs: Observation, document: Answer) -> NodeInfo:
    if document.error:
        _end(obs, INVALID, document.error, document.response.detail)
    try:
        return parse_nodeinfo(document.value)
    except BadShape as exc:
        _end(obs, INVALID, kinds.BAD_SHAPE, str(exc))
    raise AssertionError("unreachable")


def _href_target(visit: Visit, href: str) -> tuple[str, str]:
    """(host, path) of a NodeInfo href, within the safety rules (any valid public host)."""
    obs = visit.observation
    try:
        parts = urlsplit(urljoin(f"https://{visit.domain}{WELL_KNOWN_PATH}", href))
        host, port = parts.hostname or "", parts.port
    except ValueError:
        _end(obs, INVALID, kinds.INVALID_URL, href[:200])
    if _is_address(host):
        kind = kinds.INVALID_URL if is_public_address(host) else kinds.UNSAFE_ADDRESS
        _end(obs, INVALID, kind, href[:200])
    target, reason = visit.policy.check(host)
    if target is None or port not in (None, 443, 80) or parts.scheme not in ("https", "http"):
        _end(obs, INVALID, kinds.INVALID_URL, f"{href[:200]} ({reason or 'scheme/port'})")
    if parts.scheme == "http":
        obs.quality_flags.add("nodeinfo_href_http")  # fetched over HTTPS all the same
    if target != visit.domain:
        obs.quality_flags.add("nodeinfo_on_other_host")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return target, path


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _end_on_failure(obs: Observation, answer: Answer) -> None:
    """End the visit for moves, gone servers, network failures and robots refusals."""
    response = answer.response
    if response.moved_to:
        _end(obs, MOVED, moved_to=response.moved_to)
    if response.status in GONE_STATUSES:
        _end(obs, GONE, None, f"HTTP {response.status} on {response.path}")
    if response.error in kinds.NETWORK_ERRORS:
        obs.retry_after = response.retry_after
        _end(obs, UNREACHABLE, response.error, response.detail)
    if response.error == kinds.CRAWL_DELAY_TOO_LONG:
        obs.skip_reason = kinds.CRAWL_DELAY_TOO_LONG
        _end(obs, PENDING, response.error, response.detail)
    if response.error == kinds.ROBOTS_DISALLOWED:
        obs.opt_out, obs.opt_out_source = "robots", "robots.txt"
        _end(obs, OPTED_OUT)
    if response.error in (kinds.UNSAFE_ADDRESS, kinds.INVALID_URL, kinds.REDIRECT_LOOP):
        _end(obs, INVALID, response.error, response.detail)
    if response.error == kinds.REDIRECT_OFFSITE:
        _end(obs, UNREACHABLE, response.error, response.detail)


def _end(
    obs: Observation,
    status: str,
    error_kind: str | None = None,
    detail: str | None = None,
    moved_to: str | None = None,
) -> None:
    obs.status = status
    obs.error_kind = error_kind
    obs.error_detail = detail[:300] if detail else None
    obs.moved_to = moved_to
    raise VisitEnded


def _apply_nodeinfo(obs: Observation, nodeinfo: NodeInfo) -> None:
    obs.software_raw = nodeinfo.software_raw
    obs.software = nodeinfo.software
    obs.family = nodeinfo.family
    obs.version = nodeinfo.software_version
    obs.nodeinfo_version = nodeinfo.version
    obs.counts = dict(nodeinfo.counts)
    obs.open_registrations = nodeinfo.open_registrations
    obs.name = nodeinfo.name
    obs.description = nodeinfo.description
    obs.quality_flags |= nodeinfo.flags


def _redact(obs: Observation) -> None:
    """An opted-out instance keeps only its domain, status and reason."""
    keep = (obs.domain, obs.opt_out, obs.opt_out_source, obs.requests, obs.probe_requests)
    obs.__dict__.update(Observation(domain=obs.domain).__dict__)
    obs.domain, obs.opt_out, obs.opt_out_source, obs.requests, obs.probe_requests = keep
    obs.status = OPTED_OUT
    obs.error_kind = None
