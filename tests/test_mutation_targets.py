"""scripts/mutation.py's targets name files that exist: a test module moved or renamed without
updating its target would silently drop the tests that kill that target's mutants."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def load_mutation_script():
    script = REPO / "scripts" / "mutation.py"
    spec = importlib.util.spec_from_file_location("fediscope_mutation", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being made
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_every_target_names_existing_sources_and_tests():
    mutation = load_mutation_script()
    missing = []
    for name, target in mutation.TARGETS.items():
        for pattern in target.mutate:
            if not list(REPO.glob(pattern)):
                missing.append(f"{name}: {pattern}")
        for selected in (*target.tests, *target.deselect):
            path, _, test = selected.partition("::")
            if not (REPO / path).is_file():
                missing.append(f"{name}: {path}")
            elif test and f"def {test}(" not in (REPO / path).read_text(encoding="utf-8"):
                missing.append(f"{name}: {selected}")
    assert missing == []


def test_the_split_store_fetch_and_graph_tests_are_selected():
    targets = load_mutation_script().TARGETS
    assert {"tests/test_store_crawls.py", "tests/test_store_lock.py"} <= set(targets["store"].tests)
    assert "tests/test_fetch_robots.py" in targets["fetch"].tests
    assert "tests/test_graph_adoption_units.py" in targets["graph_shares"].tests
