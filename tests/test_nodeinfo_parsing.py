"""NodeInfo discovery and documents (crawler/nodeinfo.py, crawler/lenient.py) against real quirks.

One test per deviation real servers show in NodeInfo discovery and documents; each comment names
the server or payload that shows it. Fixtures are small inline dicts reproducing only the shape.
"""

from __future__ import annotations

import copy

import pytest

from crawler.nodeinfo import (
    BadShape,
    NodeInfoLink,
    parse_nodeinfo,
    parse_nodeinfo2,
    pick_nodeinfo_link,
)

NS = "http://nodeinfo.diaspora.software/ns/schema/"


def jrd(*links: tuple[str, str]) -> dict:
    return {"links": [{"rel": rel, "href": href} for rel, href in links]}


# =============================================================================================
# Discovery: /.well-known/nodeinfo
# =============================================================================================


def test_links_as_bare_object_lemmy_ml():
    # payloads/lemmy-well-known_nodeinfo_links_object_lemmy.ml.json (Minoru test
    # `broken_lemmy_nodeinfo_pointer`): `links` is one object, not an array.
    document = {"links": {"rel": NS + "2.0", "href": "https://lemmy.ml/nodeinfo/2.0.json"}}
    assert pick_nodeinfo_link(document) == NodeInfoLink("2.0", "https://lemmy.ml/nodeinfo/2.0.json")


def test_links_as_bare_object_old_hubzilla():
    # payloads/hubzilla-well-known_nodeinfo_buggy_links_object.json (jaywink
    # `NODEINFO_WELL_KNOWN_BUGGY_2`): bare object advertising only 1.0.
    document = {"links": {"rel": NS + "1.0", "href": "https://hub.example/nodeinfo/1.0"}}
    assert pick_nodeinfo_link(document) == NodeInfoLink("1.0", "https://hub.example/nodeinfo/1.0")


def test_links_as_object_of_objects_php_array():
    # A PHP array with numeric keys serialised as an object (the "object of objects" shape that
    # nodeinfo.py handles for Hubzilla, jaywink "key "0"").
    document = {
        "links": {
            "0": {"rel": NS + "1.0", "href": "https://hub.example/nodeinfo/1.0"},
            "1": {"rel": NS + "2.0", "href": "https://hub.example/nodeinfo/2.0"},
        }
    }
    assert pick_nodeinfo_link(document) == NodeInfoLink("2.0", "https://hub.example/nodeinfo/2.0")


def test_hubzilla_top_level_key_0_holds_the_2_0_link():
    # jaywink/federation handles "key "0" holding the 2.0 link"; its fixture
    # `NODEINFO_WELL_KNOWN_BUGGY` (federation/tests/fixtures/hostmeta.py) is
    # {"links": {rel 1.0}, "0": {rel 2.0}}, and `fetch_nodeinfo_document` prefers doc["0"].
    document = {
        "links": {"rel": NS + "1.0", "href": "https://hub.example/nodeinfo/1.0"},
        "0": {"rel": NS + "2.0", "href": "https://hub.example/nodeinfo/2.0"},
    }
    assert pick_nodeinfo_link(document) == NodeInfoLink("2.0", "https://hub.example/nodeinfo/2.0")


def test_extra_non_nodeinfo_rel_bridgy_fed():
    # payloads/SYNTHETIC-bridgyfed-well-known_nodeinfo.json (snarfed/bridgy-fed `nodeinfo_jrd`):
    # an ActivityStreams Application rel beside the NodeInfo rel (PeerTube adds one too; a
    # float() parse of the rel's last segment, as in jaywink/federation, crashes on it).
    document = jrd(
        (NS + "2.1", "https://fed.brid.gy/nodeinfo.json"),
        ("https://www.w3.org/ns/activitystreams#Application", "https://fed.brid.gy/actor"),
    )
    assert pick_nodeinfo_link(document) == NodeInfoLink("2.1", "https://fed.brid.gy/nodeinfo.json")


def test_extra_rel_listed_first_is_skipped():
    document = jrd(
        ("https://www.w3.org/ns/activitystreams#Application", "https://x.example/actor"),
        (NS + "2.0", "https://x.example/nodeinfo/2.0"),
    )
    assert pick_nodeinfo_link(document) == NodeInfoLink("2.0", "https://x.example/nodeinfo/2.0")


