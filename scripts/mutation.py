"""Mutation testing of the modules that hold the product's promises (never part of the test suite).

For each target (fetch, probe, blocks, who_blocks, store, graph and its parts graph_core,
graph_shares, graph_network, graph_map) this copies the
project into `scripts/out/mutation/<target>/`, configures mutmut 3 there to mutate only that
target and to run only the test files that cover it, runs it under `nice` with a time box, and
writes the score and every surviving mutant (with its diff) to `scripts/out/mutation-<target>.txt`.

    python scripts/mutation.py                       # every target, 20 minutes each at most
    python scripts/mutation.py blocks graph --time-limit 600

A per-target copy keeps mutmut's configuration out of pyproject.toml and lets each target run
with its own tests: mutmut runs, for each mutant, only the selected tests that reached the
mutated function. Slow crawl tests are left out of the selection on purpose (a mutant costs a
test run; a 30-second sandbox crawl per mutant would take hours). A run cut by the time box
reports the mutants it did check; the rest are counted as "not checked".

    python scripts/mutation.py store --report-only   # the report again, from the last run

Survivors that only change the letter case of SQL text are equivalent (SQLite reads keywords
and names in any case); the report lists them apart and gives a second score without them.
Every other survivor is explained in `scripts/mutation_survivors/<target>.md`.

Needs mutmut 3 in the venv: `pip install -e '.[mutation]'`.
"""

from __future__ import annotations

import argparse
import ast
import difflib
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


