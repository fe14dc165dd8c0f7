"""Stage ``train_mlp``: a small softplus MLP on one tabular dataset (the explainers' target).

    python -m stages.train_mlp --dataset openml-31

Writes ``data/models/mlp/<dataset>/model.pkl`` (the fitted ``TabularEncoder`` and
``MLPClassifier``) and ``metrics/train_mlp/<dataset>.json`` (test accuracy, macro-F1).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from glassworks.config import TrainMLPParams, load_section
from glassworks.data import read_prepared
from glassworks.errors import ConfigError
from glassworks.experiments.mlp import fit_and_score_mlp
from glassworks.io import atomic_dir, write_json, write_pickle
from stages.common import exit_with, run_main, start

STAGE = "train_mlp"
OPTIONS = {
    "--prepared-dir": "data/prepared",
    "--out-dir": "data/models/mlp",
    "--metrics-dir": "metrics/train_mlp",
}
log = logging.getLogger(f"glassworks.stages.{STAGE}")


def load_config(params_path: Path, dataset: str) -> TrainMLPParams:
    """All this stage reads: the ``train_mlp`` section."""
    params = load_section(params_path, STAGE, TrainMLPParams)
    if dataset not in params.datasets:
        raise ConfigError(f"train_mlp.datasets: {dataset!r} is not listed")
    return params


def main(argv: Sequence[str] | None = None) -> None:
    """Run the stage for ``--dataset``."""
    st = start(STAGE, __doc__, argv, load_config, OPTIONS)
    args, params = st.args, st.config
    with st.run(params.model_dump()) as run:
        prepared = read_prepared(args.prepared_dir / args.dataset)
        if prepared.modality != "tabular":
            raise ConfigError(f"train_mlp.datasets: {args.dataset!r} is not a tabular dataset")
        bundle, metrics = fit_and_score_mlp(prepared, params)
        with atomic_dir(args.out_dir / args.dataset) as tmp:
            write_pickle(tmp / "model.pkl", bundle)
        write_json(args.metrics_dir / f"{args.dataset}.json", metrics)
        run.log_metrics(metrics)
    log.info("%s: MLP test accuracy %.4f", args.dataset, metrics["accuracy"])


if __name__ == "__main__":
    exit_with(run_main(main, None))
