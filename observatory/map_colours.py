"""The /map's three colourings: platform, declared language, block camp.

Each colouring gives every server a legend key and the legend its order and colours: the
charts' platform palette, or for languages and camps the eight most common values on the map in
the same colour-blind-safe palette, the rest as one grey and the servers without a value as a
lighter grey.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from observatory.palette import FAMILY_COLOURS

COLOURINGS = ("platform", "language", "camp")
PALETTE = [c for name, c in FAMILY_COLOURS.items() if name != "other"]
OTHER, MISSING = "#999999", "#DDDDDD"


@dataclass(frozen=True)
class Colouring:
    """One way of colouring the map: each server's key, the legend's keys and colours."""

    name: str
    title: str
    keys: list[str]
    domain: list[str]
    colours: list[str]


def _ranked(values: list[Any], label: Any, other: str, missing: str, title: str, name: str):
    counts = Counter(v for v in values if v is not None)
    top = [v for v, _ in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))][
        : len(PALETTE)
    ]
    keys = [
        missing if v is None else label(v) if v in top else other for v in values
    ]  # fmt: skip
    domain = [label(v) for v in top]
    colours = PALETTE[: len(top)]
    for key, colour in ((other, OTHER), (missing, MISSING)):
        if key in keys:
            domain.append(key)
            colours.append(colour)
    return Colouring(name, title, keys, domain, colours)


def colouring(nodes: list[dict[str, Any]], name: str) -> Colouring:
    """The colouring `name` (one of COLOURINGS) of the map's servers."""
    if name == "language":
        return _ranked(
            [n.get("language") for n in nodes],
            str,
            "other languages",
            "none declared",
            "Declared language",
            name,
        )
    if name == "camp":
        return _ranked(
            [n.get("camp") for n in nodes],
            lambda camp: f"camp {camp}",
            "smaller camps",
            "in no camp",
            "Block camp",
            name,
        )
    keys = [n["colour_group"] for n in nodes]
    return Colouring(
        "platform", "Platform", keys, list(FAMILY_COLOURS), list(FAMILY_COLOURS.values())
    )
