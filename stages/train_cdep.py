"""Stage ``train_cdep``: one arm (``<model>-<penalty>``) on one SST-2 variant, over its lambdas.

    python -m stages.train_cdep --dataset decoy-lstm-cdep

Reads ``data/variants/<variant>``. The lambda grid trains the first of ``train_cdep.seeds``; the
lambda with the best validation accuracy (``glassworks.selection.RULE``; validation is clean in
both variants, so this is the clean accuracy CDEP targets, never test) then trains the other
seeds. Models: ``data/cdep/<variant>/<arm>/lambda-<lambda>/`` (grid, first seed) and
``lambda-<lambda>-seed-<seed>/``, one MLflow run each. ``metrics/train_cdep/<variant>/<arm>.json``
holds every run's row (``seed``, ``in_grid``, ``chosen``, valid/test/probe accuracy, attribution
mass, ``test_correct`` per example), the choice (``selection``) and the chosen lambda's summary
over seeds (``chosen``: mean, sd, ci95); ``plots/train_cdep/<variant>/<arm>.csv`` the rows.
Arm ``none`` is the vanilla model (lambda 0); ``clean`` the same model on the unbiased
``reference`` texts.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from glassworks.config import TrainCdepParams, load_section
from glassworks.data.schema import PreparedDataset
from glassworks.data.split import stratified_split
from glassworks.data.variants import read_variant
from glassworks.errors import ConfigError
from glassworks.io import atomic_dir, write_csv, write_json
from glassworks.report.cdep import SELECT_METRIC, choose_lambda, summary_of
from glassworks.selection import RULE
from glassworks.stats import summarise
from glassworks.experiments.cdep import fit_penalized
from stages.common import (
    exit_with,
    parser,
    progress_bar,
    provenance,
    run_main,
    stage_address,
    stage_run,
)

STAGE = "train_cdep"
SUMMARISED = ("valid_accuracy", "test_accuracy", "test_macro_f1", "probe_accuracy", "ig_mass")
"""Per-seed values summarised (mean ± sd, 95% bootstrap interval) at the chosen lambda."""
log = logging.getLogger(f"glassworks.stages.{STAGE}")


def load_config(params_path: Path, key: str) -> tuple[TrainCdepParams, str, str]:
    """All this stage reads for ``key`` = ``<variant>-<model>-<penalty>`` (its DVC matrix name):
    ``train_cdep`` with the variant and arm checked against its lists."""
    variant, _, arm = key.partition("-")
    params = load_section(params_path, STAGE, TrainCdepParams)
    if params.variants and variant not in params.variants:
        raise ConfigError(f"{STAGE}.variants: {variant!r} (from {key!r}) is not listed")
    if params.arms and arm not in params.arms:
        known = ", ".join(params.arms)
        raise ConfigError(f"{STAGE}.arms: {arm!r} (from {key!r}) is not listed (known: {known})")
    params.arm(arm)  # model and penalty known, lambdas given
    # what this stage reads: its own variant and arm (the lists only check it is one of them)
    return params.model_copy(update={"variants": (variant,), "arms": (arm,)}), variant, arm


def lambda_name(lam: float) -> str:
    """``lambda-<value>`` folder name (``lambda-0``, ``lambda-0.3``, ``lambda-100``)."""
    return f"lambda-{lam:g}"


def _train(
    args: argparse.Namespace,
    params: TrainCdepParams,
    data: PreparedDataset,
    variant: str,
    arm: str,
    lam: float,
    seed: int,
    folder: Path,
    tags: dict[str, str],
) -> dict[str, Any]:
    """One model (``arm`` at ``lam``, ``seed``) saved to ``folder``, with its MLflow run."""
    _, penalty = params.arm(arm)
    words = list(data.info["spurious_words"])
    train = data.splits["reference" if penalty == "clean" else "train"]
    if params.max_train is not None and params.max_train < train.height:
        _, train = stratified_split(train, "label", params.max_train / train.height, seed)
    est = params.estimator_params(arm, lam, words, seed)
    name = f"{args.dataset} lambda={lam:g} seed={seed}"
    with (
        stage_run(args, STAGE, args.dataset, params=est, tags=tags, run_name=name) as run,
        progress_bar(est["epochs"] * train.height, f"train {name}") as advance,
    ):
        model, metrics = fit_penalized(
            est,
            train,
            data.splits["valid"],
            data.splits["test"],
            data.splits["probe"],
            data.label_names,
            ig_steps=params.ig_steps,
            on_step=advance,
            n_probe=params.n_probe,
        )
        model.save(folder)
        run.log_metrics(metrics)
        run.log_dict(metrics, "metrics.json")
        run.log_text_model(folder, data.splits["test"]["text"].to_list()[:3], model=model)
    log.info(
        "%s: valid accuracy %.4f, IG mass on spurious %.3f",
        name,
        metrics["valid_accuracy"],
        metrics["ig_mass"],
    )
    return {"variant": variant, "arm": arm, "penalty": penalty, **metrics}


def main(argv: Sequence[str] | None = None) -> None:
    """Train the arm's lambda grid (first seed), choose lambda on validation, train the other
    seeds at it."""
    p = parser(STAGE, __doc__)
    p.add_argument("--variants-dir", type=Path, default=Path("data/variants"))
    p.add_argument("--out-dir", type=Path, default=Path("data/cdep"))
    p.add_argument("--metrics-dir", type=Path, default=Path(f"metrics/{STAGE}"))
    p.add_argument("--plots-dir", type=Path, default=Path(f"plots/{STAGE}"))
    args = p.parse_args(argv)

    params, variant, arm = load_config(args.params, args.dataset)
    data = read_variant(args.variants_dir / variant)
    tags = provenance(args.root, stage_address(STAGE, args.dataset))
    first, *others = params.seeds
    rows = []
    with atomic_dir(args.out_dir / variant / arm) as tmp:
        for lam in params.grid(arm):
            row = _train(args, params, data, variant, arm, lam, first, tmp / lambda_name(lam), tags)
            rows.append({**row, "in_grid": True})
        chosen = choose_lambda(rows, SELECT_METRIC)
        for seed in others:
            folder = tmp / f"{lambda_name(chosen)}-seed-{seed}"
            row = _train(args, params, data, variant, arm, chosen, seed, folder, tags)
            rows.append({**row, "in_grid": False})
    for row in rows:
        row["chosen"] = row["lambda"] == chosen
    at_chosen = [r for r in rows if r["chosen"]]
    result = {
        "selection": {
            "metric": SELECT_METRIC,
            "rule": RULE,
            "lambda": chosen,
            "grid_seed": first,
        },  # fmt: skip
        "chosen": {
            "lambda": chosen,
            "seeds": [r["seed"] for r in at_chosen],
            **{k: summary_of([r.get(k) for r in at_chosen]) for k in SUMMARISED},
        },
        "runs": rows,
    }
    flat = pl.DataFrame([{k: v for k, v in r.items() if k != "test_correct"} for r in rows])
    write_csv(args.plots_dir / variant / f"{arm}.csv", flat)
    write_json(args.metrics_dir / variant / f"{arm}.json", result)
    log.info(
        "%s: lambda %g chosen on %s; clean test accuracy %s",
        args.dataset,
        chosen,
        SELECT_METRIC,
        summarise([r["test_accuracy"] for r in at_chosen]).fmt(),
    )


if __name__ == "__main__":
    exit_with(run_main(main, None))
