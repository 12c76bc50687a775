"""Issue 21 parts 2 and 3 end to end: the sandbox's language communities and hosting providers,
crawled, analysed and compared with the sandbox's truth.

The sandbox declares each instance's languages where its platform puts them and gives each host
a simulated address (two hosting providers share one address each; the others have their own).
The expected shares are computed here from the truth and the simulated DNS, with `ipaddress`,
and a small hand-written IP-to-AS table (tests/data/asn_fixture.tsv) whose AS of each host is
read off by hand.
"""

from __future__ import annotations

import ipaddress
import json
import sqlite3
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from click.testing import CliRunner

from crawler.asn import AsnImportError, import_asn
from crawler.cli import cli
from crawler.sandbox import Provider, Sandbox, SandboxConfig
from crawler.sandbox.probes import nameless_variant
from graph.analyze import analyze
from graph.history import SUSPECT_FLAGS
from observatory.hosting import hosting
from observatory.languages import languages
from tests.support import QUICK_PACE, crawl_via, crawled_alive, rows

pytestmark = pytest.mark.asyncio(loop_scope="module")

FIXTURE = Path(__file__).parent / "data" / "asn_fixture.tsv"
BIG, SMALL = "23.227.38.1", "104.16.0.5"
#: The fixture's AS of an address, read off the fixture by hand.
AS_OF = (
    (ipaddress.ip_network("23.227.38.0/24"), "AS64500", "EXAMPLE-SHARED-HOSTING"),
    (ipaddress.ip_network("104.16.0.0/12"), "AS64501", "EXAMPLE-CDN"),
    (ipaddress.ip_network("45.0.0.0/9"), "AS64502", "EXAMPLE-VPS"),
)
FIXTURE_BROKEN_ROWS = 5


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def crawled(tmp_path_factory):
    config = SandboxConfig(
        instances=220,
        seed=5,
        pace=QUICK_PACE,
        farm_size=0,
        providers=[Provider(BIG, hosts=50), Provider(SMALL, hosts=15)],
    )
    sandbox = Sandbox(config)
    port = await sandbox.start()
    db = tmp_path_factory.mktemp("lh") / "lh.db"
    try:
        summary = await crawl_via(port, db, sandbox.seeds, resolver=sandbox.resolver())
        truth = sandbox.truth()
    finally:
        await sandbox.stop()
    import_asn(str(db), str(FIXTURE))
    analyze(str(db))
    return sandbox, truth, db, summary.crawl_id


def _counts(db: Path, crawl_id: int) -> dict[str, tuple[int, int, str | None]]:
    """domain -> (users, active users, address) of that crawl, suspect counts as 0."""
    found = {}
    for r in rows(db, "SELECT * FROM instance_stats WHERE crawl_id = ? AND status = 'alive'",
                  crawl_id):  # fmt: skip
        suspect = set((r["quality_flags"] or "").split(",")) & set(SUSPECT_FLAGS)
        users = 0 if suspect else r["users_total"] or 0
        active = 0 if suspect else r["users_active_month"] or 0
        found[r["domain"]] = (users, active, r["address"])
    return found


def readable_languages(sandbox: Sandbox, truth: dict[str, Any]) -> dict[str, list[str] | None]:
    """The truth's declared languages of the servers a correct crawl finds alive, except where
    robots.txt forbids the one answer that declares them: GoToSocial's robots.txt disallows
    /api/ unless its admin allows /api/v1/instance (crawler.sandbox.platforms.common), and
    what a crawler may not read it cannot store."""
    expected = {}
    for domain, entry in truth.items():
        declared = entry["languages"]
        if entry["family"] == "gotosocial":
            h = sandbox.world.host(domain)
            if not (nameless_variant(h) or "nodeinfo_none" in h.quirks):
                declared = None
        expected[domain] = declared
    return expected


async def test_declared_languages_are_stored_as_the_sandbox_declares_them(crawled):
    sandbox, truth, db, _crawl = crawled
    alive = readable_languages(sandbox, crawled_alive(truth, db))
    stored = {
        r["domain"]: r["languages"] for r in rows(db, "SELECT domain, languages FROM instances")
    }
    assert len(alive) > 150
    wrong = {
        d: (stored.get(d), declared)
        for d, declared in alive.items()
        if (json.loads(stored[d]) if stored.get(d) else None) != declared
    }
    assert wrong == {}
    groups = {tag for declared in alive.values() for tag in declared or ()}
    assert {"en", "ja", "de", "pt-br"} <= groups  # communities, region subtags lowercased


