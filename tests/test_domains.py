"""Host-name validation (crawler/domains.py) against the junk that real peer lists carry.

Every case reproduces a shape seen in the wild; the comment names where (the platform,
payload or reference implementation). Fixtures are written inline: nothing here reads a file.
"""

from __future__ import annotations

import pytest

from crawler.domains import (
    REAL_NETWORK,
    SANDBOX,
    InvalidDomain,
    display_name,
    policy_for,
)


def reason_of(raw: object, policy=REAL_NETWORK) -> str | None:
    domain, reason = policy.check(raw)
    assert (domain is None) != (reason is None), "check() returns exactly one of the two"
    return reason


# --- IP literals ("reject IPv4/IPv6 literals"; Minoru `src/domain.rs`) ------


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("10.0.0.1", id="ipv4_private"),
        pytest.param("8.8.8.8", id="ipv4_public"),
        pytest.param("1.2.3.4.", id="ipv4_trailing_dot"),
        pytest.param("127.1", id="ipv4_short_form"),
        pytest.param("0177.0.0.1", id="ipv4_octal_looking"),
        pytest.param("2001:db8::1", id="ipv6"),
        pytest.param("::1", id="ipv6_loopback"),
        pytest.param("[2001:db8::1]", id="ipv6_bracketed"),
        pytest.param("[::1]", id="ipv6_bracketed_loopback"),
        pytest.param("::ffff:10.0.0.1", id="ipv4_mapped_ipv6"),
        pytest.param("fe80::1%eth0", id="ipv6_with_zone"),
    ],
)
def test_ip_literals_are_rejected(raw):
    assert reason_of(raw) == "ip_literal"


def test_all_numeric_last_label_counts_as_ip_literal():
    # `foo.123` can never be a DNS name under the PSL and is how short IPv4 forms look.
    assert reason_of("foo.123") == "ip_literal"


# --- host:port, URLs, user handles (FBA `tidyup`, FediDB junk) -----


def test_host_with_port_from_fedidb_list_is_rejected():
    # payloads/fedidb-host_list_odd_entries.json: `peertube.cpy.re:443`;
    # Mastodon account domains can carry a port (§2.1).
    assert reason_of("peertube.cpy.re:443") == "port"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("https://mastodon.social/", id="https_url"),
        pytest.param("http://mastodon.social", id="http_url"),
        pytest.param("mastodon.social/", id="trailing_slash"),
        pytest.param("mastodon.social/about", id="with_path"),
    ],
)
def test_urls_are_rejected(raw):
    # FBA `tidyup` strips schemes and slashes; this gate refuses them instead.
    assert reason_of(raw) == "url"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("@kopiti.am", id="leading_at_fedidb"),
        pytest.param("@user@mastodon.social", id="full_handle"),
        pytest.param("user@mastodon.social", id="user_at_host"),
    ],
)
def test_user_handles_are_rejected(raw):
    # `@kopiti.am` is in the FediDB host list; FBA strips `user@`.
    assert reason_of(raw) == "userinfo"


@pytest.mark.parametrize("raw", ["*.example.com", "exa*ple.com", "exa?ple.com"])
def test_wildcards_and_masks_are_not_hosts(raw):
    # Block lists carry `*.10minutepleroma.com` and masked `daji******.com` (
    # §3.1); neither may ever become a crawl target.
    assert reason_of(raw) == "wildcard"


def test_percent_encoding_is_rejected():
    assert reason_of("ex%41mple.com") == "bad_character"


# --- lengths (RFC 1035: label <= 63, name <= 253 without the root dot) ------------------------


def test_300_char_label_is_rejected():
    assert reason_of("a" * 300 + ".com") == "too_long"


def test_64_char_label_is_rejected():
    assert reason_of("a" * 64 + ".com") == "label_too_long"


def test_63_char_label_is_accepted():
    name = "a" * 63 + ".com"
    assert REAL_NETWORK.check(name) == (name, None)


NAME_253 = ".".join(["a" * 63] * 3 + ["a" * 57]) + ".com"
NAME_254 = ".".join(["a" * 63] * 3 + ["a" * 58]) + ".com"


def test_253_char_name_is_accepted():
    assert len(NAME_253) == 253
    assert REAL_NETWORK.check(NAME_253) == (NAME_253, None)


