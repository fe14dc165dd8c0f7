"""Training losses for text classifiers: cross-entropy, class-weighted cross-entropy and an ordinal
(cumulative-link) loss in the CORAL form of Cao, Mirjalili & Raschka 2020 (arXiv 1901.07884)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

LossName = Literal["ce", "weighted_ce", "ordinal"]


def balanced_class_weights(labels: np.ndarray, n_classes: int) -> torch.Tensor:
    """``n / (k * count_c)`` per class (scikit-learn's "balanced"); absent classes get weight 0."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=n_classes).astype(float)
    weights = np.where(counts > 0, counts.sum() / (n_classes * np.maximum(counts, 1)), 0.0)
    return torch.as_tensor(weights, dtype=torch.float32)


def ordinal_targets(y: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Binary targets ``[y > 0, y > 1, ..., y > k-2]`` for the cumulative logits."""
    return (y.unsqueeze(1) > torch.arange(n_classes - 1, device=y.device)).to(torch.float32)


def ordinal_log_probs(cumulative: torch.Tensor) -> torch.Tensor:
    """Class log-probabilities from cumulative logits of P(y > k).

    P(y = k) = P(y > k-1) - P(y > k) with P(y > -1) = 1 and P(y > K-1) = 0; differences of
    non-monotone cumulative probabilities are clamped at a tiny positive value.
    """
    p_gt = torch.sigmoid(cumulative)
    ones = torch.ones_like(p_gt[:, :1])
    upper = torch.cat([ones, p_gt], 1)
    lower = torch.cat([p_gt, torch.zeros_like(ones)], 1)
    return torch.log((upper - lower).clamp_min(1e-9))


class OrdinalLoss(nn.Module):
    """Mean binary cross-entropy over the ``K-1`` cumulative logits (CORAL)."""

    def __init__(self, n_classes: int) -> None:
        super().__init__()
        self.n_classes = n_classes

    def forward(self, cumulative: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Loss of cumulative logits ``(batch, K-1)`` against class indices ``(batch,)``."""
        target = ordinal_targets(y, self.n_classes)
        return F.binary_cross_entropy_with_logits(cumulative, target, reduction="sum") / len(y)


def make_loss(name: LossName, labels: np.ndarray, n_classes: int) -> nn.Module:
    """The loss called ``name``; ``labels`` (train) set the class weights of ``weighted_ce``."""
    if name == "ce":
        return nn.CrossEntropyLoss()
    if name == "weighted_ce":
        return nn.CrossEntropyLoss(weight=balanced_class_weights(labels, n_classes))
    if name == "ordinal":
        if n_classes < 2:
            raise ValueError("the ordinal loss needs at least 2 classes")
        return OrdinalLoss(n_classes)
    raise ValueError(f"unknown loss {name!r}; use ce, weighted_ce or ordinal")