#: graph/ is pinned, for mutation runs, by unit tests on tiny hand-built databases (one
#: analysis step on a few rows in milliseconds). The small-world and demo tests call `analyze`,
#: which reaches every function of graph/: in a selection they made each mutant cost seconds.
GRAPH_TESTS = (
    "tests/test_graph_core_units.py",
    "tests/test_graph_share_units.py",
    "tests/test_graph_adoption_units.py",
    "tests/test_graph_network_units.py",
    "tests/test_graph_map_units.py",
    "tests/test_graph_analyze_units.py",
)
GRAPH_CORE = ("graph/platforms.py", "graph/blocks.py", "graph/blocked_reach.py", "graph/history.py")
GRAPH_SHARES = (
    "graph/adoption.py",
    "graph/language_share.py",
    "graph/hosting_share.py",
    "graph/versions.py",
    "graph/concentration.py",
    "graph/activity.py",
)
GRAPH_NETWORK = (
    "graph/hops.py",
    "graph/edges.py",
    "graph/peers.py",
    "graph/federation.py",
    "graph/camps.py",
    "graph/derived.py",
    "graph/rows.py",
)
#: The /map's layout (drawing, not a published number) and analyze.py, which runs the steps.
GRAPH_MAP = (
    "graph/map_layout.py",
    "graph/map_embedding.py",
    "graph/map_languages.py",
    "graph/analyze.py",
)

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
    "graph": Target(("graph/*",), GRAPH_TESTS),
    # graph/ in parts small enough for one run each: the published platform share, block
    # aggregates and change over time; the other shares; the network measures; the map.
    "graph_core": Target(GRAPH_CORE, GRAPH_TESTS),
    "graph_shares": Target(GRAPH_SHARES, GRAPH_TESTS),
    "graph_network": Target(GRAPH_NETWORK, GRAPH_TESTS),
    "graph_map": Target(GRAPH_MAP, GRAPH_TESTS),
    "fetch": Target(
        ("crawler/fetch/*",),
        (
            "tests/test_fetch_pacing.py",
            "tests/test_fetch_robots.py",
            "tests/test_fetch_answers.py",
            "tests/test_fetch_addresses.py",
            "tests/test_robots_and_guard.py",
            "tests/test_shared_hosting.py::test_one_dns_answer_serves_the_grouping_and_the_connection",
            "tests/test_politeness.py",
            "tests/test_burst.py",
            "tests/test_load.py",
        ),
        (
            "tests/test_load.py::test_a_timeout_while_overloaded_is_visited_again_not_called_unreachable",
            "tests/test_load.py::test_a_timeout_while_not_overloaded_is_the_servers",
            "tests/test_politeness.py::test_a_second_crawl_visits_only_what_is_due",
            "tests/test_politeness.py::test_crawl_delay_is_the_hosts_gap",
            "tests/test_politeness.py::test_exclusion_file_is_honoured_before_any_request",
            "tests/test_politeness.py::test_the_global_concurrency_cap_holds_across_hosts",
        ),
    ),
    "probe": Target(
        ("crawler/adapters/probe.py",),
        (
            "tests/test_probe_rules.py",
            "tests/test_probes.py::test_the_instance_api_names_the_family",
            "tests/test_probes.py::test_the_other_probes_recognise_only_their_platform",
        ),
    ),
    # The store's own tests; the small-world graph tests also write through the store, but
    # with an analyze per test they made each surviving mutant cost 15 s on a busy machine.
    "store": Target(
        ("crawler/store/*",),
        (
            "tests/test_store_writer.py",
            "tests/test_store_crawls.py",
            "tests/test_store_lock.py",
            "tests/test_store_tables.py",
            "tests/test_store_history.py",
            "tests/test_store_runs.py",
            "tests/test_block_views.py",
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


def existing_tests(work: Path, target: Target) -> list[str]:
    """The target's tests (files or node ids) whose file exists in `work` (new files may not
    exist at an older revision)."""
    return [t for t in target.tests if (work / t.split("::", 1)[0]).exists()]


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
    tests = existing_tests(work, target)
    if not tests:  # an empty selection would make mutmut run the whole suite per mutant
        raise SystemExit(f"{name}: none of its test files exist at {revision or 'the work tree'}")
    selection = [*tests, *(f"--deselect={d}" for d in target.deselect)]
    config = (
        "\n[tool.mutmut]\n"
        'source_paths = ["crawler", "graph"]\n'
        'also_copy = ["data"]\n'  # metadata.yml, canned queries: read by the dataset and views
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
        finished = f"finished: True after {time.monotonic() - started:.0f} s (limit {limit:.0f} s)"
    except subprocess.TimeoutExpired:
        finished = f"finished: False, stopped at the limit of {limit:.0f} s"
    return report(name, target, work, finished, revision)


def report(
    name: str, target: Target, work: Path, finished: str, revision: str | None = None
) -> dict[str, int]:
    """Read mutmut's results in `work`; write the score and every survivor; return the counts.

    A survivor that only changes the letter case of SQL text (keywords and names; quoted
    values untouched) is an equivalent mutant, SQLite reads both the same: it is listed apart
    and left out of the second score, which is the one the goals are about.
    """
    mutmut = Path(sys.executable).with_name("mutmut")
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
    diffs = mutant_diffs(work, survivors)
    equivalent = [s for s in survivors if sql_case_only(diffs[s])]
    checked = sum(n for s, n in counts.items() if s not in ("not checked", "skipped"))
    killed = counts.get("killed", 0) + counts.get("timeout", 0)
    score = 100.0 * killed / checked if checked else 0.0
    meaningful = checked - len(equivalent)
    adjusted = 100.0 * killed / meaningful if meaningful else 0.0
    lines = [
        f"target: {name} ({', '.join(target.mutate)}) at {revision or 'the work tree'}",
        f"tests: {' '.join(existing_tests(work, target))}",
        finished,
        f"mutants: {len(statuses)}; " + ", ".join(f"{s}: {n}" for s, n in sorted(counts.items())),
        f"score: {score:.1f}% of {checked} checked (killed or timed out / checked)",
        f"score without the {len(equivalent)} equivalent SQL-case mutants: {adjusted:.1f}% "
        f"of {meaningful}",
        "",
    ]
    print("\n".join(lines[:6]), flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    suffix = f"-{revision}" if revision else ""
    with (OUT / f"mutation-{name}{suffix}.txt").open("w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
        for survivor in survivors:
            if survivor not in equivalent:
                handle.write(f"## {survivor} ({statuses[survivor]})\n{diffs[survivor]}\n\n")
        handle.write("# Equivalent: the case of SQL text changed\n\n")
        handle.write("".join(f"- {survivor}\n" for survivor in equivalent))
    return counts


def mutant_diffs(work: Path, names: list[str]) -> dict[str, str]:
    """Each mutant's diff against the original function, read from mutmut's mutated copies.

    mutmut keeps every variant of a function beside the original in `mutants/<module>.py`
    (`x_name__mutmut_orig`, `x_name__mutmut_3`; methods as `xǁClassǁname__...`): one parse per
    module instead of one `mutmut show` process per survivor (a second or two each). A mutant
    whose source is not found falls back to `mutmut show`.
    """
    mutmut = Path(sys.executable).with_name("mutmut")
    functions: dict[str, dict[str, str]] = {}
    diffs = {}
    for name in names:
        module, function = name.split(".x", 1)
        function = "x" + function
        if module not in functions:
            path = work / "mutants" / (module.replace(".", "/") + ".py")
            source = path.read_text(encoding="utf-8") if path.exists() else ""
            functions[module] = {
                node.name: ast.get_source_segment(source, node) or ""
                for node in ast.walk(ast.parse(source))
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            }
        base = function.rsplit("__mutmut_", 1)[0]
        original = functions[module].get(base + "__mutmut_orig")
        mutated = functions[module].get(function)
        if original is None or mutated is None:
            diffs[name] = subprocess.run(
                [str(mutmut), "show", name], cwd=work, capture_output=True, text=True
            ).stdout.strip()
            continue
        before = original.splitlines()
        after = mutated.replace(function, base + "__mutmut_orig", 1).splitlines()
        lines = difflib.unified_diff(before, after, f"{module}.py", f"{module}.py", lineterm="")
        diffs[name] = "\n".join(lines)
    return diffs


#: A single-quoted SQL literal (a value, whose case matters).
SQL_LITERAL = re.compile(r"'[^']*'")
SQL_WORD = re.compile(
    r"\b(select|insert|update|delete|create|drop|alter|pragma|from|where|and|or|set|values"
    r"|order|join|on|case|when|then|end|coalesce|begin|immediate|commit|rollback)\b",
    re.IGNORECASE,
)

#: A Python string literal in double quotes (how this code base writes its SQL).
PY_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
#: A string of column names and placeholders only (one line of a longer SQL statement).
SQL_NAMES = re.compile(r'^"[\w\s,=?()+]*[,=?][\w\s,=?()+]*"$')


def sql_case_only(diff: str) -> bool:
    """Whether the mutant's diff only changes the case of SQL words and names in one line."""
    removed = [line[1:] for line in diff.splitlines() if line.startswith("-")]
    added = [line[1:] for line in diff.splitlines() if line.startswith("+")]
    removed = [line for line in removed if not line.startswith("-- ")]
    added = [line for line in added if not line.startswith("++ ")]
    if len(removed) != 1 or len(added) != 1 or removed[0] == added[0]:
        return False
    before, after = PY_STRING.findall(removed[0]), PY_STRING.findall(added[0])
    if PY_STRING.sub('""', removed[0]) != PY_STRING.sub('""', added[0]) or len(before) != len(
        after
    ):
        return False
    return all(
        old == new
        or (
            old.lower() == new.lower()
            and (SQL_WORD.search(old) is not None or SQL_NAMES.match(old) is not None)
            and SQL_LITERAL.findall(old) == SQL_LITERAL.findall(new)
        )
        for old, new in zip(before, after, strict=True)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("targets", nargs="*", help=f"any of {', '.join(TARGETS)} (default: all)")
    parser.add_argument("--time-limit", type=float, default=1200, help="seconds per target")
    parser.add_argument("--max-children", type=int, default=1, help="parallel mutant runs")
    parser.add_argument(
        "--revision", help="mutate this commit instead of the work tree (e.g. main, for a baseline)"
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="rewrite the report from the last run's results (no new run)",
    )
    args = parser.parse_args()
    unknown = set(args.targets) - set(TARGETS)
    if unknown:
        parser.error(f"unknown targets: {', '.join(sorted(unknown))}")
    for name in args.targets or list(TARGETS):
        if args.report_only:
            work = OUT / "mutation" / (f"{name}-{args.revision}" if args.revision else name)
            report(name, TARGETS[name], work, "finished: (report only)", args.revision)
        else:
            run(name, TARGETS[name], args.time_limit, args.max_children, args.revision)


if __name__ == "__main__":
    main()
