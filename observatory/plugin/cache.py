"""Datasette plugin: HTTP validators, 304s and the in-process answer cache (observatory.cache).

Configured under `plugins: fediscope-cache:` in the metadata (`fediscope serve
--cache-max-age N` writes it): `max_age` seconds (default 300; 0 sends no-cache) and
`max_mb`, the memory bound of the answer cache (default 64).
"""

from __future__ import annotations

from typing import Any

from observatory.cache import DEFAULT_MAX_AGE, DEFAULT_MAX_BYTES, CachingMiddleware


def asgi_wrapper(datasette: Any) -> Any:
    config = datasette.plugin_config("fediscope-cache") or {}
    max_age = int(config.get("max_age", DEFAULT_MAX_AGE))
    max_bytes = int(float(config.get("max_mb", DEFAULT_MAX_BYTES / 2**20)) * 2**20)

    def wrap(app: Any) -> Any:
        return CachingMiddleware(app, datasette, max_age=max_age, max_bytes=max_bytes)

    return wrap
