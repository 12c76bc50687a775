"""Issue 21 part 2: declared languages, from each platform's answer to `instances.languages`.

The tag rules are checked on hand-picked values (RFC 5646 examples and junk seen in the
wild); the crawl tests serve hand-built answers of each platform on loopback and compare what
is stored with what each fixture declares.
"""

from __future__ import annotations

import json
import socket
import sqlite3
from typing import Any

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from click.testing import CliRunner

from crawler.asn import import_asn
from crawler.cli import cli
from crawler.languages import INVALID_FLAG, normalise_tag, parse_languages
from crawler.store.schema import SCHEMA_VERSION, open_database
from graph.analyze import analyze
from observatory.chart_kit import chart_rows
from observatory.charts import BY_SLUG, render_charts
from observatory.dataset import export_dataset
from observatory.hosting import hosting
from tests.small_world import build_world
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


# -- the derived tables on the hand-built world (tests/small_world.py) -------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    path = tmp_path_factory.mktemp("lang") / "world.db"
    build_world(path)
    table = path.with_name("as.tsv")
    # 45.10.0.0/24 is AS64510; 81.2.3.4 is in no routed range (AS 0); one broken row.
    table.write_text(
        "45.10.0.0\t45.10.0.255\t64510\tDE\tEXAMPLE-NET\n"
        "81.0.0.0\t81.255.255.255\t0\tNone\tNot routed\n"
        "81.0.0.0\t81.0.0.9\n"
    )
    import_asn(str(path), str(table))
    analyze(str(path))
    return path


def test_language_share_by_hand(world):
    share = {(r["crawl_id"], r["language"]): r for r in rows(world, "SELECT * FROM language_share")}
    # Crawl 3 answers: a (en, de; 120 users, 50 active), b (en; 60, 12), c (ja; 40, 10),
    # e (en; 10, 2): 4 servers, 230 users, 74 active.
    en = share[(3, "en")]
    assert (en["servers"], en["users"], en["active_users"]) == (3, 190, 64)
    assert (en["servers_share"], en["users_share"], en["active_users_share"]) == (
        75.0,
        82.61,
        86.49,
    )
    assert (share[(3, "de")]["servers"], share[(3, "de")]["active_users"]) == (1, 50)
    assert (3, None) not in share  # every answering server declared a language
    # Crawl 2: a (en, de; 110, 44), c (ja; suspect counts: nothing summed), d (none; 20, 5).
    ja = share[(2, "ja")]
    assert (ja["servers"], ja["users"], ja["active_users"], ja["users_share"]) == (1, 0, 0, 0.0)
    none = share[(2, None)]
    assert (none["servers"], none["users"], none["servers_share"]) == (1, 20, 33.33)
    assert share[(2, "de")]["active_users_share"] == round(100 * 44 / 49, 2)


def test_hosting_share_by_hand(world):
    share = {
        (r["crawl_id"], r["unit"], r["key"]): r for r in rows(world, "SELECT * FROM hosting_share")
    }
    # Crawl 3: a and b on 45.10.0.1 (62 of 74 active), c on 45.10.0.77 (10), e on 81.2.3.4 (2).
    shared = share[(3, "address", "45.10.0.1")]
    assert (shared["servers"], shared["users"], shared["active_users"]) == (2, 180, 62)
    assert (shared["rank"], shared["cumulative_active_users_share"]) == (1, 83.78)
    prefix = share[(3, "prefix", "45.10.0.0/24")]
    assert (prefix["servers"], prefix["active_users"], prefix["rank"]) == (3, 72, 1)
    assert share[(3, "prefix", "81.2.3.0/24")]["cumulative_active_users_share"] == 100.0
    network = share[(3, "network", "AS64510")]
    assert (network["name"], network["servers"], network["active_users_share"]) == (
        "EXAMPLE-NET", 3, 97.3,
    )  # fmt: skip
    unrouted = share[(3, "network", None)]
    assert (unrouted["servers"], unrouted["rank"]) == (1, 2)
    # Crawl 2: d answers on IPv6; its /48.
    assert share[(2, "prefix", "2a01:4f8:1::/48")]["servers"] == 1
    answer = hosting(sqlite3.connect(world))
    assert (answer.unit, answer.half_count, answer.units) == ("network", 1, 2)
    assert answer.servers_with_address == answer.servers_answering == 4


