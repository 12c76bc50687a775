"""Politeness and safety parsers: robots.txt rules, the private-address guard, Retry-After /
X-RateLimit-Reset and the JSON content-type gate (crawler/fetch/{robots,guard,client}.py).

Cases: robots.txt in practice (RFC 9309), rate limits, and the failure modes crawlers meet.
"""

from __future__ import annotations

import email.utils
import time
from datetime import UTC, datetime, timedelta

import pytest
from multidict import CIMultiDict

from crawler.fetch import Response, errors
from crawler.fetch.guard import is_public_address
from crawler.fetch.robots import ROBOTS_TTL_SECONDS, RobotsRules
from crawler.fetch.wire import retry_after

TOKEN = "fediscope"
DENY_ALL = b"User-agent: *\nDisallow: /\n"

# GoToSocial's robots.txt shape (`internal/api/util/robots.go`): AI bots
# blocked, `Crawl-delay: 500`, `/api/` always disallowed, NodeInfo disallowed by default.
GOTOSOCIAL_ROBOTS = b"""User-agent: GPTBot
User-agent: CCBot
Disallow: /

User-agent: *
Crawl-delay: 500
Disallow: /api/
Disallow: /auth/
Disallow: /users/
Disallow: /.well-known/webfinger
Disallow: /.well-known/nodeinfo
Disallow: /nodeinfo/
"""

# Mastodon's default `public/robots.txt`.
MASTODON_ROBOTS = b"""User-agent: GPTBot
Disallow: /

User-agent: *
Disallow: /media_proxy/
Disallow: /interact/
"""


# --- RFC 9309 status semantics --------------------------------------------


@pytest.mark.parametrize("status", [200, 203, 204])
def test_2xx_is_parsed(status):
    rules = RobotsRules.from_answer(status, DENY_ALL, TOKEN)
    assert rules.mode == "parsed"
    assert not rules.allows("/nodeinfo/2.0")


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
def test_4xx_means_unavailable_allow_everything(status):
    # RFC 9309: 4xx "unavailable" -> the crawler may access everything (even with a body that
    # looks like rules: an error page is not a robots.txt).
    rules = RobotsRules.from_answer(status, DENY_ALL, TOKEN)
    assert rules.mode == "allow_all"
    assert rules.allows("/api/v1/instance/peers")


@pytest.mark.parametrize("status", [500, 502, 503, 599])
def test_5xx_means_unreachable_disallow_everything(status):
    # RFC 9309: 5xx "unreachable" -> assume complete disallow.
    rules = RobotsRules.from_answer(status, b"", TOKEN)
    assert rules.mode == "disallow_all"
    assert not rules.allows("/")


def test_unreachable_host_disallows_everything():
    # status None = network failure: RFC 9309 "unreachable".
    rules = RobotsRules.from_answer(None, None, TOKEN)
    assert rules.mode == "disallow_all"
    assert not rules.allows("/.well-known/nodeinfo")
    assert rules.crawl_delay is None


def test_429_is_treated_as_unreachable():
    # 429 means back off; robots.py counts it with 5xx, not as a 4xx.
    assert RobotsRules.from_answer(429, b"", TOKEN).mode == "disallow_all"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(None, id="no_body"),
        pytest.param(b"<html><body>Welcome to nginx!</body></html>", id="html_page"),
        pytest.param(b"\x00\xff\xfe garbage", id="binary"),
    ],
)
def test_2xx_without_rules_allows_everything(body):
    assert RobotsRules.from_answer(200, body, TOKEN).allows("/api/v1/instance")


# --- groups, paths and Crawl-delay --------------------------------------------------------------


def test_gotosocial_default_robots():
    rules = RobotsRules.from_answer(200, GOTOSOCIAL_ROBOTS, TOKEN)
    assert not rules.allows("/api/v1/instance/peers")
    assert not rules.allows("/api/v1/instance/peers?filter=open,suspended")
    assert not rules.allows("/.well-known/nodeinfo")
    assert not rules.allows("/nodeinfo/2.0")
    assert rules.allows("/about")
    assert rules.crawl_delay == 500.0


