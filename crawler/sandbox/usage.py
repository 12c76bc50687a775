"""User and post counts: what a host publishes (quirks included) and what a crawler must store.

`raw_usage` gives the raw JSON values a host publishes at an epoch (every platform API renders
the same raw values as NodeInfo, so NodeInfo-first precedence cannot change the result);
`stored_usage` applies the project's counting rules to them, as the ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass

from crawler.sandbox.model import Host

MISSING: object = type("Missing", (), {"__repr__": lambda self: "MISSING"})()
ABSURD = 1_000_000_000
COUNT_KEYS = ("users_total", "users_active_month", "users_active_halfyear", "local_posts")


@dataclass(frozen=True)
class RawUsage:
    """Raw published values (`MISSING` = key absent)."""

    total: object
    active_month: object
    active_halfyear: object
    local_posts: object
    open_registrations: object


def counts_at(h: Host, epoch: int) -> tuple[int, int, int, int]:
    """True (total, active month, active half-year, posts) after `epoch` epochs of growth."""
    g = h.growth * epoch

    def grow(x: int) -> int:
        return x + x * g // 100 + (g if x else 0)

    total = grow(h.users)
    month = min(total, grow(h.active_month))
    half = min(total, max(month, grow(h.active_halfyear)))
    return total, month, half, grow(h.posts) + 3 * epoch * (1 if h.posts else 0)


def _published_keys(h: Host) -> tuple[bool, bool, bool, bool]:
    platform = h.platform
    if "only_total" in h.quirks or platform == "bridgy":
        return True, False, False, False
    if platform == "gotosocial":
        return True, False, False, True
    if platform == "relay":
        return True, True, True, False
    if platform == "threads":
        return False, False, False, False
    return True, True, True, True


def _registrations(h: Host) -> object:
    if "reg_missing" in h.quirks:
        return MISSING
    if "reg_string" in h.quirks:
        return "TRUE" if h.open_reg else "FALSE"
    if "reg_wrong_type" in h.quirks:
        return "yes" if h.idx % 2 else 1
    return h.open_reg


def raw_usage(h: Host, epoch: int) -> RawUsage:
    """The values the host publishes for users, posts and registrations."""
    total, month, half, posts = counts_at(h, epoch)
    values: list[object] = [total, month, half, posts]
    q = h.quirks
    if "zeroed" in q:
        values = [0, 0, 0, 0]
    if "suspect" in q:
        values[1] = total + 7
    if "negative_count" in q:
        values[3] = -42
    if "absurd_count" in q:
        values[3] = 4_000_000_000_000
    if "null_active" in q:
        values[1] = values[2] = None
    if "count_strings" in q:
        values = [str(v) if isinstance(v, int) else v for v in values]
    if "localposts_object" in q:
        values[3] = {"all": posts, "direct": posts // 9}
    shown = _published_keys(h)
    values = [v if show else MISSING for v, show in zip(values, shown, strict=True)]
    return RawUsage(*values, _registrations(h))


def usage_object(raw: RawUsage, comments: int | None = None) -> dict[str, object]:
    """NodeInfo `usage` object built from raw values (absent keys left out)."""
    users = {
        key: value
        for key, value in (
            ("total", raw.total),
            ("activeHalfyear", raw.active_halfyear),
            ("activeMonth", raw.active_month),
        )
        if value is not MISSING
    }
    usage: dict[str, object] = {"users": users}
    if raw.local_posts is not MISSING:
        usage["localPosts"] = raw.local_posts
    if comments is not None:
        usage["localComments"] = comments
    return usage


def api_count(value: object) -> object:
    """A raw count as a platform API renders it (absent -> null)."""
    return None if value is MISSING else value


def _count(value: object) -> tuple[int | None, str | None]:
    if value is MISSING or value is None:
        return None, None
    flag = None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value, flag = int(value), "count_from_string"
    if isinstance(value, bool) or not isinstance(value, int):
        return None, "count_wrong_type"
    if value < 0:
        return None, "negative_count"
    if value > ABSURD:
        return None, "absurd_count"
    return value, flag


def _bool(value: object) -> tuple[bool | None, str | None]:
    if value is MISSING:
        return None, None
    if isinstance(value, bool):
        return value, None
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true", "bool_from_string"
    return None, "bool_wrong_type"


def stored_usage(raw: RawUsage) -> tuple[dict[str, object], list[str]]:
    """Apply the crawler's counting rules: stored values and sorted quality flags."""
    flags: set[str] = set()
    stored: dict[str, object] = {}
    raws = (raw.total, raw.active_month, raw.active_halfyear, raw.local_posts)
    for key, value in zip(COUNT_KEYS, raws, strict=True):
        stored[key], flag = _count(value)
        if flag:
            flags.add(flag)
    if stored["users_total"] == 0:
        stored.update(dict.fromkeys(COUNT_KEYS))
        flags.add("stats_zeroed")
    month, total = stored["users_active_month"], stored["users_total"]
    if isinstance(month, int) and isinstance(total, int) and month > total:
        stored["users_active_month"] = None
        flags.add("stats_suspect")
    stored["open_registrations"], flag = _bool(raw.open_registrations)
    if flag:
        flags.add(flag)
    return stored, sorted(flags)
