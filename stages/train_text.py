"""Stage ``train_text``: train one text classifier (a ``train_text.runs`` entry: dataset x recipe).

    python -m stages.train_text --dataset sst2-minilm

Reads ``data/prepared/<dataset>``; writes ``data/models/text/<run>/`` (the model folder, with the
fine-tuned encoder in Hugging Face format under ``model/`` for pretrained backbones, and the
confusion-matrix and per-class PNGs), ``metrics/train_text/<run>.json`` (test split only:
accuracy, macro-F1, per-class precision/recall/F1, QWK for ordinal tasks) and the DVC plots
``plots/train_text/<run>/{predictions,history}.csv``.
"""

from __future__ import annotations

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


def load_config(params_path: Path, dataset: str) -> tuple[TextRun, dict[str, Any]]:
    """All this stage reads: run ``dataset`` of ``train_text`` and its estimator parameters."""
    params = load_section(params_path, STAGE, TrainTextParams)
    return params.run(dataset), params.estimator_params(dataset)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the stage for ``--dataset`` (a run name)."""
    p = parser(STAGE, __doc__)
    p.add_argument("--prepared-dir", type=Path, default=Path("data/prepared"))
    p.add_argument("--out-dir", type=Path, default=Path("data/models/text"))
    p.add_argument("--metrics-dir", type=Path, default=Path("metrics/train_text"))
    p.add_argument("--plots-dir", type=Path, default=Path("plots/train_text"))
    args = p.parse_args(argv)

    run_params, est_params = load_config(args.params, args.dataset)
    tags = provenance(args.root, stage_address(STAGE, args.dataset))
    logged = {"run": run_params.model_dump(), "estimator": est_params}
    with stage_run(
        args,
        STAGE,
        args.dataset,
        params=logged,
        tags=tags,
    ) as run:
        prepared = read_prepared(args.prepared_dir / run_params.dataset)
        if prepared.modality != "text":
            raise ConfigError(
                f"train_text.runs.{args.dataset}.dataset: {run_params.dataset!r} is not a text "
                "dataset"
            )
        train, valid, test = (prepared.splits[s] for s in ("train", "valid", "test"))
        if run_params.min_words:
            words = train["text"].str.split(" ").list.len()
            train = train.filter(words >= run_params.min_words)
            if train.height == 0:
                raise ConfigError(
                    f"train_text.runs.{args.dataset}.min_words: no training text has "
                    f"{run_params.min_words} words or more"
                )
        if run_params.max_train is not None and run_params.max_train < train.height:
            _, train = stratified_split(
                train, "label", run_params.max_train / train.height, est_params["seed"]
            )
        if run_params.max_valid is not None and run_params.max_valid < valid.height:
            _, valid = stratified_split(
                valid, "label", run_params.max_valid / valid.height, est_params["seed"]
            )
        k = len(prepared.label_names)
        model = TextClassifier(**est_params)
        total = model.epochs * train.height
        with progress_bar(total, f"train {args.dataset}") as advance:
            model.fit(
                train["text"].to_list(),
                train["label"].to_numpy(),
                valid["text"].to_list(),
                valid["label"].to_numpy(),
                n_classes=k,
                on_step=advance,
                label_names=prepared.label_names,
            )
        y_test = test["label"].to_numpy()
        pred = model.predict(test["text"].to_list())
        metrics = classification_metrics(y_test, pred, prepared.task, prepared.label_names)
        metrics.update(
            n_train=train.height,
            n_test=test.height,
            best_epoch=model.best_epoch_,
            epochs_run=len(model.history_),
            n_truncated_train=model.n_truncated_,
        )
        out = args.out_dir / args.dataset
        with atomic_dir(out) as tmp:
            model.save(tmp)
            title = f"{args.dataset} (test split)"
            confusion_plot(
                confusion(y_test, pred, k),
                list(prepared.label_names),
                tmp / "confusion.png",
                title,
            )
            per_class_bars(
                {
                    "precision": metrics["precision_per_class"],
                    "recall": metrics["recall_per_class"],
                    "F1": metrics["f1_per_class"],
                },
                tmp / "per_class.png",
                title,
            )
        names = list(prepared.label_names)
        plots = args.plots_dir / args.dataset
        write_csv(
            plots / "predictions.csv",
            pl.DataFrame(
                {"actual": [names[i] for i in y_test], "predicted": [names[i] for i in pred]}
            ),
        )
        write_csv(plots / "history.csv", pl.DataFrame(model.history_))
        write_json(args.metrics_dir / f"{args.dataset}.json", metrics)
        run.log_metrics(metrics)
        run.log_dict(metrics, "metrics.json")
        for png in ("confusion.png", "per_class.png"):
            run.log_artifact(out / png, "plots")
        run.log_artifact(plots / "history.csv", "plots")
        run.log_text_model(out, test["text"].to_list()[:3], model=model)
    log.info(
        "%s: test accuracy %.4f, macro-F1 %.4f",
        args.dataset,
        metrics["accuracy"],
        metrics["macro_f1"],
    )


if __name__ == "__main__":
    exit_with(run_main(main, None))
