"""Lenient value readers (crawler/lenient.py) and opt-out hashtags in descriptions.

Split from test_nodeinfo_parsing.py, which covers discovery documents and NodeInfo parsing.
"""

from __future__ import annotations

import pytest

from crawler.lenient import check_consistency, read_bool, read_count
from crawler.nodeinfo import opt_out_tag

# =============================================================================================
# Lenient readers directly (crawler/lenient.py)
# =============================================================================================


def test_read_count_none_is_silent():
    flags: set[str] = set()
    assert read_count(None, flags) is None
    assert flags == set()


def test_read_count_limit_is_inclusive():
    flags: set[str] = set()
    assert read_count(1_000_000_000, flags) == 1_000_000_000
    assert read_count(1_000_000_001, flags) is None
    assert flags == {"absurd_count"}


@pytest.mark.parametrize(
    ("value", "expected", "flags"),
    [
        (True, True, set()),
        (False, False, set()),
        ("FALSE", False, {"bool_from_string"}),
        (" True ", True, {"bool_from_string"}),
        ("yes", None, {"bool_wrong_type"}),
        (1, None, {"bool_wrong_type"}),
        (None, None, set()),
    ],
)
def test_read_bool(value, expected, flags):
    got: set[str] = set()
    assert read_bool(value, got) is expected
    assert got == flags


def test_check_consistency_without_total_leaves_counts_alone():
    counts = {"users_total": None, "users_active_month": 10}
    flags: set[str] = set()
    check_consistency(counts, flags)
    assert counts == {"users_total": None, "users_active_month": 10}
    assert flags == set()


def test_check_consistency_active_equal_to_total_is_fine():
    counts = {"users_total": 10, "users_active_month": 10, "users_active_halfyear": 10}
    flags: set[str] = set()
    check_consistency(counts, flags)
    assert counts["users_active_month"] == 10
    assert flags == set()


# =============================================================================================
# Opt-out hashtags
# =============================================================================================


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("#nobot", "nobot"),
        ("#NoBot please", "nobot"),
        ("Research crawlers: #NoIndex", "noindex"),
        ("#NOINDEX!", "noindex"),
        ("A server. (#nobot)", "nobot"),
        ("<p>Hi</p><p>#nobot</p>", "nobot"),
        ("line one\n#noindex", "noindex"),
        ("#nobot-friendly", "nobot"),  # a hyphen ends a hashtag
    ],
)
def test_opt_out_hashtags_are_found(text, tag):
    # `#nobot` / `#noindex` in nodeDescription / instance.description,
    # case-insensitive.
    assert opt_out_tag(text) == tag


@pytest.mark.parametrize(
    "text",
    [
        "#nobots",
        "#nobotanything",
        "#nobot_please",  # underscores belong to the hashtag
        "nobot",
        "noindex",
        "no #bots here",
        "foo#nobot",
        "##nobot",
        "",
        None,
    ],
)
def test_non_opt_out_texts(text):
    assert opt_out_tag(text) is None
