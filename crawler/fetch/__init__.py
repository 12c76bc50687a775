"""The fetch layer: every request fediscope makes goes through `Fetcher` (politeness + safety)."""

from crawler.fetch.client import Fetcher, FetchSettings, Response

__all__ = ["FetchSettings", "Fetcher", "Response"]