def test_mastodon_default_robots_allows_nodeinfo_and_api():
    rules = RobotsRules.from_answer(200, MASTODON_ROBOTS, TOKEN)
    assert rules.allows("/.well-known/nodeinfo")
    assert rules.allows("/api/v1/instance/peers")
    assert not rules.allows("/media_proxy/123")
    assert rules.crawl_delay is None


def test_group_for_our_token_overrides_star():
    # Minoru's documented opt-out is a group for its own token.
    body = b"""User-agent: *
Disallow: /
Crawl-delay: 10

User-agent: fediscope
Disallow: /private/
Crawl-delay: 3
"""
    rules = RobotsRules.from_answer(200, body, TOKEN)
    assert rules.allows("/api/v1/instance/peers")
    assert not rules.allows("/private/x")
    assert rules.crawl_delay == 3.0


def test_our_group_without_crawl_delay_does_not_inherit_stars():
    # RFC 9309 §2.2.1: only the most specific matching group applies.
    body = (
        b"User-agent: *\nCrawl-delay: 500\nDisallow: /api/\n\nUser-agent: fediscope\nDisallow: /x\n"
    )
    rules = RobotsRules.from_answer(200, body, TOKEN)
    assert rules.allows("/api/v1/instance")
    assert rules.crawl_delay is None


def test_our_token_opt_out_with_star_allowing():
    body = b"User-agent: fediscope\nDisallow: /\n\nUser-agent: *\nAllow: /\n"
    assert not RobotsRules.from_answer(200, body, TOKEN).allows("/nodeinfo/2.0")


def test_token_matching_is_case_insensitive():
    # RFC 9309 §2.2.1: "case-insensitive matching to find the group".
    body = b"User-agent: FediScope\nDisallow: /\n\nUser-agent: *\nAllow: /\n"
    assert not RobotsRules.from_answer(200, body, TOKEN).allows("/x")


def test_our_token_shared_group_line():
    body = b"User-agent: GPTBot\nUser-agent: fediscope\nDisallow: /\n\nUser-agent: *\nAllow: /\n"
    assert not RobotsRules.from_answer(200, body, TOKEN).allows("/x")


def test_other_crawlers_groups_do_not_apply():
    body = b"User-agent: MinoruFediverseCrawler\nDisallow: /\n"
    assert RobotsRules.from_answer(200, body, TOKEN).allows("/nodeinfo/2.0")


def test_longest_match_allow_beats_disallow():
    body = b"User-agent: *\nDisallow: /api/\nAllow: /api/v1/instance\n"
    rules = RobotsRules.from_answer(200, body, TOKEN)
    assert rules.allows("/api/v1/instance")
    assert not rules.allows("/api/v2/instance")


def test_wildcard_and_end_anchor_paths():
    body = b"User-agent: *\nDisallow: /*.json$\n"
    rules = RobotsRules.from_answer(200, body, TOKEN)
    assert not rules.allows("/nodeinfo/2.0.json")
    assert rules.allows("/nodeinfo/2.0")


def test_crlf_robots():
    body = b"User-agent: *\r\nDisallow: /\r\n"
    assert not RobotsRules.from_answer(200, body, TOKEN).allows("/x")


def test_utf8_bom_before_the_first_group_is_skipped():
    # Google's reference parser skips a leading BOM (google/robotstxt robots_test.cc
    # `ID_UTF8ByteOrderMarkIsSkipped`); a robots.txt saved by a Windows editor starts with one.
    body = b"\xef\xbb\xbfUser-agent: *\nDisallow: /\n"
    assert not RobotsRules.from_answer(200, body, TOKEN).allows("/nodeinfo/2.0")


def test_empty_path_means_root():
    rules = RobotsRules.from_answer(200, b"User-agent: *\nDisallow: /$\n", TOKEN)
    assert not rules.allows("")


