"""dvc.yaml declares exactly the code each stage can run: every project file reachable from the
stage module through *any* import (grimp reads function-level imports too, which a runtime
``sys.modules`` scan misses) is covered by a declared dep, and every declared code dep is used
(a stale dep reruns a stage for nothing)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import grimp
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CODE_ROOTS = ("src/", "stages/")
PACKAGE_MARKER = "stages/__init__.py"  # a one-line docstring: not worth a rerun of every stage
BY_FILE = ("src/glassworks/report",)
"""Packages declared file by file: ``report`` holds modules only the summary runs (``claims.py``
gains a row most weeks), and declared whole it made one such edit rerun 61 stages."""


def _stage_deps() -> dict[str, list[str]]:
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    return {name: st.get("do", st).get("deps", []) for name, st in stages.items()}


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("glassworks", "stages", "flows", cache_dir=None)


def code_files(graph: grimp.ImportGraph, module: str) -> set[str]:
    """Project files (relative to the repo) that importing ``module`` can execute: every module
    it reaches and every package ``__init__`` on the way."""
    reached = graph.find_upstream_modules(module) | {module}
    with_parents = {
        ".".join(m.split(".")[: i + 1]) for m in reached for i in range(m.count(".") + 1)
    }
    files: set[str] = set()
    for name in with_parents:
        spec = importlib.util.find_spec(name)
        origin = Path(spec.origin).resolve() if spec and spec.origin else None
        if origin and origin.is_relative_to(REPO):
            files.add(str(origin.relative_to(REPO)))
    return files


def _covered(path: str, deps: list[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in deps)


@pytest.mark.parametrize(("name", "deps"), sorted(_stage_deps().items()))
def test_declared_deps_are_the_code_the_stage_can_run(
    graph: grimp.ImportGraph, name: str, deps: list[str]
) -> None:
    used = code_files(graph, f"stages.{name}")
    assert f"stages/{name}.py" in used
    missing = sorted(f for f in used - {PACKAGE_MARKER} if not _covered(f, deps))
    assert not missing, f"{name} can run {missing} but dvc.yaml does not declare them"
    code_deps = [d for d in deps if d.startswith(CODE_ROOTS)]
    stale = [d for d in code_deps if not any(_covered(f, [d]) for f in used)]
    assert not stale, f"{name} declares {stale} but never imports them"


def test_function_level_imports_are_seen(graph: grimp.ImportGraph) -> None:
    """``glassworks.cli`` imports the text classifier inside a function only."""
    assert "src/glassworks/models/text_classifier.py" in code_files(graph, "glassworks.cli")


@pytest.mark.parametrize(("name", "deps"), sorted(_stage_deps().items()))
def test_summary_modules_rerun_only_the_stages_that_import_them(name: str, deps: list[str]) -> None:
    """A stage declares the files of ``BY_FILE`` packages it imports, not the package (nor a
    folder above it): an edit to ``report/claims.py`` makes only the ``report`` stage stale."""
    whole = [d for d in deps if any(_covered(pkg, [d]) for pkg in BY_FILE)]
    assert not whole, f"{name} declares {whole} whole; list the files it imports"
    claims = "src/glassworks/report/claims.py"
    assert (claims in deps) == (name == "report"), f"{name}: {claims} declared: {claims in deps}"
