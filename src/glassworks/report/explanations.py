"""Figures of the explanation stages: a tabular model's attributions and interactions
(``explain``), Emb-GAM's n-gram contributions (``explain``) and the audit of post-hoc explainers
against INN's decomposition (``audit_tabular``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from glassworks.explain.audit import Audit
from glassworks.explain.summary import EmbGamExplained, Explained
from glassworks.report.plots import (
    audit_plot,
    bar_interaction_plot,
    matrix_interaction_plot,
    scatter_plot,
    summary_plot,
)

TOP_FEATURES = 12
"""Features shown in the interaction plots (by mean |IG|)."""


def interaction_partner(ih: np.ndarray, feature: int) -> int:
    """The feature with the largest mean |interaction| with ``feature`` (itself excluded), over
    ``ih`` of shape ``(examples, features, features)``."""
    strength = np.abs(ih).mean(0)[feature].copy()
    strength[feature] = -1
    return int(strength.argmax())


def tabular_explanation_plots(res: Explained, out: Path, dataset: str, interactions: str) -> None:
    """``summary_ig.png``, ``summary_eg.png``, ``interactions.png`` (mean Hessians of the top
    features), ``top_interactions.png`` and ``scatter_top_feature.png`` (the top feature's IG
    against its value, coloured by its strongest interaction partner) in ``out``."""
    names = res.names
    for key, method in (("ig", "Integrated Gradients"), ("eg", "Expected Gradients")):
        summary_plot(
            getattr(res, key),
            res.values,
            names,
            out / f"summary_{key}.png",
            title=f"{dataset}: {method}",
        )
    top = np.argsort(-np.abs(res.ig).mean(0))[:TOP_FEATURES]
    hessians = "Expected" if interactions == "expected" else "Integrated"
    matrix_interaction_plot(
        res.ih.mean(0)[np.ix_(top, top)],
        [names[i] for i in top],
        out / "interactions.png",
        f"{dataset}: mean {hessians} Hessians (top features)",
    )
    bar_interaction_plot(res.ih.mean(0), names, out / "top_interactions.png", top_k=TOP_FEATURES)
    first = int(top[0])
    scatter_plot(
        res.ig,
        res.values,
        names,
        first,
        out / "scatter_top_feature.png",
        color_by=interaction_partner(res.ih, first),
    )


def embgam_explanation_plot(res: EmbGamExplained, out: Path) -> None:
    """``summary.png``: Emb-GAM's n-gram contributions to each example's predicted class."""
    summary_plot(
        res.ig,
        res.counts,
        res.vocab,
        out / "summary.png",
        title="Emb-GAM n-gram contributions to the predicted class (IG = exact)",
    )


def audit_plots(audit: Audit, out: Path, dataset: str) -> None:
    """``audit.png`` (explainers of INN's full logit vs its decomposition), ``audit_frozen.png``
    (hypernetwork frozen) and ``inn_contributions.png`` (the decomposition itself) in ``out``."""
    audit_plot(
        audit.inn_scores,
        out / "audit.png",
        f"{dataset}: agreement with INN's decomposition W(x)·x (explaining f)",
    )
    audit_plot(
        audit.frozen_scores,
        out / "audit_frozen.png",
        f"{dataset}: agreement with INN's decomposition (hypernetwork frozen)",
    )
    summary_plot(
        audit.exact,
        audit.x,
        audit.names,
        out / "inn_contributions.png",
        title=f"{dataset}: INN's decomposition W(x)·x",
    )
