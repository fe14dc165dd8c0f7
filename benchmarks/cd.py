"""Contextual-decomposition cost benchmark: CD time over the model's own forward pass (same
batch, same inputs, no autograd), as ratios of medians measured side by side in one run.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/cd.py [--repeats 11]

Models: the CDEP LSTM of ``train_cdep`` (GloVe-sized 50-d embeddings, hidden 128) on real SST-2
test sentences (batches of 64 and 256 texts, right-padded, one decoy token per text as the
group), and a small CNN (conv-BN-ReLU-maxpool x2, linear) on 8x8 images with a pixel patch as the
group. Also times CD with autograd on (what a CDEP training step adds: CD, then the backward of
the penalty) against the model's forward + backward. The goal (issue 18, after issue 7): CD <= 3
forward passes on the same batch, in both rows (``no_grad`` and ``with_backward``). Writes
``benchmarks/results/cd.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from glassworks.data import read_prepared
from glassworks.data.variants import insert_decoys
from glassworks.explain.cd import contextual_decomposition
from glassworks.models.lstm import LSTMTextModule
from glassworks.models.text_transformer import train_word_tokenizer

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "cd.json"


def _median_seconds(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _pair(forward: Callable[[], object], cd: Callable[[], object], repeats: int) -> dict:
    """Interleave the two so drifting machine load hits both alike."""
    f_times, c_times = [], []
    forward()
    cd()
    for _ in range(repeats):
        f_times.append(_median_seconds(forward, 1))
        c_times.append(_median_seconds(cd, 1))
    f, c = statistics.median(f_times), statistics.median(c_times)
    return {"forward_s": f, "cd_s": c, "ratio": c / f}


def lstm_case(batch: int, repeats: int) -> dict:
    """CD of the CDEP LSTM on ``batch`` real SST-2 sentences with a decoy."""
    test = read_prepared(ROOT / "data/prepared/sst2").splits["test"].head(batch)
    texts = insert_decoys(test["text"].to_list(), test["label"].to_list(), seed=0)
    tok = train_word_tokenizer(texts, 20000)
    enc = tok(texts, padding=True, return_tensors="pt")
    ids, mask = enc["input_ids"], enc["attention_mask"]
    group = (ids == tok.convert_tokens_to_ids("text")) | (ids == tok.convert_tokens_to_ids("video"))
    model = LSTMTextModule(len(tok), 2, embedding_dim=50, hidden_size=128).eval()
    out: dict = {"batch": batch, "tokens": int(ids.shape[1])}
    with torch.no_grad():
        out["no_grad"] = _pair(
            lambda: model(ids, mask),
            lambda: contextual_decomposition(model, ids, group, mask),
            repeats,
        )

    def fwd_bwd() -> None:
        model.zero_grad()
        model(ids, mask).sum().backward()

    def cd_bwd() -> None:
        model.zero_grad()
        contextual_decomposition(model, ids, group, mask).relevant.abs().sum().backward()

    out["with_backward"] = _pair(fwd_bwd, cd_bwd, repeats)
    return out


def cnn_case(batch: int, repeats: int) -> dict:
    """CD of a small CNN (ColorDigits-sized 3x8x8 inputs) with a 4x4 pixel patch as the group."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(256, 10),
    ).eval()
    x = torch.randn(batch, 3, 8, 8)
    group = torch.zeros(1, 1, 8, 8, dtype=torch.bool)
    group[..., 2:6, 2:6] = True
    with torch.no_grad():
        pair = _pair(lambda: model(x), lambda: contextual_decomposition(model, x, group), repeats)
    return {"batch": batch, "no_grad": pair}


def main() -> None:
    """Run every case and write the JSON."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeats", type=int, default=11)
    args = p.parse_args()
    result = {
        "threads": torch.get_num_threads(),
        "lstm": [lstm_case(b, args.repeats) for b in (64, 256)],
        "cnn": [cnn_case(b, args.repeats) for b in (64, 256)],
        "goal": "issue 18: CD <= 3x the forward pass (no_grad) and CD + backward <= 3x forward"
        " + backward (with_backward), same batch",
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    for case in ("lstm", "cnn"):
        for row in result[case]:
            line = f"{case} batch {row['batch']}: CD / forward = {row['no_grad']['ratio']:.2f}"
            if "with_backward" in row:
                line += f"; CD+backward / forward+backward = {row['with_backward']['ratio']:.2f}"
            print(line)  # noqa: T201


if __name__ == "__main__":
    main()
