"""Issue 21 part 2: declared languages, from each platform's answer to `instances.languages`.

The tag rules are checked on hand-picked values (RFC 5646 examples and junk seen in the
wild); the crawl tests serve hand-built answers of each platform on loopback and compare what
is stored with what each fixture declares.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from crawler.languages import INVALID_FLAG, normalise_tag, parse_languages
from tests.support import crawl_via, instance, rows, serve


@pytest.mark.parametrize(
    ("value", "tag"),
    [
        ("en", "en"),
        ("EN", "en"),
        (" de ", "de"),
        ("pt_BR", "pt-br"),
        ("zh-Hant-TW", "zh-hant-tw"),
        ("sr-Latn-RS", "sr-latn-rs"),
        ("es-419", "es-419"),
        ("de-CH-1996", "de-ch-1996"),
        ("en-US-x-twain", "en-us-x-twain"),
        ("i-klingon", "i-klingon"),
        ("x-whatever", "x-whatever"),
        ("kab", "kab"),
        ("English", None),
        ("deutsch", None),
        ("e", None),
        ("en-", None),
        ("", None),
        ("日本語", None),
        ("en--us", None),
        ("a" * 40, None),
        (7, None),
        (None, None),
        (["en"], None),
    ],
)
def test_a_value_is_a_tag_only_when_well_formed(value, tag):
    assert normalise_tag(value) == tag


def test_sources_merge_in_order_without_duplicates_and_junk_is_counted():
    declared = parse_languages(["en", "EN", 3, {"a": 1}, "Français"], "ja, en", None)
    assert (declared.tags, declared.dropped, declared.declared) == (["en", "ja"], 3, True)
    assert parse_languages(None, None).declared is False
    assert parse_languages([]).declared is True  # said: no language (not the same as silent)


# -- hand-built answers ----------------------------------------------------------------------


def _nodeinfo(software: str, metadata: Any) -> dict[str, Any]:
    return {
        "version": "2.0",
        "software": {"name": software, "version": "1.0"},
        "protocols": ["activitypub"],
        "usage": {"users": {"total": 10, "activeMonth": 5}, "localPosts": 1},
        "openRegistrations": False,
        "metadata": metadata,
    }


#: host -> (NodeInfo metadata, {path: answer}); each declares languages its own way.
HOSTS: dict[str, tuple[Any, dict[str, Any]]] = {
    "masto.test": (
        {},
        {
            "/api/v2/instance": {"domain": "masto.test", "title": "M", "languages": ["en", "DE"]},
            "/api/v1/instance/peers": [],
        },
    ),
    "old-masto.test": (
        {},
        {
            "/api/v1/instance": {"uri": "old-masto.test", "languages": ["fr", "English", 7]},
            "/api/v1/instance/peers": [],
        },
    ),
    "miss.test": (
        {"nodeName": "K", "langs": ["ko"]},
        {"/api/meta": {"name": "K", "langs": ["ja", "ja-JP", "en"]}},
    ),
    "tube.test": (
        {},
        {"/api/v1/config/about": {"instance": {"name": "T", "languages": ["es", "ca"]}}},
    ),
    "quiet.test": ({}, {"/api/v2/instance": {"domain": "quiet.test"}}),
    "junk.test": ({}, {"/api/v2/instance": {"domain": "junk.test", "languages": "en, DROP!"}}),
}
SOFTWARE = {"miss.test": "misskey", "tube.test": "peertube"}
#: What each host declares, written from the fixtures above.
EXPECTED = {
    "masto.test": (["en", "de"], False),
    "old-masto.test": (["fr"], True),
    "miss.test": (["ko", "ja", "ja-jp", "en"], False),  # NodeInfo first, then meta
    "tube.test": (["es", "ca"], False),
    "quiet.test": (None, False),
    "junk.test": (["en"], True),  # a string of tags; "drop!" is none
}
#: The simulated DNS: public addresses are kept, a private one never is.
ADDRESSES = {
    "masto.test": "45.1.2.3",
    "old-masto.test": "45.1.2.3",
    "miss.test": "2a01:4f8::1",
    "tube.test": "10.0.0.7",
    "quiet.test": "45.9.9.9",
    "junk.test": "45.9.9.10",
}


async def _handler(request: web.Request) -> web.StreamResponse:
    host = request.host.split(":")[0]
    metadata, answers = HOSTS.get(host, ({}, {}))
    path = request.path
    if path == "/robots.txt":
        return web.Response(status=404)
    if path == "/.well-known/nodeinfo":
        href = f"https://{host}/nodeinfo/2.0"
        return web.json_response(
            {"links": [{"rel": "http://nodeinfo.diaspora.software/ns/schema/2.0", "href": href}]}
        )
    if path == "/nodeinfo/2.0":
        return web.json_response(_nodeinfo(SOFTWARE.get(host, "mastodon"), metadata))
    if path in answers:
        return web.json_response(answers[path])
    if host == "old-masto.test" and path == "/api/v2/instance":
        return web.json_response({"error": "Not found"}, status=404)
    if path.startswith("/api/federation/instances"):
        return web.json_response([])
    if path.startswith("/api/v1/server/"):
        return web.json_response({"total": 0, "data": []})
    return web.json_response({"error": "Not found"}, status=404)


class _Resolver(AbstractResolver):
    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        address = ADDRESSES[host]
        kind = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [
            {"hostname": host, "host": address, "port": port, "family": kind, "proto": 0,
             "flags": socket.AI_NUMERICHOST}
        ]  # fmt: skip

    async def close(self) -> None:
        return None


async def test_each_platform_s_declared_languages_and_address_are_stored(tmp_path):
    db = tmp_path / "l.db"
    async with serve(_handler) as port:
        summary = await crawl_via(port, db, sorted(HOSTS), resolver=_Resolver())
    for domain, (tags, flagged) in EXPECTED.items():
        row = instance(db, domain)
        assert row["status"] == "alive", (domain, row["status_reason"])
        stored = None if row["languages"] is None else json.loads(row["languages"])
        assert stored == tags, domain
        assert (INVALID_FLAG in (row["quality_flags"] or "")) is flagged, domain
        public = ADDRESSES[domain] if not ADDRESSES[domain].startswith("10.") else None
        assert row["address"] == public, domain
    # The time series keeps both per crawl; the raw answers are kept as always.
    series = {
        r["domain"]: r
        for r in rows(db, "SELECT * FROM instance_stats WHERE crawl_id = ?", summary.crawl_id)
    }
    assert json.loads(series["masto.test"]["languages"]) == ["en", "de"]
    assert series["miss.test"]["address"] == "2a01:4f8::1"
    kept = rows(db, "SELECT url FROM documents WHERE domain = 'tube.test'")
    assert "https://tube.test/api/v1/config/about" in {r["url"] for r in kept}
