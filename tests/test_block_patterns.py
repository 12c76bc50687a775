"""Block rules (crawler/blocks.py): severities, pattern kinds, obfuscation and digests.

Quirks come from the platforms' sources, real payloads / oliphant block lists; fixtures are inline.
"""

from __future__ import annotations

import hashlib

import pytest

from crawler.blocks import (
    NON_BLOCK_ACTIONS,
    classify_pattern,
    covers,
    digest_of,
    make_rule,
    mask_matches,
    normalise_severity,
    wildcard_base,
)
from crawler.domains import REAL_NETWORK, SANDBOX


def mastodon_public_domain(domain: str) -> str:
    """Mastodon's `DomainBlock#public_domain` obfuscation, re-implemented from Mastodon's source.

    `visible_ratio = length / 4` (integer division); a character at index `i` with
    `i > visible_ratio && i < length - visible_ratio && chr != '.'` becomes `*`.
    """
    length = len(domain)
    visible = length // 4
    return "".join(
        "*" if visible < i < length - visible and char != "." else char
        for i, char in enumerate(domain)
    )


# --- Mastodon obfuscation and digest -------------------------------------

DAJIAWEIBO_DIGEST = "3752f63a7079d60c2de5dceb8bd7608e86a15544eb78a494a482041c3684b37f"


def test_reimplemented_mastodon_obfuscation_matches_the_docs_example():
    # payloads/mastodon-api_v1_instance_domain_blocks_obfuscated.json: `daji******.com`.
    assert mastodon_public_domain("dajiaweibo.com") == "daji******.com"


def test_mask_matches_accepts_the_real_domain_of_a_mastodon_mask():
    assert mask_matches("daji******.com", "dajiaweibo.com")


def test_digest_of_equals_the_documented_mastodon_digest():
    # sha256("dajiaweibo.com") equals the docs example digest (verified).
    assert digest_of("dajiaweibo.com") == DAJIAWEIBO_DIGEST


@pytest.mark.parametrize(
    ("domain", "digest"),
    [
        ("birb.elfenban.de", "5d2c6e02a0cced8fb05f32626437e3d23096480b47efbba659b6d9e80c85d280"),
        (
            "birdbots.leptonics.com",
            "ce019d8d32cce8e369ac4367f4dc232103e6f489fbdd247fb99f9c8a646078a4",
        ),
    ],
)
def test_digest_of_equals_published_digests_of_clear_blocks(domain, digest):
    # payloads/mastodon-api_v1_instance_domain_blocks.json (mastodon.social docs example).
    assert digest_of(domain) == digest


def test_digest_of_an_a_label_is_the_digest_of_its_ascii_form():
    # Mastodon digests the normalised (punycode) domain.
    name = "xn--mnchen-3ya.social"
    assert digest_of(name) == hashlib.sha256(name.encode("ascii")).hexdigest()


@pytest.mark.parametrize(
    "domain",
    [
        "dajiaweibo.com",
        "ap.xyz.st",
        "remote.instance",
        "a.b.c.example.co.uk",
        "xn--mnchen-3ya.social",
        "x.io",
        "abcdefghijklmnopqrstuvwxyz.example",
    ],
)
def test_every_mastodon_mask_matches_its_own_domain(domain):
    # The property the matcher relies on: same length, dots kept.
    assert mask_matches(mastodon_public_domain(domain), domain)


def test_mastodon_mask_with_fully_hidden_label():
    # oliphant block lists contain `ap.***.st`: the middle label entirely hidden.
    assert mastodon_public_domain("ap.xyz.st") == "ap.***.st"
    assert mask_matches("ap.***.st", "ap.xyz.st")


