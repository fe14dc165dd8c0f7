"""Faithfulness of token attributions: deletion and insertion curves (Petsiuk et al. 2018, RISE),
comprehensiveness and sufficiency at top-k% tokens (DeYoung et al. 2020, ERASER).

Tokens are removed or inserted at the embedding layer: a removed token's embedding is replaced by
the baseline embedding (the same baseline the path methods integrate from), so the sequence length
and the positions never change. Scores are the target class's probability.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

EmbeddingForward = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Faithfulness:
    """Curves and scores for one text (probabilities of the target class)."""

    fractions: np.ndarray
    deletion: np.ndarray
    insertion: np.ndarray
    ks: tuple[float, ...]
    comprehensiveness: np.ndarray
    sufficiency: np.ndarray

    @property
    def deletion_auc(self) -> float:
        """Area under the deletion curve (lower = more faithful)."""
        return float(np.trapezoid(self.deletion, self.fractions))

    @property
    def insertion_auc(self) -> float:
        """Area under the insertion curve (higher = more faithful)."""
        return float(np.trapezoid(self.insertion, self.fractions))


def _keep_masks(order: np.ndarray, counts: Sequence[int], length: int, delete: bool) -> np.ndarray:
    """One row per count: True where a token keeps its embedding."""
    rows = (
        np.ones((len(counts), length), dtype=bool)
        if delete
        else np.zeros((len(counts), length), dtype=bool)
    )
    for r, c in enumerate(counts):
        rows[r, order[:c]] = not delete
    return rows


def faithfulness(
    forward: EmbeddingForward,
    embeds: torch.Tensor,
    baseline: torch.Tensor,
    attention_mask: torch.Tensor,
    scores: torch.Tensor,
    candidates: torch.Tensor,
    target: int,
    n_fractions: int = 11,
    ks: Sequence[float] = (0.1, 0.2, 0.5),
) -> Faithfulness:
    """Deletion/insertion curves and ERASER scores for one text, in one batched forward.

    ``embeds``/``baseline``: ``(L, D)``; ``attention_mask``: ``(L,)``; ``scores``: ``(L,)`` token
    attributions (higher = more evidence for ``target``); ``candidates``: ``(L,)`` bool, the
    tokens that may be removed (not padding, not special tokens). Ties are broken by position.
    """
    cand = np.flatnonzero(candidates.cpu().numpy())
    n = len(cand)
    s = scores.detach().cpu().double().numpy()[cand]
    order = cand[np.lexsort((cand, -s))]
    fractions = np.linspace(0.0, 1.0, n_fractions)
    counts = [int(round(f * n)) for f in fractions]
    top = [max(1, int(np.ceil(k * n))) if n else 0 for k in ks]
    length = embeds.shape[0]
    keep = np.concatenate(
        [
            _keep_masks(order, counts, length, delete=True),  # deletion curve
            _keep_masks(order, counts, length, delete=False),  # insertion curve
            _keep_masks(order, top, length, delete=True),  # comprehensiveness
            _keep_masks(order, top, length, delete=False),  # sufficiency
        ]
    )
    not_cand = np.ones(length, dtype=bool)
    not_cand[cand] = False
    keep |= not_cand  # special tokens and padding never move
    keep_t = torch.as_tensor(keep, device=embeds.device).unsqueeze(-1)
    batch = torch.where(keep_t, embeds.unsqueeze(0), baseline.unsqueeze(0))
    masks = attention_mask.unsqueeze(0).expand(len(keep), -1)
    with torch.no_grad():
        probs = torch.softmax(forward(batch, masks).double(), -1)[:, target].cpu().numpy()
        full = float(
            torch.softmax(forward(embeds.unsqueeze(0), attention_mask.unsqueeze(0)).double(), -1)[
                0, target
            ]
        )
    m = len(counts)
    d, i = probs[:m], probs[m : 2 * m]
    comp = full - probs[2 * m : 2 * m + len(top)]
    suff = full - probs[2 * m + len(top) :]
    return Faithfulness(fractions, d, i, tuple(ks), comp, suff)


def summarize(results: Sequence[Faithfulness]) -> dict[str, float]:
    """Means over texts: deletion/insertion AUC, comprehensiveness/sufficiency per k."""
    out = {
        "deletion_auc": float(np.mean([r.deletion_auc for r in results])),
        "insertion_auc": float(np.mean([r.insertion_auc for r in results])),
    }
    ks = results[0].ks
    for j, k in enumerate(ks):
        pct = int(round(100 * k))
        out[f"comprehensiveness_{pct}"] = float(np.mean([r.comprehensiveness[j] for r in results]))
        out[f"sufficiency_{pct}"] = float(np.mean([r.sufficiency[j] for r in results]))
    return out


def mean_curves(results: Sequence[Faithfulness]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fractions and the mean deletion and insertion curves over texts."""
    return (
        results[0].fractions,
        np.mean([r.deletion for r in results], 0),
        np.mean([r.insertion for r in results], 0),
    )