def test_json_suffixed_hrefs_are_kept_verbatim():
    # payloads/pleroma-well-known_nodeinfo.json and akkoma-well-known_nodeinfo_docs_example.json:
    # `/nodeinfo/2.0.json`, `/nodeinfo/2.1.json`, `href` before `rel`.
    document = {
        "links": [
            {"href": "https://soc.example/nodeinfo/2.0.json", "rel": NS + "2.0"},
            {"href": "https://soc.example/nodeinfo/2.1.json", "rel": NS + "2.1"},
        ]
    }
    assert pick_nodeinfo_link(document) == NodeInfoLink(
        "2.1", "https://soc.example/nodeinfo/2.1.json"
    )


def test_highest_version_is_chosen_whatever_the_order():
    # PROTOCOL.md: "follow the link with the highest schema version"; fediseer's `links[-1]` and
    # fedify's first-match are the anti-patterns.
    document = jrd(
        (NS + "2.1", "https://h.example/2.1"),
        (NS + "1.0", "https://h.example/1.0"),
        (NS + "2.2", "https://h.example/2.2"),
        (NS + "1.1", "https://h.example/1.1"),
        (NS + "2.0", "https://h.example/2.0"),
    )
    assert pick_nodeinfo_link(document) == NodeInfoLink("2.2", "https://h.example/2.2")


@pytest.mark.parametrize(
    ("versions", "best"),
    [
        (["2.0", "2.1"], "2.1"),
        (["2.1", "2.0"], "2.1"),
        (["1.1", "2.0"], "2.0"),
        (["1.0", "1.1"], "1.1"),
    ],
)
def test_version_order(versions, best):
    # 2.2 > 2.1 > 2.0 > 1.x (gotosocial-well-known_nodeinfo.json lists 2.0 then 2.1).
    document = jrd(*[(NS + v, f"https://h.example/{v}") for v in versions])
    assert pick_nodeinfo_link(document).version == best


def test_2_2_rel_is_supported():
    # the 2.2 schema exists but PROTOCOL.md never listed its rel;
    # WordPress advertises it (pfefferle/wordpress-nodeinfo `class-nodeinfo22.php`).
    document = jrd((NS + "2.2", "https://blog.example/wp-json/nodeinfo/2.2"))
    assert pick_nodeinfo_link(document) == NodeInfoLink(
        "2.2", "https://blog.example/wp-json/nodeinfo/2.2"
    )


def test_https_rel_is_accepted():
    rel = "https://nodeinfo.diaspora.software/ns/schema/2.1"
    assert pick_nodeinfo_link(jrd((rel, "https://h.example/ni"))) == NodeInfoLink(
        "2.1", "https://h.example/ni"
    )


@pytest.mark.parametrize("suffix", ["#", "/"])
def test_rel_with_trailing_fragment_or_slash(suffix):
    # The 2.1 schema id is `.../schema/2.1#`.
    document = jrd((NS + "2.1" + suffix, "https://h.example/ni"))
    assert pick_nodeinfo_link(document) == NodeInfoLink("2.1", "https://h.example/ni")


@pytest.mark.parametrize("version", ["3.0", "2.10", "2", "two", ""])
def test_unknown_versions_are_ignored(version):
    document = jrd(
        (NS + version, "https://h.example/unknown"), (NS + "2.0", "https://h.example/2.0")
    )
    assert pick_nodeinfo_link(document) == NodeInfoLink("2.0", "https://h.example/2.0")


def test_only_unknown_versions_gives_no_link():
    assert pick_nodeinfo_link(jrd((NS + "3.0", "https://h.example/3.0"))) is None


def test_rel_of_another_vocabulary_gives_no_link():
    assert (
        pick_nodeinfo_link(jrd(("http://example.org/ns/schema/2.0", "https://h.example/"))) is None
    )


