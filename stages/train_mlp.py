"""Stage ``train_mlp``: a small softplus MLP on one tabular dataset (the explainers' target).

    python -m stages.train_mlp --dataset openml-31

Writes ``data/models/mlp/<dataset>/model.pkl`` (the fitted ``TabularEncoder`` and
``MLPClassifier``) and ``metrics/train_mlp/<dataset>.json`` (test accuracy, macro-F1).
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Sequence
from pathlib import Path

from glassworks.config import TrainMLPParams, load_section
from glassworks.data import read_prepared
from glassworks.errors import ConfigError
from glassworks.io import atomic_dir, write_json
from glassworks.models.mlp import MLPClassifier
from glassworks.models.tabular import TabularEncoder
from glassworks.train.evaluate import classification_metrics
from stages.common import exit_with, parser, provenance, run_main, stage_address, stage_run

STAGE = "train_mlp"
log = logging.getLogger(f"glassworks.stages.{STAGE}")


def load_config(params_path: Path, dataset: str) -> TrainMLPParams:
    """All this stage reads: the ``train_mlp`` section."""
    params = load_section(params_path, STAGE, TrainMLPParams)
    if dataset not in params.datasets:
        raise ConfigError(f"train_mlp.datasets: {dataset!r} is not listed")
    return params


def main(argv: Sequence[str] | None = None) -> None:
    """Run the stage for ``--dataset``."""
    p = parser(STAGE, __doc__)
    p.add_argument("--prepared-dir", type=Path, default=Path("data/prepared"))
    p.add_argument("--out-dir", type=Path, default=Path("data/models/mlp"))
    p.add_argument("--metrics-dir", type=Path, default=Path("metrics/train_mlp"))
    args = p.parse_args(argv)

    params = load_config(args.params, args.dataset)
    tags = provenance(args.root, stage_address(STAGE, args.dataset))
    with stage_run(
        args,
        STAGE,
        args.dataset,
        params=params.model_dump(),
        tags=tags,
    ) as run:
        prepared = read_prepared(args.prepared_dir / args.dataset)
        if prepared.modality != "tabular":
            raise ConfigError(f"train_mlp.datasets: {args.dataset!r} is not a tabular dataset")
        encoder = TabularEncoder().fit(prepared.splits["train"])
        xy = {
            n: (encoder.transform(f), f.get_column("label").to_numpy())
            for n, f in prepared.splits.items()
        }
        model = MLPClassifier(**params.model_dump(exclude={"datasets"}))
        model.fit(*xy["train"], *xy["valid"])
        x_test, y_test = xy["test"]
        metrics = classification_metrics(
            y_test, model.predict(x_test), prepared.task, prepared.label_names
        )
        metrics["n_train"] = len(xy["train"][1])
        metrics["n_features"] = len(encoder.feature_names_)
        with atomic_dir(args.out_dir / args.dataset) as tmp, (tmp / "model.pkl").open("wb") as f:
            pickle.dump(
                {"encoder": encoder, "model": model, "label_names": prepared.label_names}, f
            )
        write_json(args.metrics_dir / f"{args.dataset}.json", metrics)
        run.log_metrics(metrics)
    log.info("%s: MLP test accuracy %.4f", args.dataset, metrics["accuracy"])


if __name__ == "__main__":
    exit_with(run_main(main, None))