def test_the_charts_draw_the_hand_built_world(world):
    connection = sqlite3.connect(world)
    languages_rows = chart_rows(connection, BY_SLUG["languages"])
    mix = chart_rows(connection, BY_SLUG["language-platforms"])
    networks = chart_rows(connection, BY_SLUG["hosting-networks"])
    _date, rendered = render_charts(connection, validate=True)
    connection.close()
    servers = {r["language"]: r["count"] for r in languages_rows if r["measure_order"] == 1}
    assert servers == {"en": 3, "de": 1, "ja": 1}
    assert {(r["language"], r["family"], r["share_percent"]) for r in mix} == {
        ("en", "mastodon", 66.67), ("en", "pleroma", 33.33), ("de", "mastodon", 100.0),
        ("ja", "misskey", 100.0),
    }  # fmt: skip
    assert [(r["host"], r["in_half"]) for r in networks] == [
        ("AS64510 EXAMPLE-NET", 1),
        ("not in the AS table", 0),
    ]
    drawn = {r.chart.slug: r for r in rendered}
    for slug in ("languages", "language-platforms", "hosting-networks"):
        assert drawn[slug].spec is not None, drawn[slug].missing
    assert "1 of 1 networks (AS) host half" in json.dumps(drawn["hosting-networks"].spec)


def test_cli_answers_and_says_what_to_run(world, tmp_path):
    result = CliRunner().invoke(cli, ["hosting", "--db", str(world), "--json"])
    assert result.exit_code == 0 and json.loads(result.output)["half_count"] == 1
    result = CliRunner().invoke(cli, ["languages", "--db", str(world), "--top", "1"])
    assert result.exit_code == 0 and "en" in result.output and "2 more languages" in result.output
    bare = tmp_path / "bare.db"
    build_world(bare)
    for verb in ("languages", "hosting"):
        result = CliRunner().invoke(cli, [verb, "--db", str(bare)])
        assert result.exit_code == 2 and "run `fediscope analyze`" in result.output


def test_the_dataset_exports_the_new_tables_but_not_the_as_table(world, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    export_dataset(str(world), str(tmp_path / "ds"))
    for table in ("language_share", "hosting_share"):
        exported = pq.read_table(tmp_path / "ds" / f"{table}.parquet").to_pylist()
        assert exported == rows(world, f"SELECT * FROM {table}"), table
    assert not (tmp_path / "ds" / "asn_ranges.parquet").exists()
    series = pq.read_table(tmp_path / "ds" / "instance_stats" / "crawl_id=3").to_pylist()
    by_domain = {r["domain"]: r for r in series}
    assert (by_domain["a.test"]["languages"], by_domain["a.test"]["address"]) == (
        '["en","de"]', "45.10.0.1",
    )  # fmt: skip
    package = json.loads((tmp_path / "ds" / "datapackage.json").read_text())
    described = {r["name"]: r for r in package["resources"]}
    assert "only a proxy" in described["language_share"]["description"]


def test_a_schema_2_database_is_migrated_without_loss(tmp_path):
    path = tmp_path / "old.db"
    open_database(str(path)).conn.close()
    old = sqlite3.connect(path)  # back to schema 2: no languages or address anywhere
    old.executescript(
        "DROP VIEW instance_stats; ALTER TABLE instances DROP COLUMN languages; "
        "ALTER TABLE instances DROP COLUMN address; "
        "ALTER TABLE instance_intervals DROP COLUMN languages; "
        "ALTER TABLE instance_intervals DROP COLUMN address; "
        "INSERT INTO crawls (id, started_at, status) "
        "VALUES (1, '2026-01-05T10:00:00Z', 'finished');"
        "INSERT INTO instance_intervals (domain, first_crawl, last_crawl, status, users_total) "
        "VALUES ('a.test', 1, 1, 'alive', 7); PRAGMA user_version = 2;"
    )
    old.close()
    db = open_database(str(path))
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.execute(
        "INSERT INTO instance_stats (domain, crawl_id, observed_at, status, languages, address) "
        "VALUES ('b.test', 1, '2026-01-05T10:30:00Z', 'alive', '[\"fr\"]', '45.1.1.1')"
    )
    kept = db.execute("SELECT domain, users_total, languages, address FROM instance_stats")
    assert sorted(kept.fetchall()) == [
        ("a.test", 7, None, None),
        ("b.test", None, '["fr"]', "45.1.1.1"),
    ]
    db.conn.close()