def test_href_on_another_host_is_returned_for_the_caller_to_judge():
    # PROTOCOL.md allows any URL; the visit decides about other origins.
    document = jrd((NS + "2.0", "  https://elsewhere.example/nodeinfo/2.0  "))
    assert pick_nodeinfo_link(document) == NodeInfoLink(
        "2.0", "https://elsewhere.example/nodeinfo/2.0"
    )


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(None, id="null"),
        pytest.param([], id="array"),
        pytest.param("links", id="string"),
        pytest.param({}, id="no_links"),
        pytest.param({"links": []}, id="empty_links"),
        pytest.param({"links": "nope"}, id="links_string"),
        pytest.param({"links": [None, 1, "x", []]}, id="junk_items"),
        pytest.param({"links": [{"rel": NS + "2.0"}]}, id="no_href"),
        pytest.param({"links": [{"rel": NS + "2.0", "href": "   "}]}, id="blank_href"),
        pytest.param({"links": [{"rel": NS + "2.0", "href": 7}]}, id="numeric_href"),
        pytest.param({"links": [{"rel": 2.0, "href": "https://h.example/"}]}, id="numeric_rel"),
    ],
)
def test_junk_discovery_documents_give_no_link(document):
    assert pick_nodeinfo_link(document) is None


# =============================================================================================
# NodeInfo documents
# =============================================================================================

BASE = {
    "version": "2.0",
    "software": {"name": "mastodon", "version": "4.3.0"},
    "protocols": ["activitypub"],
    "services": {"outbound": [], "inbound": []},
    "usage": {"users": {"total": 100, "activeMonth": 10, "activeHalfyear": 20}, "localPosts": 500},
    "openRegistrations": True,
    "metadata": {"nodeName": "Example", "nodeDescription": "An example server"},
}


def doc(**changes):
    """BASE with top-level keys replaced; a value of `...` removes the key."""
    document = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is ...:
            document.pop(key, None)
        else:
            document[key] = value
    return document


def test_well_formed_document():
    info = parse_nodeinfo(doc())
    assert info.version == "2.0"
    assert (info.software, info.family, info.software_version) == ("mastodon", "mastodon", "4.3.0")
    assert info.counts == {
        "users_total": 100,
        "users_active_month": 10,
        "users_active_halfyear": 20,
        "local_posts": 500,
        "local_comments": None,
    }
    assert info.open_registrations is True
    assert (info.name, info.description) == ("Example", "An example server")
    assert info.protocols == ["activitypub"]
    assert info.flags == set()


def test_metadata_as_empty_array_mastodon_fork():
    # payloads/mastodon-nodeinfo_2.0_metadata_array.json (aode-relay `ASONIX_DOG_4_NODEINFO`,
    # 4.0.0rc2 fork): `"metadata": []`, PHP-style empty object.
    info = parse_nodeinfo(doc(metadata=[]))
    assert info.metadata == {}
    assert info.name is None
    assert "metadata_wrong_type" in info.flags
    assert info.counts["users_total"] == 100


def test_open_registrations_string_false_akkoma():
    # payloads/akkoma-nodeinfo_2.0_mrf_simple_info_openRegistrations_string.json (Akkoma 3.0.0,
    # aode-relay `NEW_HYNET_NODEINFO`): `"openRegistrations": "FALSE"`.
    info = parse_nodeinfo(doc(openRegistrations="FALSE"))
    assert info.open_registrations is False
    assert "bool_from_string" in info.flags


def test_open_registrations_other_string_is_not_guessed():
    info = parse_nodeinfo(doc(openRegistrations="maybe"))
    assert info.open_registrations is None
    assert "bool_wrong_type" in info.flags


def test_local_posts_as_object_some_pleroma():
    # jaywink `NODEINFO_21_DOC_INVALID_USAGE_COUNTS`,
    # `"localPosts": {"all": 3, "direct": 1}`.
    usage = {"users": {"total": 3}, "localPosts": {"all": 3, "direct": 1}}
    info = parse_nodeinfo(doc(usage=usage))
    assert info.counts["local_posts"] is None
    assert info.counts["users_total"] == 3
    assert "count_wrong_type" in info.flags


def test_counts_as_strings_wordpress():
    # WordPress: DiasporaNodeInfo tests `usersWithStrings`,
    # `usageCountersStringInt` ("activeMonth as a string").
    usage = {
        "users": {"total": "12", "activeMonth": "3", "activeHalfyear": " 7 "},
        "localPosts": "40",
    }
    info = parse_nodeinfo(doc(usage=usage))
    assert info.counts["users_total"] == 12
    assert info.counts["users_active_month"] == 3
    assert info.counts["users_active_halfyear"] == 7
    assert info.counts["local_posts"] == 40
    assert "count_from_string" in info.flags