@pytest.mark.parametrize(
    ("line", "delay"),
    [(b"Crawl-delay: 0.5", 0.5), (b"Crawl-delay: 0", 0.0), (b"Crawl-delay: soon", None)],
)
def test_crawl_delay_values(line, delay):
    rules = RobotsRules.from_answer(200, b"User-agent: *\n" + line + b"\n", TOKEN)
    assert rules.crawl_delay == delay


def test_rules_expire_after_the_ttl():
    rules = RobotsRules.from_answer(200, b"", TOKEN)
    assert not rules.expired
    rules.fetched_at -= ROBOTS_TTL_SECONDS + 1
    assert rules.expired


# --- is_public_address (never crawl internal addresses) --------------------


@pytest.mark.parametrize(
    "address",
    [
        pytest.param("10.0.0.1", id="10/8"),
        pytest.param("10.255.255.255", id="10/8_top"),
        pytest.param("172.16.0.1", id="172.16/12"),
        pytest.param("172.31.255.254", id="172.16/12_top"),
        pytest.param("192.168.1.1", id="192.168/16"),
        pytest.param("127.0.0.1", id="127/8"),
        pytest.param("127.255.255.254", id="127/8_top"),
        pytest.param("169.254.169.254", id="169.254/16_cloud_metadata"),
        pytest.param("100.64.0.1", id="100.64/10_cgnat"),
        pytest.param("100.127.255.254", id="100.64/10_top"),
        pytest.param("0.0.0.0", id="unspecified_v4"),
        pytest.param("224.0.0.1", id="224/4_multicast"),
        pytest.param("239.255.255.250", id="224/4_ssdp"),
        pytest.param("255.255.255.255", id="broadcast"),
        pytest.param("240.0.0.1", id="240/4_reserved"),
        pytest.param("192.0.2.1", id="test_net_1"),
        pytest.param("198.18.0.1", id="benchmarking"),
        pytest.param("::1", id="ipv6_loopback"),
        pytest.param("::", id="ipv6_unspecified"),
        pytest.param("fe80::1", id="fe80::/10"),
        pytest.param("fe80::1%eth0", id="fe80_with_zone"),
        pytest.param("fc00::1", id="fc00::/7"),
        pytest.param("fd12:3456::1", id="fd00::/8"),
        pytest.param("ff02::1", id="ipv6_multicast"),
        pytest.param("2001:db8::1", id="ipv6_documentation"),
        pytest.param("::ffff:10.0.0.1", id="v4_mapped_private"),
        pytest.param("::ffff:127.0.0.1", id="v4_mapped_loopback"),
        pytest.param("::ffff:169.254.169.254", id="v4_mapped_metadata"),
        pytest.param("2002:0a00:0001::1", id="6to4_wrapping_10.0.0.1"),
        pytest.param("2002:7f00:0001::1", id="6to4_wrapping_127.0.0.1"),
        pytest.param("2001:0:4136:e378:8000:63bf:3fff:fdd2", id="teredo"),
        pytest.param("64:ff9b::a00:1", id="nat64_wrapping_10.0.0.1"),
        pytest.param("64:ff9b::7f00:1", id="nat64_wrapping_127.0.0.1"),
        pytest.param("4000::1", id="ipv6_reserved_but_global"),
    ],
)
def test_non_public_addresses_are_refused(address):
    assert is_public_address(address) is False


@pytest.mark.parametrize(
    "address",
    [
        pytest.param("8.8.8.8", id="public_v4"),
        pytest.param("1.1.1.1", id="public_v4_b"),
        pytest.param("172.32.0.1", id="just_outside_172.16/12"),
        pytest.param("2606:4700:4700::1111", id="public_v6"),
        pytest.param("2001:4860:4860::8888", id="public_v6_b"),
        pytest.param("::ffff:8.8.8.8", id="v4_mapped_public"),
        pytest.param("2002:0808:0808::1", id="6to4_wrapping_public"),
        pytest.param("64:ff9b::808:808", id="nat64_wrapping_public"),
        pytest.param("2606:4700:4700::1111%eth0", id="public_v6_with_zone"),
    ],
)
def test_public_addresses_are_allowed(address):
    assert is_public_address(address) is True


