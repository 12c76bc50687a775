"""Lenient readers for values servers send in the wrong shape.

Each reader returns the value and the data-quality flags it raised. A value that cannot be
trusted becomes None with a flag; nothing is silently fixed or imputed. The flag names are part
of the published schema (`instances.quality_flags`, described in data/metadata.yml).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

ABSURD_COUNT = 1_000_000_000
_INTEGER = re.compile(r"\s*-?[0-9]{1,30}\s*")


def read_count(value: Any, flags: set[str]) -> int | None:
    """A non-negative count: ints, digit strings (flagged), integral floats (flagged)."""
    if value is None:
        return None
    if isinstance(value, bool):
        flags.add("count_wrong_type")
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        flags.add("count_from_float")
        number = int(value)
    elif isinstance(value, str) and _INTEGER.fullmatch(value):
        flags.add("count_from_string")
        number = int(value)
    else:
        flags.add("count_wrong_type")
        return None
    if number < 0:
        flags.add("negative_count")
        return None
    if number > ABSURD_COUNT:
        flags.add("absurd_count")
        return None
    return number


def read_bool(value: Any, flags: set[str]) -> bool | None:
    """A boolean; "true"/"false" strings in any case are accepted and flagged."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        flags.add("bool_from_string")
        return value.strip().lower() == "true"
    flags.add("bool_wrong_type")
    return None


def read_text(value: Any, limit: int = 5000) -> str | None:
    """A string, trimmed to `limit` characters; anything else is None."""
    if isinstance(value, str):
        text = value.strip()
        return text[:limit] if text else None
    return None


def mapping(value: Any) -> Mapping[str, Any]:
    """`value` if it is a JSON object, else an empty mapping (e.g. PHP's `[]` for `{}`)."""
    return value if isinstance(value, dict) else {}


def sequence(value: Any) -> list[Any]:
    """`value` if it is a JSON array, else an empty list."""
    return value if isinstance(value, list) else []


def check_consistency(counts: dict[str, int | None], flags: set[str]) -> None:
    """Cross-field checks on usage counts, in place: zeroed stats and impossible activity."""
    total = counts.get("users_total")
    if total == 0:
        flags.add("stats_zeroed")
        for key in counts:
            counts[key] = None
        return
    if total is None:
        return
    for key in ("users_active_month", "users_active_halfyear"):
        active = counts.get(key)
        if active is not None and active > total:
            flags.add("stats_suspect")
            counts[key] = None
