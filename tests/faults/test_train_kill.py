"""``kill -9`` of every ``train_*`` stage (text, tabular, Emb-GAM, MLP, CDEP) at three points:
a random moment of the run, inside the write of its output folder, after the output is in place
but before the metrics. Nothing partial is left where DVC caches outputs, no metrics claim a run
that did not end, and the rerun ends with the metrics of an uninterrupted run.

The stage runs through ``HELD_RUNNER``: the kills inside a write land there every time, not by luck.
"""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from stages import embed, prepare, prepare_sst_variants
from stages.common import run_main
from tests.faults.test_stage_kill import HELD_RUNNER, _kill_when, _start, _tmp_files

REPO = Path(__file__).resolve().parents[2]
HOLD = 0.5
TIMINGS = ("seconds", "time", "per_second")  # metrics that measure the machine, not the model


@dataclass(frozen=True)
class Case:
    stage: str
    args: tuple[str, ...]  # after --dataset/--params/--root; {out} is the run's own folder
    out: str  # the DVC out, relative to the run's folder
    metrics: str  # the metrics file, relative to the run's folder


CASES = [
    Case(
        "train_mlp",
        ("--dataset", "openml-37", "--prepared-dir", "{ws}/prepared",
         "--out-dir", "{out}/models", "--metrics-dir", "{out}/metrics"),
        "models/openml-37", "metrics/openml-37.json",
    ),
    Case(
        "train_tabular",
        ("--dataset", "openml-37", "--method", "inn", "--prepared-dir", "{ws}/prepared",
         "--out-dir", "{out}/tabular", "--metrics-dir", "{out}/metrics"),
        "tabular/inn/openml-37", "metrics/inn/openml-37.json",
    ),
    Case(
        "train_embgam",
        ("--dataset", "amazon-fashion", "--prepared-dir", "{ws}/prepared",
         "--embeddings-dir", "{ws}/embeddings", "--out-dir", "{out}/embgam",
         "--metrics-dir", "{out}/metrics"),
        "embgam/amazon-fashion", "metrics/amazon-fashion.json",
    ),
    Case(
        "train_text",
        ("--run", "tiny", "--prepared-dir", "{ws}/prepared", "--out-dir", "{out}/models",
         "--metrics-dir", "{out}/metrics", "--plots-dir", "{out}/plots"),
        "models/tiny", "metrics/tiny.json",
    ),
    Case(
        "train_cdep",
        ("--variant", "decoy", "--arm", "lstm-cdep", "--variants-dir", "{ws}/variants",
         "--out-dir", "{out}/cdep", "--metrics-dir", "{out}/metrics",
         "--plots-dir", "{out}/plots"),
        "cdep/decoy/lstm-cdep", "metrics/decoy/lstm-cdep.json",
    ),
]  # fmt: skip


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory, raw_dir: Path, tiny_bert: Path) -> Path:
    """Prepared openml-37, amazon-fashion (embedded with a tiny BERT) and the SST-2 decoy
    variant, with small models in ``params.yaml``."""
    ws = tmp_path_factory.mktemp("train-kill")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["embed"]["encoder"].update(model=str(tiny_bert), layer=-1, batch_size=64)
    params["embed"]["cache_dir"] = str(ws / "cache")
    params["train_embgam"].update(Cs=[0.1, 1.0], baseline_Cs=[1.0], n_explain=5)
    params["train_mlp"].update(epochs=60, hidden=[32, 32])
    net = {"epochs": 8, "warmup_epochs": 1, "nr_restarts": 1, "hidden_size": 32}
    params["train_tabular"].update(seeds=[0], device="cpu")
    params["train_tabular"]["hyperparameters"]["inn"].update(net)
    params["train_text"]["models"]["small"].update(
        vocab_size=400, d_model=32, d_ff=64, epochs=6, batch_size=16
    )
    params["train_text"]["seeds"] = [0]
    params["train_text"]["runs"] = {
        "tiny": {"dataset": "sst2", "model": "small", "max_train": 600, "max_length": 40}
    }
    c = params["train_cdep"]
    c.update(variants=["decoy"], max_train=400, n_probe=12, ig_steps=8, seeds=[0])
    for model in c["models"].values():
        model.update(epochs=2, vocab_size=2000, d_model=50 if model["backbone"] == "small" else 16)
    (ws / "params.yaml").write_text(yaml.safe_dump(params))
    common = ["--params", str(ws / "params.yaml"), "--root", str(REPO)]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{ws / 'setup.db'}")
        for ds in ("openml-37", "amazon-fashion", "sst2"):
            dirs = ["--raw-dir", str(raw_dir), "--out-dir", str(ws / "prepared")]
            argv = ["--dataset", ds, *common, *dirs, "--metrics-dir", str(ws / "m")]
            assert run_main(prepare.main, argv) == 0, ds
        dirs = ["--prepared-dir", str(ws / "prepared"), "--metrics-dir", str(ws / "m")]
        argv = ["--dataset", "amazon-fashion", *common, *dirs, "--out-dir", str(ws / "embeddings")]
        assert run_main(embed.main, argv) == 0
        argv = ["--variant", "decoy", *common, *dirs, "--out-dir", str(ws / "variants")]
        assert run_main(prepare_sst_variants.main, argv) == 0
    return ws


