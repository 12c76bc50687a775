"""Identify a server's family from the platform APIs it answers (NodeInfo names none, or is absent).

Used only when NodeInfo names no software (name missing, null, empty, not a string, or a
placeholder such as "unknown") or when there is no NodeInfo at all (nor NodeInfo2). The probes
run in this fixed order and stop at the first answer that identifies a family:

1. `GET /api/v1/instance` (the Mastodon-compatible instance API; Mastodon, its forks, Pleroma,
   Akkoma, GoToSocial, Pixelfed, Friendica, Iceshrimp, ... all serve it). An object with
   `uri`/`domain`, `title` and a string `version`. The version names forks in the
   "compatible" convention: `2.7.2 (compatible; Akkoma 3.0.0)`, `2.3.3 (compatible; Pleroma
   0.9.0 ...)`, `3.5.3 (compatible; Pixelfed 0.12.4)`, `2.8.0 (compatible; Friendica 2024.08)`,
   `(compatible; Misskey ...)`; the name is looked up in the family table (so Akkoma ->
   pleroma, Iceshrimp -> misskey). GoToSocial gives its own bare version (`0.19.1+git-8e1f2a7`,
   major 0, which Mastodon left in 2017) and the GoToSocial-only `account_domain` key. Any
   other instance object is Mastodon.
2. `GET /api/v3/site` (Lemmy; PieFed implements the same API): an object with
   `site_view.site` -> lemmy.
3. `POST /api/meta` with `{}` (Misskey and forks): an object with a string `version` and
   Misskey's meta keys (`maxNoteTextLength`, `disableRegistration`, ...) -> misskey.
4. `GET /api/v1/config/about` (PeerTube): `{"instance": {"name", "shortDescription", ...}}`
   -> peertube.

Cost: every probe goes through the polite fetch layer (robots.txt is checked first: a
disallowed probe is skipped without a request; one request in flight per host, the host's
gap). The answer that identifies the family is the family adapter's own first request where
it has one (Lemmy site, Misskey meta, PeerTube about, Mastodon and Pixelfed instance), reused
rather than asked again; so a server costs at most three requests more than the same server
naming its software: PeerTube three (the probes before it), Misskey two, Lemmy one, Pleroma,
GoToSocial or Friendica one (the instance answer their adapters do not need), Mastodon none.
When none identifies it, the generic adapter's `/api/v1/instance/peers` (the same
Mastodon-compatible API that just failed) is not asked, so four probes cost three more.
A network failure, an exhausted budget or a refused crawl delay stops the probing; any other
failure (HTML, broken JSON, an oversized or wrongly shaped answer) only means "not this one".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from crawler.adapters.base import Visit
from crawler.fetch import errors as kinds
from crawler.lenient import mapping
from crawler.software import family_of, normalise_software

#: The quality flag of an instance whose family came from a probe, not from NodeInfo.
FAMILY_FROM_PROBE = "family_from_probe"
_COMPATIBLE = re.compile(r"\(compatible;\s*([A-Za-z][\w.\-]*)", re.IGNORECASE)
_GOTOSOCIAL_VERSION = re.compile(r"0\.\d+\.\d+(?:[-+][\w.\-]+)?")
_MISSKEY_META_KEYS = ("maxNoteTextLength", "disableRegistration", "driveCapacityPerLocalUserMb")
_PEERTUBE_ABOUT_KEYS = ("shortDescription", "terms", "codeOfConduct", "categories")
_STOP = frozenset({*kinds.NETWORK_ERRORS, kinds.CRAWL_DELAY_TOO_LONG})


def family_from_instance(value: Any) -> str | None:
    """The family a Mastodon-compatible `/api/v1/instance` answer shows (None: not one)."""
    document = mapping(value)
    version = document.get("version")
    if not isinstance(version, str) or not ("uri" in document or "domain" in document):
        return None
    compatible = _COMPATIBLE.search(version)
    if compatible:  # the name starts with a letter: never empty
        return family_of(normalise_software(compatible.group(1)))
    if "account_domain" in document or _GOTOSOCIAL_VERSION.fullmatch(version.strip()):
        return "gotosocial"
    return "mastodon"


def family_from_site(value: Any) -> str | None:
    """`lemmy` for a Lemmy `/api/v3/site` answer."""
    site_view = mapping(mapping(value).get("site_view"))
    return "lemmy" if isinstance(site_view.get("site"), dict) else None


def family_from_meta(value: Any) -> str | None:
    """`misskey` for a Misskey `/api/meta` answer."""
    document = mapping(value)
    if not isinstance(document.get("version"), str):
        return None
    return "misskey" if any(key in document for key in _MISSKEY_META_KEYS) else None


def family_from_about(value: Any) -> str | None:
    """`peertube` for a PeerTube `/api/v1/config/about` answer."""
    instance = mapping(mapping(value).get("instance"))
    if "name" not in instance:
        return None
    return "peertube" if any(key in instance for key in _PEERTUBE_ABOUT_KEYS) else None


@dataclass(frozen=True)
class Probe:
    """One platform API that identifies a family."""

    method: str
    path: str
    body: Any
    identify: Callable[[Any], str | None]


#: The documented order (see the module docstring).
PROBES: tuple[Probe, ...] = (
    Probe("GET", "/api/v1/instance", None, family_from_instance),
    Probe("GET", "/api/v3/site", None, family_from_site),
    Probe("POST", "/api/meta", {}, family_from_meta),
    Probe("GET", "/api/v1/config/about", None, family_from_about),
)


@dataclass(frozen=True)
class Identified:
    """What the probes found: a family, or None; `stopped_by` names a failure that stopped them."""

    family: str | None
    stopped_by: str | None = None
    detail: str | None = None


async def identify(visit: Visit) -> Identified:
    """Run the probes in order; the family of the first that answers.

    The identifying answer is kept in `visit.probed` for the adapter to reuse.
    """
    obs = visit.observation
    for probe in PROBES:
        answer = await visit.get_json(probe.path, method=probe.method, json_body=probe.body)
        obs.probe_requests += answer.response.requests
        if answer.response.error in _STOP:
            obs.retry_after = answer.response.retry_after
            return Identified(None, answer.response.error, answer.response.detail)
        if answer.error is not None or not answer.response.ok:
            continue  # robots-disallowed (no request made), 404, HTML, broken JSON, ...
        family = probe.identify(answer.value)
        if family:
            visit.probed[(probe.method, probe.path)] = answer
            obs.quality_flags.add(FAMILY_FROM_PROBE)
            return Identified(family)
    return Identified(None)
