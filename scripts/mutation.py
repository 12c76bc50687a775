"""Mutation testing of the modules that hold the product's promises (never part of the test suite).

For each target (fetch, blocks, who_blocks, store, graph) this copies the project into
`scripts/out/mutation/<target>/`, configures mutmut 3 there to mutate only that target and to
run only the test files that cover it, runs it under `nice` with a time box, and writes the
score and every surviving mutant (with its diff) to `scripts/out/mutation-<target>.txt`.

    python scripts/mutation.py                       # every target, 20 minutes each at most
    python scripts/mutation.py blocks graph --time-limit 600

A per-target copy keeps mutmut's configuration out of pyproject.toml and lets each target run
with its own tests: mutmut runs, for each mutant, only the selected tests that reached the
mutated function. Slow crawl tests are left out of the selection on purpose (a mutant costs a
test run; a 30-second sandbox crawl per mutant would take hours). A run cut by the time box
reports the mutants it did check; the rest are counted as "not checked".

Needs mutmut 3 in the venv: `pip install -e '.[mutation]'`.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "scripts" / "out"
PARTS = ("crawler", "graph", "tests", "data")


@dataclass(frozen=True)
class Target:
    """One module (file or package) and the fast test files that cover it."""

    mutate: tuple[str, ...]
    tests: tuple[str, ...]
    deselect: tuple[str, ...] = ()


#: Crawls of the sandbox (30 s and more each) and tests of the demo database (built once per
#: pytest session: once per mutant here) are not in these selections; each module's behaviour
#: is pinned by small hand-built worlds in the listed files.
TARGETS: dict[str, Target] = {
    "blocks": Target(
        ("crawler/blocks.py",),
        ("tests/test_block_patterns.py", "tests/test_block_views.py", "tests/test_who_blocks.py"),
    ),
    "who_blocks": Target(
        ("observatory/who_blocks.py",),
        ("tests/test_block_views.py", "tests/test_who_blocks.py"),
    ),
    "graph": Target(
        ("graph/*",),
        (
            "tests/test_block_views.py",
            "tests/test_store_history.py",
            "tests/test_graph_small_world.py",
        ),
    ),
    "fetch": Target(
        ("crawler/fetch/*",),
        ("tests/test_robots_and_guard.py", "tests/test_politeness.py"),
        (
            "tests/test_politeness.py::test_a_second_crawl_visits_only_what_is_due",
            "tests/test_politeness.py::test_crawl_delay_is_the_hosts_gap",
            "tests/test_politeness.py::test_exclusion_file_is_honoured_before_any_request",
        ),
    ),
    "store": Target(
        ("crawler/store/*",),
        (
            "tests/test_store_history.py",
            "tests/test_block_views.py",
            "tests/test_who_blocks.py",
            "tests/test_graph_small_world.py",
        ),
    ),
}

#: `module.x_function__mutmut_3: survived`, methods as `module.xǁClassǁmethod__mutmut_3`
STATUS_LINE = re.compile(r"^\s*(?P<name>\S+\.x[_ǁ]\S+):\s*(?P<status>.+?)\s*$")


def project_files() -> list[Path]:
    """Tracked and new (not ignored) files: what a clean checkout of this work tree holds."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.split("\n")  # fmt: skip
    return [Path(p) for p in listed if p and (REPO / p).is_file()]


def prepare(name: str, target: Target, revision: str | None) -> Path:
    """A fresh copy of the project (the work tree, or a commit) with mutmut configured."""
    work = OUT / "mutation" / (f"{name}-{revision}" if revision else name)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    if revision is not None:
        archive = subprocess.run(
            ["git", "archive", revision, *PARTS, "pyproject.toml"],
            cwd=REPO, capture_output=True, check=True,
        ).stdout  # fmt: skip
        subprocess.run(["tar", "-x", "-C", str(work)], input=archive, check=True)
    else:
        for path in project_files():
            if path.parts[0] in PARTS or path.name == "pyproject.toml":
                (work / path).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / path, work / path)
    tests = [t for t in target.tests if (work / t).exists()]  # new files may not exist yet
    selection = [*tests, *(f"--deselect={d}" for d in target.deselect)]
    config = (
        "\n[tool.mutmut]\n"
        'source_paths = ["crawler", "graph"]\n'
        f"only_mutate = {list(target.mutate)!r}\n"
        f"pytest_add_cli_args_test_selection = {selection!r}\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-x", "-q"]\n'
    ).replace("'", '"')
    with (work / "pyproject.toml").open("a", encoding="utf-8") as handle:
        handle.write(config)
    return work


def run(
    name: str, target: Target, limit: float, children: int, revision: str | None = None
) -> dict[str, int]:
    """Run mutmut for one target within `limit` seconds; write the report; return the counts."""
    work = prepare(name, target, revision)
    mutmut = Path(sys.executable).with_name("mutmut")
    started = time.monotonic()
    try:
        subprocess.run(
            ["nice", "-n", "15", str(mutmut), "run", "--max-children", str(children)],
            cwd=work, timeout=limit, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        finished = True
    except subprocess.TimeoutExpired:
        finished = False
    elapsed = time.monotonic() - started
    listing = subprocess.run(
        [str(mutmut), "results", "--all", "true"], cwd=work, capture_output=True, text=True
    ).stdout
    statuses: dict[str, str] = {}
    for line in listing.splitlines():
        found = STATUS_LINE.match(line)
        if found:
            statuses[found["name"]] = found["status"]
    counts: dict[str, int] = {}
    for status in statuses.values():
        counts[status] = counts.get(status, 0) + 1
    survivors = sorted(n for n, s in statuses.items() if s in ("survived", "no tests"))
    checked = sum(n for s, n in counts.items() if s not in ("not checked", "skipped"))
    killed = counts.get("killed", 0) + counts.get("timeout", 0)
    score = 100.0 * killed / checked if checked else 0.0
    lines = [
        f"target: {name} ({', '.join(target.mutate)}) at {revision or 'the work tree'}",
        f"tests: {' '.join(t for t in target.tests if (work / t).exists())}",
        f"finished: {finished} after {elapsed:.0f} s (limit {limit:.0f} s)",
        f"mutants: {len(statuses)}; " + ", ".join(f"{s}: {n}" for s, n in sorted(counts.items())),
        f"score: {score:.1f}% of {checked} checked (killed or timed out / checked)",
        "",
    ]
    print("\n".join(lines[:5]), flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    suffix = f"-{revision}" if revision else ""
    report = OUT / f"mutation-{name}{suffix}.txt"
    with report.open("w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
        for survivor in survivors:  # `mutmut show` takes a second or two each
            diff = subprocess.run(
                [str(mutmut), "show", survivor], cwd=work, capture_output=True, text=True
            ).stdout
            handle.write(f"## {survivor} ({statuses[survivor]})\n{diff.strip()}\n\n")
            handle.flush()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("targets", nargs="*", help=f"any of {', '.join(TARGETS)} (default: all)")
    parser.add_argument("--time-limit", type=float, default=1200, help="seconds per target")
    parser.add_argument("--max-children", type=int, default=1, help="parallel mutant runs")
    parser.add_argument(
        "--revision", help="mutate this commit instead of the work tree (e.g. main, for a baseline)"
    )
    args = parser.parse_args()
    unknown = set(args.targets) - set(TARGETS)
    if unknown:
        parser.error(f"unknown targets: {', '.join(sorted(unknown))}")
    for name in args.targets or list(TARGETS):
        run(name, TARGETS[name], args.time_limit, args.max_children, args.revision)


if __name__ == "__main__":
    main()
