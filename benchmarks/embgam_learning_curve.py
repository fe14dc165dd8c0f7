"""Emb-GAM vs bag-of-n-grams on SST-2 as the training set grows (test = GLUE dev, 872 rows).

    .venv/bin/python benchmarks/embgam_learning_curve.py [--sizes 1000 2000 8000 20000 0]
        [--seeds 0 1 2]

Needs ``make run`` first (reads data/prepared/sst2 and data/embeddings/sst2, the stage outputs):
the pipeline's encoder (frozen MiniLM, the ``embed`` stage's layer and n-gram rule). Both models
use the ``train_embgam`` stage's C grids, each C chosen on the leak-free validation split; test
is read once per fitted model and chooses nothing. Per size, one random subsample of the train
split per seed (size 0 = the whole split, the same for every seed, so fitted once). Writes
``benchmarks/results/embgam_learning_curve.json``: per size and seed both models' C, validation
and test accuracy; per size the seed means and the paired bootstrap interval of Emb-GAM's
seed-averaged test correctness minus bag-of-n-grams' (each test sentence one pair); the command
and the wall time.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from glassworks.config import TrainEmbGAMParams, load_section
from glassworks.data import read_prepared
from glassworks.data.split import subsample
from glassworks.embed.cache import CachedEmbedder
from glassworks.embed.encoder import Encoder
from glassworks.embed.index import read_index
from glassworks.embed.ngrams import NgramSpec
from glassworks.io import write_json
from glassworks.models.baselines import bag_of_ngrams
from glassworks.models.emb_gam import EmbGAMClassifier
from glassworks.stats import paired_difference

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results" / "embgam_learning_curve.json"
PAIR = ("embgam", "bag_of_ngrams")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 8000, 20000, 0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--dataset", default="sst2")
    args = ap.parse_args()
    params = load_section(REPO / "params.yaml", "train_embgam", TrainEmbGAMParams)
    prepared = read_prepared(REPO / "data/prepared" / args.dataset)
    keys, vectors, _, meta = read_index(REPO / "data/embeddings" / args.dataset)
    spec = NgramSpec(**meta["ngrams"])
    embedder = CachedEmbedder(Encoder(**meta["encoder"]), REPO / meta["cache"]["dir"])
    embedder.add_table(keys, np.asarray(vectors))
    splits = prepared.splits
    xv, yv = splits["valid"]["text"].to_list(), splits["valid"]["label"].to_numpy()
    xt, yt = splits["test"]["text"].to_list(), splits["test"]["label"].to_numpy()
    n_full = splits["train"].height
    start = time.perf_counter()
    curve: list[dict[str, Any]] = []
    for size in args.sizes:
        seeds = args.seeds if size and size < n_full else args.seeds[:1]
        rows: list[dict[str, Any]] = []
        ok: dict[str, list[np.ndarray]] = {name: [] for name in PAIR}
        for seed in seeds:
            train = subsample(splits["train"], size or None, seed)
            x, y = train["text"].to_list(), train["label"].to_numpy()
            gam = EmbGAMClassifier.from_spec(
                embedder,
                spec,
                normalize=params.normalize,
                Cs=params.Cs,
                max_iter=params.max_iter,
                class_weight=params.class_weight,
            ).fit(x, y, xv, yv)
            bag, bag_c = bag_of_ngrams(
                spec, (x, y), (xv, yv), params.baseline_Cs, params.max_iter, params.class_weight
            )
            row: dict[str, Any] = {"seed": seed, "n_train": len(x)}
            for name, model, c in (("embgam", gam, gam.C_), ("bag_of_ngrams", bag, bag_c)):
                correct = (model.predict(xt) == yt).astype(np.float64)
                ok[name].append(correct)
                row[name] = {
                    "C": c,
                    "valid_accuracy": float(np.mean(model.predict(xv) == yv)),
                    "test_accuracy": float(correct.mean()),
                }
            rows.append(row)
            print(json.dumps(row), flush=True)
        mean = {name: np.mean(ok[name], axis=0) for name in PAIR}
        curve.append({
            "size": rows[0]["n_train"],
            "per_seed": rows,
            **{f"{name}_valid_accuracy": float(np.mean([r[name]["valid_accuracy"] for r in rows]))
               for name in PAIR},
            **{f"{name}_test_accuracy": float(mean[name].mean()) for name in PAIR},
            "difference": paired_difference(
                mean["embgam"], mean["bag_of_ngrams"], names=PAIR, seed=params.seed
            ).as_dict(),
        })  # fmt: skip
    result = {
        "command": " ".join(["python benchmarks/embgam_learning_curve.py", *sys.argv[1:]]),
        "dataset": args.dataset,
        "encoder": meta["encoder"],
        "ngrams": meta["ngrams"],
        "n_train_full": n_full,
        "n_valid": len(xv),
        "n_test": len(xt),
        "seeds": list(args.seeds),
        "curve": curve,
        "seconds": round(time.perf_counter() - start, 1),
    }
    write_json(OUT, result)
    for r in curve:
        d = r["difference"]
        print(f"{r['size']:>7,}  Emb-GAM {r['embgam_test_accuracy']:.3f}  "
              f"bag {r['bag_of_ngrams_test_accuracy']:.3f}  {json.dumps(d)}")  # fmt: skip


if __name__ == "__main__":
    main()
