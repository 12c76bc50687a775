"""`fediscope charts`: every /platforms chart as SVG and PNG, its data as CSV, and SOURCES.md.

For people who do not run a server: the files can go straight into an article. The charts are
the page's own (observatory.charts: same SQL, same Vega-Lite specs built with Altair), rendered
offline by vl-convert (no browser, no network); the CSV beside each image holds exactly the
rows it draws, and SOURCES.md says what each shows, from which crawl, and how it was gathered.
"""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import vl_convert as vlc

from observatory.chart_kit import DEFAULT_WIDTH, DataDate
from observatory.charts import RenderedChart, render_charts

PNG_SCALE = 2.0  # 144 dpi: sharp in print and on high-density screens


def charts(db_path: str, out_dir: str, width: int = DEFAULT_WIDTH) -> list[Path]:
    """Write the chart files into `out_dir` (created if needed); return the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        date, rendered = render_charts(connection, width=width, validate=True)
    finally:
        connection.close()
    written: list[Path] = []
    for item in rendered:
        if item.spec is None:
            continue
        slug = item.chart.slug
        svg = out / f"{slug}.svg"
        svg.write_text(vlc.vegalite_to_svg(item.spec), encoding="utf-8")
        png = out / f"{slug}.png"
        png.write_bytes(vlc.vegalite_to_png(item.spec, scale=PNG_SCALE))
        data = out / f"{slug}.csv"
        _write_csv(data, item)
        written += [svg, png, data]
    sources = out / "SOURCES.md"
    sources.write_text(sources_text(db_path, date, rendered), encoding="utf-8")
    written.append(sources)
    return written


def _write_csv(path: Path, item: RenderedChart) -> None:
    columns = list(item.rows[0])
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in item.rows:
            writer.writerow(["" if row[c] is None else row[c] for c in columns])


def sources_text(db_path: str, date: DataDate, rendered: list[RenderedChart]) -> str:
    """SOURCES.md: what each chart shows, when the data was gathered, and how."""
    lines = [
        "# Sources of these charts",
        "",
        f"Made by fediscope from the database `{Path(db_path).name}`. {date.line()}.",
        "",
        "How the data was gathered: fediscope crawled the Fediverse politely from a few seed "
        "servers (robots.txt obeyed, one request at a time per server, opt-outs honoured). "
        "Every number is what a server published about itself (NodeInfo, instance APIs, public "
        "peer and block lists) at crawl time; counts a server did not give are left out, never "
        'estimated. "Active users" are each server\'s own count of accounts active in the last '
        "30 days. Sums over servers are neither a lower nor an upper bound on the number of "
        "people (one person may hold accounts on several servers). Block counts cover only the "
        "block lists that could be read.",
        "",
        'Licence of the data: CC-BY-4.0; please credit "fediscope".',
        "",
    ]
    for item in rendered:
        chart = item.chart
        lines += [f"## {chart.title}", ""]
        if item.spec is None:
            lines += [f"Not drawn: {item.missing}.", ""]
            continue
        lines += [
            f"- Files: `{chart.slug}.svg`, `{chart.slug}.png`, data `{chart.slug}.csv` "
            f"({len(item.rows)} rows)",
            f"- What: {chart.units}",
        ]
        note = chart.notes(item.rows)
        if note:
            lines.append(f"- Note: {note}")
        lines += [
            f"- When: {date.line().removeprefix('Data: ')}",
            f"- How: {chart.method}",
            "- Query (SQLite, over the tables `fediscope analyze` builds):",
            "",
            "```sql",
            chart.sql.strip(),
            "```",
            "",
        ]
    return "\n".join(lines)
