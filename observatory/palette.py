"""The observatory's colours (Okabe-Ito, safe for colour-blind readers), in one place.

Plain constants with no imports, so `analyze` (graph.map_layout groups the map's families by
them) never loads the chart code or Altair.
"""

from __future__ import annotations

#: Okabe-Ito colours, one per major platform family, the same in every chart and on the map.
FAMILY_COLOURS: dict[str, str] = {
    "mastodon": "#0072B2",
    "misskey": "#E69F00",
    "pleroma": "#CC79A7",
    "lemmy": "#009E73",
    "peertube": "#D55E00",
    "pixelfed": "#56B4E9",
    "friendica": "#000000",
    "gotosocial": "#F0E442",
    "other": "#999999",
}
FAMILIES = tuple(FAMILY_COLOURS)
SEVERITY_COLOURS: dict[str, str] = {
    "suspend": "#D55E00",
    "silence": "#E69F00",
    "quarantine": "#CC79A7",
    "reject_media": "#56B4E9",
    "reject_reports": "#0072B2",
    "other": "#999999",
}
VISIBILITY_COLOURS: dict[str, str] = {
    "read": "#009E73",
    "restricted": "#E69F00",
    "hidden": "#D55E00",
    "disallowed by robots.txt": "#CC79A7",
    "error": "#000000",
    "not published": "#999999",
    "not read": "#DDDDDD",
}
#: Two series in one chart (a server's users and active users): Okabe-Ito blue and orange.
SERIES_COLOURS = ("#0072B2", "#E69F00")
#: One measure in one colour (the declared-language bars): Okabe-Ito blue.
SINGLE_COLOUR = "#0072B2"
#: The fewest hosts that hold half the active users, against the rest: vermillion and grey.
HALF_COLOURS = ("#D55E00", "#999999")
