"""Software identity: the raw NodeInfo name, its normalised form, and its family (lineage).

The family table is data (crawler/data/software_families.toml) so a new fork is one line.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources


def normalise_software(raw: str | None) -> str | None:
    """`software.name` as stored: trimmed and lowercased (`Akkoma ` -> `akkoma`)."""
    if raw is None:
        return None
    name = raw.strip().lower()
    return name or None


@cache
def _family_of_name() -> dict[str, str]:
    text = resources.files("crawler.data").joinpath("software_families.toml").read_text()
    table = tomllib.loads(text)["families"]
    return {name: family for family, names in table.items() for name in names}


def family_of(software: str | None) -> str | None:
    """The lineage of a normalised software name; unknown names are their own family."""
    if software is None:
        return None
    return _family_of_name().get(software, software)
