"""Caching and `?crawl=N` permalinks against three crawls of one sandbox world.

Crawls at epochs 0, 1 and 3 (crawl ids 1, 2, 3), each followed by `analyze`. The answers for
`?crawl=1` are saved right after crawl 1 and must come back byte for byte after crawl 3; the
latest answers must follow the world; `?crawl=2` must name exactly epoch 1's blockers. The
same Datasette serves every stage, so its validator and answer cache see the data change
under them as a public server would.
"""

from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime

import pytest
import pytest_asyncio

from crawler.importer import import_blocklist
from crawler.sandbox import Sandbox, SandboxConfig
from crawler.store.schema import open_database
from graph.analyze import analyze
from observatory import charts, site
from observatory.cache import AnswerCache, CachingMiddleware, DataState
from tests.support import PATIENT, QUICK_PACE, crawl_via, datasette_for, truth_blockers

pytestmark = pytest.mark.asyncio(loop_scope="module")

#: Hanging hosts hang up after a second and the crawls are PATIENT: a blocker a loaded machine
#: timed out would be missing from the answers the truth predicts.
WORLD = SandboxConfig(instances=100, seed=11, farm_size=0, pace=QUICK_PACE, hang_seconds=1.0)


def truth_at(epoch: int) -> dict:
    sandbox = Sandbox(WORLD)
    sandbox.set_epoch(epoch)
    return sandbox.truth()


def last_known(truth: dict, before: dict) -> dict:
    """The truth as a crawl at `truth`'s epoch stores it: a list that turned unreadable keeps
    its last-known rules (unreadable is not a removal)."""
    instances = dict(truth["instances"])
    for domain, entry in truth["instances"].items():
        earlier = before["instances"].get(domain, {})
        if entry["blocks_visibility"] != "public" and earlier.get("blocks_visibility") == "public":
            instances[domain] = earlier
    return {**truth, "instances": instances}


def watched_domains(*truths: dict) -> list[str]:
    """Blocked domains whose blockers differ between the epochs, then a few steady ones."""
    blockers = [truth_blockers(t) for t in truths]
    every = sorted(set().union(*blockers))
    changed = [d for d in every if len({frozenset(b.get(d, ())) for b in blockers}) > 1]
    steady = [d for d in every if d not in changed]
    return changed[:6] + steady[:3]


def urls(domains: list[str], instance: str, crawl: int) -> list[str]:
    pages = [f"/?crawl={crawl}", f"/platforms?crawl={crawl}"]
    pages += [f"/platforms/{chart.slug}.csv?crawl={crawl}" for chart in charts.CHARTS]
    pages += [f"/platforms/{charts.CHARTS[0].slug}.json?crawl={crawl}"]
    for domain in domains:
        pages += [
            f"/who-blocks{form}?domain={domain}&crawl={crawl}" for form in ("", ".json", ".csv")
        ]
    pages += [f"/instance{form}?domain={instance}&crawl={crawl}" for form in ("", ".json")]
    return pages


async def get(ds, url: str, **headers: str):
    return await ds.client.get(url, headers=headers)


async def etag(ds) -> str:
    return (await get(ds, "/")).headers["etag"]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def history(tmp_path_factory):
    """(datasette, db, saved ?crawl=1 answers, domains, instance, etags by stage, truths)."""
    truths = {epoch: truth_at(epoch) for epoch in (0, 1, 3)}
    domains = watched_domains(truths[0], last_known(truths[1], truths[0]), truths[3])
    assert domains, "the sandbox world changed no block lists"
    instance = sorted(truths[0]["seeds"])[0]
    sandbox = Sandbox(WORLD)
    port = await sandbox.start()
    db = tmp_path_factory.mktemp("permalinks") / "permalinks.db"
    open_database(str(db)).conn.close()
    ds = await datasette_for(db)
    etags: dict[str, str] = {"empty": await etag(ds)}
    saved: dict[str, bytes] = {}
    try:
        for crawl, epoch in ((1, 0), (2, 1), (3, 3)):
            sandbox.set_epoch(epoch)  # time passing: nothing read before is still fresh
            await crawl_via(
                port, db, sandbox.seeds, recrawl_after=timedelta(0), revalidate=True, **PATIENT
            )
            etags[f"crawl {crawl}"] = await etag(ds)
            analyze(str(db))
            etags[f"analyze {crawl}"] = await etag(ds)
            if crawl == 1:
                for url in urls(domains, instance, 1):
                    answer = await get(ds, url)
                    assert answer.status_code == 200, (url, answer.text[:300])
                    saved[url] = answer.content
    finally:
        await sandbox.stop()
    return ds, db, saved, domains, instance, etags, truths


