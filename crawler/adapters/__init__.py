"""Platform adapters, one module per family; importing this package registers them all."""

from crawler.adapters import (
    friendica,
    generic,
    gotosocial,
    hubzilla,
    lemmy,
    mastodon,
    mbin,
    misskey,
    peertube,
    pixelfed,
    pleroma,
    relay,
    threads,
)

__all__ = [
    "friendica",
    "generic",
    "gotosocial",
    "hubzilla",
    "lemmy",
    "mastodon",
    "mbin",
    "misskey",
    "peertube",
    "pixelfed",
    "pleroma",
    "relay",
    "threads",
]
