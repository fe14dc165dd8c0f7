"""``make run``'s entry point (``flows.run``) on a real DVC project: stale stages side by side,
each with its share of the cores, and an up-to-date pipeline checked without starting Prefect."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from flows.dvc_project import plan, share_cores
from flows.run import main
from tests.flows.conftest import dvc, git, set_params

pytestmark = pytest.mark.usefixtures("prefect_harness")

THREADS = (
    "import json, os; json.dump({v: os.environ.get(v) for v in "
    "('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS')}, open('threads.json', 'w'))"
)


@pytest.fixture
def threads_project(project: Path) -> Path:
    """The tiny project plus a stage that records the thread variables it was started with."""
    spec = yaml.safe_load((project / "dvc.yaml").read_text())
    spec["stages"]["threads"] = {"cmd": f'python -c "{THREADS}"', "outs": ["threads.json"]}
    (project / "dvc.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    (project / ".gitignore").write_text("data.txt\nupper.txt\nok.txt\nthreads.json\n")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "threads stage")
    return project


@pytest.mark.parametrize(
    ("cores", "workers", "expected"),
    [(2, None, (2, 1)), (1, None, (2, 1)), (16, None, (8, 2)), (16, 4, (4, 4)), (4, 0, (1, 4))],
)
def test_share_cores(cores: int, workers: int | None, expected: tuple[int, int]) -> None:
    assert share_cores(cores, workers) == expected


def test_runs_what_is_stale_with_threads_shared(threads_project: Path) -> None:
    root = threads_project
    graph, stale = plan(root)
    assert stale == set(graph.upstream) == {"make", "count", "upper", "check", "threads"}
    assert main(["--root", str(root), "--workers", "2", "--threads", "3"]) == 0
    assert json.loads((root / "count.json").read_text()) == {"chars": 3}
    recorded = json.loads((root / "threads.json").read_text())
    assert recorded == dict.fromkeys(recorded, "3")
    assert plan(root)[1] == set()  # dvc.lock records every stage: nothing stale
    set_params(root, make={"n": 4})
    assert plan(root)[1] == {"make"}
    assert main(["--root", str(root), "--workers", "2"]) == 0
    assert (root / "upper.txt").read_text() == "XXXX"


def test_a_failing_stage_fails_the_run_and_names_it(project: Path) -> None:
    set_params(project, check={"fail": True, "message": "bad threshold in check.fail"})
    assert main(["--root", str(project), "--workers", "2"]) == 1
    assert (project / "upper.txt").is_file()  # independent stages still ran
    assert "check" in plan(project)[1]


def test_up_to_date_pipeline_starts_no_prefect(project: Path) -> None:
    assert dvc(project, "repro").returncode == 0
    code = (
        "import sys; from flows.run import main; rc = main(['--root', sys.argv[1]]); "
        "print('prefect' in sys.modules, rc)"
    )
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    out = subprocess.run(
        [sys.executable, "-c", code, str(project)], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "0"]
    assert "up to date" in out.stderr


def test_targets_run_only_what_they_need(project: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert main(["--root", str(project), "--workers", "2", "count"]) == 0
    assert (project / "count.json").is_file()
    assert not (project / "upper.txt").exists()
    assert not (project / "ok.txt").exists()
    assert plan(project)[1] == {"upper", "check"}
    # Prefect's logging config (first run) replaced the root handlers caplog relies on
    logger = logging.getLogger("flows.run")
    caplog.set_level(logging.INFO, logger="flows.run")
    logger.addHandler(caplog.handler)
    try:
        assert main(["--root", str(project), "--workers", "2", "count"]) == 0  # nothing to do
    finally:
        logger.removeHandler(caplog.handler)
    said = caplog.text
    assert "stages these targets need are up to date" in said
    assert "2 other stages stale" in said  # not "pipeline up to date"
    assert "pipeline up to date" not in said
    with pytest.raises(SystemExit):
        main(["--root", str(project), "nosuch"])


def test_longest_chain_first() -> None:
    from flows.dvc_project import StageGraph
    from flows.pipeline import critical_path

    g = StageGraph(
        {
            "prepare@a": frozenset(),
            "train_text@a": frozenset({"prepare@a"}),
            "explain_text@a": frozenset({"train_text@a"}),
            "prepare@b": frozenset(),
            "train_tabular@b": frozenset({"prepare@b"}),
        }
    )
    path = critical_path(g, set(g.upstream))
    assert path["explain_text@a"] == 120
    assert path["prepare@a"] == 5 + 120 + 120  # starts before prepare@b (5 + 10)
    assert path["prepare@a"] > path["prepare@b"] == 15


def test_cost_hints_match_addresses_most_specific_first() -> None:
    from flows.pipeline import cost_hint

    assert cost_hint("train_text@sst2-minilm") == 380
    assert cost_hint("train_text@essays-small") == 1400
    assert cost_hint("train_text@amazon-beauty-small") == 120
    assert cost_hint("train_tabular@openml-151-ebm") == 160  # EBM: 2.6 min, not a 10 s fit
    assert cost_hint("train_tabular@openml-31-ebm") == 40
    assert cost_hint("train_tabular@openml-151-inn") == 10
    assert cost_hint("train_cdep@decoy-lstm-cdep_ref") == 80
    assert cost_hint("train_cdep@gender-lstm-cdep_int") == 110
    assert cost_hint("train_cdep@decoy-lstm-clp") == 60
    assert cost_hint("prepare@sst2") == 5


REPO = Path(__file__).resolve().parents[2]


def _make_variable(name: str) -> list[str]:
    """The words of a ``NAME := ...`` assignment in the Makefile (continuation lines joined)."""
    text = (REPO / "Makefile").read_text(encoding="utf-8").replace("\\\n", " ")
    for line in text.splitlines():
        left, sep, right = line.partition(":=")
        if sep and left.strip() == name:
            return right.split()
    raise AssertionError(f"Makefile defines no {name}")


def test_make_demo_is_a_small_slice_of_the_real_pipeline_touching_every_method() -> None:
    """``make demo``'s stages exist in dvc.yaml, reach each of the five methods, and with what
    they need stay a small slice of the pipeline (the point of the demo is minutes, not an hour)."""
    demo = set(_make_variable("DEMO_STAGES"))
    graph, _ = plan(REPO)
    assert demo <= set(graph.upstream), f"not pipeline stages: {demo - set(graph.upstream)}"
    families = {a.partition("@")[0] for a in demo}
    assert {"train_embgam", "explain", "explain_text", "train_cdep"} <= families
    assert any(a.startswith("train_tabular@") and a.endswith("-inn") for a in demo)  # INN
    arms = {a.rpartition("-")[2] for a in demo if a.startswith("train_cdep@")}
    assert {"none", "cdep"} <= arms  # CDEP beside the vanilla model it is compared with
    needed = graph.needs(demo)
    assert len(needed) <= 20 < len(graph.upstream) / 4, sorted(needed)
