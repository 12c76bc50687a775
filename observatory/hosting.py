"""`fediscope hosting`: how few networks host the servers and their active users.

The answer reads the latest analysed crawl's rows of `hosting_share` (built by
graph/hosting_share.py) for one unit: address, /24 or /48 prefix, or AS network once an
IP-to-AS table has been imported.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass, field
from typing import Any

from graph.derived import require_table
from graph.hosting_share import UNITS, asn_import
from graph.rows import dict_rows

HALF = 50.0


@dataclass
class HostingAnswer:
    """`fediscope hosting`: the latest crawl's largest hosts by one unit, and the half point."""

    crawl_id: int | None
    crawl_date: str | None
    unit: str
    units: int = 0
    servers_with_address: int = 0
    servers_answering: int = 0
    half_count: int | None = None  # fewest units holding at least half the active users
    top: list[dict[str, Any]] = field(default_factory=list)
    asn_table: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def hosting(connection: sqlite3.Connection, by: str | None = None, top: int = 15) -> HostingAnswer:
    """The hosting concentration of the latest analysed crawl, by `by` (a unit of UNITS; the
    network when an AS table was imported, else the prefix)."""
    require_table(connection, "hosting_share")
    imported = asn_import(connection)
    unit = by or ("network" if imported else "prefix")
    if unit not in UNITS:
        raise ValueError(f"--by must be one of {', '.join(UNITS)}, not {unit!r}")
    if unit == "network" and imported is None:
        raise ValueError("no IP-to-AS table imported: run `fediscope import-asn FILE` first")
    (crawl_id,) = connection.execute("SELECT max(crawl_id) FROM hosting_share").fetchone()
    found = dict_rows(
        connection,
        "SELECT * FROM hosting_share WHERE crawl_id = ? AND unit = ? ORDER BY rank",
        (crawl_id, unit),
    )
    answer = HostingAnswer(crawl_id, found[0]["crawl_date"] if found else None, unit)
    if imported is not None:
        answer.asn_table = dict(
            zip(("file", "imported_at", "ranges", "skipped_rows"), imported, strict=True)
        )
    answer.units = len(found)
    answer.servers_with_address = sum(r["servers"] for r in found)
    if crawl_id is not None:
        (answer.servers_answering,) = connection.execute(
            "SELECT count(*) FROM instance_stats WHERE crawl_id = ? AND status = 'alive'",
            (crawl_id,),
        ).fetchone()
    answer.half_count = next(
        (
            r["rank"]
            for r in found
            if r["key"] is not None and (r["cumulative_active_users_share"] or 0) >= HALF
        ),
        None,
    )
    keep = ("rank", "key", "name", "servers", "users", "active_users", "active_users_share")
    answer.top = [{k: r[k] for k in (*keep, "cumulative_active_users_share")} for r in found[:top]]
    return answer


def format_hosting(answer: HostingAnswer) -> str:
    if answer.crawl_id is None:
        return "No answering server with a known address in the analysed crawls."
    what = {"address": "addresses", "prefix": "/24 and /48 prefixes", "network": "networks (AS)"}
    lines = [
        f"Hosting by {what[answer.unit]}, crawl #{answer.crawl_id} ({answer.crawl_date}): "
        f"{answer.servers_with_address:,} of {answer.servers_answering:,} answering servers "
        f"with a known address, on {answer.units:,} {what[answer.unit]}.",
    ]
    if answer.half_count is not None:
        lines.append(f"{answer.half_count:,} of them host half the active users.")
    lines.append(f"{'rank':>4}  {'host':<40}{'servers':>9}{'active users':>14}{'cum. %':>8}")
    for r in answer.top:
        label = r["key"] or "not in the AS table"
        if r["name"]:
            label = f"{label} {r['name']}"
        share = r["cumulative_active_users_share"]
        lines.append(
            f"{r['rank']:>4}  {label[:39]:<40}{r['servers']:>9,}{r['active_users']:>14,}"
            f"{'-' if share is None else f'{share:.1f}':>8}"
        )
    if answer.asn_table:
        table = answer.asn_table
        lines.append(
            f"AS table: {table['file']} ({table['ranges']:,} ranges, imported "
            f"{table['imported_at']}, {table['skipped_rows']:,} rows skipped)"
        )
    return "\n".join(lines)
