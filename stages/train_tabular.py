"""Stage ``train_tabular``: one method on one tabular dataset, every seed (the INN benchmark).

    python -m stages.train_tabular --dataset openml-31 --method inn

A classification dataset trains the method's classifier and scores AUROC; a regression dataset
(``task: regression``) trains its regressor and scores RMSE, MAE and R²
(:func:`glassworks.models.tabular.make_tabular_regressor`, same hyperparameter keys).
Per seed: ``data/tabular/<method>/<dataset>/<seed>/`` holds ``output_info.json`` (test/valid
AUROC and accuracy, or test/valid RMSE, test MAE and R²; sizes, hyperparameters, as the INN seed
writes) and ``model.pkl`` (encoder + model); each seed is one MLflow run with the scores, the
train/inference seconds (timings: MLflow only, so the DVC outputs depend on the inputs alone) and
the model as a pyfunc (probabilities, or predicted values). The mean and std of the scores over
seeds go to ``metrics/train_tabular/<method>/<dataset>.json``.

With ``train_tabular.tuning.n_trials`` > 0 (classification), the method's hyperparameters are
first searched on validation AUROC with that many Optuna trials, the same budget for every
method (:mod:`glassworks.experiments.tuning`; the first seed fits the trials); every seed then
trains at the best setting (each seed's MLflow run logs it). The trials go to ``tuning.json``
beside the seeds; the metrics record the best setting and its validation AUROC.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from glassworks.config import TabularRun, TrainTabularParams, load_section
from glassworks.data import PreparedDataset, read_prepared
from glassworks.device import torch_threads
from glassworks.errors import ConfigError
from glassworks.experiments.tabular import (
    EncodedSplits,
    check_tabular,
    encode_as_configured,
    fit_score_and_time,
    input_example,
    save_seed,
    scores_for,
    summarize_seeds,
)
from glassworks.io import atomic_dir, write_json
from glassworks.models.tabular import TABULAR_METHODS, make_tabular_model
from stages.common import Stage, exit_with, run_main, start

STAGE = "train_tabular"
OPTIONS = {
    "--prepared-dir": "data/prepared",
    "--out-dir": "data/tabular",
    "--metrics-dir": "metrics/train_tabular",
}
log = logging.getLogger(f"glassworks.stages.{STAGE}")


def load_config(params_path: Path, key: str) -> TabularRun:
    """All this stage reads for ``key`` = ``<dataset>-<method>`` (its DVC matrix name): the shared
    ``train_tabular`` settings and ``train_tabular.hyperparameters.<method>``. An unknown or
    misspelt hyperparameter is refused here, before anything is trained or written."""
    dataset, _, method = key.rpartition("-")
    params = load_section(params_path, STAGE, TrainTabularParams)
    if params.datasets and dataset not in params.datasets:
        raise ConfigError(f"train_tabular.datasets: {dataset!r} (from {key!r}) is not listed")
    if params.methods and method not in params.methods:
        raise ConfigError(
            f"train_tabular.methods: {method!r} is not listed (known: {', '.join(params.methods)})"
        )
    if method not in TABULAR_METHODS:
        raise ConfigError(
            f"train_tabular: unknown method {method!r} (known: {', '.join(TABULAR_METHODS)})"
        )
    run = params.run(method)
    try:
        make_tabular_model(method, 0, run.hyperparameters)
    except TypeError as exc:  # an unknown keyword argument
        raise ConfigError(f"train_tabular.hyperparameters.{method}: {exc}") from None
    return run


def main(argv: Sequence[str] | None = None) -> None:
    """Run the stage for ``--dataset`` and ``--method``."""
    st = start(STAGE, __doc__, argv, load_config, OPTIONS, matrix=("method",))
    args, params = st.args, st.config
    prepared = read_prepared(args.prepared_dir / args.dataset)
    check_tabular(prepared, str(args.prepared_dir / args.dataset))
    if prepared.task == "regression":  # load_config checked the classifier's arguments
        try:
            make_tabular_model(args.method, 0, params.hyperparameters, task="regression")
        except TypeError as exc:
            raise ConfigError(f"train_tabular.hyperparameters.{args.method}: {exc}") from None
    data = encode_as_configured(prepared, params)
    example = input_example(prepared.splits["test"])
    hyper, tuning = _tuned(st, prepared, data)
    with atomic_dir(args.out_dir / args.method / args.dataset) as tmp:
        infos = [
            _train_seed(st, prepared, data, example, seed, tmp / str(seed), hyper)
            for seed in params.seeds
        ]
        if tuning is not None:
            write_json(tmp / "tuning.json", tuning)
    summary = {"dataset": args.dataset, "method": args.method, **summarize_seeds(infos)}
    if tuning is not None:
        summary["tuning"] = {k: v for k, v in tuning.items() if k != "trials"}
    write_json(args.metrics_dir / args.method / f"{args.dataset}.json", summary)


def _tuned(
    st: Stage[TabularRun], prepared: PreparedDataset, data: EncodedSplits
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The hyperparameters every seed trains with and, when ``tuning.n_trials`` > 0, the search
    (``n_trials``, ``best``, ``best_valid_auroc``, ``trials``); the configured ones otherwise."""
    args, params = st.args, st.config
    n_trials = params.tuning.n_trials
    if not n_trials:
        return params.hyperparameters, None
    if prepared.task == "regression":
        log.warning("%s: regression target, not tuned (the search scores AUROC)", st.item)
        return params.hyperparameters, None
    from glassworks.experiments.tuning import tune

    threads = params.threads if args.method in ("inn", "tabresnet") else None
    with torch_threads(threads):
        found = tune(
            args.method, params.hyperparameters, data, len(prepared.label_names), n_trials,
            seed=params.seeds[0],
        )  # fmt: skip
    best = {k: v for k, v in found.params.items() if k != "device"}
    log.info("%s: best of %d trials, valid AUROC %.4f: %s", st.item, n_trials,
             found.valid_auroc, best)  # fmt: skip
    return found.params, {
        "n_trials": n_trials,
        "best": best,
        "best_valid_auroc": found.valid_auroc,
        "trials": found.trials,
    }


