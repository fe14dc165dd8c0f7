"""Stage ``train_text``: train one text classifier per seed (a ``train_text.runs`` entry: dataset x
recipe, ``train_text.seeds``).

    python -m stages.train_text --dataset sst2-minilm

Reads ``data/prepared/<dataset>``; writes ``data/models/text/<run>/`` (the first seed's model
folder, with the fine-tuned encoder in Hugging Face format under ``model/`` for pretrained
backbones, and its confusion-matrix and per-class PNGs; the other seeds' models in
``seed-<seed>/`` inside it), ``metrics/train_text/<run>.json`` (``per_seed``: validation and test
metrics of each seed; ``valid_*``/``test_*``: mean, sd and 95% bootstrap interval over seeds) and
the DVC plots ``plots/train_text/<run>/{predictions,history}.csv`` (first seed). One MLflow run
per seed, named ``<run>#<seed>``. Early stopping (``select_on``) reads validation only.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from glassworks.config import TextRun, TrainTextParams, load_section
from glassworks.data import read_prepared
from glassworks.data.split import stratified_split
from glassworks.errors import ConfigError
from glassworks.io import atomic_dir, write_csv, write_json
from glassworks.models.text_classifier import TextClassifier
from glassworks.report.overview import seed_metrics, seed_summaries
from glassworks.report.plots import confusion_plot, per_class_bars
from glassworks.train.evaluate import classification_metrics, confusion
from stages.common import (
    exit_with,
    parser,
    progress_bar,
    provenance,
    run_main,
    stage_address,
    stage_run,
)

STAGE = "train_text"
log = logging.getLogger(f"glassworks.stages.{STAGE}")


def load_config(params_path: Path, dataset: str) -> tuple[TextRun, dict[str, Any], tuple[int, ...]]:
    """All this stage reads: run ``dataset`` of ``train_text``, its estimator parameters (first
    seed) and the seeds."""
    params = load_section(params_path, STAGE, TrainTextParams)
    return params.run(dataset), params.estimator_params(dataset), params.seeds


def seed_folder(out: Path, seeds: Sequence[int], seed: int) -> Path:
    """Where seed ``seed``'s model goes: the run folder itself for the first seed (what
    ``explain_text`` and ``glassworks explain-text`` read), ``seed-<seed>/`` inside it otherwise."""
    return out if seed == seeds[0] else out / f"seed-{seed}"


def main(argv: Sequence[str] | None = None) -> None:
    """Run the stage for ``--dataset`` (a run name): one model per seed."""
    p = parser(STAGE, __doc__)
    p.add_argument("--prepared-dir", type=Path, default=Path("data/prepared"))
    p.add_argument("--out-dir", type=Path, default=Path("data/models/text"))
    p.add_argument("--metrics-dir", type=Path, default=Path("metrics/train_text"))
    p.add_argument("--plots-dir", type=Path, default=Path("plots/train_text"))
    args = p.parse_args(argv)

    run_params, est_first, seeds = load_config(args.params, args.dataset)
    prepared = read_prepared(args.prepared_dir / run_params.dataset)
    if prepared.modality != "text":
        raise ConfigError(
            f"train_text.runs.{args.dataset}.dataset: {run_params.dataset!r} is not a text dataset"
        )
    train_all, valid, test = (prepared.splits[s] for s in ("train", "valid", "test"))
    if run_params.min_words:
        words = train_all["text"].str.split(" ").list.len()
        train_all = train_all.filter(words >= run_params.min_words)
        if train_all.height == 0:
            raise ConfigError(
                f"train_text.runs.{args.dataset}.min_words: no training text has "
                f"{run_params.min_words} words or more"
            )
    if run_params.max_valid is not None and run_params.max_valid < valid.height:
        # one validation sample for every seed: the seeds' valid scores are comparable
        _, valid = stratified_split(valid, "label", run_params.max_valid / valid.height, seeds[0])
    tags = provenance(args.root, stage_address(STAGE, args.dataset))
    names = list(prepared.label_names)
    k = len(names)
    y_valid, y_test = valid["label"].to_numpy(), test["label"].to_numpy()
    out = args.out_dir / args.dataset
    per_seed: list[dict[str, Any]] = []
    with atomic_dir(out) as tmp:
        for seed in seeds:
            est = {**est_first, "seed": seed}
            train = train_all
            if run_params.max_train is not None and run_params.max_train < train.height:
                _, train = stratified_split(
                    train, "label", run_params.max_train / train.height, seed
                )
            logged = {"run": run_params.model_dump(), "estimator": est}
            with stage_run(args, STAGE, args.dataset, params=logged, tags=tags,
                           run_name=f"{args.dataset}#{seed}") as run:  # fmt: skip
                model = TextClassifier(**est)
                with progress_bar(model.epochs * train.height, f"train {args.dataset} seed {seed}"
                                  ) as advance:  # fmt: skip
                    model.fit(
                        train["text"].to_list(),
                        train["label"].to_numpy(),
                        valid["text"].to_list(),
                        y_valid,
                        n_classes=k,
                        on_step=advance,
                        label_names=prepared.label_names,
                    )
                pred_valid = model.predict(valid["text"].to_list())
                pred = model.predict(test["text"].to_list())
                row = seed_metrics(
                    seed,
                    classification_metrics(y_valid, pred_valid, prepared.task, names),
                    classification_metrics(y_test, pred, prepared.task, names),
                    best_epoch=model.best_epoch_,
                    epochs_run=len(model.history_),
                    n_train=train.height,
                    n_truncated_train=model.n_truncated_,
                )
                per_seed.append(row)
                folder = seed_folder(tmp, seeds, seed)
                model.save(folder)
                if seed == seeds[0]:
                    _seed_outputs(args, folder, model, y_test, pred, row["test"], names)
                run.log_metrics(row)
                run.log_dict(row, "metrics.json")
                for png in ("confusion.png", "per_class.png"):
                    if (folder / png).is_file():
                        run.log_artifact(folder / png, "plots")
                run.log_text_model(folder, test["text"].to_list()[:3], model=model)
            log.info(
                "%s seed %d: valid accuracy %.4f", args.dataset, seed, row["valid"]["accuracy"]
            )
    metrics = seed_summaries(per_seed, n_valid=valid.height, n_test=test.height)
    write_json(args.metrics_dir / f"{args.dataset}.json", metrics)
    acc = metrics["test_accuracy"]
    log.info("%s: test accuracy %.4f ± %.4f over %d seeds", args.dataset, acc["mean"], acc["sd"],
             acc["n"])  # fmt: skip


def _seed_outputs(
    args: argparse.Namespace,
    folder: Path,
    model: TextClassifier,
    y_test: Any,
    pred: Any,
    test_metrics: dict[str, Any],
    names: list[str],
) -> None:
    """The first seed's figures (in its model folder) and DVC plots."""
    title = f"{args.dataset} (test split, seed {model.seed})"
    confusion_plot(confusion(y_test, pred, len(names)), names, folder / "confusion.png", title)
    per_class_bars(
        {
            "precision": test_metrics["precision_per_class"],
            "recall": test_metrics["recall_per_class"],
            "F1": test_metrics["f1_per_class"],
        },
        folder / "per_class.png",
        title,
    )
    plots = args.plots_dir / args.dataset
    write_csv(
        plots / "predictions.csv",
        pl.DataFrame({"actual": [names[i] for i in y_test], "predicted": [names[i] for i in pred]}),
    )
    write_csv(plots / "history.csv", pl.DataFrame(model.history_))


if __name__ == "__main__":
    exit_with(run_main(main, None))
