"""The architecture is enforced, not kept by discipline: the import-linter contracts in
pyproject.toml hold (layers, mlflow only in ``tracking``, prefect only in ``flows/``, dvc only in
``flows/dvc_project.py``, no stage imports another), they catch a violation, and no import cycle
exists anywhere (grimp reads every import, function-level ones included)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grimp

REPO = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(pythonpath: list[Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, pythonpath))}
    return subprocess.run(
        [str(LINT), "--no-cache", "--config", str(REPO / "pyproject.toml")],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_import_contracts_hold() -> None:
    out = _lint([REPO / "src", REPO], REPO)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout


def test_contracts_catch_a_forbidden_import(tmp_path: Path) -> None:
    """A copy of the code where ``stats`` imports mlflow and ``explain`` imports a model breaks
    two contracts."""
    for part in ("src/glassworks", "stages", "flows"):
        shutil.copytree(
            REPO / part, tmp_path / Path(part).name, ignore=shutil.ignore_patterns("__pycache__")
        )
    stats = tmp_path / "glassworks" / "stats.py"
    stats.write_text(stats.read_text() + "\n\ndef _leak() -> None:\n    import mlflow  # noqa\n")
    paths = tmp_path / "glassworks" / "explain" / "paths.py"
    paths.write_text(paths.read_text() + "\nfrom glassworks.models import lstm  # noqa\n")
    out = _lint([tmp_path], tmp_path)
    assert out.returncode != 0
    assert "only glassworks.tracking imports mlflow BROKEN" in out.stdout
    assert "library layers: each imports only the layers below it BROKEN" in out.stdout


def _cycles(graph: grimp.ImportGraph) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def imported(module: str) -> Iterator[str]:
        return iter(sorted(graph.find_modules_directly_imported_by(module)))

    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, imported(root))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in graph.modules:
                    continue
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, imported(child)))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def test_no_import_cycles() -> None:
    graph = grimp.build_graph("glassworks", "stages", "flows", cache_dir=None)
    assert _cycles(graph) == []


def test_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for a, b in [("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d")]:
        graph.add_import(importer=a, imported=b)
    assert _cycles(graph) == [{"p.a", "p.b", "p.c"}]