def test_253_char_name_with_trailing_root_dot_is_accepted():
    assert REAL_NETWORK.check(NAME_253 + ".") == (NAME_253, None)


def test_254_char_name_is_rejected():
    assert len(NAME_254) == 254
    assert reason_of(NAME_254) == "too_long"


# --- canonical form (lowercase, A-label, no trailing dot) ------------------


def test_trailing_dot_is_removed():
    assert REAL_NETWORK.normalise("mastodon.social.") == "mastodon.social"


def test_uppercase_is_lowered():
    # Mastodon lowercases with `normalized_host` (`TagManager#normalize_domain`).
    assert REAL_NETWORK.normalise("MASTODON.Social") == "mastodon.social"


def test_surrounding_whitespace_is_stripped():
    assert REAL_NETWORK.normalise("  mastodon.social\n") == "mastodon.social"


def test_unicode_name_becomes_a_label():
    # "IDN: store punycode (A-label) as the canonical key".
    assert REAL_NETWORK.normalise("münchen.social") == "xn--mnchen-3ya.social"
    assert REAL_NETWORK.normalise("MÜNCHEN.social") == "xn--mnchen-3ya.social"


def test_existing_a_label_is_kept_and_lowered():
    assert REAL_NETWORK.normalise("XN--MNCHEN-3YA.social") == "xn--mnchen-3ya.social"


def test_a_label_has_a_unicode_display_form():
    assert display_name("xn--mnchen-3ya.social") == "münchen.social"
    assert display_name("mastodon.social") == "mastodon.social"


def test_punycode_tld_from_fedidb_list_is_accepted():
    # payloads/fedidb-host_list_odd_entries.json: `mastodon.xn--q9jyb4c`.
    assert REAL_NETWORK.normalise("mastodon.xn--q9jyb4c") == "mastodon.xn--q9jyb4c"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("xn--ls8h.la", id="pile_of_poo_la"),
        pytest.param("xn--i-7iq.ws", id="i_heart_ws"),
    ],
)
def test_emoji_punycode_labels_are_accepted(raw):
    # Registered emoji domains predate IDNA 2008 (domains.py comment); an A-label only has to
    # be valid punycode.
    assert REAL_NETWORK.normalise(raw) == raw


def test_emoji_a_label_falls_back_to_itself_for_display():
    assert display_name("xn--ls8h.la") == "xn--ls8h.la"


def test_emoji_u_label_maps_to_the_accepted_a_label():
    # Mastodon (Addressable `normalized_host`) and Misskey (`toPuny`) turn `💩.la` into
    # `xn--ls8h.la` (IDN); domains.py accepts that A-label as a real host.
    assert REAL_NETWORK.check("💩.la") == ("xn--ls8h.la", None)


def test_invalid_punycode_label_is_rejected():
    assert reason_of("xn--zz.com") == "idna"


# --- labels -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param("mastodon..social", "empty_label", id="double_dot"),
        pytest.param(".mastodon.social", "empty_label", id="leading_dot"),
        pytest.param("-bad.com", "bad_label", id="leading_hyphen"),
        pytest.param("bad-.com", "bad_label", id="trailing_hyphen"),
        pytest.param("a_b.com", "bad_label", id="underscore"),
        pytest.param("example.com\x00", "bad_label", id="nul_byte"),
        pytest.param("", "empty", id="empty"),
        pytest.param("   ", "empty", id="blank"),
    ],
)
def test_malformed_labels_are_rejected(raw, reason):
    assert reason_of(raw) == reason


# --- suffixes (PSL; `.onion` on the PSL; `.i2p` and OpenNIC fail) ----------