def _cmd(ws: Path, case: Case, run: str, hold: float) -> list[str]:
    args = [a.format(ws=ws, out=ws / case.stage / run) for a in case.args]
    return [sys.executable, "-c", HELD_RUNNER, case.stage, f"stages.{case.stage}", str(hold), *args,
            "--params", str(ws / "params.yaml"), "--root", str(REPO)]  # fmt: skip


def _tmp_dirs(folder: Path) -> set[Path]:
    return set(folder.glob(".*.tmp")) if folder.exists() else set()


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def _same_metrics(got: dict, want: dict, path: str = "") -> None:
    assert got.keys() == want.keys(), path
    for key, value in want.items():
        if isinstance(value, dict):
            _same_metrics(got[key], value, f"{path}/{key}")
        elif isinstance(value, float) and not any(t in f"{path}/{key}" for t in TIMINGS):
            assert math.isclose(got[key], value, rel_tol=1e-6, abs_tol=1e-9), f"{path}/{key}"


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.stage for c in CASES])
def test_train_stage_killed_at_three_points(ws: Path, case: Case) -> None:
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{ws / case.stage / 'mlflow.db'}"}
    (ws / case.stage).mkdir(exist_ok=True)
    t0 = time.monotonic()
    ref = _start(_cmd(ws, case, "reference", 0.0), env)
    assert ref.wait(timeout=300) == 0, ref.stdout.read() if ref.stdout else ""
    took = time.monotonic() - t0
    ref_dir = ws / case.stage / "reference"
    want_files = _files(ref_dir / case.out)
    run = ws / case.stage / "killed"
    out, metrics = run / case.out, run / case.metrics
    started = time.monotonic
    t_start = [0.0]
    rng = random.Random(case.stage)
    old_tmp: set[Path] = set()
    points: dict[str, Callable[[], bool]] = {
        "a random moment": lambda: started() - t_start[0] > rng.uniform(0.4, 0.9) * took,
        "inside the output write": lambda: bool(_tmp_dirs(out.parent) - old_tmp),
        "output in place, metrics not yet": lambda: out.exists(),
    }
    for point, ready in points.items():
        if out.exists():  # as `dvc repro` does before it runs a stage
            subprocess.run(["rm", "-rf", str(out)], check=True)
        old_tmp = _tmp_dirs(out.parent)
        t_start[0] = time.monotonic()
        proc = _start(_cmd(ws, case, "killed", HOLD), env)
        assert _kill_when(proc, ready), f"{case.stage} finished before the kill point {point!r}"
        assert not metrics.exists(), point  # no metrics for a run that did not end
        if out.exists():  # renamed into place whole
            assert _files(out) == want_files, point
        if point == "inside the output write":
            assert not out.exists()
    proc = _start(_cmd(ws, case, "killed", 0.0), env)  # output of the last kill left in place
    assert proc.wait(timeout=300) == 0, proc.stdout.read() if proc.stdout else ""
    assert not _tmp_files(out.parent)  # the killed writers' temp folders were cleaned up
    assert _files(out) == want_files
    _same_metrics(json.loads(metrics.read_text()), json.loads((ref_dir / case.metrics).read_text()))
