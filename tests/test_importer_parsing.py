"""Shared block lists in Mastodon's CSV format (crawler/importer.py `parse_blocklist`).

The traps reproduce real files in reference/data/oliphant-*/ (see its SOURCES.md): only the shape
is copied, with a handful of made-up or well-known rows, never the lists themselves.
"""

from __future__ import annotations

import pytest

from crawler.importer import BlocklistImportError, parse_blocklist

HEADER = "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\n"


def by_pattern(text: str) -> dict:
    return {rule.pattern: rule for rule in parse_blocklist(text).rules}


def test_mastodon_export_header_with_hash():
    # Every oliphant-2023-08-29/*.csv: `#domain,#severity,...` (Mastodon 4.1+ export).
    result = parse_blocklist(
        HEADER
        + "spam-site.social,suspend,false,false,,false\n"
        + "troll-farm.club,silence,false,false,,false\n"
    )
    assert (result.rows, result.skipped) == (2, 0)
    first, second = result.rules
    assert (first.pattern, first.blocked, first.kind, first.severity) == (
        "spam-site.social",
        "spam-site.social",
        "clear",
        "suspend",
    )
    assert (first.reject_media, first.reject_reports, first.obfuscate, first.reason) == (
        False,
        False,
        False,
        None,
    )
    assert second.severity == "silence"


def test_header_without_hash_and_capitalised_booleans():
    # oliphant-2026-04-15/missing-tier0-mastodon.social.csv: header `domain,severity,...`,
    # booleans `False`, CRLF line ends.
    text = (
        "domain,severity,reject_media,reject_reports,public_comment,obfuscate\r\n"
        "spam-site.social,suspend,False,False,,False\r\n"
        "troll-farm.club,silence,True,False,,True\r\n"
    )
    rules = by_pattern(text)
    assert set(rules) == {"spam-site.social", "troll-farm.club"}
    assert rules["spam-site.social"].reject_media is False
    assert (rules["troll-farm.club"].reject_media, rules["troll-farm.club"].obfuscate) == (
        True,
        True,
    )


@pytest.mark.parametrize(
    ("word", "value"),
    [
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("false", False),
        ("False", False),
        ("", False),
    ],
)
def test_boolean_spellings(word, value):
    # lowercase (oliphant), `False` (missing-tier0), `TRUE`/`FALSE` (Sharkey/Akkoma export tools),
    # empty (seirdy-tier0.csv's `#reject_media` column).
    rule = parse_blocklist(HEADER + f"spam-site.social,suspend,{word},false,,false\n").rules[0]
    assert rule.reject_media is value


def test_sentinel_row_with_a_sentence_in_a_boolean_column_is_skipped():
    # oliphant-2026-04-15/seirdy-tier0.csv: first row
    # `000delete.this.line...seirdy.one,suspend,delete this line if you have read...,false,...`.
    text = (
        HEADER
        + "000delete.this.line.if.you.have.read.the.docs.example.one,suspend,"
        + "delete this line if you have read and understood the documentation,false,false,false\n"
        + "spam-site.social,suspend,,false,false,false\n"
    )
    result = parse_blocklist(text)
    assert [rule.pattern for rule in result.rules] == ["spam-site.social"]
    assert result.skipped_by_reason == {"not_a_boolean": 1}


def test_canary_invalid_names_are_skipped():
    # oliphant-2026-04-15/dni.csv and iftas-aud.csv: `dni.invalid` / `aud.invalid`,
    # `iftas:canary` comment.
    text = (
        HEADER
        + "spam-site.social,suspend,false,false,iftas:spam,true\n"
        + "dni.invalid,suspend,false,false,iftas:canary,true\n"
    )
    result = parse_blocklist(text)
    assert [rule.pattern for rule in result.rules] == ["spam-site.social"]
    assert result.skipped_by_reason == {"reserved_name": 1}