def test_null_counts_misskey():
    # Misskey `NodeinfoServerService.ts`: `activeHalfyear: null`,
    # `activeMonth: null`, `localComments: 0`.
    usage = {
        "users": {"total": 50, "activeHalfyear": None, "activeMonth": None},
        "localPosts": 900,
        "localComments": 0,
    }
    info = parse_nodeinfo(doc(usage=usage))
    assert info.counts["users_active_month"] is None
    assert info.counts["users_active_halfyear"] is None
    assert info.counts["local_comments"] == 0
    assert info.flags == set()  # null is "not reported", not a quality problem


def test_only_users_total_pleroma_gotosocial():
    # payloads/pleroma-nodeinfo_2.0_mrf_simple.json, gotosocial-nodeinfo_2.0.json: users.total only.
    info = parse_nodeinfo(doc(usage={"users": {"total": 7}}))
    assert info.counts["users_total"] == 7
    assert info.counts["users_active_month"] is None
    assert info.flags == set()


@pytest.mark.parametrize(
    ("value", "flag"),
    [
        pytest.param(-1, "negative_count", id="negative_int"),
        pytest.param("-5", "negative_count", id="negative_string"),
        pytest.param(10**12, "absurd_count", id="absurd_int"),
        pytest.param(1e300, "absurd_count", id="absurd_float"),
        pytest.param(True, "count_wrong_type", id="boolean"),
        pytest.param(1.5, "count_wrong_type", id="fractional"),
        pytest.param("lots", "count_wrong_type", id="word"),
        pytest.param("1e3", "count_wrong_type", id="exponent_string"),
        pytest.param("１２", "count_wrong_type", id="fullwidth_digits"),
    ],
)
def test_untrustworthy_counts_become_none_with_a_flag(value, flag):
    # GoToSocial `baffle` mode serves "randomized, preposterous stats".
    info = parse_nodeinfo(doc(usage={"users": {"total": value}}))
    assert info.counts["users_total"] is None
    assert flag in info.flags


def test_integral_float_count_is_accepted_with_a_flag():
    info = parse_nodeinfo(doc(usage={"users": {"total": 42.0}}))
    assert info.counts["users_total"] == 42
    assert "count_from_float" in info.flags


def test_count_string_with_two_minus_signs_is_flagged_not_raised():
    # Hostile/garbled count string; lenient.py promises "nothing is silently fixed", and a
    # reader must never raise on server data.
    info = parse_nodeinfo(doc(usage={"users": {"total": "--5"}}))
    assert info.counts["users_total"] is None
    assert info.flags == {"count_wrong_type"}  # garbage, not a negative number


def test_zeroed_stats_gotosocial_zero_mode():
    # GoToSocial `instance-stats-mode = "zero"`; "stats deliberately
    # zeroed". A zero total makes every count untrustworthy.
    usage = {"users": {"total": 0, "activeMonth": 0, "activeHalfyear": 0}, "localPosts": 0}
    info = parse_nodeinfo(doc(usage=usage))
    assert set(info.counts.values()) == {None}
    assert "stats_zeroed" in info.flags


def test_active_greater_than_total_is_suspect():
    usage = {"users": {"total": 5, "activeMonth": 50, "activeHalfyear": 4}}
    info = parse_nodeinfo(doc(usage=usage))
    assert info.counts["users_total"] == 5
    assert info.counts["users_active_month"] is None
    assert info.counts["users_active_halfyear"] == 4
    assert "stats_suspect" in info.flags


@pytest.mark.parametrize(
    "usage",
    [
        pytest.param([], id="usage_array"),
        pytest.param("none", id="usage_string"),
        pytest.param({"users": []}, id="users_array"),
    ],
)
def test_usage_of_the_wrong_type(usage):
    info = parse_nodeinfo(doc(usage=usage))
    assert set(info.counts.values()) == {None}
    assert "usage_wrong_type" in info.flags


def test_missing_services_and_metadata_lemmy_0_18():
    # payloads/lemmy-nodeinfo_2.0_0.18.5_no_services_no_metadata.json and
    # mastodon-nodeinfo_2.0_v3_no_services_no_metadata.json.
    info = parse_nodeinfo(doc(services=..., metadata=...))
    assert info.metadata == {}
    assert info.name is None
    assert info.counts["users_total"] == 100
    assert info.flags == set()


