"""Explain a fitted model on a sample of examples with every path method, plus certificates.

Used by the ``explain`` stage; pure (arrays and models in, arrays and numbers out).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from glassworks.explain.hessians import integrated_hessians
from glassworks.explain.paths import expected_gradients, integrated_gradients


@dataclass
class Explained:
    """Attributions, interactions and their completeness statistics for a sample."""

    names: list[str]
    values: np.ndarray
    ig: np.ndarray
    eg: np.ndarray
    ih: np.ndarray
    target: np.ndarray
    stats: dict[str, Any] = field(default_factory=dict)


def _rel(err: torch.Tensor, scale: torch.Tensor) -> dict[str, float]:
    rel = (err.abs() / scale.abs().clamp_min(1e-12)).double()
    return {"max": float(rel.max()), "median": float(rel.median())}


def explain_tabular(
    module: torch.nn.Module,
    x: np.ndarray,
    background: np.ndarray,
    names: Sequence[str],
    *,
    n_steps: int = 32,
    ih_steps: int = 16,
    eg_samples: int = 64,
    seed: int = 0,
) -> Explained:
    """IG (zero = mean baseline after standardisation), EG over ``background`` and IH for the
    predicted class of each row of ``x``."""
    xt = torch.as_tensor(x, dtype=torch.float64)
    bg = torch.as_tensor(background, dtype=torch.float64)
    with torch.no_grad():
        target = module(xt).argmax(1)
    base = bg.mean(0, keepdim=True)
    ig = integrated_gradients(module, xt, base, target, n_steps=n_steps)
    eg = expected_gradients(module, xt, bg, target, n_samples=eg_samples, seed=seed)
    ih = integrated_hessians(module, xt, base, target, n_steps=ih_steps)
    with torch.no_grad():
        gap = (
            module(xt).gather(1, target[:, None])[:, 0]
            - module(base.expand_as(xt)).gather(1, target[:, None])[:, 0]
        )
    stats = {
        "examples": len(x),
        "ig_completeness_relative": _rel(ig.delta, gap),
        # EG's reference is f(x) - mean over its own drawn baselines, not the mean baseline
        "eg_completeness_relative": _rel(
            eg.delta, eg.attributions.reshape(len(x), -1).sum(1) - eg.delta
        ),
        "ih_total_relative": _rel(ih.total_error, gap),
        "ih_rows_vs_ig_relative": _rel(ih.row_error, ih.ig.abs().amax(1)),
        "n_steps": n_steps,
        "ih_steps": ih_steps,
        "eg_samples": eg_samples,
    }
    return Explained(
        list(names),
        x,
        ig.attributions.numpy(),
        eg.attributions.numpy(),
        ih.interactions.numpy(),
        target.numpy(),
        stats,
    )


def explain_embgam(model: Any, texts: Sequence[str], n_steps: int = 8) -> dict[str, Any]:
    """Check the attribution engine against Emb-GAM's exact decomposition.

    The model is linear in its n-gram counts, so Integrated Gradients from the empty text must
    return each n-gram's contribution exactly, and Integrated Hessians must be diagonal (no
    interactions) with the main effects equal to those contributions.
    """
    tables = [model.explain(t) for t in texts]
    vocab = sorted({g for tb in tables for g in tb["ngram"].to_list()})
    index = {g: i for i, g in enumerate(vocab)}
    cols = [c for c in tables[0].columns if c.startswith("contribution")] if tables else []
    per_unit = np.zeros((len(vocab), len(cols)))
    counts = np.zeros((len(texts), len(vocab)))
    for row, tb in enumerate(tables):
        for g, n, *vals in tb.select("ngram", "count", *cols).iter_rows():
            counts[row, index[g]] = n
            per_unit[index[g]] = np.asarray(vals) / n
    weights = torch.as_tensor(per_unit)
    bias = torch.as_tensor(np.atleast_1d(model.intercept_), dtype=torch.float64)

    def forward(c: torch.Tensor) -> torch.Tensor:
        return c @ weights + bias

    x = torch.as_tensor(counts)
    target = forward(x).argmax(1) if len(cols) > 1 else torch.zeros(len(texts), dtype=torch.long)
    ig = integrated_gradients(forward, x, 0.0, target, n_steps=n_steps)
    exact = np.stack([counts[r] * per_unit[:, int(target[r])] for r in range(len(texts))])
    ih = integrated_hessians(forward, x, 0.0, target, n_steps=4).interactions
    diag = torch.diagonal(ih, dim1=1, dim2=2)
    off_diag = ih - torch.diag_embed(diag)
    logits = model.decision_function(list(texts))
    logits = logits[:, None] if logits.ndim == 1 else logits
    return {
        "examples": len(texts),
        "ngrams": len(vocab),
        "ig_vs_exact_max_abs": float(np.abs(ig.attributions.numpy() - exact).max()),
        "ig_completeness_max_abs": float(ig.delta.abs().max()),
        "ih_off_diagonal_max_abs": float(off_diag.abs().max()),
        "ih_diagonal_vs_ig_max_abs": float((diag - ig.attributions).abs().max()),
        "decomposition_vs_model_max_abs": float(
            np.abs(
                exact.sum(1)
                + bias.numpy()[target.numpy()]
                - logits[np.arange(len(texts)), target.numpy()]
            ).max()
        ),
    }