def test_missing_final_newline():
    # oliphant-2026-04-15/dni.csv and iftas-aud.csv end without a newline.
    text = (
        HEADER
        + "spam-site.social,suspend,false,false,,false\ntroll-farm.club,suspend,false,false,x,true"
    )
    rules = by_pattern(text)
    assert set(rules) == {"spam-site.social", "troll-farm.club"}
    assert (rules["troll-farm.club"].reason, rules["troll-farm.club"].obfuscate) == ("x", True)


def test_crlf_line_ends():
    # oliphant-2023-08-29/domain_audit_file.csv and missing-tier0 use CRLF.
    text = HEADER.replace("\n", "\r\n") + "spam-site.social,silence,false,false,,false\r\n"
    (rule,) = parse_blocklist(text).rules
    assert (rule.pattern, rule.severity, rule.obfuscate) == ("spam-site.social", "silence", False)


def test_old_mac_cr_line_ends():
    text = HEADER.replace("\n", "\r") + "spam-site.social,silence,false,false,,false\r"
    assert [rule.pattern for rule in parse_blocklist(text).rules] == ["spam-site.social"]


def test_utf8_bom_before_the_header():
    # Spreadsheet exports start with a BOM; `\ufeff#domain` must still be the domain column.
    text = "\ufeff" + HEADER + "spam-site.social,suspend,false,false,,false\n"
    assert [rule.pattern for rule in parse_blocklist(text).rules] == ["spam-site.social"]


def test_duplicate_rows_are_counted_once():
    # oliphant-2023-08-29/birdsite.csv repeats 35 domains (e.g. on lines 3 and 192).
    text = (
        HEADER
        + "spam-site.social,suspend,false,false,bot,false\n"
        + "troll-farm.club,suspend,false,false,bot,false\n"
        + "spam-site.social,suspend,false,false,bot,false\n"
        + "SPAM-SITE.Social.,silence,false,false,,false\n"
    )
    result = parse_blocklist(text)
    assert [rule.pattern for rule in result.rules] == ["spam-site.social", "troll-farm.club"]
    assert result.rules[0].severity == "suspend"  # the first row wins
    assert (result.rows, result.skipped) == (2, 2)
    assert result.skipped_by_reason == {"duplicate": 2}


def test_masked_and_wildcard_names():
    # oliphant lists: `kissl*lis.com`-style masks, `daji******.com` (Mastodon), and
    # `*.10minutepleroma.com` (rage.love.csv, solarpunk.moe.csv).
    text = (
        HEADER
        + "daji******.com,suspend,false,false,,true\n"
        + "kissl*lis.com,silence,false,false,,false\n"
        + "*.10minutepleroma.com,suspend,false,false,,false\n"
    )
    rules = by_pattern(text)
    assert (rules["daji******.com"].kind, rules["daji******.com"].blocked) == ("masked", None)
    assert rules["daji******.com"].obfuscate is True
    assert rules["kissl*lis.com"].kind == "masked"
    assert (rules["*.10minutepleroma.com"].kind, rules["*.10minutepleroma.com"].blocked) == (
        "wildcard",
        None,
    )


def test_tld_rules():
    # indiepocalypse.social.csv / rage.love.csv: `.cf`, `.tk`; _unified_tier3: bare `cf`.
    text = (
        HEADER
        + ".cf,silence,false,false,,false\n"
        + ".tk,silence,false,false,,false\n"
        + "cf,suspend,false,false,,false\n"
    )
    rules = by_pattern(text)
    assert {pattern: rule.kind for pattern, rule in rules.items()} == {
        ".cf": "suffix",
        ".tk": "suffix",
        "cf": "suffix",
    }


def test_single_label_that_is_not_a_suffix_is_skipped():
    # oliphant lists contain bare `misskey-forkbomb` and `shotatube`.
    result = parse_blocklist(HEADER + "misskey-forkbomb,suspend,false,false,,false\n")
    assert result.rules == []
    assert result.skipped_by_reason == {"not_a_domain": 1}


