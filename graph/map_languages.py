"""The language each map server declares: the primary subtag of its first declared language.

When the crawl stores declared languages (`instances.languages`, a JSON array of lowercased
BCP 47 tags) the map reads them. A database without that column still has the raw answers the
servers gave (`document_log`, `document_bodies`): the map then reads the same declarations from
them, Mastodon's instance API (`languages`, v2 then v1), Misskey's meta (`langs`) and PeerTube's
about (`instance.languages`). Raw answers are untrusted: anything that is not a tag is ignored.
"""

from __future__ import annotations

import json
import re
import sqlite3
import zlib

TAG = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{1,8})*$")
MAX_BODY = 2_000_000  # bytes of a decompressed answer read at most
PATHS = ("/api/v2/instance", "/api/v1/instance", "/api/meta", "/api/v1/config/about")


def primary(tags: object) -> str | None:
    """The primary language subtag of the first valid tag of a declared list, lowercased."""
    if not isinstance(tags, list):
        return None
    for tag in tags:
        if isinstance(tag, str) and TAG.match(tag.strip().lower()):
            return tag.strip().lower().split("-")[0]
    return None


def _columns(connection: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}


def _declared(answer: object) -> object:
    if not isinstance(answer, dict):
        return None
    for key in ("languages", "langs"):
        if key in answer:
            return answer[key]
    instance = answer.get("instance")
    return instance.get("languages") if isinstance(instance, dict) else None


def _body(encoding: str | None, body: bytes | None) -> object:
    if body is None:
        return None
    try:
        raw = zlib.decompressobj().decompress(body, MAX_BODY) if encoding == "zlib" else body
        return json.loads(raw)
    except (zlib.error, ValueError, RecursionError):
        return None


def from_answers(connection: sqlite3.Connection, domains: list[str]) -> dict[str, str]:
    """Languages read from each domain's latest stored instance answers."""
    if not {"document_log", "document_bodies"} <= {
        row[0] for row in connection.execute("SELECT name FROM sqlite_master")
    }:
        return {}
    connection.execute("DROP TABLE IF EXISTS temp.map_language_domains")
    connection.execute("CREATE TEMP TABLE map_language_domains (domain TEXT PRIMARY KEY)")
    connection.executemany(
        "INSERT OR IGNORE INTO temp.map_language_domains VALUES (?)", ((d,) for d in domains)
    )
    wanted = " OR ".join("l.url LIKE ?" for _ in PATHS)
    rows = connection.execute(
        # CROSS JOIN keeps the map's domains outermost: their answers come by the domain index.
        "SELECT l.domain, l.url, b.encoding, b.body FROM temp.map_language_domains m "
        "CROSS JOIN document_log l ON l.domain = m.domain "
        "JOIN document_bodies b ON b.sha256 = l.body_sha256 "
        f"WHERE l.status = 200 AND ({wanted}) "
        "ORDER BY l.domain, coalesce(l.last_crawl_id, l.crawl_id) DESC, l.id DESC",
        [f"%{path}" for path in PATHS],
    )
    found: dict[str, str] = {}
    for domain, url, encoding, body in rows:
        if domain in found or not url.endswith(PATHS):
            continue
        language = primary(_declared(_body(encoding, body)))
        if language is not None:
            found[domain] = language
    connection.execute("DROP TABLE temp.map_language_domains")
    return found


def map_languages(connection: sqlite3.Connection, domains: list[str]) -> dict[str, str]:
    """domain -> primary language subtag, for the domains that declare one."""
    if "languages" not in _columns(connection, "instances"):
        return from_answers(connection, domains)
    wanted = set(domains)
    found = {}
    for domain, languages in connection.execute(
        "SELECT domain, languages FROM instances WHERE languages IS NOT NULL"
    ):
        if domain in wanted:
            try:
                language = primary(json.loads(languages))
            except (TypeError, ValueError):
                language = None
            if language is not None:
                found[domain] = language
    return found
