"""`concentration`: how concentrated users are, per crawl, across servers, platforms, operators.

For each crawl, unit (server, platform = family, operator = registrable domain) and measure
(users, active users): the Herfindahl-Hirschman index (sum of squared shares), the Shannon
entropy normalised by its maximum ln(units), the share held by the largest 1% and 5% of units,
and the smallest number of units holding half the total. Servers whose counts were flagged
suspect in that crawl (`SUSPECT_FLAGS`) are left out, and counted.
"""

from __future__ import annotations

import math
import sqlite3
from collections import defaultdict

import numpy as np

from crawler.software import family_of
from graph.history import SUSPECT_FLAGS, crawl_dates

UNITS = ("server", "platform", "operator")
MEASURES = ("users", "active_users")


def measures(values: np.ndarray) -> tuple[object, ...]:
    """(units, total, hhi, entropy, entropy_normalised, top1, top5, half_count) of counts."""
    counts = np.sort(values[values > 0].astype(np.float64))[::-1]
    units = int(counts.shape[0])
    if units == 0:
        return (0, 0, None, None, None, None, None, None)
    total = float(counts.sum())
    shares = counts / total
    hhi = float(np.square(shares).sum())
    entropy = float(-(shares * np.log(shares)).sum())
    normalised = entropy / math.log(units) if units > 1 else 0.0
    cumulative = np.cumsum(counts)
    top1 = float(cumulative[math.ceil(0.01 * units) - 1] / total)
    top5 = float(cumulative[math.ceil(0.05 * units) - 1] / total)
    half = int(np.searchsorted(cumulative, total / 2, side="left")) + 1
    return (
        units,
        int(total),
        round(hhi, 6),
        round(entropy, 6),
        round(normalised, 6),
        round(top1, 6),
        round(top5, 6),
        half,
    )


def _suspect(*flag_texts: str | None) -> bool:
    flags = {f for text in flag_texts if text for f in text.split(",")}
    return any(flag in flags for flag in SUSPECT_FLAGS)


def build_concentration(connection: sqlite3.Connection) -> str:
    """(Re)build `concentration`; return a one-line description."""
    dates = crawl_dates(connection)
    connection.execute("DROP TABLE IF EXISTS concentration")
    connection.execute(
        "CREATE TABLE concentration (crawl_id INTEGER, crawl_date TEXT, unit TEXT, "
        "measure TEXT, units INTEGER, total INTEGER, hhi REAL, entropy REAL, "
        "entropy_normalised REAL, top1_share REAL, top5_share REAL, half_count INTEGER, "
        "servers_excluded_suspect INTEGER, PRIMARY KEY (crawl_id, unit, measure))"
    )
    # crawl -> unit -> measure -> key -> count
    sums: dict[int, dict[str, list[dict[str, int]]]] = {}
    excluded: dict[int, int] = defaultdict(int)
    cursor = connection.execute(
        "SELECT s.crawl_id, s.domain, s.software, i.family, "
        "coalesce(i.registrable_domain, s.domain), s.users_total, s.users_active_month, "
        "s.quality_flags, CASE WHEN s.crawl_id = i.last_crawl_id THEN i.quality_flags END "
        "FROM instance_stats s LEFT JOIN instances i ON i.domain = s.domain "
        "WHERE s.status = 'alive' ORDER BY s.crawl_id, s.domain"
    )
    for crawl, domain, software, family, operator, users, active, flags, latest in cursor:
        if _suspect(flags, latest):
            excluded[crawl] += 1
            continue
        per_unit = sums.setdefault(crawl, {u: [defaultdict(int), defaultdict(int)] for u in UNITS})
        keys = {
            "server": domain,
            "platform": family_of(software) or family or "unknown",
            "operator": operator,
        }
        for unit, key in keys.items():
            if users is not None:
                per_unit[unit][0][key] += users
            if active is not None:
                per_unit[unit][1][key] += active
    rows = []
    for crawl in sorted(dates):
        per_unit = sums.get(crawl)
        for unit in UNITS:
            for m, measure in enumerate(MEASURES):
                counted = per_unit[unit][m] if per_unit else {}
                values = np.fromiter(counted.values(), dtype=np.int64, count=len(counted))
                rows.append(
                    (crawl, dates[crawl], unit, measure, *measures(values), excluded[crawl])
                )
    connection.executemany(
        "INSERT INTO concentration VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
    )
    return f"{len(dates)} crawls, {sum(excluded.values())} suspect observations left out"
