"""Stage ``train_embgam``: fit Emb-GAM on one text dataset, score it and its baselines on test.

    python -m stages.train_embgam --dataset sst2

Reads ``data/prepared/<dataset>`` and ``data/embeddings/<dataset>``; writes
``data/models/embgam/<dataset>/`` (``model.pkl``, top n-grams CSV + PNG per class,
``examples.html`` explaining test texts n-gram by n-gram) and
``metrics/train_embgam/<dataset>.json`` (test accuracy, macro-F1, QWK for ordinal tasks; for
Emb-GAM, bag-of-n-grams and the majority class).
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from glassworks.config import TrainEmbGAMParams, load_section
from glassworks.data import read_prepared
from glassworks.embed.cache import CachedEmbedder
from glassworks.embed.encoder import Encoder
from glassworks.embed.index import read_index
from glassworks.embed.ngrams import NgramSpec
from glassworks.io import atomic_dir, write_json
from glassworks.models.baselines import bag_of_ngrams, majority
from glassworks.models.emb_gam import EmbGAMClassifier
from glassworks.report.html import Highlighted, highlight_page
from glassworks.report.plots import contribution_bars
from glassworks.train.evaluate import classification_metrics, paired_accuracy
from stages.common import exit_with, parser, provenance, run_main, stage_address, stage_run

STAGE = "train_embgam"
log = logging.getLogger(f"glassworks.stages.{STAGE}")


def load_config(params_path: Path, dataset: str) -> TrainEmbGAMParams:
    """All this stage reads: the ``train_embgam`` section (the same for every dataset)."""
    del dataset
    return load_section(params_path, STAGE, TrainEmbGAMParams)


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name)


def write_reports(
    model: EmbGAMClassifier,
    label_names: Sequence[str],
    test: pl.DataFrame,
    params: TrainEmbGAMParams,
    out: Path,
    dataset: str,
) -> None:
    """Top n-grams per class (CSV + PNG) and an HTML page of explained test texts."""
    binary = len(model.classes_) == 2
    outputs = [1] if binary else list(range(len(model.classes_)))
    for j, cls in enumerate(outputs):
        name = label_names[int(model.classes_[cls])]
        top = model.top_ngrams(params.top_k, output=j)
        top.write_csv(out / f"top_ngrams_{_safe(name)}.csv")
        shown = pl.concat([top.head(min(params.top_k, 15)), top.tail(min(params.top_k, 15))])
        contribution_bars(
            shown.unique("ngram", keep="first"),
            f"{dataset}: n-grams for '{name}' (Emb-GAM)",
            out / f"top_ngrams_{_safe(name)}.png",
            "contribution to the logit per occurrence",
        )
    rng = np.random.default_rng(params.seed)
    pick = rng.choice(test.height, size=min(params.n_explain, test.height), replace=False)
    items = []
    for i in sorted(pick.tolist()):
        row = test.row(i, named=True)
        proba = model.predict_proba([row["text"]])[0]
        k = int(np.argmax(proba))
        output = 0 if binary else k
        tokens, scores = model.token_scores(row["text"], output=output)
        table = model.explain(row["text"])
        col = table.columns[3 + output]
        details = sorted(zip(table["ngram"], table[col], strict=True), key=lambda r: -abs(r[1]))
        shown_class = label_names[int(model.classes_[1 if binary else k])]
        caption = (
            f"id {row['id']} · true: {label_names[row['label']]} · predicted: "
            f"{label_names[int(model.classes_[k])]} (p={proba[k]:.2f}) · scores explain "
            f"'{shown_class}' · intercept {model.intercept_[output]:+.3f}"
        )
        items.append(Highlighted(tokens, scores, caption, details[:12]))
    page = highlight_page(
        f"Emb-GAM explanations — {dataset}",
        items,
        "Each word carries its n-grams' contributions to the logit, shared equally among the "
        "n-gram's words; word scores plus the intercept add up exactly to the logit.",
    )
    (out / "examples.html").write_text(page, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> None:
    """Run the stage for ``--dataset``."""
    p = parser(STAGE, __doc__)
    p.add_argument("--prepared-dir", type=Path, default=Path("data/prepared"))
    p.add_argument("--embeddings-dir", type=Path, default=Path("data/embeddings"))
    p.add_argument("--out-dir", type=Path, default=Path("data/models/embgam"))
    p.add_argument("--metrics-dir", type=Path, default=Path("metrics/train_embgam"))
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
        keys, vectors, used, meta = read_index(args.embeddings_dir / args.dataset)
        spec = NgramSpec(**meta["ngrams"])
        embedder = CachedEmbedder(Encoder(**meta["encoder"]), meta["cache"]["dir"])
        embedder.add_table(keys, np.asarray(vectors))
        splits: dict[str, pl.DataFrame] = {}
        for name, frame in prepared.splits.items():
            ids = used.filter(pl.col("split") == name).get_column("id")
            splits[name] = frame.filter(pl.col("id").is_in(ids.implode()))
        xy = {
            n: (f.get_column("text").to_list(), f.get_column("label").to_numpy())
            for n, f in splits.items()
        }

        model = EmbGAMClassifier.from_spec(
            embedder,
            spec,
            normalize=params.normalize,
            Cs=params.Cs,
            max_iter=params.max_iter,
            class_weight=params.class_weight,
        ).fit(*xy["train"], *xy["valid"])
        bag, bag_c = bag_of_ngrams(
            spec, xy["train"], xy["valid"], params.baseline_Cs, params.max_iter, params.class_weight
        )
        dummy = majority(xy["train"][1])
        x_test, y_test = xy["test"]
        x_valid, y_valid = xy["valid"]
        task, names = prepared.task, prepared.label_names
        pred = {"embgam": model.predict(x_test), "bag_of_ngrams": bag.predict(x_test)}
        metrics: dict[str, Any] = {
            "embgam": {
                **classification_metrics(y_test, pred["embgam"], task, names),
                "valid_accuracy": float(np.mean(model.predict(x_valid) == y_valid)),
                "C": model.C_,
                "vocabulary": len(model.vocabulary_),
            },
            "bag_of_ngrams": {
                **classification_metrics(y_test, pred["bag_of_ngrams"], task, names),
                "valid_accuracy": float(np.mean(bag.predict(x_valid) == y_valid)),
                "C": bag_c,
            },
            "test_intervals": paired_accuracy(
                y_test, pred, [("embgam", "bag_of_ngrams")], seed=params.seed
            ),
            "majority": classification_metrics(
                y_test, dummy.predict(np.zeros((len(x_test), 1))), task, names
            ),
            "n_train": len(xy["train"][0]),
            "n_test": len(x_test),
        }
        out = args.out_dir / args.dataset
        with atomic_dir(out) as tmp:
            with (tmp / "model.pkl").open("wb") as f:
                pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)
            write_reports(model, names, splits["test"], params, tmp, args.dataset)
        write_json(args.metrics_dir / f"{args.dataset}.json", metrics)
        run.log_metrics(metrics)
        run.log_dict(metrics, "metrics.json")
        for path in sorted(out.iterdir()):
            if path.suffix in {".csv", ".png", ".html"}:
                run.log_artifact(path, "explanations")
        run.log_text_model(out / "model.pkl", x_test[:3])
    log.info(
        "%s: Emb-GAM %.4f, bag-of-n-grams %.4f, majority %.4f (test accuracy)",
        args.dataset,
        metrics["embgam"]["accuracy"],
        metrics["bag_of_ngrams"]["accuracy"],
        metrics["majority"]["accuracy"],
    )


if __name__ == "__main__":
    exit_with(run_main(main, None))
