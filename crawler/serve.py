"""`fediscope serve`: Datasette over a fediscope database, configured from data/.

data/ is a Datasette configuration directory (metadata.yml, settings.json, plugins/, templates/,
static/), so `datasette data/` serves the databases kept there directly. This command serves any
database file with the same configuration, naming it after the file.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import yaml

TEMPLATE_DATABASE = "fediverse"


def data_dir() -> Path:
    """The configuration directory: ./data when it has metadata.yml, else the repository's."""
    here = Path.cwd() / "data"
    if (here / "metadata.yml").is_file():
        return here
    return Path(__file__).resolve().parent.parent / "data"


def metadata_for(database_name: str, directory: Path | None = None) -> dict[str, Any]:
    """metadata.yml with the database entry available under `database_name`."""
    directory = directory or data_dir()
    metadata = yaml.safe_load((directory / "metadata.yml").read_text(encoding="utf-8"))
    databases = metadata.setdefault("databases", {})
    if database_name not in databases and TEMPLATE_DATABASE in databases:
        databases[database_name] = databases[TEMPLATE_DATABASE]
    return metadata


def settings(directory: Path | None = None) -> dict[str, Any]:
    directory = directory or data_dir()
    path = directory / "settings.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def datasette_arguments(db_path: str, host: str, port: int, metadata_file: str) -> list[str]:
    """The `datasette serve` command line for a database."""
    directory = data_dir()
    arguments = [
        "serve",
        db_path,
        "--metadata",
        metadata_file,
        "--plugins-dir",
        str(directory / "plugins"),
        "--template-dir",
        str(directory / "templates"),
        "--static",
        f"static:{directory / 'static'}",
        "--host",
        host,
        "--port",
        str(port),
    ]
    for name, value in settings(directory).items():
        arguments += [
            "--setting",
            name,
            json.dumps(value) if isinstance(value, bool) else str(value),
        ]
    return arguments


def serve(
    db_path: str, host: str = "127.0.0.1", port: int = 8001, cache_max_age: int = 300
) -> None:
    """Run Datasette until interrupted; pages may be kept `cache_max_age` seconds."""
    from datasette.cli import cli as datasette_cli

    name = Path(db_path).stem
    metadata = metadata_for(name)
    metadata.setdefault("plugins", {})["fediscope-cache"] = {"max_age": cache_max_age}
    with tempfile.TemporaryDirectory() as scratch:
        metadata_file = Path(scratch) / "metadata.json"
        metadata_file.write_text(json.dumps(metadata), encoding="utf-8")
        print(
            f"serving {db_path}: open http://{host}:{port}/ for the home page, "
            f"http://{host}:{port}/{name} for its tables and SQL (Ctrl-C to stop)",
            flush=True,
        )
        datasette_cli.main(
            datasette_arguments(db_path, host, port, str(metadata_file)),
            prog_name="datasette",
            standalone_mode=False,
        )