@pytest.mark.parametrize(
    ("pattern", "domain"),
    [
        pytest.param("daji******.com", "dajiaweibo.co", id="shorter"),
        pytest.param("daji******.com", "dajiaweibo.comm", id="longer"),
        pytest.param("daji******.com", "daji.weibo.com", id="star_over_dot"),
        pytest.param("daji******.com", "dajiaweibo.net", id="visible_letters_differ"),
        pytest.param("daji******.com", "xajiaweibo.com", id="first_letter_differs"),
    ],
)
def test_mask_matches_rejects_impossible_candidates(pattern, domain):
    assert not mask_matches(pattern, domain)


def test_mask_matches_ignores_the_case_of_the_pattern():
    assert mask_matches("DAJI******.COM", "dajiaweibo.com")


# --- Pleroma / Akkoma / Friendica obfuscation ----------------------


def test_pleroma_obfuscation_remote_instance():
    # Akkoma simple_policy_test.exs: `remote.instance` -> `rem***.*****nce`.
    assert mask_matches("rem***.*****nce", "remote.instance")
    assert not mask_matches("rem***.*****nce", "remote.instances")


def test_pleroma_obfuscation_short_name():
    # `a.b` -> `*.b`.
    assert mask_matches("*.b", "a.b")


def test_question_mark_mask_friendica():
    # Friendica entries may be obfuscated with `*` or `?`.
    assert mask_matches("exa?ple.com", "example.com")
    assert classify_pattern(REAL_NETWORK, "exa?ple.com") == ("masked", None)


@pytest.mark.parametrize(
    "pattern", ["daji******.com", "rem***.*****nce", "kissl*lis.com", "ap.***.st"]
)
def test_obfuscated_patterns_are_masked(pattern):
    # `kissl*lis.com` is the example in reference/data/SOURCES.md (oliphant lists).
    assert classify_pattern(REAL_NETWORK, pattern) == ("masked", None)


# --- wildcards and suffix rules (oliphant `.cf`, `cf`) ---------------


def test_wildcard_rule_10minutepleroma():
    # payloads/akkoma-nodeinfo_2.0_mrf_simple_info_openRegistrations_string.json: `reject`
    # holds `*.10minutepleroma.com`, a rule for subdomains, not obfuscation.
    assert classify_pattern(REAL_NETWORK, "*.10minutepleroma.com") == ("wildcard", None)
    assert wildcard_base("*.10minutepleroma.com") == "10minutepleroma.com"


def test_wildcard_rule_with_trailing_dot():
    assert classify_pattern(REAL_NETWORK, "*.10minutepleroma.com.") == ("wildcard", None)
    assert wildcard_base("*.10minutepleroma.com.") == "10minutepleroma.com"


def test_wildcard_of_a_sandbox_name_only_in_the_sandbox():
    assert classify_pattern(SANDBOX, "*.spam.test") == ("wildcard", None)
    assert classify_pattern(REAL_NETWORK, "*.spam.test")[0] != "wildcard"


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param("ngrok.io", id="ngrok_io_fba_blacklist"),
        pytest.param("*.ngrok.io", id="wildcard_ngrok_io"),
        pytest.param(".cf", id="dot_cf_oliphant"),
        pytest.param("cf", id="bare_cf_oliphant"),
        pytest.param("*.cf", id="wildcard_cf"),
        pytest.param(".tk", id="dot_tk_oliphant"),
        pytest.param("duckdns.org", id="duckdns"),
        pytest.param("co.uk", id="co_uk"),
    ],
)
def test_public_suffix_rules_are_suffix_kind(pattern):
    # `.cf`, `.tk` and bare `cf` are first rows of real oliphant CSVs (indiepocalypse.social,
    # rage.love, _unified_tier3); `ngrok.io` is in FBA's blacklist.
    assert classify_pattern(REAL_NETWORK, pattern) == ("suffix", None)


@pytest.mark.parametrize(
    ("pattern", "base"),
    [(".cf", "cf"), ("cf", "cf"), ("*.ngrok.io", "ngrok.io"), ("*", None), ("*.", None)],
)
def test_wildcard_base(pattern, base):
    assert wildcard_base(pattern) == base