def test_deprecated_site_local_ipv6_is_refused():
    # RFC 3879 deprecates fec0::/10 but RFC 4291 §2.5.7 lets existing deployments keep using it
    # internally; IPv6 global unicast is 2000::/3 only.
    assert is_public_address("fec0::1") is False


@pytest.mark.parametrize("address", ["", "localhost", "[::1]", "example.com", "999.1.1.1"])
def test_non_addresses_are_refused(address):
    assert is_public_address(address) is False


# --- Retry-After / X-RateLimit-Reset --------------------------------


def headers(**values: str) -> CIMultiDict:
    return CIMultiDict({key.replace("_", "-"): value for key, value in values.items()})


def http_date(moment: datetime) -> str:
    return email.utils.format_datetime(moment, usegmt=True)


def test_retry_after_seconds():
    assert retry_after(headers(Retry_After="120")) == 120.0
    assert retry_after(headers(Retry_After=" 30 ")) == 30.0
    assert retry_after(headers(Retry_After="0")) == 0.0


def test_retry_after_header_name_is_case_insensitive():
    assert retry_after(CIMultiDict({"retry-after": "7"})) == 7.0


def test_retry_after_http_date_in_the_future():
    value = http_date(datetime.now(UTC) + timedelta(seconds=90))
    assert retry_after(headers(Retry_After=value)) == pytest.approx(90, abs=3)


def test_retry_after_http_date_in_the_past_is_zero():
    assert retry_after(headers(Retry_After="Wed, 21 Oct 2015 07:28:00 GMT")) == 0.0


def test_retry_after_rfc850_date():
    moment = datetime.now(UTC) + timedelta(days=400)
    value = moment.strftime("%A, %d-%b-%y %H:%M:%S GMT")
    assert retry_after(headers(Retry_After=value)) == pytest.approx(400 * 86400, abs=5)


def test_retry_after_asctime_date():
    # RFC 9110 §5.6.7: "A recipient that parses a timestamp value in an HTTP field MUST accept
    # all three HTTP-date formats" (IMF-fixdate, RFC 850, asctime).
    moment = datetime.now(UTC) + timedelta(days=400)
    value = moment.strftime("%a %b %d %H:%M:%S %Y")
    assert retry_after(headers(Retry_After=value)) == pytest.approx(400 * 86400, abs=5)


@pytest.mark.parametrize("value", ["soon", "-5", "1.5", "Mon, 99 Foo 2024 00:00:00 GMT"])
def test_unusable_retry_after_is_ignored(value):
    assert retry_after(headers(Retry_After=value)) is None


def test_mastodon_rate_limit_reset_iso8601():
    # Mastodon's rack-attack answers 429 with `X-RateLimit-Reset` in ISO 8601
    # (fractional seconds, `Z`).
    moment = datetime.now(UTC) + timedelta(seconds=300)
    value = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert retry_after(headers(X_RateLimit_Reset=value)) == pytest.approx(300, abs=3)


def test_rate_limit_reset_iso8601_with_offset_and_naive():
    moment = datetime.now(UTC) + timedelta(seconds=120)
    aware = moment.isoformat()
    naive = moment.replace(tzinfo=None).isoformat()
    assert retry_after(headers(X_RateLimit_Reset=aware)) == pytest.approx(120, abs=3)
    assert retry_after(headers(X_RateLimit_Reset=naive)) == pytest.approx(120, abs=3)


def test_rate_limit_reset_epoch_seconds():
    value = str(int(time.time()) + 60)
    assert retry_after(headers(X_RateLimit_Reset=value)) == pytest.approx(60, abs=3)


def test_rate_limit_reset_small_number_is_a_delay():
    assert retry_after(headers(X_RateLimit_Reset="45")) == 45.0
    assert retry_after(headers(X_RateLimit_Reset="3600")) == 3600.0
    # Below 10**8 seconds (three years) a number is a delay; from there on a Unix time.
    assert retry_after(headers(X_RateLimit_Reset="99999999")) == 99999999.0
    assert retry_after(headers(X_RateLimit_Reset="100000000")) == 0.0  # 1973: past
    assert retry_after(headers(X_RateLimit_Reset="200000000")) == 0.0


