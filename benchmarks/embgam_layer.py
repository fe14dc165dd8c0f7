"""Choose Emb-GAM's encoder layer on SST-2's (leak-free) validation split; test read once.

    .venv/bin/python benchmarks/embgam_layer.py [--layers 1 2 3 4 6] [--dataset sst2]

Needs ``dvc repro embed@sst2`` first (reads data/prepared/sst2 and the n-grams of
data/embeddings/sst2). For each layer, every unique n-gram is embedded through the shared cache
(layer k runs only k of MiniLM's 6 blocks), Emb-GAM is fitted with the ``train_embgam`` C grid
(C chosen on validation), and the validation accuracy is recorded. The layer is chosen by
:data:`glassworks.selection.RULE` (ties to the earlier, cheaper layer); test accuracy is reported
for the chosen layer only. Writes ``benchmarks/results/embgam_layer.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from glassworks.config import EmbedParams, TrainEmbGAMParams, load_section
from glassworks.data import read_prepared
from glassworks.embed.cache import CachedEmbedder
from glassworks.embed.encoder import Encoder
from glassworks.embed.index import read_index
from glassworks.embed.ngrams import NgramSpec
from glassworks.models.emb_gam import EmbGAMClassifier
from glassworks.selection import RULE, choose

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, nargs="+", default=[1, 2, 3, 4, 6])
    ap.add_argument("--dataset", default="sst2")
    args = ap.parse_args()
    params = load_section(REPO / "params.yaml", "train_embgam", TrainEmbGAMParams)
    embed = load_section(REPO / "params.yaml", "embed", EmbedParams)
    prepared = read_prepared(REPO / "data/prepared" / args.dataset)
    keys, _, _, meta = read_index(REPO / "data/embeddings" / args.dataset)
    spec = NgramSpec(**meta["ngrams"])
    split = {n: (f["text"].to_list(), f["label"].to_numpy()) for n, f in prepared.splits.items()}
    models: dict[int, EmbGAMClassifier] = {}
    valid: dict[int, float] = {}
    seconds: dict[int, float] = {}
    for layer in args.layers:
        start = time.perf_counter()
        encoder = Encoder(**{**meta["encoder"], "layer": layer})
        embedder = CachedEmbedder(encoder, REPO / embed.cache_dir)
        embedder.embed(keys)  # fill the cache once (unique n-grams of all splits)
        model = EmbGAMClassifier.from_spec(
            embedder, spec, normalize=params.normalize, Cs=params.Cs, max_iter=params.max_iter,
            class_weight=params.class_weight,
        ).fit(*split["train"], *split["valid"])  # fmt: skip
        models[layer] = model
        valid[layer] = float(model.score(*split["valid"]))
        seconds[layer] = time.perf_counter() - start
        print(f"layer {layer}: valid accuracy {valid[layer]:.4f} (C={model.C_})", flush=True)
    chosen = choose(valid, metric="valid_accuracy")
    test = float(models[chosen].score(*split["test"]))
    result = {
        "command": "python benchmarks/embgam_layer.py "
        + " ".join(["--layers", *map(str, args.layers), "--dataset", args.dataset]),
        "dataset": args.dataset,
        "rule": RULE,
        "valid_accuracy": {str(k): v for k, v in valid.items()},
        "C": {str(k): m.C_ for k, m in models.items()},
        "chosen_layer": chosen,
        "test_accuracy_at_chosen_layer": test,
        "seconds": {str(k): round(v, 1) for k, v in seconds.items()},
    }
    print(f"chosen layer {chosen} (valid); test accuracy there {test:.4f}")
    out = REPO / "benchmarks/results/embgam_layer.json"
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
