"""Explain one text classifier on a sample of texts with several explainers (IG, EG, LIME,
occlusion, a random floor) and score their faithfulness under every replacement: the
``explain_text`` study and its metrics."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from glassworks.config import ExplainTextSettings
from glassworks.device import torch_threads
from glassworks.explain.metrics import ReplacementStudy, faithfulness_by_replacement
from glassworks.explain.summary import TextComparison, compare_text_explainers
from glassworks.explain.windows import WindowedExplanation, explain_windows, overlap_agreement
from glassworks.models.text_classifier import TextClassifier


@dataclass(frozen=True)
class TextStudy:
    """The explainers' token scores (``comparison``), their faithfulness under each replacement
    (``faithfulness``), the ``explain_text`` metrics and the seconds each part took (machine
    state: for MLflow, not the DVC metrics); for a model read in sliding windows, the stitched
    whole-text IG (``windows``)."""

    comparison: TextComparison
    faithfulness: ReplacementStudy
    metrics: dict[str, Any]
    seconds: dict[str, float]
    windows: list[WindowedExplanation] | None = None
    """A windowed model's Integrated Gradients over each whole text, stitched across windows
    (the other explainers read the text's first window)."""

    def stitched_table(self) -> pl.DataFrame | None:
        """One row per token of each whole text: text index, position, token, stitched IG score
        (None for a model that reads one window)."""
        if self.windows is None:
            return None
        return pl.DataFrame(
            {
                "text": [i for i, e in enumerate(self.windows) for _ in e.tokens],
                "position": [p for e in self.windows for p in range(len(e.tokens))],
                "token": [t for e in self.windows for t in e.tokens],
                "score": [float(v) for e in self.windows for v in e.scores],
            },
            schema={
                "text": pl.Int64,
                "position": pl.Int64,
                "token": pl.String,
                "score": pl.Float64,
            },
        )

    def lowest_deletion_auc(self) -> tuple[str, float]:
        """The explainer with the lowest mean deletion AUC (under the explainers' baseline) and
        that AUC; the first in metrics order on ties."""
        m = self.metrics
        best = min(
            (k for k in m if isinstance(m[k], dict) and "deletion_auc" in m[k]),
            key=lambda k: m[k]["deletion_auc"],
        )
        return best, m[best]["deletion_auc"]


def study_metrics(
    comp: TextComparison,
    faithfulness: ReplacementStudy,
    settings: ExplainTextSettings,
    n_texts: int,
) -> dict[str, Any]:
    """The ``explain_text`` metrics: per explainer (top level) ``comp.summary()``, then the sample
    (texts explained and requested, the note, how many were truncated), the baseline and, under
    ``faithfulness``, the replacement study's summary."""
    metrics = comp.summary()
    metrics["n_texts"] = n_texts
    metrics["n_texts_requested"] = settings.n_texts
    if settings.n_texts_note:
        metrics["n_texts_note"] = settings.n_texts_note
    metrics["n_truncated"] = comp.enc.n_truncated
    metrics["baseline"] = settings.baseline
    metrics["faithfulness"] = faithfulness.summary(settings.seed)
    return metrics


def run_text_study(
    model: TextClassifier, texts: Sequence[str], settings: ExplainTextSettings
) -> TextStudy:
    """Explain ``texts`` with ``settings.methods`` against ``settings.baseline`` (at most
    ``settings.max_length`` tokens, and no more than the model reads), then score every
    explainer under each of ``settings.replacements`` (the baseline's own results reused)."""
    with torch_threads(settings.threads):
        return _run_text_study(model, texts, settings)


def _run_text_study(
    model: TextClassifier, texts: Sequence[str], settings: ExplainTextSettings
) -> TextStudy:
    start = time.perf_counter()
    comp = compare_text_explainers(
        model.module_,
        model.tokenizer_,
        texts,
        methods=settings.methods,
        baseline=settings.baseline,
        max_length=min(settings.max_length, model.max_length),
        n_steps=settings.n_steps,
        eg_samples=settings.eg_samples,
        lime_samples=settings.lime_samples,
        n_interactions=settings.n_interactions,
        ih_steps=settings.ih_steps,
        ks=settings.ks,
        seed=settings.seed,
    )
    explained = time.perf_counter() - start
    faithfulness = faithfulness_by_replacement(
        model.module_,
        model.tokenizer_,
        comp.enc,
        comp.scores,
        comp.target,
        settings.replacements,
        ks=settings.ks,
        seed=settings.seed,
        known={settings.baseline: comp.faithfulness},  # pad/mask: scored already
    )
    metrics = study_metrics(comp, faithfulness, settings, len(texts))
    windows = None
    if getattr(model, "window_stride", None) is not None:
        windows = explain_windows(
            model.module_,
            model.tokenizer_,
            texts,
            model.max_length,
            model.window_stride,
            target=model.predict(texts),
            baseline=settings.baseline,
            n_steps=settings.n_steps,
            pool=getattr(model, "window_pool", "mean"),
        )
        metrics["windows"] = windows_summary(windows, model.window_stride)
    seconds = {
        "explain": explained,
        "faithfulness": faithfulness.seconds,
        "total": time.perf_counter() - start,
    }
    return TextStudy(comp, faithfulness, metrics, seconds, windows)


def windows_summary(windows: Sequence[WindowedExplanation], stride: int) -> dict[str, Any]:
    """The stitched IG's metrics: windows per text, the largest completeness error against the
    text's pooled logit gap, and how overlapping windows agree on a token's score."""
    counts = [e.n_windows for e in windows]
    return {
        "window_stride": stride,
        "mean_windows": float(np.mean(counts)),
        "max_windows": int(max(counts)),
        "max_abs_delta": float(max(abs(e.delta) for e in windows)),
        "overlap": overlap_agreement(windows),
    }