def test_covers_subdomains_not_lookalikes():
    # Mastodon and GoToSocial blocks cover subdomains (blocks.py docstring).
    assert covers("example.com", "sub.example.com")
    assert covers("example.com", "a.b.example.com")
    assert not covers("example.com", "example.com")
    assert not covers("example.com", "notexample.com")


# --- clear and invalid patterns ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "blocked"),
    [
        ("example.com", "example.com"),
        ("EXAMPLE.com", "example.com"),
        ("example.com.", "example.com"),
        ("münchen.social", "xn--mnchen-3ya.social"),
        ("xn--p1abe3d.xn--80asehdb", "xn--p1abe3d.xn--80asehdb"),
    ],
)
def test_clear_patterns_give_the_normalised_domain(pattern, blocked):
    # `xn--p1abe3d.xn--80asehdb` is a real oliphant entry (Cyrillic TLD).
    assert classify_pattern(REAL_NETWORK, pattern) == ("clear", blocked)


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param("dni.invalid", id="iftas_canary"),
        pytest.param("misskey-forkbomb", id="oliphant_single_label"),
        pytest.param("10.0.0.1", id="ip"),
        pytest.param("https://example.com", id="url"),
        pytest.param("", id="empty"),
    ],
)
def test_invalid_patterns(pattern):
    # `dni.invalid` / `aud.invalid` are IFTAS canary rows (oliphant-2026-04-15/dni.csv).
    assert classify_pattern(REAL_NETWORK, pattern) == ("invalid", None)


# --- severities ----------------------------------------


def test_misskey_suspended_is_not_a_block():
    # Misskey `isSuspended` = delivery stopped; FBA's suspended -> followers_only
    # was "a misreading".
    assert normalise_severity("misskey", "suspended") == "other"


def test_gotosocial_suspended_is_a_block():
    # GoToSocial `suspended_at` marks a domain block.
    assert normalise_severity("gotosocial", "suspended") == "suspend"


def test_suspended_of_an_unknown_platform_is_not_guessed():
    assert normalise_severity(None, "suspended") == "other"
    assert normalise_severity("mastodon", "suspended") == "other"


@pytest.mark.parametrize(
    ("word", "severity"),
    [
        ("suspend", "suspend"),
        ("silence", "silence"),
        ("limit", "silence"),
        ("noop", "other"),
        (" Suspend ", "suspend"),
        ("SILENCE", "silence"),
        ("gibberish", "other"),
    ],
)
def test_mastodon_severities(word, severity):
    # `silence`/`suspend` (and `limit` as the 4.x UI word).
    assert normalise_severity("mastodon", word) == severity


@pytest.mark.parametrize(
    ("action", "severity"),
    [
        ("reject", "suspend"),
        ("followers_only", "silence"),
        ("federated_timeline_removal", "silence"),
        ("media_removal", "reject_media"),
        ("report_removal", "reject_reports"),
        ("media_nsfw", "other"),
        ("avatar_removal", "other"),
        ("banner_removal", "other"),
        ("background_removal", "other"),
        ("reject_deletes", "other"),
        ("quarantine", "quarantine"),
    ],
)
def test_pleroma_mrf_simple_actions(action, severity):
    # the `mrf_simple` actions; FBA mapping reject ~ suspend,
    # followers_only / federated_timeline_removal ~ silence, media_removal ~ reject media.
    assert normalise_severity("pleroma", action) == severity


def test_pleroma_accept_is_not_a_restriction():
    # `accept` is an allow-list key of mrf_simple.
    assert "accept" in NON_BLOCK_ACTIONS


@pytest.mark.parametrize(
    ("family", "word", "severity"),
    [
        ("misskey", "blocked", "suspend"),
        ("misskey", "silenced", "silence"),
        ("lemmy", "blocked", "suspend"),
    ],
)
def test_misskey_and_lemmy_words(family, word, severity):
    # Misskey isBlocked / isSilenced and Lemmy `blocked`.
    assert normalise_severity(family, word) == severity


# --- make_rule ----------------------------------------------------------------------------------


