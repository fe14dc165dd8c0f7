"""Text-model benchmark: training throughput and the cost of each explanation, as ratios to one
forward+backward pass of the same model on the same text.

    .venv/bin/python benchmarks/text_train.py [--repeats 5] [--texts 8]

Models: the small nlp-lime-ig transformer (vocab 5,000 BPE learnt on 2,000 SST-2 train phrases,
one epoch) and the offline MiniLM with a fresh classification head (cost does not depend on the
weights). Texts:
the first ``--texts`` SST-2 test sentences. Training: examples/s of AdamW steps on batches of 32
train phrases. Explanations: seconds per text of IG (32 Gauss-Legendre steps), EG (64 samples),
IH (16 nodes, token x token), LIME and Kernel SHAP (200 samples) and occlusion, divided by the
seconds of one forward+backward pass on one text. Medians of the repeats; threads as torch sets
them (2 on the CI machine); CUDA when present. Writes benchmarks/results/text_train.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl
import torch

from glassworks.data.sst2 import load as load_sst2
from glassworks.explain.perturbation import perturbation_tokens
from glassworks.explain.text import (
    encode_texts,
    expected_gradients_tokens,
    integrated_gradients_tokens,
    integrated_hessians_tokens,
)
from glassworks.models.text_classifier import TextClassifier

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "text_train.json"


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def build(backbone: str, train: list[str], device: str) -> TextClassifier:
    """A classifier after a few steps (the BPE vocabulary is learnt on all ``train`` texts)."""
    model = TextClassifier(backbone=backbone, max_length=64, epochs=1, device=device)
    if backbone == "small":  # the tokenizer sees every text; the weights barely move
        model.fit(train, [i % 2 for i in range(len(train))], n_classes=2)
    else:
        model.fit(train[:32], [0, 1] * 16, n_classes=2)
    return model


def bench(
    name: str, model: TextClassifier, train: list[str], texts: list[str], repeats: int
) -> dict:
    module, tok = model.module_, model.tokenizer_
    device = next(module.parameters()).device
    opt = torch.optim.AdamW(module.parameters(), lr=1e-5)
    batches = [train[i : i + 32] for i in range(0, 32 * 8, 32)]

    def train_steps() -> None:
        module.train()
        for b in batches:
            enc = tok(b, padding=True, truncation=True, max_length=64, return_tensors="pt").to(
                device
            )
            out = module(**enc)
            logits = out.logits if hasattr(out, "logits") else out
            loss = torch.nn.functional.cross_entropy(
                logits, torch.zeros(len(b), dtype=torch.long, device=device)
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
        module.eval()

    train_s = median_seconds(train_steps, repeats)
    enc = encode_texts(module, tok, texts, "pad", 64)
    target = enc.logits().argmax(-1)

    def fwd_bwd() -> None:
        for i, n in enumerate(enc.lengths):
            x = enc.embeds[i : i + 1, :n].clone().requires_grad_(True)
            out = enc.forward(x, enc.attention_mask[i : i + 1, :n])
            out[0, target[i]].backward()

    base = median_seconds(fwd_bwd, repeats) / len(texts)
    costs = {
        "ig_32": lambda: integrated_gradients_tokens(enc, target, 32),
        "eg_64": lambda: expected_gradients_tokens(module, enc, target, 64),
        "ih_16": lambda: integrated_hessians_tokens(enc, target, 16),
        "lime_200": lambda: perturbation_tokens(enc, target, "lime", 200),
        "kernel_shap_200": lambda: perturbation_tokens(enc, target, "kernel_shap", 200),
        "occlusion": lambda: perturbation_tokens(enc, target, "occlusion"),
    }
    ratios = {}
    for key, fn in costs.items():
        reps = 1 if key == "ih_16" else repeats
        ratios[key] = median_seconds(fn, reps) / len(texts) / base
    return {
        "model": name,
        "train_examples_per_s": 32 * len(batches) / train_s,
        "mean_tokens_per_text": float(sum(enc.lengths) / len(texts)),
        "cost_vs_one_forward_backward": ratios,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--texts", type=int, default=8)
    args = p.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    sst2 = load_sst2(ROOT / "data" / "raw")
    frame = sst2.frame.filter(pl.col("text").str.split(" ").list.len() >= 5)
    train = frame["text"].to_list()[:2000]
    texts = sst2.test["text"].to_list()[: args.texts]
    rows = []
    for name, backbone in (("small transformer", "small"), ("MiniLM-L6", "default")):
        torch.manual_seed(0)
        rows.append(bench(name, build(backbone, train, device), train, texts, args.repeats))
    result = {"device": device, "threads": torch.get_num_threads(), "rows": rows}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2))
    for r in rows:
        cost = ", ".join(f"{k} {v:,.0f}x" for k, v in r["cost_vs_one_forward_backward"].items())
        print(f"{r['model']}: train {r['train_examples_per_s']:,.0f} ex/s; per text: {cost}")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