async def test_language_share_counts_each_declared_language_against_the_truth(crawled):
    sandbox, truth, db, crawl_id = crawled
    alive = readable_languages(sandbox, crawled_alive(truth, db))
    counts = _counts(db, crawl_id)
    assert set(alive) == set(counts)
    expected: dict[str | None, list[int]] = defaultdict(lambda: [0, 0, 0])
    for domain, declared in alive.items():
        users, active, _address = counts[domain]
        for tag in declared or [None]:
            expected[tag][0] += 1
            expected[tag][1] += users
            expected[tag][2] += active
    table = {
        r["language"]: [r["servers"], r["users"], r["active_users"]]
        for r in rows(db, "SELECT * FROM language_share WHERE crawl_id = ?", crawl_id)
    }
    assert table == dict(expected)
    en = rows(db, "SELECT servers_share FROM language_share WHERE crawl_id = ? AND language = 'en'",
              crawl_id)[0]  # fmt: skip
    assert en["servers_share"] == round(100 * expected["en"][0] / len(alive), 2)
    answer = languages(sqlite3.connect(db), top=3)
    assert [r["language"] for r in answer.languages] == sorted(
        (t for t in expected if t), key=lambda t: (-expected[t][0], t)
    )[:3]


async def test_each_server_is_kept_at_its_simulated_address_and_grouped_by_prefix(crawled):
    sandbox, _truth, db, crawl_id = crawled
    counts = _counts(db, crawl_id)
    addresses = {d: sandbox.hosting.address(d) for d in counts}
    assert {d: c[2] for d, c in counts.items()} == addresses
    on_big = [d for d in counts if addresses[d] == BIG]
    assert len(on_big) >= 40  # the provider's hosts answered and were kept at its address

    def expected(key_of) -> dict[str, list[int]]:
        grouped: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        for users, active, address in counts.values():
            key = key_of(address)
            grouped[key][0] += 1
            grouped[key][1] += users
            grouped[key][2] += active
        return dict(grouped)

    def table(unit: str) -> dict[str | None, list[int]]:
        return {
            r["key"]: [r["servers"], r["users"], r["active_users"]]
            for r in rows(
                db, "SELECT * FROM hosting_share WHERE crawl_id = ? AND unit = ?", crawl_id, unit
            )
        }

    assert table("address") == expected(lambda a: a)
    prefix = expected(lambda a: str(ipaddress.ip_network(f"{a}/24", strict=False)))
    assert table("prefix") == prefix
    assert table("prefix")["23.227.38.0/24"][0] == len(on_big)

    def network(address: str) -> str | None:
        ip = ipaddress.ip_address(address)
        return next((asn for net, asn, _name in AS_OF if ip in net), None)

    assert table("network") == expected(network)
    names = {r["key"]: r["name"] for r in rows(db, "SELECT key, name FROM hosting_share "
                                                   "WHERE unit = 'network'")}  # fmt: skip
    assert names["AS64500"] == "EXAMPLE-SHARED-HOSTING" and names.get(None) is None


async def test_how_few_networks_host_half_the_active_users(crawled):
    _sandbox, _truth, db, crawl_id = crawled
    for unit in ("address", "prefix", "network"):
        ranked = rows(db, "SELECT * FROM hosting_share WHERE crawl_id = ? AND unit = ? "
                          "ORDER BY rank", crawl_id, unit)  # fmt: skip
        known = [r for r in ranked if r["key"] is not None]
        total = sum(r["active_users"] for r in ranked)
        # Hand count: the largest known units, one by one, until half the active users.
        held, half = 0, None
        for count, r in enumerate(sorted(known, key=lambda r: -r["active_users"]), start=1):
            held += r["active_users"]
            if 2 * held >= total:
                half = count
                break
        answer = hosting(sqlite3.connect(db), unit)
        assert answer.half_count == half, unit
        assert answer.servers_with_address == sum(r["servers"] for r in ranked)


async def test_import_asn_counts_broken_rows_and_a_bad_file_keeps_the_stored_table(tmp_path):
    db = tmp_path / "asn.db"
    table = import_asn(str(db), str(FIXTURE))
    assert (len(table.ranges), table.skipped_rows) == (4, FIXTURE_BROKEN_ROWS)
    junk = tmp_path / "junk.tsv"
    junk.write_text("this is not\ta table\n\x00\x01\n")
    with pytest.raises(AsnImportError, match="no readable IP-to-AS row"):
        import_asn(str(db), str(junk))
    (ranges,) = sqlite3.connect(db).execute("SELECT count(*) FROM asn_ranges").fetchone()
    assert ranges == 4  # the refused file replaced nothing
    result = CliRunner().invoke(cli, ["import-asn", str(junk), "--db", str(db)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.output.count("\n") == 1 and "no readable IP-to-AS row" in result.output
    result = CliRunner().invoke(cli, ["import-asn", str(FIXTURE), "--db", str(db)])
    assert result.exit_code == 0 and f"{FIXTURE_BROKEN_ROWS} rows skipped" in result.output