def test_onion_is_on_the_psl_and_passes_the_name_gate():
    # Minoru `src/domain.rs`: "`.onion` passes (it is on the PSL) but is
    # unreachable without Tor". See the report: RFC 7686 §2 asks non-Tor software not to look
    # such names up in DNS.
    assert REAL_NETWORK.normalise("facebookcorewwwi.onion") == "facebookcorewwwi.onion"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("foo.i2p", id="i2p"),
        pytest.param("foo.bbs", id="opennic_bbs"),
        pytest.param("foo.geek", id="opennic_geek"),
        pytest.param("foo.invalid", id="rfc6761_invalid"),
        pytest.param("foo.example", id="rfc6761_example"),
        pytest.param("foo.local", id="mdns_local"),
        pytest.param("localhost.localdomain", id="localdomain"),
    ],
)
def test_names_outside_the_psl_are_rejected(raw):
    assert reason_of(raw) == "unknown_suffix"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("localhost", id="localhost"),
        pytest.param("mastodon", id="bare_word"),
        pytest.param("misskey-forkbomb", id="oliphant_single_label"),
        pytest.param("2130706433", id="integer_ipv4"),
    ],
)
def test_single_labels_are_rejected(raw):
    # `misskey-forkbomb` appears as a bare name in real oliphant block lists (reference/data).
    assert reason_of(raw) == "single_label"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("co.uk", id="co_uk"),
        pytest.param("github.io", id="github_io"),
        pytest.param("ngrok.io", id="ngrok_io_private_section"),
        pytest.param("duckdns.org", id="duckdns_org"),
        pytest.param("foo.ck", id="psl_wildcard_rule"),
    ],
)
def test_public_suffixes_themselves_are_rejected(raw):
    # `ngrok.io` is on FBA's spam blacklist; it is a public suffix, so only
    # its subdomains are hosts.
    assert reason_of(raw) == "public_suffix"


@pytest.mark.parametrize(
    "raw",
    [
        "foo.co.uk",
        "someone.github.io",
        "abc.ngrok.io",
        "x.duckdns.org",
        "www.ck",
        "city.kawasaki.jp",
    ],
)
def test_names_under_public_suffixes_are_accepted(raw):
    # `www.ck` and `city.kawasaki.jp` are PSL exception rules (`!www.ck`, `!city.kawasaki.jp`).
    assert REAL_NETWORK.normalise(raw) == raw


# --- the sandbox `.test` TLD is valid only in SANDBOX -------------------------------------------


def test_test_tld_is_rejected_on_the_real_network():
    assert reason_of("mastodon.test") == "unknown_suffix"


def test_test_tld_is_accepted_in_the_sandbox():
    assert SANDBOX.normalise("Mastodon.Test.") == "mastodon.test"


def test_sandbox_still_rejects_junk():
    assert reason_of("10.0.0.1", SANDBOX) == "ip_literal"
    assert reason_of("test", SANDBOX) == "single_label"
    assert reason_of("foo.invalid", SANDBOX) == "unknown_suffix"


def test_policy_for_via_selects_the_sandbox():
    assert policy_for(None) is REAL_NETWORK
    assert policy_for("127.0.0.1:8443") is SANDBOX


# --- API contract ------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [None, 5, b"mastodon.social", ["mastodon.social"]])
def test_non_strings_are_rejected_without_raising(raw):
    assert REAL_NETWORK.check(raw) == (None, "not_a_string")


def test_normalise_raises_invalid_domain_with_the_reason():
    with pytest.raises(InvalidDomain) as caught:
        REAL_NETWORK.normalise("peertube.cpy.re:443")
    assert caught.value.reason == "port"
    with pytest.raises(InvalidDomain) as caught:
        REAL_NETWORK.normalise(42)
    assert caught.value.reason == "not_a_string"


def test_huge_input_is_rejected_cheaply():
    assert reason_of("a." * 50_000 + "com") == "too_long"


# --- registrable domain and public-suffix test (subdomain fan-out cap) -----


@pytest.mark.parametrize(
    ("domain", "registrable"),
    [
        ("mastodon.social", "mastodon.social"),
        ("a.b.example.co.uk", "example.co.uk"),
        ("x.y.github.io", "y.github.io"),
        ("123.activitypub-troll.cf", "activitypub-troll.cf"),
    ],
)
def test_registrable_domain(domain, registrable):
    # Peer-list spam generators (`activitypub-troll.cf`) are grouped by eTLD+1 (§4.6).
    assert REAL_NETWORK.registrable(domain) == registrable


def test_registrable_domain_in_the_sandbox():
    assert SANDBOX.registrable("a.b.test") == "b.test"


@pytest.mark.parametrize(
    ("name", "real", "sandbox"),
    [
        ("co.uk", True, True),
        ("github.io", True, True),
        ("com", True, True),
        ("onion", True, True),
        ("test", False, True),
        ("example.com", False, False),
        ("i2p", False, False),
    ],
)
def test_is_public_suffix(name, real, sandbox):
    assert REAL_NETWORK.is_public_suffix(name) is real
    assert SANDBOX.is_public_suffix(name) is sandbox
