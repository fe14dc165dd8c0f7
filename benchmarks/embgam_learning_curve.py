"""Emb-GAM vs bag-of-n-grams on SST-2 as the training set grows (test = GLUE dev, 872 rows).

    .venv/bin/python benchmarks/embgam_learning_curve.py [--sizes 2000 8000 20000 0]

Needs ``make run`` first (reads data/prepared/sst2 and data/embeddings/sst2, the stage outputs);
both models use the same n-grams, splits and C grids as the ``train_embgam`` stage, with C chosen
on the validation split. Size 0 = the whole train split.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from glassworks.config import TrainEmbGAMParams, load_section
from glassworks.data import read_prepared
from glassworks.data.split import subsample
from glassworks.embed.cache import CachedEmbedder
from glassworks.embed.encoder import Encoder
from glassworks.embed.index import read_index
from glassworks.embed.ngrams import NgramSpec
from glassworks.models.baselines import bag_of_ngrams
from glassworks.models.emb_gam import EmbGAMClassifier

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 8000, 20000, 0])
    ap.add_argument("--dataset", default="sst2")
    args = ap.parse_args()
    params = load_section(REPO / "params.yaml", "train_embgam", TrainEmbGAMParams)
    prepared = read_prepared(REPO / "data/prepared" / args.dataset)
    keys, vectors, _, meta = read_index(REPO / "data/embeddings" / args.dataset)
    spec = NgramSpec(**meta["ngrams"])
    embedder = CachedEmbedder(Encoder(**meta["encoder"]), REPO / meta["cache"]["dir"])
    embedder.add_table(keys, np.asarray(vectors))
    valid, test = prepared.splits["valid"], prepared.splits["test"]
    xv, yv = valid["text"].to_list(), valid["label"].to_numpy()
    xt, yt = test["text"].to_list(), test["label"].to_numpy()
    print(
        f"encoder {meta['encoder']['model']} layer {meta['encoder']['layer']} "
        f"pooling {meta['encoder']['pooling']}, n-grams {spec}"
    )
    print(f"{'train rows':>10}  {'Emb-GAM':>8}  {'bag-of-n-grams':>14}  {'difference':>10}")
    for size in args.sizes:
        train = subsample(prepared.splits["train"], size or None, params.seed)
        x, y = train["text"].to_list(), train["label"].to_numpy()
        gam = EmbGAMClassifier.from_spec(
            embedder,
            spec,
            normalize=params.normalize,
            Cs=params.Cs,
            max_iter=params.max_iter,
            class_weight=params.class_weight,
        ).fit(x, y, xv, yv)
        bag, _ = bag_of_ngrams(
            spec, (x, y), (xv, yv), params.baseline_Cs, params.max_iter, params.class_weight
        )
        a, b = gam.score(xt, yt), bag.score(xt, yt)
        print(f"{len(x):>10,}  {a:>8.4f}  {b:>14.4f}  {100 * (a - b):>+9.1f}pt", flush=True)


if __name__ == "__main__":
    main()