def test_make_rule_obfuscated_mastodon_block():
    # payloads/mastodon-api_v1_instance_domain_blocks_obfuscated.json; digests may arrive in
    # upper case from other tools.
    rule = make_rule(
        REAL_NETWORK,
        "mastodon",
        " daji******.com ",
        "suspend",
        "  Inappropriate content ",
        DAJIAWEIBO_DIGEST.upper(),
    )
    assert rule is not None
    assert (rule.pattern, rule.kind, rule.blocked) == ("daji******.com", "masked", None)
    assert (rule.severity, rule.severity_raw) == ("suspend", "suspend")
    assert rule.digest == DAJIAWEIBO_DIGEST
    assert rule.reason == "Inappropriate content"


def test_make_rule_clear_block_keeps_the_published_text():
    rule = make_rule(REAL_NETWORK, "mastodon", "Birb.Elfenban.de", "suspend")
    assert rule is not None
    assert (rule.pattern, rule.blocked, rule.kind) == (
        "Birb.Elfenban.de",
        "birb.elfenban.de",
        "clear",
    )


def test_make_rule_gotosocial_vs_misskey_suspended():
    gts = make_rule(REAL_NETWORK, "gotosocial", "replyguys.com", "suspended")
    misskey = make_rule(REAL_NETWORK, "misskey", "replyguys.com", "suspended")
    assert gts is not None and misskey is not None
    assert (gts.severity, misskey.severity) == ("suspend", "other")
    assert gts.severity_raw == misskey.severity_raw == "suspended"


@pytest.mark.parametrize("pattern", [None, 5, "", "   ", ["x.com"]])
def test_make_rule_without_a_string_pattern(pattern):
    assert make_rule(REAL_NETWORK, "mastodon", pattern, "suspend") is None


@pytest.mark.parametrize("reason", [None, "", "   ", 5, {"reason": "x"}])
def test_make_rule_empty_or_non_string_reason(reason):
    rule = make_rule(REAL_NETWORK, "mastodon", "x.com", "suspend", reason)
    assert rule is not None and rule.reason is None


@pytest.mark.parametrize(
    "digest",
    [
        pytest.param("zz" * 32, id="not_hex"),
        pytest.param("ab" * 31, id="too_short"),
        pytest.param("ab" * 33, id="too_long"),
        pytest.param(12345, id="number"),
    ],
)
def test_make_rule_drops_malformed_digests(digest):
    rule = make_rule(REAL_NETWORK, "mastodon", "x.com", "suspend", None, digest)
    assert rule is not None and rule.digest is None


@pytest.mark.parametrize(
    "digest",
    [
        pytest.param("0x" + "0" * 62, id="0x_prefix"),
        pytest.param("-" + "0" * 63, id="minus_sign"),
        pytest.param(" " + "0" * 62 + " ", id="spaces"),
        pytest.param("0_" + "0" * 62, id="underscore"),
    ],
)
def test_make_rule_drops_digests_that_are_not_64_hex_digits(digest):
    # the digest is `Digest::SHA256.hexdigest(domain)`, 64 hex digits.
    rule = make_rule(REAL_NETWORK, "mastodon", "x.com", "suspend", None, digest)
    assert rule is not None and rule.digest is None


def test_make_rule_truncates_huge_patterns_and_reasons():
    rule = make_rule(REAL_NETWORK, "mastodon", "a" * 5000, "suspend", "r" * 10_000)
    assert rule is not None
    assert len(rule.pattern) == 300 and rule.kind == "invalid"
    assert rule.reason is not None and len(rule.reason) == 2000


@pytest.mark.parametrize("pattern", ["co.uk.", "*.co.uk.", "duckdns.org."])
def test_a_public_suffix_with_the_trailing_dot_of_a_full_name_is_a_suffix_rule(pattern):
    # A fully qualified name ends with a dot; the suffix it names is the same.
    assert classify_pattern(REAL_NETWORK, pattern) == ("suffix", None)
