"""Stage ``train_cdep``: one arm (``<model>-<penalty>``) on one SST-2 variant, over its lambdas.

    python -m stages.train_cdep --variant decoy --arm lstm-cdep

Reads ``data/variants/<variant>``. The lambda grid trains the first of ``train_cdep.seeds``; the
lambda with the best validation accuracy (``glassworks.selection.RULE``; validation is clean in
both variants, so this is the clean accuracy CDEP targets, never test) then trains the other
seeds. Models: ``data/cdep/<variant>/<arm>/lambda-<lambda>/`` (grid, first seed) and
``lambda-<lambda>-seed-<seed>/``, one MLflow run each. ``metrics/train_cdep/<variant>/<arm>.json``
holds every run's row (``seed``, ``in_grid``, ``chosen``, valid/test/probe accuracy, attribution
mass, ``test_correct`` per example), the choice (``selection``) and the chosen lambda's summary
over seeds (``chosen``: mean, sd, ci95); ``plots/train_cdep/<variant>/<arm>.csv`` the rows.
Training seconds go to each run's MLflow metrics only (timings: MLflow only).
Arm ``none`` is the vanilla model (lambda 0); ``clean`` the same model on the unbiased
``reference`` texts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from glassworks.config import TrainCdepParams, load_section
from glassworks.data.schema import PreparedDataset
from glassworks.data.split import stratified_cap
from glassworks.data.variants import read_variant
from glassworks.errors import ConfigError
from glassworks.experiments.cdep import fit_penalized
from glassworks.io import atomic_dir, write_csv, write_json
from glassworks.report.cdep import SELECT_METRIC, arm_result, choose_lambda, runs_table
from glassworks.stats import summarise
from stages.common import Stage, exit_with, progress_bar, run_main, start

STAGE = "train_cdep"
OPTIONS = {
    "--variants-dir": "data/variants",
    "--out-dir": "data/cdep",
    "--metrics-dir": f"metrics/{STAGE}",
    "--plots-dir": f"plots/{STAGE}",
}
Config = tuple[TrainCdepParams, str, str]
log = logging.getLogger(f"glassworks.stages.{STAGE}")


def load_config(params_path: Path, key: str) -> Config:
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
    st: Stage[Config], data: PreparedDataset, lam: float, seed: int, folder: Path
) -> dict[str, Any]:
    """One model (the arm at ``lam``, ``seed``) saved to ``folder``, with its MLflow run (the
    metrics and the training seconds): its row (no seconds: the rows are DVC outputs)."""
    params, variant, arm = st.config
    _, penalty = params.arm(arm)
    train = data.splits["reference" if penalty == "clean" else "train"]
    train = stratified_cap(train, params.max_train, seed)
    est = params.estimator_params(arm, lam, list(data.info["spurious_words"]), seed)
    name = f"{st.item} lambda={lam:g} seed={seed}"
    with (
        st.run(est, run_name=name) as run,
        progress_bar(est["epochs"] * train.height, f"train {name}") as advance,
    ):
        model, metrics, seconds = fit_penalized(
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
        run.log_metrics({**metrics, **seconds})  # timings: MLflow only
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
    st = start(STAGE, __doc__, argv, load_config, OPTIONS, item="variant", matrix=("arm",))
    args, (params, variant, arm) = st.args, st.config
    data = read_variant(args.variants_dir / variant)
    first, *others = params.seeds
    with atomic_dir(args.out_dir / variant / arm) as tmp:
        rows = [
            {**_train(st, data, lam, first, tmp / lambda_name(lam)), "in_grid": True}
            for lam in params.grid(arm)
        ]
        chosen = choose_lambda(rows, SELECT_METRIC)
        for seed in others:
            folder = tmp / f"{lambda_name(chosen)}-seed-{seed}"
            rows.append({**_train(st, data, chosen, seed, folder), "in_grid": False})
    result = arm_result(rows, chosen, first)
    write_csv(args.plots_dir / variant / f"{arm}.csv", runs_table(rows))
    write_json(args.metrics_dir / variant / f"{arm}.json", result)
    log.info(
        "%s: lambda %g chosen on %s; clean test accuracy %s",
        st.item,
        chosen,
        SELECT_METRIC,
        summarise([r["test_accuracy"] for r in rows if r["chosen"]]).fmt(),
    )


if __name__ == "__main__":
    exit_with(run_main(main, None))
