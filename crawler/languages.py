"""Declared languages: untrusted values to lowercased, well-formed BCP 47 tags.

Servers say which languages they serve: Mastodon's instance API (`languages`, v1 and v2),
Misskey's meta (`langs`), PeerTube's config (`instance.languages`) and some NodeInfo
`metadata` (`languages` or `langs`). Each source is a list of strings in principle; in practice
it may be null, a single string, a comma-separated string, or hold numbers, objects, locale
names with underscores (`pt_BR`) or free text ("English"). Every value is checked against the
RFC 5646 syntax (language, script, region, variants, extensions, private use, the grandfathered
tags), with the primary language subtag held to 2 or 3 letters: the 4- and 5-8-letter forms the
syntax allows are unused in the IANA registry, and accepting them would take "english" or
"deutsch" for tags. What is not a tag is dropped and counted, never guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: Flag set on an observation when a declared language value was not a BCP 47 tag.
INVALID_FLAG = "languages_invalid"
#: A server declaring more than this many languages is not describing its community.
MAX_LANGUAGES = 200
#: RFC 5646 asks implementations to accept at least 35 characters; longer is junk here.
MAX_TAG_LENGTH = 35

_LANGTAG = (
    r"[a-z]{2,3}(?:-[a-z]{3}){0,3}"  # language (+ extlang)
    r"(?:-[a-z]{4})?"  # script
    r"(?:-(?:[a-z]{2}|[0-9]{3}))?"  # region
    r"(?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*"  # variants
    r"(?:-[0-9a-wy-z](?:-[a-z0-9]{2,8})+)*"  # extensions
    r"(?:-x(?:-[a-z0-9]{1,8})+)?"  # private use
)
_GRANDFATHERED = (
    "en-gb-oed|i-ami|i-bnn|i-default|i-enochian|i-hak|i-klingon|i-lux|i-mingo|i-navajo|i-pwn"
    "|i-tao|i-tay|i-tsu|sgn-be-fr|sgn-be-nl|sgn-ch-de|art-lojban|cel-gaulish|no-bok|no-nyn"
    "|zh-guoyu|zh-hakka|zh-min|zh-min-nan|zh-xiang"
)
TAG = re.compile(rf"(?:{_GRANDFATHERED}|{_LANGTAG}|x(?:-[a-z0-9]{{1,8}})+)")


def normalise_tag(value: Any) -> str | None:
    """The lowercased tag when `value` is a well-formed BCP 47 tag, else None.

    `_` is read as `-` (POSIX locale names such as `pt_BR` are common in declarations).
    """
    if not isinstance(value, str):
        return None
    text = value.strip().lower().replace("_", "-")
    if not text or len(text) > MAX_TAG_LENGTH or not text.isascii():
        return None
    return text if TAG.fullmatch(text) else None


@dataclass
class DeclaredLanguages:
    """The tags read from one or more sources, in first-seen order, and what was dropped."""

    tags: list[str] = field(default_factory=list)
    dropped: int = 0
    declared: bool = False  # at least one source carried a languages field

    def add(self, value: Any) -> None:
        """Read one source's value (a list, or a string of one or more tags)."""
        if value is None:
            return
        self.declared = True
        for item in _items(value):
            tag = normalise_tag(item)
            if tag is None:
                self.dropped += 1
            elif tag not in self.tags:
                if len(self.tags) >= MAX_LANGUAGES:
                    self.dropped += 1
                else:
                    self.tags.append(tag)


def _items(value: Any) -> Iterable[Any]:
    if isinstance(value, str):
        return [part for part in re.split(r"[,\s]+", value) if part]
    if isinstance(value, list | tuple):
        return value
    return [value]  # a number, an object: one value that is not a tag


def parse_languages(*values: Any) -> DeclaredLanguages:
    """Read the languages fields of one server's answers (None: the field was absent)."""
    declared = DeclaredLanguages()
    for value in values:
        declared.add(value)
    return declared


def nodeinfo_languages(metadata: dict[str, Any]) -> Any:
    """The languages field of NodeInfo `metadata`, if it has one (None when absent)."""
    for key in ("languages", "langs"):
        if key in metadata:
            return metadata[key]
    return None
