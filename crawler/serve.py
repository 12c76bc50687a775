"""`fediscope serve`: Datasette over a fediscope database, with the observatory's settings.

The pages, templates, static files, metadata and canned queries come from the installed
Datasette plugin (observatory.plugin, registered through the `datasette` entry point), so this
command needs no checkout; it adds the settings of observatory/plugin/settings.json (the same
as data/settings.json, which `datasette data/` reads).
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

from observatory.plugin.config import settings


class PortInUse(OSError):
    """Another program already listens on the address `serve` was asked for."""


def datasette_arguments(db_path: str, host: str, port: int) -> list[str]:
    """The `datasette serve` command line for a database."""
    arguments = ["serve", db_path, "--host", host, "--port", str(port)]
    for name, value in settings().items():
        arguments += [
            "--setting",
            name,
            json.dumps(value) if isinstance(value, bool) else str(value),
        ]
    return arguments


def check_port(host: str, port: int) -> None:
    """Raise PortInUse when (host, port) cannot be listened on (port 0 picks a free one)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PortInUse(f"port {port} on {host} is in use ({exc.strerror})") from exc


def serve(db_path: str, host: str = "127.0.0.1", port: int = 8001) -> None:
    """Run Datasette until interrupted."""
    from datasette.cli import cli as datasette_cli

    check_port(host, port)
    name = Path(db_path).stem
    print(
        f"serving {db_path}: open http://{host}:{port}/ for the home page, "
        f"http://{host}:{port}/{name} for its tables and SQL (Ctrl-C to stop)",
        flush=True,
    )
    datasette_cli.main(
        datasette_arguments(db_path, host, port),
        prog_name="datasette",
        standalone_mode=False,
    )
