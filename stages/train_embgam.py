"""Stage ``train_embgam``: fit Emb-GAM on one text dataset, score it and its baselines on test.

    python -m stages.train_embgam --dataset sst2

Reads ``data/prepared/<dataset>`` and ``data/embeddings/<dataset>``; writes
``data/models/embgam/<dataset>/`` (``model.pkl``, top n-grams CSV + PNG per class, or one pair
for a regression target, ``examples.html`` explaining test texts n-gram by n-gram) and
``metrics/train_embgam/<dataset>.json`` (test accuracy, macro-F1, QWK for ordinal tasks, for
Emb-GAM, bag-of-n-grams and the majority class; for a regression target test RMSE, MAE and R²
for Emb-GAM, bag-of-n-grams ridge and the training mean).
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from glassworks.config import TrainEmbGAMParams, load_section
from glassworks.data import read_prepared
from glassworks.data.split import rows_used
from glassworks.embed.index import embedder_from_index, ngram_spec, read_index
from glassworks.experiments.embgam import fit_and_score_embgam
from glassworks.io import atomic_dir, write_json, write_pickle
from glassworks.report.embgam import write_embgam_reports
from stages.common import exit_with, log_files, run_main, start

STAGE = "train_embgam"
OPTIONS = {
    "--prepared-dir": "data/prepared",
    "--embeddings-dir": "data/embeddings",
    "--out-dir": "data/models/embgam",
    "--metrics-dir": "metrics/train_embgam",
}
log = logging.getLogger(f"glassworks.stages.{STAGE}")


def load_config(params_path: Path, dataset: str) -> TrainEmbGAMParams:
    """All this stage reads: the ``train_embgam`` section (the same for every dataset)."""
    del dataset
    return load_section(params_path, STAGE, TrainEmbGAMParams)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the stage for ``--dataset``."""
    st = start(STAGE, __doc__, argv, load_config, OPTIONS)
    args, params = st.args, st.config
    with st.run(params.model_dump()) as run:
        prepared = read_prepared(args.prepared_dir / args.dataset)
        keys, vectors, used, meta = read_index(args.embeddings_dir / args.dataset)
        embedder = embedder_from_index(keys, vectors, meta)
        splits = rows_used(prepared.splits, used)
        model, metrics = fit_and_score_embgam(
            embedder, ngram_spec(meta), splits, prepared.task, prepared.label_names, params
        )
        out = args.out_dir / args.dataset
        with atomic_dir(out) as tmp:
            write_pickle(tmp / "model.pkl", model, protocol=pickle.HIGHEST_PROTOCOL)
            write_embgam_reports(
                model, prepared.label_names, splits["test"], tmp, args.dataset,
                top_k=params.top_k, n_explain=params.n_explain, seed=params.seed,
            )  # fmt: skip
        write_json(args.metrics_dir / f"{args.dataset}.json", metrics)
        run.log_metrics(metrics)
        run.log_dict(metrics, "metrics.json")
        log_files(run, out, "explanations", (".csv", ".png", ".html"))
        run.log_text_model(out / "model.pkl", splits["test"]["text"].to_list()[:3])
    log.info("%s: %s", args.dataset, summary_line(prepared.task, metrics))


def summary_line(task: str, metrics: dict[str, Any]) -> str:
    """The stage's closing log line: each model's test accuracy, or test RMSE for regression."""
    if task == "regression":
        return "Emb-GAM {:.4f}, bag-of-n-grams {:.4f}, train mean {:.4f} (test RMSE)".format(
            metrics["embgam"]["rmse"],
            metrics["bag_of_ngrams"]["rmse"],
            metrics["train_mean"]["rmse"],
        )
    return "Emb-GAM {:.4f}, bag-of-n-grams {:.4f}, majority {:.4f} (test accuracy)".format(
        metrics["embgam"]["accuracy"],
        metrics["bag_of_ngrams"]["accuracy"],
        metrics["majority"]["accuracy"],
    )


if __name__ == "__main__":
    exit_with(run_main(main, None))