def _train_seed(
    st: Stage[TabularRun],
    prepared: PreparedDataset,
    data: EncodedSplits,
    example: pd.DataFrame,
    seed: int,
    folder: Path,
    hyperparameters: dict[str, Any],
) -> dict[str, Any]:
    """One seed's model in ``folder`` (``output_info.json``, ``model.pkl``) at
    ``hyperparameters`` and its MLflow run (scores, train/inference seconds, the model as a
    pyfunc): its ``output_info``."""
    args, params = st.args, st.config
    logged = {
        "method": args.method,
        "seed": seed,
        "encoding": params.encoding.model_dump(),
        "max_train": params.max_train,
        "hyperparameters": hyperparameters,
        "tuning_trials": params.tuning.n_trials,
    }
    tags = {"glassworks.method": args.method, "glassworks.seed": str(seed)}
    with st.run(logged, tags=tags, run_name=f"{args.method}@{args.dataset}#{seed}") as run:
        n_classes = len(prepared.label_names)
        threads = params.threads if args.method in ("inn", "tabresnet") else None
        with torch_threads(threads):  # bit-identical nets, however many stages run at once
            model, info, seconds = fit_score_and_time(
                args.method, hyperparameters, seed, data, n_classes
            )
        info = {"dataset": args.dataset, **info}
        bundle = {
            "encoder": data.encoder,
            "model": model,
            "label_names": prepared.label_names,
            "method": args.method,
        }
        save_seed(folder, info, bundle)
        scores = {k: info[k] for k in scores_for(prepared.task)}
        run.log_metrics({**scores, **seconds})  # timings: MLflow only
        run.log_artifact(folder / "output_info.json")
        run.log_tabular_model(folder / "model.pkl", bundle, example)
    first = scores_for(prepared.task)[0]  # test AUROC or test RMSE
    log.info(
        "%s on %s, seed %d: %s %.4f (%.1f s)",
        args.method,
        args.dataset,
        seed,
        first.replace("_", " ").replace("auroc", "AUROC").replace("rmse", "RMSE"),
        info[first],
        seconds["train_time"],
    )
    return info


if __name__ == "__main__":
    exit_with(run_main(main, None))
