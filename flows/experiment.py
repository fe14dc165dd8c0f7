"""The ``full-profile`` flow: the whole pipeline at full scale as one DVC experiment
(``dvc exp run --temp -S ...``): it runs in a temporary copy, so the workspace and the committed
params stay as they are, and the result is an experiment ref (``dvc exp show``)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.states import Cancelled

from flows.dvc_project import StageFailed, dvc, stage_env
from flows.pipeline import cancel_watch
from flows.processes import run_tree

FULL_PROFILE: tuple[str, ...] = (
    "embed.datasets.sst2.ngram_order=3",
    "embed.datasets.essays.ngram_order=2",
    "embed.datasets.amazon-beauty.ngram_order=3",
    "train_text.runs.sst2-minilm.max_train=null",
    "train_text.runs.sst2-minilm.epochs=3",
    "train_text.runs.sst2-small.max_train=null",
    "train_text.runs.sst2-small.epochs=4",
    "train_text.runs.essays-small.max_train=null",
    "explain_text.runs.sst2-minilm.n_texts=100",
    "explain_text.runs.sst2-minilm.n_interactions=3",
    "explain_text.runs.sst2-minilm.n_texts_note=null",
    "explain_text.runs.essays-small.n_texts_note=null",
    "explain_text.runs.essays-small.n_texts=100",
    "train_tabular.max_train=null",
    "train_tabular.hyperparameters.ebm.outer_bags=14",
    "train_tabular.hyperparameters.ebm.learning_rate=0.015",
    "train_tabular.tuning.n_trials=30",
    "train_embgam.residuals=[0,0.3,1,3]",
    "train_cdep.max_train=null",
)
"""The full-scale settings of the method guides (docs/methods/, GPU machines)."""


@task(task_run_name="dvc exp run {name}")
def run_experiment(root: str, name: str, overrides: list[str]) -> Any:
    """``dvc exp run --temp --name <name> -S ...``; returns the experiment's metrics. Cancelling
    the flow run (or SIGTERM / Ctrl-C to it) stops the experiment's process tree and ends the
    task Cancelled."""
    args = [str(Path(sys.executable).parent / "dvc"), "exp", "run", "--temp", "--name", name]
    for o in overrides:
        args += ["-S", o]
    done = run_tree(args, cwd=root, env=stage_env(), cancelled=cancel_watch())
    if done.stopped is not None:
        return Cancelled(message=f"dvc exp run {name} stopped after {done.seconds:.0f} s: "
                         f"{done.stopped}")  # fmt: skip
    if done.returncode != 0:
        raise StageFailed(f"dvc exp run {name} failed:\n{(done.stdout + done.stderr)[-3000:]}")
    shown = json.loads(dvc(Path(root), "exp", "show", "--json").stdout or "[]")
    return {"name": name, "n_experiments": len(shown)}


@flow(name="full-profile")
def full_profile(root: str = ".", overrides: list[str] | None = None) -> dict[str, Any]:
    """Reproduce the pipeline at full scale as a named DVC experiment."""
    name = time.strftime("full-%Y%m%d-%H%M")
    out = run_experiment(root, name, list(overrides if overrides is not None else FULL_PROFILE))
    get_run_logger().info("experiment %s done: `dvc exp show` lists it", name)
    return out