def test_rate_limit_reset_in_the_past_is_zero():
    assert retry_after(headers(X_RateLimit_Reset="2020-01-01T00:00:00Z")) == 0.0
    assert retry_after(headers(X_RateLimit_Reset="1700000000.5")) == 0.0


@pytest.mark.parametrize("value", ["garbage", "1.2.3", "-30", "2024-13-45T00:00:00Z"])
def test_unusable_rate_limit_reset_is_ignored(value):
    assert retry_after(headers(X_RateLimit_Reset=value)) is None


def test_retry_after_wins_over_rate_limit_reset():
    assert retry_after(headers(Retry_After="10", X_RateLimit_Reset="45")) == 10.0


def test_bad_retry_after_falls_back_to_rate_limit_reset():
    assert retry_after(headers(Retry_After="soon", X_RateLimit_Reset="45")) == 45.0


def test_no_rate_limit_headers():
    assert retry_after(CIMultiDict()) is None


# --- Response.json / is_json_type (never parse HTML as JSON) ---------------


def answer(content_type: str, body: bytes | None, **extra) -> Response:
    return Response(
        domain="example.com", path="/", status=200, content_type=content_type, body=body, **extra
    )


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "text/json",
        # PROTOCOL.md: servers should answer with a NodeInfo profile parameter (§1.1).
        'application/json; profile="http://nodeinfo.diaspora.software/ns/schema/2.1#"',
        # Bridgy Fed serves its JRD as application/jrd+json (§1.1).
        "application/jrd+json",
        "application/activity+json",
        'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
    ],
)
def test_json_content_types_are_parsed(content_type):
    value, error = answer(content_type, b'{"links": []}').json()
    assert (value, error) == ({"links": []}, None)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        # Cloudflare / bot-protection pages: 403/503 text/html where JSON was expected (§4.6).
        pytest.param(
            "text/html; charset=UTF-8", b"<!DOCTYPE html><title>Just a moment</title>", id="cf"
        ),
        pytest.param("text/html", b'{"looks": "like json"}', id="html_type_json_body"),
        pytest.param("text/plain", b"{}", id="text_plain"),
        pytest.param("application/jsonp", b"{}", id="jsonp"),
        pytest.param("", b"<html></html>", id="untyped_html"),
        pytest.param("", b"", id="untyped_empty"),
        pytest.param("", None, id="untyped_no_body"),
    ],
)
def test_other_content_types_are_not_json(content_type, body):
    assert answer(content_type, body).json() == (None, errors.NOT_JSON)


def test_untyped_body_that_looks_like_json_is_parsed():
    assert answer("", b"  [1, 2]").json() == ([1, 2], None)
    assert answer("", b'\n{"a": 1}').json() == ({"a": 1}, None)


def test_only_the_media_type_before_the_first_parameter_counts():
    typed = answer("application/json; charset=utf-8; profile=a/b", b"{}")
    assert typed.json() == ({}, None)
    assert answer("application/vnd/json", b"{}").json() == (None, errors.NOT_JSON)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b'{"version": "2.0"', id="truncated"),
        pytest.param(b'{"a": 1} trailing', id="trailing_garbage"),
        pytest.param(b"NaN", id="nan"),
        pytest.param(b"[" * 100_000, id="deep_nesting"),
        pytest.param(b'"\xff"', id="invalid_utf8"),
        pytest.param(b"<html>Bad gateway</html>", id="html_labelled_json"),
    ],
)
def test_broken_json_is_bad_json_never_an_exception(body):
    assert answer("application/json", body).json() == (None, errors.BAD_JSON)


def test_transport_error_is_returned_before_parsing():
    response = Response(domain="example.com", path="/", error=errors.TIMEOUT)
    assert response.json() == (None, errors.TIMEOUT)
