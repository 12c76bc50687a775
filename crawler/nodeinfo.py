"""NodeInfo: discovery documents and NodeInfo documents, parsed leniently (pure functions).

Real servers break the schema in many ways: `links` as an object, extra
rels, `.json` suffixes, counts as strings or null, `metadata: []`, `openRegistrations: "FALSE"`,
`localPosts` as an object, missing `services`/`metadata`, mixed-case names. Values that cannot be
trusted become None with a quality flag (see `lenient.py`).

A document that names no software (`software.name` missing, null, empty, not a string, or a
placeholder such as "unknown") is still a NodeInfo document: the server answered, so the
visit identifies its family from the platform APIs it answers (`crawler.adapters.probe`);
`software` stays None. NodeInfo2 (`/.well-known/x-nodeinfo2`, a different spec used by some
Diaspora-lineage, Friendica and Socialhome servers) is read into the same `NodeInfo` shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from crawler.lenient import check_consistency, mapping, read_bool, read_count, read_text, sequence
from crawler.software import family_of, normalise_software

SCHEMA_PREFIXES = (
    "http://nodeinfo.diaspora.software/ns/schema/",
    "https://nodeinfo.diaspora.software/ns/schema/",
)
SUPPORTED_VERSIONS = ("1.0", "1.1", "2.0", "2.1", "2.2")
WELL_KNOWN_PATH = "/.well-known/nodeinfo"
#: Tried only when the well-known document is missing (404/410-free 4xx).
FALLBACK_PATHS = ("/nodeinfo/2.1", "/nodeinfo/2.0", "/nodeinfo/2.1.json", "/nodeinfo/2.0.json")
#: Quality flags of a NodeInfo found by anything but plain discovery: a re-crawl rediscovers
#: such a server each time, so the flags stay true (`StoreWriter.load_nodeinfo_paths`).
DISCOVERY_FLAGS = frozenset(
    {"nodeinfo_without_discovery", "nodeinfo_on_other_host", "nodeinfo_href_http", "nodeinfo2"}
)
#: Read only when neither the well-known document nor a fixed path gave NodeInfo.
NODEINFO2_PATH = "/.well-known/x-nodeinfo2"
#: Names that say "I will not tell": treated as no name at all (compared after strip/lower).
PLACEHOLDER_NAMES = frozenset(
    {"unknown", "none", "null", "nil", "undefined", "n/a", "na", "-", "?", "software", "todo"}
)
#: A JSON object counts as NodeInfo only with one of these (a `{"error": ...}` does not).
_NODEINFO_KEYS = ("software", "usage", "protocols", "openRegistrations")
_OPT_OUT_TAG = re.compile(r"(?<![\w#＃])[#＃](nobot|noindex)\b", re.IGNORECASE)


class BadShape(ValueError):
    """The document has the wrong types where the crawler needs values."""


@dataclass(frozen=True)
class NodeInfoLink:
    version: str
    href: str


@dataclass
class NodeInfo:
    """The trusted reading of a NodeInfo document."""

    version: str | None
    software_raw: str | None  # None when no usable string was given
    software: str | None  # None: NodeInfo names no software (family comes from a probe)
    family: str | None
    software_version: str | None
    counts: dict[str, int | None]
    open_registrations: bool | None
    name: str | None
    description: str | None
    flags: set[str] = field(default_factory=set)
    metadata: dict[str, Any] = field(default_factory=dict)
    protocols: list[str] = field(default_factory=list)


def pick_nodeinfo_link(document: Any) -> NodeInfoLink | None:
    """The link with the highest supported schema version in a discovery (JRD) document."""
    links_value = mapping(document).get("links")
    if isinstance(links_value, dict):
        # Bare object (lemmy.ml, old Hubzilla) or an object of objects.
        nested = [v for v in links_value.values() if isinstance(v, dict)]
        candidates = nested if nested and "rel" not in links_value else [links_value]
    else:
        candidates = [link for link in sequence(links_value) if isinstance(link, dict)]
    # Old Hubzilla put the 2.0 link under a top-level "0" key beside `links` (jaywink fixture).
    candidates += [v for k, v in mapping(document).items() if k.isdigit() and isinstance(v, dict)]
    best: NodeInfoLink | None = None
    for link in candidates:
        rel, href = link.get("rel"), link.get("href")
        if not isinstance(rel, str) or not isinstance(href, str) or not href.strip():
            continue
        version = _schema_version(rel.strip())
        if version is None:
            continue
        if best is None or _version_key(version) > _version_key(best.version):
            best = NodeInfoLink(version, href.strip())
    return best


def _schema_version(rel: str) -> str | None:
    for prefix in SCHEMA_PREFIXES:
        if rel.startswith(prefix):
            version = rel[len(prefix) :].rstrip("/#")
            return version if version in SUPPORTED_VERSIONS else None
    return None


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def software_name(raw: Any) -> str | None:
    """The normalised software name, or None when the value names no software."""
    if not isinstance(raw, str):
        return None
    name = normalise_software(raw)
    if name is None or name in PLACEHOLDER_NAMES:
        return None
    return name[:200]


def parse_nodeinfo(document: Any) -> NodeInfo:
    """Read a NodeInfo document (any version); raise BadShape when it is not one.

    `software` may be missing or null, or carry a name that is no name (see `software_name`):
    the result then has `software` None. A `software` of another type is a broken document.
    """
    if not isinstance(document, dict):
        raise BadShape("NodeInfo is not a JSON object")
    software = document.get("software")
    if software is not None and not isinstance(software, dict):
        raise BadShape("software is not an object")
    if not any(key in document for key in _NODEINFO_KEYS):
        raise BadShape("no NodeInfo keys (software, usage, protocols, openRegistrations)")
    software = mapping(software)
    raw_name = software.get("name")
    flags: set[str] = set()
    name = software_name(raw_name)
    version_value = software.get("version")
    software_version = read_text(version_value, 200)
    if isinstance(version_value, int | float) and not isinstance(version_value, bool):
        software_version = str(version_value)
    usage = document.get("usage")
    if usage is not None and not isinstance(usage, dict):
        flags.add("usage_wrong_type")
    usage = mapping(usage)
    users = usage.get("users")
    if users is not None and not isinstance(users, dict):
        flags.add("usage_wrong_type")
    users = mapping(users)
    counts = {
        "users_total": read_count(users.get("total"), flags),
        "users_active_month": read_count(users.get("activeMonth"), flags),
        "users_active_halfyear": read_count(users.get("activeHalfyear"), flags),
        "local_posts": read_count(usage.get("localPosts"), flags),
        "local_comments": read_count(usage.get("localComments"), flags),
    }
    check_consistency(counts, flags)
    metadata = document.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        flags.add("metadata_wrong_type")
    metadata = dict(mapping(metadata))
    instance = mapping(document.get("instance"))  # NodeInfo 2.2
    protocols_value = document.get("protocols")
    if isinstance(protocols_value, dict):  # NodeInfo 1.x: {inbound: [...], outbound: [...]}
        listed = [p for v in protocols_value.values() for p in sequence(v) if isinstance(p, str)]
    else:
        listed = [p for p in sequence(protocols_value) if isinstance(p, str)]
    protocols = list(dict.fromkeys(listed))
    return NodeInfo(
        version=read_text(document.get("version"), 20),
        software_raw=raw_name[:200] if name is not None else None,
        software=name,
        family=family_of(name),
        software_version=software_version,
        counts=counts,
        open_registrations=read_bool(document.get("openRegistrations"), flags),
        name=read_text(instance.get("name"), 500) or read_text(metadata.get("nodeName"), 500),
        description=read_text(instance.get("description"))
        or read_text(metadata.get("nodeDescription"))
        or read_text(metadata.get("description")),
        flags=flags,
        metadata=metadata,
        protocols=protocols,
    )


def parse_nodeinfo2(document: Any) -> NodeInfo:
    """Read a NodeInfo2 document (`/.well-known/x-nodeinfo2`); raise BadShape when it is not one.

    NodeInfo2 1.0 (jaywink/federation `fetch_nodeinfo2_document`; Friendica's
    `NodeInfo210.php`): `server {baseUrl, name, software, version}`, `protocols`, `services`,
    `openRegistrations`, `usage {users {total, activeHalfyear, activeMonth, activeWeek},
    localPosts, localComments}`. The same lenient rules as NodeInfo apply to every value.
    """
    if not isinstance(document, dict) or not isinstance(document.get("server"), dict):
        raise BadShape("NodeInfo2 without a server object")
    server = document["server"]
    equivalent = {
        "software": {"name": server.get("software"), "version": server.get("version")},
        "usage": document.get("usage"),
        "openRegistrations": document.get("openRegistrations"),
        "protocols": document.get("protocols"),
        "metadata": {"nodeName": server.get("name")},
    }
    info = parse_nodeinfo(equivalent)
    version = read_text(document.get("version"), 20)
    info.version = f"x-nodeinfo2 {version}" if version else "x-nodeinfo2"
    info.flags.add("nodeinfo2")
    return info


def opt_out_tag(text: str | None) -> str | None:
    """`nobot` or `noindex` when the text carries that hashtag (case-insensitive)."""
    if not text:
        return None
    match = _OPT_OUT_TAG.search(text)
    return match.group(1).lower() if match else None
