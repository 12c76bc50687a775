"""The language each map server declares: the primary subtag of its first declared language.

The crawl stores what each server declares in `instances.languages` (a JSON array of lowercased
BCP 47 tags, validated by crawler.languages); a server that declares none, or a database
upgraded from before fediscope kept them and not crawled since, has no language on the map.
"""

from __future__ import annotations

import json
import sqlite3


def primary(tags: object) -> str | None:
    """The primary language subtag of the first tag of a declared list, lowercased."""
    if not isinstance(tags, list):
        return None
    for tag in tags:
        if isinstance(tag, str) and tag.strip():
            return tag.strip().lower().split("-")[0]
    return None


def map_languages(connection: sqlite3.Connection, domains: list[str]) -> dict[str, str]:
    """domain -> primary language subtag, for the domains that declare one."""
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
