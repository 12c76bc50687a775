"""`verify-dataset` on a small exported dataset, tampered with one way at a time.

Each tampering must be reported, naming the file, and nothing else may be: a changed byte that
keeps the size, a missing file, an extra file, a renamed file, and a manifest that is not one.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from observatory.dataset import export_dataset
from observatory.manifest import MANIFEST, verify_dataset
from tests.small_world import analysed_world

PART = "instance_stats/crawl_id=2/part-0.parquet"


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("verify")
    out = base / "dataset"
    export_dataset(str(analysed_world(base / "small.db")), str(out))
    return out


@pytest.fixture
def dataset(exported, tmp_path) -> Path:
    """A fresh copy of the exported dataset for one test to tamper with."""
    copy = tmp_path / "dataset"
    shutil.copytree(exported, copy)
    return copy


def listed(directory: Path) -> dict[str, dict]:
    return json.loads((directory / MANIFEST).read_text())["files"]


def test_an_untouched_dataset_verifies(dataset):
    check = verify_dataset(str(dataset))
    files = listed(dataset)
    assert PART in files and len(files) > 5
    assert (check.ok, check.problems, check.files_checked) == (True, [], len(files))
    assert check.lines() == [f"{dataset}: {len(files)} files match manifest.json"]


def test_a_changed_byte_that_keeps_the_size_is_reported(dataset):
    part = dataset / PART
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0x01
    part.write_bytes(bytes(data))
    assert part.stat().st_size == listed(dataset)[PART]["bytes"]
    check = verify_dataset(str(dataset))
    assert check.problems == [
        f"{part}: SHA-256 does not match manifest.json (changed after export)"
    ]
    assert check.lines() == check.problems


def test_a_file_of_another_size_is_reported(dataset):
    part = dataset / PART
    part.write_bytes(part.read_bytes() + b"\0")
    assert verify_dataset(str(dataset)).problems == [
        f"{part}: SHA-256 does not match manifest.json (changed after export)"
    ]


def test_a_missing_file_is_reported(dataset):
    (dataset / PART).unlink()
    check = verify_dataset(str(dataset))
    assert check.problems == [f"{dataset / PART}: missing (listed in manifest.json)"]
    assert check.files_checked == len(listed(dataset)) - 1


def test_an_extra_file_is_reported(dataset):
    extra = dataset / "instance_stats" / "crawl_id=9" / "part-0.parquet"
    extra.parent.mkdir()
    shutil.copy(dataset / PART, extra)
    assert verify_dataset(str(dataset)).problems == [
        f"{extra}: not listed in manifest.json (added after export)"
    ]


def test_a_renamed_file_is_reported_as_missing_and_extra(dataset):
    renamed = dataset / "instance_stats" / "crawl_id=2" / "part-1.parquet"
    (dataset / PART).rename(renamed)
    assert verify_dataset(str(dataset)).problems == [
        f"{dataset / PART}: missing (listed in manifest.json)",
        f"{renamed}: not listed in manifest.json (added after export)",
    ]


def test_a_dataset_without_a_readable_manifest_is_reported(dataset, tmp_path):
    manifest = dataset / MANIFEST
    manifest.write_text("{not json")
    (problem,) = verify_dataset(str(dataset)).problems
    assert problem.startswith(f"{manifest} is not readable JSON")
    manifest.write_text(json.dumps({"format": "something-else", "files": {}}))
    assert verify_dataset(str(dataset)).problems == [
        f"{manifest} is not a fediscope dataset manifest"
    ]
    manifest.unlink()
    (problem,) = verify_dataset(str(dataset)).problems
    assert problem.endswith("has Parquet files but no manifest.json; export into a new directory")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert verify_dataset(str(empty)).problems == [
        f"{empty} has no manifest.json: not a fediscope dataset"
    ]


def test_the_command_reports_every_problem_on_one_line_each(dataset):
    runner = CliRunner()
    good = runner.invoke(cli, ["verify-dataset", str(dataset)])
    assert good.exit_code == 0 and good.output.endswith("files match manifest.json\n")
    (dataset / PART).rename(dataset / "moved.parquet")
    bad = runner.invoke(cli, ["verify-dataset", str(dataset)])
    assert bad.exit_code == 2
    lines = bad.stderr.strip().split("\n")
    assert len(lines) == 2
    assert any(PART in line and "missing" in line for line in lines)
    assert any("moved.parquet" in line and "not listed" in line for line in lines)
