"""Explanation-penalised training on a spurious-feature variant (CDEP: Rieger, Singh, Murdoch &
Yu, ICML 2020): fit one penalised text classifier and measure what the paper measures — accuracy
on clean test texts — and how much attribution still lands on the spurious words.

Attribution mass: on probe texts that contain a spurious word, the share of the absolute
Integrated-Gradients token scores (embedding level, ``pad`` baseline, predicted class) that falls
on spurious tokens, averaged over texts; for LSTMs also the contextual-decomposition share
``|rel| / (|rel| + |irrel|)`` of the logit difference (``cd_mass``, the output bias split between
the parts by CD's rule) and the share of what CD does not book to the rest of the text
(``cd_int_mass``, :func:`glassworks.train.losses.group_interaction_part`, without the output
bias): the spurious words' own part and their relevant x irrelevant gate products.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import polars as pl
import torch

from glassworks.explain.cd import UnsupportedLayerError, contextual_decomposition
from glassworks.explain.text import encode_texts, integrated_gradients_tokens
from glassworks.models.text_classifier import TextClassifier
from glassworks.train.evaluate import classification_metrics
from glassworks.train.losses import group_interaction_part


def attribution_mass(
    model: TextClassifier, texts: Sequence[str], n_steps: int = 32, batch_size: int = 64
) -> dict[str, float]:
    """Mean share of |IG| (and, where CD is defined, of |CD|) on the spurious tokens of
    ``texts``; texts with no spurious token are skipped (their count is returned)."""
    shares_ig: list[float] = []
    shares_cd: list[float] = []
    shares_int: list[float] = []
    max_rel_delta = 0.0
    cd_defined = True
    skipped = 0
    for lo in range(0, len(texts), batch_size):
        enc = encode_texts(model.module_, model.tokenizer_, texts[lo : lo + batch_size])
        group = model.group_mask(enc.input_ids) & enc.candidates
        has = group.any(1)
        skipped += int((~has).sum())
        if not bool(has.any()):
            continue
        logits = enc.logits()
        target = logits.argmax(-1)
        scores, delta = integrated_gradients_tokens(enc, target, n_steps)
        gap = enc.output_gap(target)
        max_rel_delta = max(max_rel_delta, float((delta.abs() / gap.abs().clamp_min(1e-6)).max()))
        mag = scores.abs() * enc.candidates
        share = (mag * group).sum(1) / mag.sum(1).clamp_min(1e-12)
        shares_ig += share[has].tolist()
        if cd_defined and logits.shape[1] == 2:
            try:
                with torch.no_grad():
                    d = contextual_decomposition(
                        model.module_, enc.input_ids, group, enc.attention_mask
                    )
            except UnsupportedLayerError:
                cd_defined = False
            else:
                rel = (d.relevant[:, 1] - d.relevant[:, 0]).abs()
                irrel = (d.irrelevant[:, 1] - d.irrelevant[:, 0]).abs()
                shares_cd += (rel / (rel + irrel).clamp_min(1e-12))[has].tolist()
                shares_int += _interaction_share(model, enc.input_ids, enc.attention_mask, group)[
                    has
                ].tolist()
    out = {
        "ig_mass": float(np.mean(shares_ig)) if shares_ig else float("nan"),
        "ig_max_relative_delta": max_rel_delta,
        "n_probe_used": len(shares_ig),
        "n_probe_skipped": skipped,
    }
    if cd_defined and shares_cd:
        out["cd_mass"] = float(np.mean(shares_cd))
        out["cd_int_mass"] = float(np.mean(shares_int))
    return out


def _interaction_share(
    model: TextClassifier, ids: torch.Tensor, mask: torch.Tensor, group: torch.Tensor
) -> torch.Tensor:
    """Per row, ``|g| / (|g| + |rest|)`` of the bias-free logit difference, ``g`` the group's part
    with its interactions, ``rest`` what the other tokens give alone."""
    with torch.no_grad():
        d = group_interaction_part(model.module_, ids, mask, group)
    g = (d.irrelevant[:, 1] - d.irrelevant[:, 0]).abs()
    rest = (d.relevant[:, 1] - d.relevant[:, 0]).abs()
    return g / (g + rest).clamp_min(1e-12)


def fit_penalized(
    params: dict[str, Any],
    train: pl.DataFrame,
    valid: pl.DataFrame,
    test: pl.DataFrame,
    probe: pl.DataFrame,
    label_names: Sequence[str],
    ig_steps: int = 32,
    on_step: Callable[[int], None] | None = None,
    n_probe: int | None = None,
) -> tuple[TextClassifier, dict[str, Any], dict[str, float]]:
    """Train ``TextClassifier(**params)`` on ``train`` (``valid`` is scored every epoch, never used
    to pick weights unless ``select_on`` says so) and score it on ``valid`` (``valid_accuracy``:
    what the lambda is chosen on), ``test`` (with ``test_correct`` per example) and ``probe``
    (attribution mass on a seeded sample of ``n_probe`` probe texts).

    Returns ``(model, metrics, seconds)``: ``seconds`` (``train_seconds``, the wall-clock fit) is
    a run fact kept apart from the metrics, for the MLflow run only, never a DVC output."""
    model = TextClassifier(**params)
    start = time.perf_counter()
    model.fit(
        train["text"].to_list(),
        train["label"].to_numpy(),
        valid["text"].to_list(),
        valid["label"].to_numpy(),
        n_classes=len(label_names),
        on_step=on_step,
        label_names=label_names,
    )
    seconds = time.perf_counter() - start
    y_test = test["label"].to_numpy()
    pred_test = np.asarray(model.predict(test["text"].to_list()))
    scores = classification_metrics(y_test, pred_test, "binary", list(label_names))
    probe_pred = model.predict(probe["text"].to_list())
    last = model.history_[-1]
    metrics: dict[str, Any] = {
        "lambda": float(params.get("penalty_weight", 0.0)),
        "test_accuracy": scores["accuracy"],
        "test_macro_f1": scores["macro_f1"],
        # the kept epoch's validation score (the last one unless select_on picks another)
        "valid_accuracy": model.history_[model.best_epoch_ - 1].get("valid_accuracy", float("nan")),
        "seed": int(params.get("seed", 0)),
        "probe_accuracy": float((probe_pred == probe["label"].to_numpy()).mean()),
        "train_penalty": last.get("train_penalty", 0.0),
        "train_loss": last["train_loss"],
        "n_train": train.height,
        "n_valid": valid.height,
        "n_test": test.height,
        "n_probe": probe.height,
        "n_spurious_missing": model.n_spurious_missing_,
    }
    sample = probe
    if n_probe is not None and n_probe < probe.height:
        sample = probe.sample(n_probe, seed=int(params.get("seed", 0)))
    metrics.update(attribution_mass(model, sample["text"].to_list(), ig_steps))
    # per test example (0/1): paired comparisons over examples, not only over seeds
    metrics["test_correct"] = (pred_test == y_test).astype(int).tolist()
    return model, metrics, {"train_seconds": seconds}
