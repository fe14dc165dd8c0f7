"""Explain one text classifier on a sample of texts with several explainers (IG, EG, LIME,
occlusion, a random floor) and score their faithfulness under every replacement: the
``explain_text`` study and its metrics."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from glassworks.config import ExplainTextSettings
from glassworks.device import torch_threads
from glassworks.explain.metrics import ReplacementStudy, faithfulness_by_replacement
from glassworks.explain.summary import TextComparison, compare_text_explainers
from glassworks.models.text_classifier import TextClassifier


@dataclass(frozen=True)
class TextStudy:
    """The explainers' token scores (``comparison``), their faithfulness under each replacement
    (``faithfulness``), the ``explain_text`` metrics and the seconds each part took (machine
    state: for MLflow, not the DVC metrics)."""

    comparison: TextComparison
    faithfulness: ReplacementStudy
    metrics: dict[str, Any]
    seconds: dict[str, float]

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
    seconds = {
        "explain": explained,
        "faithfulness": faithfulness.seconds,
        "total": time.perf_counter() - start,
    }
    return TextStudy(comp, faithfulness, metrics, seconds)