@pytest.mark.parametrize("protocols", [..., None], ids=["missing", "null"])
def test_protocols_missing_or_null_lemmy_federation_off(protocols):
    # Lemmy `nodeinfo.rs`: protocols "omitted/null when federation is disabled".
    info = parse_nodeinfo(doc(protocols=protocols))
    assert info.protocols == []


def test_protocols_outside_the_enum_bridgy_fed():
    # payloads/SYNTHETIC-bridgyfed-nodeinfo_2.1_shape.json: three of four outside the enum.
    info = parse_nodeinfo(doc(protocols=["activitypub", "atprotocol", "nostr", "webmention"]))
    assert info.protocols == ["activitypub", "atprotocol", "nostr", "webmention"]


def test_protocols_with_non_string_items():
    info = parse_nodeinfo(doc(protocols=["activitypub", 3, None, {"x": 1}]))
    assert info.protocols == ["activitypub"]


def test_nodeinfo_1_0_protocols_object_diaspora():
    # payloads/diaspora-nodeinfo_1.0.json: `protocols: {inbound: [...], outbound: [...]}`.
    document = doc(
        version="1.0",
        software={"name": "diaspora", "version": "0.7.4.0-pd0313756"},
        protocols={"inbound": ["diaspora"], "outbound": ["diaspora", "activitypub"]},
    )
    info = parse_nodeinfo(document)
    assert info.version == "1.0"
    assert set(info.protocols) == {"diaspora", "activitypub"}


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        pytest.param("Plume", "plume", id="plume_issue_433"),
        pytest.param("Fedired", "fedired", id="fedired_schema_test"),
        pytest.param("  Akkoma  ", "akkoma", id="whitespace"),
        pytest.param("MASTODON\n", "mastodon", id="upper_newline"),
    ],
)
def test_software_name_is_trimmed_and_lowered(raw, name):
    # Plume-org/Plume #433 (uppercase names in the wild), `"Fedired"`.
    info = parse_nodeinfo(doc(software={"name": raw, "version": "1"}))
    assert info.software == name
    assert info.software_raw == raw


def test_fork_names_map_to_their_family():
    # akkoma/rebased -> pleroma, hometown -> mastodon, firefish -> misskey.
    families = {
        name: parse_nodeinfo(doc(software={"name": name, "version": "1"})).family
        for name in ("akkoma", "hometown", "firefish", "sharkey", "piefed", "unknownware")
    }
    assert families == {
        "akkoma": "pleroma",
        "hometown": "mastodon",
        "firefish": "misskey",
        "sharkey": "misskey",
        "piefed": "lemmy",
        "unknownware": "unknownware",
    }


@pytest.mark.parametrize(
    "version",
    [
        "4.3.0-nightly.2024-04-30",
        "4.1.5+nightly-2023-07-28",
        "4.0.0rc2-asonix-changes",
        "3.1.3+corgi",
        "0.19.1+git-6574dc8",
        "2023.05-1518",
        "3.0.0-develop+HyNET-prod",
    ],
)
def test_version_suffixes_are_kept_verbatim(version):
    # Mastodon, GoToSocial, Friendica: "version suffixes".
    info = parse_nodeinfo(doc(software={"name": "mastodon", "version": version}))
    assert info.software_version == version


@pytest.mark.parametrize(
    ("value", "text"), [(20240504, "20240504"), (4, "4"), (2023.05, "2023.05")]
)
def test_numeric_software_version_becomes_text(value, text):
    # fedify best-effort mode coerces the version with String(); Firefish
    # uses date versions such as 20240504 (firefish-nodeinfo_2.1.json).
    info = parse_nodeinfo(doc(software={"name": "firefish", "version": value}))
    assert info.software_version == text


def test_missing_software_version():
    info = parse_nodeinfo(doc(software={"name": "mastodon"}))
    assert info.software_version is None


@pytest.mark.parametrize(
    "software",
    [pytest.param("mastodon", id="string"), pytest.param(["mastodon"], id="array")],
)
def test_software_not_an_object_is_bad_shape(software):
    with pytest.raises(BadShape):
        parse_nodeinfo(doc(software=software))