def test_noop_with_reject_media():
    # Mastodon `noop` rows carry only reject_media / reject_reports (never
    # listed by the API, but present in export files).
    text = (
        HEADER
        + "media.spam-site.social,noop,true,false,,false\n"
        + "reports.spam-site.social,noop,false,true,,false\n"
        + "nothing.spam-site.social,noop,false,false,,false\n"
    )
    rules = by_pattern(text)
    assert (
        rules["media.spam-site.social"].severity,
        rules["media.spam-site.social"].severity_raw,
    ) == (
        "reject_media",
        "noop",
    )
    assert rules["media.spam-site.social"].reject_media is True
    assert rules["reports.spam-site.social"].severity == "reject_reports"
    assert rules["nothing.spam-site.social"].severity == "other"


def test_suspend_with_reject_media_stays_suspend():
    (rule,) = parse_blocklist(HEADER + "spam-site.social,suspend,true,true,,false\n").rules
    assert (rule.severity, rule.reject_media, rule.reject_reports) == ("suspend", True, True)


def test_quoted_comment_with_commas():
    # oliphant-2026-04-15/gardenfence.csv: `"anti-lgbtq, harassment, hate-speech, racism, spam"`.
    text = HEADER + 'spam-site.social,suspend,false,false,"harassment, hate-speech, spam",false\n'
    (rule,) = parse_blocklist(text).rules
    assert rule.reason == "harassment, hate-speech, spam"
    assert rule.obfuscate is False


def test_iftas_comment_with_semicolons():
    # oliphant-2026-04-15/dni.csv: `iftas:hate-speech;online-harassment`.
    text = (
        HEADER + "spam-site.social,suspend,false,false,iftas:hate-speech;online-harassment,true\n"
    )
    (rule,) = parse_blocklist(text).rules
    assert rule.reason == "iftas:hate-speech;online-harassment"


def test_domain_only_file_is_all_suspensions():
    # importer.py docstring: "A file with only a domain column is read as Mastodon's importer
    # reads it: every row a suspension."
    result = parse_blocklist("#domain\nspam-site.social\ntroll-farm.club\n")
    assert [(rule.pattern, rule.severity) for rule in result.rules] == [
        ("spam-site.social", "suspend"),
        ("troll-farm.club", "suspend"),
    ]


def test_headerless_domain_list_is_read_like_mastodon():
    # mastodon/mastodon app/models/admin/import.rb `csv_data`: `CSV.open(..., headers:
    # ['#domain'], ...) unless @csv_data.headers&.first == '#domain'`.
    result = parse_blocklist("spam-site.social\ntroll-farm.club\n")
    assert [rule.pattern for rule in result.rules] == ["spam-site.social", "troll-farm.club"]


def test_columns_in_another_order():
    text = "#severity,#domain\nsilence,spam-site.social\n"
    (rule,) = parse_blocklist(text).rules
    assert (rule.pattern, rule.severity) == ("spam-site.social", "silence")


def test_header_cells_with_spaces():
    text = " #domain , #severity \nspam-site.social,silence\n"
    (rule,) = parse_blocklist(text).rules
    assert (rule.pattern, rule.severity) == ("spam-site.social", "silence")


def test_short_rows_use_defaults():
    text = HEADER + "spam-site.social,silence\ntroll-farm.club\n"
    rules = by_pattern(text)
    assert rules["spam-site.social"].severity == "silence"
    assert rules["troll-farm.club"].severity == "suspend"
    assert rules["troll-farm.club"].reject_media is False


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        pytest.param("spam-site.social,limit,false,false,,false", "unknown_severity", id="limit"),
        pytest.param("spam-site.social,none,false,false,,false", "unknown_severity", id="none"),
        pytest.param(",suspend,false,false,,false", "empty_domain", id="empty_domain"),
        pytest.param(
            "https://spam-site.social/,suspend,false,false,,false", "not_a_domain", id="url"
        ),
        pytest.param("@kopiti.am,suspend,false,false,,false", "not_a_domain", id="handle"),
        pytest.param("10.0.0.1,suspend,false,false,,false", "not_a_domain", id="ip"),
    ],
)
def test_bad_rows_are_skipped_with_a_reason(row, reason):
    result = parse_blocklist(HEADER + row + "\n")
    assert result.rules == []
    assert result.skipped_by_reason == {reason: 1}