async def test_crawl_1_answers_are_byte_identical_after_two_more_crawls(history):
    ds, _db, saved, _domains, _instance, _etags, _truths = history
    assert len(saved) > 20
    for url, before in saved.items():
        after = await get(ds, url)
        assert after.status_code == 200, url
        assert after.content == before, url


async def test_latest_answers_follow_the_world(history):
    ds, _db, saved, domains, _instance, _etags, truths = history
    now = truth_blockers(last_known(truths[3], last_known(truths[1], truths[0])))
    then = truth_blockers(truths[0])
    for domain in domains:
        latest = (await get(ds, f"/who-blocks.json?domain={domain}")).json()
        certain = {b["blocker"] for b in latest["blockers"] if b["match"] != "candidate"}
        assert certain == now.get(domain, set()), domain
        pinned = (await get(ds, f"/who-blocks.json?domain={domain}&crawl=1")).json()
        assert {b["blocker"] for b in pinned["blockers"] if b["match"] != "candidate"} == then.get(
            domain, set()
        ), domain
        assert latest["as_of"]["crawl"] == 3 and pinned["as_of"]["crawl"] == 1
        if now.get(domain, set()) != then.get(domain, set()):
            assert latest["blockers"] != pinned["blockers"]
    home = (await get(ds, "/")).text
    assert 'href="/?crawl=3"' in home and "Cite this" in home
    pinned_home = saved["/?crawl=1"].decode()
    assert "As of crawl 1," in pinned_home and 'href="/?crawl=1"' in pinned_home
    # every chart's spec (what its PNG/SVG download draws) names the crawl in its footer
    charts_page = saved["/platforms?crawl=1"].decode()
    assert charts_page.count("Data: crawl #1 of ") >= len(charts.CHARTS)
    assert "crawl #3" not in charts_page


async def test_crawl_2_names_exactly_epoch_1s_blockers(history):
    ds, _db, _saved, domains, _instance, _etags, truths = history
    want = truth_blockers(last_known(truths[1], truths[0]))
    assert any(want.get(d) for d in domains)
    for domain in domains:
        answer = (await get(ds, f"/who-blocks.json?domain={domain}&crawl=2")).json()
        got = {b["blocker"] for b in answer["blockers"] if b["match"] != "candidate"}
        assert got == want.get(domain, set()), domain


@pytest.mark.parametrize(
    ("value", "status", "words"),
    [
        ("0", 400, "start at 1"),
        ("-1", 400, "not a crawl number"),
        ("abc", 400, "not a crawl number"),
        ("99999999999999999999999", 400, "not a crawl number"),
        ("4000", 404, "no crawl 4000"),
    ],
)
async def test_bad_crawl_values_get_a_sentence_and_a_4xx(history, value, status, words):
    ds, _db, _saved, domains, instance, _etags, _truths = history
    for url in (
        f"/?crawl={value}",
        f"/platforms?crawl={value}",
        f"/platforms/{charts.CHARTS[0].slug}.csv?crawl={value}",
        f"/who-blocks?domain={domains[0]}&crawl={value}",
        f"/who-blocks.json?domain={domains[0]}&crawl={value}",
        f"/who-blocks.csv?domain={domains[0]}&crawl={value}",
        f"/instance?domain={instance}&crawl={value}",
        f"/instance.json?domain={instance}&crawl={value}",
    ):
        answer = await get(ds, url)
        assert answer.status_code == status, url
        assert words in answer.text, url
        assert "Traceback" not in answer.text


async def test_a_running_crawl_is_refused_and_the_pages_answer_from_the_last_finished(
    history, tmp_path
):
    ds, db, _saved, domains, _instance, _etags, _truths = history
    before = (await get(ds, f"/who-blocks.json?domain={domains[0]}")).json()
    connection = open_database(str(db)).conn
    connection.execute(
        "INSERT INTO crawls (id, started_at, status) VALUES (4, '2030-01-01', 'running')"
    )
    # half a crawl: a rule the running crawl has written so far
    connection.execute(
        "INSERT INTO blocks (blocker, blocked, blocked_pattern, kind, severity, severity_raw, "
        "first_crawl, last_crawl, active) VALUES ('half.example', ?, ?, 'clear', 'suspend', "
        "'suspend', 4, 4, 1)",
        (domains[0], domains[0]),
    )
    try:
        refused = await get(ds, f"/who-blocks.json?domain={domains[0]}&crawl=4")
        assert refused.status_code == 409 and "has not finished" in refused.text
        during = (await get(ds, f"/who-blocks.json?domain={domains[0]}")).json()
        assert "half.example" not in {b["blocker"] for b in during["blockers"]}
        assert {b["blocker"] for b in during["blockers"]} == {
            b["blocker"] for b in before["blockers"]
        }
        assert during["as_of"]["crawl"] == 3
    finally:
        connection.execute("DELETE FROM blocks WHERE blocker = 'half.example'")
        connection.execute("DELETE FROM crawls WHERE id = 4")
        connection.close()