@pytest.mark.parametrize(
    ("software", "raw"),
    [
        pytest.param(None, None, id="null"),
        pytest.param(..., None, id="missing"),
        pytest.param({"version": "1"}, None, id="no_name"),
        pytest.param({"name": None, "version": "1"}, None, id="null_name"),
        pytest.param({"name": ""}, None, id="empty_name"),
        pytest.param({"name": "   "}, None, id="blank_name"),
        pytest.param({"name": 5}, None, id="numeric_name"),
        pytest.param({"name": {"x": 1}}, None, id="object_name"),
        pytest.param({"name": "unknown"}, None, id="placeholder"),
        pytest.param({"name": " Unknown "}, None, id="placeholder_case"),
    ],
)
def test_nodeinfo_that_names_no_software_is_still_read(software, raw):
    # issue 12: the server answered, so its counts are read; software stays None (never
    # invented) and the visit identifies the family from its APIs.
    info = parse_nodeinfo(doc(software=software))
    assert (info.software, info.family, info.software_raw) == (None, None, raw)
    assert info.counts["users_total"] == BASE["usage"]["users"]["total"]


def test_a_json_object_without_nodeinfo_keys_is_bad_shape():
    with pytest.raises(BadShape):
        parse_nodeinfo({"error": "Not found", "version": "2.0"})


def test_nodeinfo2_is_read_into_the_same_shape():
    # NodeInfo2 1.0 (Friendica's NodeInfo210.php): `server.software`.
    document = {
        "version": "1.0",
        "server": {"baseUrl": "https://a.test", "name": "Pod", "software": "Friendica",
                   "version": "2024.08-1552"},
        "protocols": ["dfrn", "activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": "true",
        "usage": {"users": {"total": 40, "activeHalfyear": 12, "activeMonth": 7,
                            "activeWeek": 3}, "localPosts": 900, "localComments": 55},
    }  # fmt: skip
    info = parse_nodeinfo2(document)
    assert (info.software, info.family, info.software_version) == (
        "friendica",
        "friendica",
        "2024.08-1552",
    )
    assert info.counts == {
        "users_total": 40,
        "users_active_month": 7,
        "users_active_halfyear": 12,
        "local_posts": 900,
        "local_comments": 55,
    }
    assert info.open_registrations is True and info.name == "Pod"
    assert info.version == "x-nodeinfo2 1.0" and {"nodeinfo2", "bool_from_string"} <= info.flags
    assert info.protocols == ["dfrn", "activitypub"]


@pytest.mark.parametrize("document", [None, [], {"version": "1.0"}, {"server": "a.test"}])
def test_nodeinfo2_without_a_server_object_is_bad_shape(document):
    with pytest.raises(BadShape):
        parse_nodeinfo2(document)


def test_nodeinfo2_without_software_names_none():
    info = parse_nodeinfo2({"version": "1.0", "server": {"baseUrl": "https://a.test"}})
    assert (info.software, info.family) == (None, None)


@pytest.mark.parametrize("document", [None, [], "nodeinfo", 3])
def test_document_not_an_object_is_bad_shape(document):
    with pytest.raises(BadShape):
        parse_nodeinfo(document)


def test_nodeinfo_2_2_instance_name_and_description_win():
    # 2.2 adds required `instance.name`/`instance.description`.
    document = doc(
        version="2.2",
        instance={"name": "Blog", "description": "A blog #nobot"},
        metadata={"nodeName": "old name", "nodeDescription": "old description"},
    )
    info = parse_nodeinfo(document)
    assert (info.name, info.description) == ("Blog", "A blog #nobot")


def test_empty_node_description_falls_back():
    # payloads/firefish-nodeinfo_2.1.json: `"nodeDescription": ""`.
    info = parse_nodeinfo(doc(metadata={"nodeName": "Firefish", "nodeDescription": ""}))
    assert info.name == "Firefish"
    assert info.description is None


def test_metadata_first_key_order_pleroma_pixelfed():
    # "key order unusual (`metadata` first)": order must not matter.
    reordered = {key: BASE[key] for key in reversed(list(BASE))}
    assert parse_nodeinfo(reordered).counts == parse_nodeinfo(doc()).counts


def test_unexpected_top_level_keys_are_ignored():
    info = parse_nodeinfo(
        doc(extra={"anything": 1}, usage={"users": {"total": 3, "activeWeek": 2}})
    )
    assert info.counts["users_total"] == 3
