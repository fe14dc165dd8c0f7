"""Emb-GAM over a fine-tuned encoder: the ``train_text`` MiniLM checkpoint as the n-gram encoder
(the Emb-GAM paper's best setting uses a fine-tuned LM), against Emb-GAM over the pretrained
MiniLM and bag-of-n-grams, on SST-2 (test = GLUE dev, 872 rows).

    .venv/bin/python benchmarks/embgam_finetuned.py [--layer -1] [--max-train 0]

Needs ``make run`` first (data/prepared/sst2, data/embeddings/sst2, metrics/train_embgam/sst2.json
and data/models/text/sst2-minilm/model). Same n-gram rule, C grid and validation-split selection
as the ``train_embgam`` stage; the fine-tuned encoder saw only SST-2 train phrases.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from glassworks.config import TrainEmbGAMParams, load_section
from glassworks.data import read_prepared
from glassworks.data.split import subsample
from glassworks.embed.cache import CachedEmbedder
from glassworks.embed.encoder import Encoder
from glassworks.embed.index import read_index
from glassworks.embed.ngrams import NgramSpec
from glassworks.models.emb_gam import EmbGAMClassifier

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results" / "embgam_finetuned.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--layer", type=int, default=-1)
    ap.add_argument("--max-train", type=int, default=0, help="0 = the whole train split")
    args = ap.parse_args()
    params = load_section(REPO / "params.yaml", "train_embgam", TrainEmbGAMParams)
    prepared = read_prepared(REPO / "data/prepared/sst2")
    _, _, _, meta = read_index(REPO / "data/embeddings/sst2")
    spec = NgramSpec(**meta["ngrams"])
    encoder = Encoder(
        model=str(REPO / "data/models/text/sst2-minilm/model"),
        pooling="mean",
        layer=args.layer,
        max_length=meta["encoder"]["max_length"],
    )
    embedder = CachedEmbedder(encoder, REPO / meta["cache"]["dir"])
    train = subsample(prepared.splits["train"], args.max_train or None, params.seed)
    valid, test = prepared.splits["valid"], prepared.splits["test"]
    start = time.perf_counter()
    gam = EmbGAMClassifier.from_spec(
        embedder,
        spec,
        normalize=params.normalize,
        Cs=params.Cs,
        max_iter=params.max_iter,
        class_weight=params.class_weight,
    ).fit(
        train["text"].to_list(),
        train["label"].to_numpy(),
        valid["text"].to_list(),
        valid["label"].to_numpy(),
    )
    accuracy = float((gam.predict(test["text"].to_list()) == test["label"].to_numpy()).mean())
    stage = json.loads((REPO / "metrics/train_embgam/sst2.json").read_text())
    result = {
        "encoder": "train_text sst2-minilm (fine-tuned)",
        "layer": args.layer,
        "n_train": train.height,
        "embgam_finetuned_accuracy": accuracy,
        "embgam_pretrained_accuracy": stage["embgam"]["accuracy"],
        "bag_of_ngrams_accuracy": stage["bag_of_ngrams"]["accuracy"],
        "seconds": time.perf_counter() - start,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
