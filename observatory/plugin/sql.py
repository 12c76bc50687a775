"""Datasette plugin: SQL functions fediscope's canned queries use.

- `sha256(text)`: hex digest, so a Mastodon block digest can be checked for the one domain
  someone asks about (no table of resolved digests is published).
- `mask_matches(pattern, domain)`: whether a `*`-masked published name fits a domain.
- `rule_covers(pattern, domain)`: whether a wildcard (`*.x.com`) or suffix rule covers it.
- `unzip(blob)`: the text of a stored raw answer (documents are zlib-compressed).
- `block_match(domain, family, blocked, pattern, digest, kind)`: how a rule covers a domain
  (exact, digest, wildcard, suffix, parent, candidate) or NULL: crawler.blocks.match_rule, the
  one matching rule `fediscope who-blocks` uses, for the who_blocks, reach and block_changes
  canned queries.
- `match_rank(match)`, `severity_rank(severity)`: 0 for the most certain match and the
  strongest severity (crawler.blocks.MATCH_ORDER and SEVERITY_ORDER), for "the strongest rule
  per blocker".
- `parent_domains(domain)`: JSON array of the domain's parent domains (for `json_each`).

It also renders stored answers (zlib blobs in `documents.body` and `document_bodies.body`) as a
short escaped preview with a link to the whole text, instead of a binary download (which
Datasette 0.65 cannot build for rows of a view).
"""

from __future__ import annotations

import functools
import hashlib
import json
import urllib.parse
import zlib

import markupsafe

from crawler import blocks
from observatory import who_blocks

MAX_UNZIPPED = 16 * 1024 * 1024


def sha256(text: str | None) -> str | None:
    if text is None:
        return None
    return hashlib.sha256(str(text).encode("utf-8")).hexdigest()


def mask_matches(pattern: str | None, domain: str | None) -> int:
    return int(bool(pattern and domain) and blocks.mask_matches(pattern, domain.lower()))


def rule_covers(pattern: str | None, domain: str | None) -> int:
    if not pattern or not domain:
        return 0
    base, domain = blocks.wildcard_base(pattern), domain.lower()
    return int(bool(base) and (domain == base or blocks.covers(base, domain)))


def unzip(blob: bytes | None) -> str | None:
    if blob is None:
        return None
    try:
        data = zlib.decompressobj().decompress(blob, MAX_UNZIPPED)
    except zlib.error:
        return None
    return data.decode("utf-8", errors="replace")


def block_match(
    domain: str | None,
    family: str | None,
    blocked: str | None,
    pattern: str | None,
    digest: str | None,
    kind: str | None,
) -> str | None:
    if not domain or pattern is None:
        return None
    domain = domain.lower()
    return blocks.match_rule(domain, _digest(domain), family, blocked, pattern, digest, kind or "")


@functools.lru_cache(maxsize=64)
def _digest(domain: str) -> str:
    """The asked domain's digest, once per query rather than once per rule row."""
    return blocks.digest_of(domain)


def match_rank(match: str | None) -> int:
    return blocks.match_rank(match)


def severity_rank(severity: str | None) -> int:
    return blocks.severity_rank(severity)


def parent_domains(domain: str | None) -> str:
    return json.dumps(who_blocks.parent_domains(domain.lower()) if domain else [])


PREVIEW_CHARACTERS = 300


def render_cell(value, column, table, database, datasette, row):
    if column != "body" or table not in ("documents", "document_bodies"):
        return None
    if not isinstance(value, bytes):
        return None
    try:
        head = zlib.decompressobj().decompress(value, PREVIEW_CHARACTERS * 4)
    except zlib.error:
        return None
    text = head.decode("utf-8", errors="replace")[:PREVIEW_CHARACTERS]
    columns = row.keys()  # `in row` would test a sqlite3.Row's values, not its columns
    digest = row["body_sha256"] if "body_sha256" in columns else row["sha256"]
    query = urllib.parse.urlencode(
        {
            "sql": "select unzip(body) as text from document_bodies where sha256 = :sha256",
            "sha256": digest,
            "_shape": "array",
        }
    )
    link = datasette.urls.database(database) + ".json?" + query
    return markupsafe.Markup(
        '<code style="white-space: pre-wrap">{}</code>… <a href="{}">whole answer</a>'
    ).format(text, link)


def prepare_connection(conn):
    conn.create_function("sha256", 1, sha256, deterministic=True)
    conn.create_function("mask_matches", 2, mask_matches, deterministic=True)
    conn.create_function("rule_covers", 2, rule_covers, deterministic=True)
    conn.create_function("unzip", 1, unzip, deterministic=True)
    conn.create_function("block_match", 6, block_match, deterministic=True)
    conn.create_function("parent_domains", 1, parent_domains, deterministic=True)
    conn.create_function("match_rank", 1, match_rank, deterministic=True)
    conn.create_function("severity_rank", 1, severity_rank, deterministic=True)
