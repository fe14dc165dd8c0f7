"""Stage ``train_tabular``: one method on one OpenML dataset, every seed (the INN benchmark).

    python -m stages.train_tabular --dataset openml-31 --method inn

Per seed: ``data/tabular/<method>/<dataset>/<seed>/`` holds ``output_info.json`` (test AUROC,
accuracy, train/inference seconds, hyperparameters, as the INN seed writes) and ``model.pkl``
(encoder + model); each seed is one MLflow run with the model as a pyfunc. The mean and std over
seeds go to ``metrics/train_tabular/<method>/<dataset>.json``.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Sequence
from pathlib import Path

import polars as pl
import polars.selectors as cs

from glassworks.config import TabularRun, TrainTabularParams, load_section
from glassworks.data import read_prepared
from glassworks.errors import ConfigError
from glassworks.io import atomic_dir, write_json
from glassworks.models.tabular import TABULAR_METHODS, make_tabular_model
from glassworks.experiments.tabular import (
    check_tabular,
    encode_splits,
    fit_and_score,
    summarize_seeds,
)
from stages.common import exit_with, parser, provenance, run_main, stage_address, stage_run

STAGE = "train_tabular"
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
    p = parser(STAGE, __doc__)
    p.add_argument("--method", required=True, help="a train_tabular.methods entry")
    p.add_argument("--prepared-dir", type=Path, default=Path("data/prepared"))
    p.add_argument("--out-dir", type=Path, default=Path("data/tabular"))
    p.add_argument("--metrics-dir", type=Path, default=Path("metrics/train_tabular"))
    args = p.parse_args(argv)

    params = load_config(args.params, f"{args.dataset}-{args.method}")
    hyper = params.hyperparameters
    prepared = read_prepared(args.prepared_dir / args.dataset)
    check_tabular(prepared, str(args.prepared_dir / args.dataset))
    data = encode_splits(
        prepared,
        nominal=params.encoding.nominal,
        max_categories=params.encoding.max_categories,
        max_train=params.max_train,
    )
    # the pyfunc's input example: raw columns, categories as plain strings (MLflow's schema types)
    example = (
        prepared.splits["test"]
        .drop("label")
        .head(3)
        .with_columns((cs.enum() | cs.categorical()).cast(pl.String))
        .to_pandas()
    )
    tags = provenance(args.root, stage_address(STAGE, f"{args.dataset}-{args.method}"))
    infos = []
    out = args.out_dir / args.method / args.dataset
    with atomic_dir(out) as tmp:
        for seed in params.seeds:
            run_params = {
                "method": args.method,
                "seed": seed,
                "encoding": params.encoding.model_dump(),
                "max_train": params.max_train,
                "hyperparameters": hyper,
            }
            with stage_run(
                args,
                STAGE,
                args.dataset,
                params=run_params,
                tags={**tags, "glassworks.method": args.method, "glassworks.seed": str(seed)},
                run_name=f"{args.method}@{args.dataset}#{seed}",
            ) as run:
                model, info = fit_and_score(
                    args.method, hyper, seed, data, len(prepared.label_names)
                )
                info = {"dataset": args.dataset, **info}
                seed_dir = tmp / str(seed)
                seed_dir.mkdir()
                write_json(seed_dir / "output_info.json", info)
                bundle = {
                    "encoder": data.encoder,
                    "model": model,
                    "label_names": prepared.label_names,
                    "method": args.method,
                }
                with (seed_dir / "model.pkl").open("wb") as f:
                    pickle.dump(bundle, f)
                run.log_metrics(
                    {
                        k: info[k]
                        for k in (
                            "test_auroc",
                            "valid_auroc",
                            "test_accuracy",
                            "train_time",
                            "inference_time",
                        )
                    }
                )
                run.log_artifact(seed_dir / "output_info.json")
                run.log_tabular_model(seed_dir / "model.pkl", bundle, example)
            infos.append(info)
            log.info(
                "%s on %s, seed %d: test AUROC %.4f (%.1f s)",
                args.method,
                args.dataset,
                seed,
                info["test_auroc"],
                info["train_time"],
            )
    summary = {"dataset": args.dataset, "method": args.method, **summarize_seeds(infos)}
    write_json(args.metrics_dir / args.method / f"{args.dataset}.json", summary)


if __name__ == "__main__":
    exit_with(run_main(main, None))
