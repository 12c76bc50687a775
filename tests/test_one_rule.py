"""One block-matching rule: the library answer (`fediscope who-blocks`) and the `who_blocks`
canned query of data/metadata.yml (which calls it through the plugin's SQL functions) agree on
every domain a crawl of the sandbox knows, blocked or not."""

from __future__ import annotations

import sqlite3

import pytest
import pytest_asyncio
import yaml

from crawler.sandbox import SandboxConfig
from observatory.plugin import sql
from observatory.who_blocks import answer
from tests.support import QUICK_PACE, REPO, crawl_sandbox

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def crawled(tmp_path_factory):
    db = tmp_path_factory.mktemp("one-rule") / "crawl.db"
    world = SandboxConfig(instances=150, seed=11, pace=QUICK_PACE)
    await crawl_sandbox(world, db, contact="tests@fediscope.invalid")
    return db


async def test_who_blocks_answer_and_canned_query_agree_on_every_domain(crawled):
    metadata = yaml.safe_load((REPO / "data" / "metadata.yml").read_text(encoding="utf-8"))
    query = metadata["databases"]["fediverse"]["queries"]["who_blocks"]["sql"]
    connection = sqlite3.connect(f"file:{crawled}?mode=ro", uri=True)
    sql.prepare_connection(connection)
    domains = [name for (name,) in connection.execute("SELECT name FROM domains ORDER BY name")]
    matches: set[str] = set()
    for domain in domains:
        library = {
            (b.blocker, b.severity_raw, b.match, b.pattern)
            for b in answer(connection, domain, with_changes=False).blockers
        }
        canned = {
            (row[0], row[2], row[7], row[8])
            for row in connection.execute(query, {"domain": domain})
        }
        assert canned == library, domain
        matches |= {match for _, _, match, _ in library}
    connection.close()
    assert len(domains) > 150
    # The world exercises every way a rule can match, so each branch was compared.
    assert {"exact", "digest", "wildcard", "candidate"} <= matches, matches
