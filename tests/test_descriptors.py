"""Open files: the crawl raises its soft limit and parks no more requests than fit under it."""

from __future__ import annotations

import subprocess
import sys

from crawler.fetch.descriptors import RESERVED, SPARE, parked_room
from crawler.fetch.settings import PARKED_PER_SLOT, FetchSettings, connection_limit


def test_parked_requests_fit_under_the_open_file_limit():
    assert parked_room(512, 1536, 20_000) == 1536  # room for all
    # 1,024 files: 64 reserved, 8 spare, 512 in flight leave 440 for parked requests.
    assert parked_room(512, 1536, 1024) == 1024 - RESERVED - SPARE - 512 == 440
    assert parked_room(512, 1536, 500) == 0  # not even the bound fits: nothing is parked


def test_three_parked_requests_per_slot_by_default_and_none_without_parking():
    settings = FetchSettings(user_agent="t", concurrency=100)
    assert settings.parked_wanted == PARKED_PER_SLOT * 100 == 300
    assert connection_limit(100, 300) == 408
    assert FetchSettings(user_agent="t", concurrency=100, park_after=None).parked_wanted == 0
    assert FetchSettings(user_agent="t", concurrency=100, max_parked=7).parked_wanted == 7


def _in_child(code: str) -> str:
    """Run `code` in a fresh interpreter (limits are per process) and return its stdout."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.strip()


def test_a_low_soft_limit_is_raised_up_to_the_hard_one():
    out = _in_child(
        "import resource\n"
        "from crawler.fetch.descriptors import raise_open_file_limit\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, 900))\n"
        "print(raise_open_file_limit(600), raise_open_file_limit(5000),"
        " resource.getrlimit(resource.RLIMIT_NOFILE)[0], raise_open_file_limit(100))\n"
    )
    # Raised to what was wanted, then capped by the hard limit, and never lowered.
    assert out == "600 900 900 900"


def test_a_fetcher_under_a_low_hard_limit_parks_fewer_requests():
    out = _in_child(
        "import asyncio, resource\n"
        "from crawler.fetch.client import Fetcher\n"
        "from crawler.fetch.settings import FetchSettings\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, 700))\n"
        "async def main():\n"
        "    async with Fetcher(FetchSettings(user_agent='t', concurrency=100)) as f:\n"
        "        print(f.parked_limit, f._session.connector.limit)\n"
        "asyncio.run(main())\n"
    )
    # 700 files: 64 reserved, 8 spare, 100 in flight leave 528 of the 300 wanted: all fit.
    # At 400 files only 228 would; checked by the pure rule above.
    assert out == "300 408"
    out = _in_child(
        "import asyncio, resource\n"
        "from crawler.fetch.client import Fetcher\n"
        "from crawler.fetch.settings import FetchSettings\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, 400))\n"
        "async def main():\n"
        "    async with Fetcher(FetchSettings(user_agent='t', concurrency=100)) as f:\n"
        "        print(f.parked_limit, f._session.connector.limit)\n"
        "asyncio.run(main())\n"
    )
    assert out == f"{400 - RESERVED - SPARE - 100} {400 - RESERVED}"