async def test_every_response_type_carries_validators_and_no_vary_cookie(history):
    ds, db, _saved, domains, instance, _etags, _truths = history
    for url in [
        "/",
        "/platforms",
        f"/platforms/{charts.CHARTS[0].slug}.csv",
        f"/platforms/{charts.CHARTS[0].slug}.json",
        f"/who-blocks?domain={domains[0]}",
        f"/who-blocks.json?domain={domains[0]}",
        f"/who-blocks.csv?domain={domains[0]}",
        f"/instance?domain={instance}",
        f"/instance.json?domain={instance}",
        "/map",
        f"/{db.stem}/block_changes.atom?domain={domains[0]}",
        "/?crawl=abc",
    ]:
        answer = await get(ds, url)
        assert answer.headers["etag"].startswith('"'), url
        assert parsedate_to_datetime(answer.headers["last-modified"]), url
        assert answer.headers["cache-control"] == "public, max-age=300", url
        assert "cookie" not in answer.headers.get("vary", "").lower(), url


async def test_conditional_requests_get_304_without_running_the_page(history, monkeypatch):
    ds, _db, _saved, domains, _instance, _etags, _truths = history
    url = f"/who-blocks?domain={domains[0]}&crawl=2"
    first = await get(ds, url)
    calls: list[object] = []
    real_run_on = site.run_on

    async def counting_run_on(*args, **kwargs):
        calls.append(args[2])
        return await real_run_on(*args, **kwargs)

    monkeypatch.setattr(site, "run_on", counting_run_on)
    again = await get(ds, url, **{"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == first.headers["etag"]
    since = await get(ds, url, **{"If-Modified-Since": first.headers["last-modified"]})
    assert since.status_code == 304
    assert calls == []
    older = parsedate_to_datetime(first.headers["last-modified"]) - timedelta(days=1)
    stale = await get(ds, f"{url}&x=1", **{"If-Modified-Since": format_datetime(older, True)})
    assert stale.status_code == 200 and calls  # a changed answer runs the page
    other = await get(ds, url, **{"If-None-Match": '"not-the-etag"'})
    assert other.status_code == 200 and other.content == first.content


async def test_the_validator_changes_with_a_crawl_an_analyze_and_an_import_only(history, tmp_path):
    ds, db, _saved, _domains, _instance, etags, _truths = history
    stages = list(etags.values())
    assert len(set(stages)) == len(stages), etags
    current = await etag(ds)
    assert current == etags["analyze 3"]
    # reading, opening the database for writing and checkpointing change no answer
    await get(ds, "/platforms")
    db_handle = open_database(str(db))
    db_handle.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db_handle.conn.close()
    assert await etag(ds) == current
    blocklist = tmp_path / "shared.csv"
    blocklist.write_text("#domain,#severity\nspam-farm.social,suspend\n", encoding="utf-8")
    import_blocklist(str(db), str(blocklist), "shared")
    imported = await etag(ds)
    assert imported != current
    assert await etag(ds) == imported


async def test_max_age_zero_sends_no_cache() -> None:
    middleware = CachingMiddleware(app=None, datasette=None, max_age=0)  # type: ignore[arg-type]
    headers = dict(middleware._validators(DataState('"x"', None)))
    assert headers[b"cache-control"] == b"no-cache" and headers[b"etag"] == b'"x"'


async def test_answer_cache_is_bounded_by_bytes_least_recently_used_out() -> None:
    cache = AnswerCache(max_bytes=8000)
    for n in range(5):
        cache.put(("s", n), 200, [], b"x" * 900)
    cache.get(("s", 0))  # recently used: stays
    for n in range(5, 10):
        cache.put(("s", n), 200, [], b"x" * 900)
    assert cache.bytes <= 8000
    assert cache.get(("s", 0)) is not None and cache.get(("s", 1)) is None
    cache.put(("s", "big"), 200, [], b"x" * 1001)  # over an eighth of the bound: not kept
    assert cache.get(("s", "big")) is None
    cache.clear()
    assert len(cache) == 0 and cache.bytes == 0