def test_uppercase_severity_and_domain():
    (rule,) = parse_blocklist(HEADER + "Spam-Site.SOCIAL,SUSPEND,FALSE,false,,false\n").rules
    assert (rule.pattern, rule.blocked, rule.severity) == (
        "spam-site.social",
        "spam-site.social",
        "suspend",
    )


def test_unicode_domain_is_stored_as_a_label():
    (rule,) = parse_blocklist(HEADER + "münchen.social,suspend,false,false,,false\n").rules
    assert rule.blocked == "xn--mnchen-3ya.social"


def test_sandbox_names_are_accepted_for_sandbox_lists():
    (rule,) = parse_blocklist(HEADER + "spam.test,suspend,false,false,,false\n").rules
    assert (rule.kind, rule.blocked) == ("clear", "spam.test")


def test_blank_lines_are_ignored():
    text = HEADER + "\nspam-site.social,suspend,false,false,,false\n\n,,,,,\n"
    result = parse_blocklist(text)
    assert [rule.pattern for rule in result.rules] == ["spam-site.social"]
    assert result.skipped == 0


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("\ufeff", id="bom_only"),
        pytest.param("foo,bar\nx,y\n", id="no_domain_column"),
    ],
)
def test_unreadable_files(text):
    with pytest.raises(BlocklistImportError):
        parse_blocklist(text)


def test_unbalanced_quote_does_not_swallow_later_rows():
    # Admin::Import rescues CSV::MalformedCSVError ("Unclosed quoted field") as an invalid file.
    text = (
        HEADER
        + 'spam-site.social,suspend,false,false,"unbalanced comment,false\n'
        + "troll-farm.club,suspend,false,false,,false\n"
    )
    with pytest.raises(BlocklistImportError, match="unbalanced quote"):
        parse_blocklist(text)
    # The same rows with the quote closed: the comment keeps its comma, no row is swallowed.
    closed = text.replace('"unbalanced comment,', '"balanced, comment",')
    assert [rule.pattern for rule in parse_blocklist(closed).rules] == [
        "spam-site.social",
        "troll-farm.club",
    ]


def test_oversized_field_is_an_import_error_not_a_crash():
    # cli.py promises bad input is "one line on stderr with exit status 2, never a traceback";
    # it catches only BlocklistImportError around import_blocklist.
    rows = "".join(f"host{i}.example,suspend,false,false,,false\n" for i in range(4000))
    text = HEADER + 'spam-site.social,suspend,false,false,"unbalanced,false\n' + rows
    assert len(text) > 131_072
    with pytest.raises(BlocklistImportError, match="field larger than field limit"):
        parse_blocklist(text)


def test_reserved_example_names_are_sentinels_not_rules():
    # oliphant-2023-08-29/tier0.csv: `000this.is.generated.from.overlap.across.trusted.sources.
    # example.com` with valid booleans; seirdy-tier0.csv: `canary.tier0.example.com`.
    result = parse_blocklist(
        HEADER
        + "000this.is.generated.from.overlap.example.com,suspend,false,false,,false\n"
        + "canary.tier0.example.com,suspend,false,false,,false\n"
        + "spam-site.social,suspend,false,false,,false\n"
    )
    assert [rule.pattern for rule in result.rules] == ["spam-site.social"]
    assert result.skipped_by_reason["reserved_name"] == 2
