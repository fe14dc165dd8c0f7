"""INN: Interpretable Neural Networks for tabular data (Kadra, Pineda Arango & Grabocka 2023,
"Breaking the Paradox of Explainable Deep Learning", arXiv 2305.13072).

A TabResNet hypernetwork reads an example ``x`` and emits the weights ``W(x)`` of a linear model
(``(d + 1) x C``: one row per feature plus a bias); the prediction is that linear model applied to
the same example, ``logit_c = sum_j W_cj(x) x_j + b_c(x)``. ``W(x) * x`` are therefore exact
per-feature contributions that sum to the logit. An L1 penalty on ``|W(x)|`` (``weight_norm``)
keeps the per-example models sparse. Not in the paper:
- ``numeric_bins`` lets the hypernetwork read a piecewise-linear encoding of the numeric columns
  as well (Gorishniy et al. 2022); the linear model still reads ``x``, so the contributions stay
  per input column;
- ``smoothness`` (issue 20's question) penalises how fast ``W(x)`` changes with ``x``: the
  squared Frobenius norm of the Jacobian ``dW/dx`` divided by ``W``'s size ``C (d + 1)`` (summed
  over the inputs, so one value is not the same strength on every dataset), estimated with one
  random projection per example (Hutchinson's estimator, as in Hoffman, Roberts & Yaida 2019,
  "Robust learning with Jacobian regularization"), so that nearby examples get nearby linear
  models; :meth:`~_INNMixin.weight_sensitivity` measures it.

Differences from the reference code, on purpose:
- the snapshot ensemble averages the snapshots' weights, so its explanations are averaged exactly
  as its predictions (logits) are; the reference explains from the last snapshot only;
- multiclass works (one linear model per class; the reference's multiclass path is broken);
- binary tasks have one output (the log-odds), so contributions are read on one scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from glassworks.models.tabresnet import (
    PiecewiseLinearEncoding,
    TabResNet,
    TabResNetClassifier,
    _ClassifierNet,
    _RegressorNet,
    _SnapshotNet,
)


class INNModule(nn.Module):
    """Hypernetwork + per-example linear model; ``forward`` returns the logits."""

    def __init__(
        self,
        n_features: int,
        n_outputs: int,
        nr_blocks: int = 2,
        hidden_size: int = 128,
        dropout: float = 0.1,
        encoding: PiecewiseLinearEncoding | None = None,
    ) -> None:
        super().__init__()
        self.n_features = n_features
        self.n_outputs = n_outputs
        self.encoding = encoding  # what the hypernetwork reads; the linear model reads x
        width = encoding.n_outputs if encoding is not None else n_features
        self.hyper = TabResNet(width, (n_features + 1) * n_outputs, nr_blocks, hidden_size, dropout)

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """Per-example weights ``(B, C, d + 1)``; the last column is the bias."""
        encoding = getattr(self, "encoding", None)  # None in models pickled before it existed
        h = self.hyper(encoding(x) if encoding is not None else x)
        return h.view(-1, self.n_outputs, self.n_features + 1)

    def forward_with_weights(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits (B, C), weights (B, C, d + 1))``."""
        w = self.weights(x)
        return torch.einsum("bcd,bd->bc", w[..., :-1], x) + w[..., -1], w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, C)``."""
        return self.forward_with_weights(x)[0]


def jacobian_norm_estimate(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Unbiased estimate of the mean over rows of ``||dW(x)/dx||_F^2 / W.size``, differentiable.

    ``w`` (B, ...) must be computed from ``x`` (B, d), which requires grad. With ``u ~ N(0, I)``
    shaped like ``w``, ``E ||J^T u||^2 = ||J||_F^2``; ``J^T u`` is one backward pass
    (``create_graph`` so the penalty itself trains). In training mode TabResNet's BatchNorm
    couples the rows through the batch statistics, so the gradient also holds the other rows'
    ``O(1 / batch)`` share; in eval mode row ``b`` of ``w`` depends on row ``b`` of ``x`` only.
    """
    u = torch.randn_like(w)
    (g,) = torch.autograd.grad((w * u).sum(), x, create_graph=True)
    return g.pow(2).sum(1).mean() / w[0].numel()


@dataclass(frozen=True)
class Contributions:
    """Exact decomposition: ``contributions.sum(-1) + bias == output`` for every row and output.

    Shapes: ``contributions`` and ``weights`` ``(n, C, d)``; ``bias`` and ``output`` ``(n, C)``.
    ``C`` = 1 for binary (log-odds of the second class) and regression, else the class count.
    """

    contributions: np.ndarray
    weights: np.ndarray
    bias: np.ndarray
    output: np.ndarray

    def for_output(self, index: np.ndarray | int) -> np.ndarray:
        """``(n, d)`` contributions to one output per row (e.g. the predicted class)."""
        idx = np.broadcast_to(np.asarray(index), (len(self.contributions),))
        return self.contributions[np.arange(len(idx)), idx]


class _INNMixin(_SnapshotNet):
    interpretable = True

    def _build(self, n_features: int, n_outputs: int) -> nn.Module:
        return INNModule(
            n_features,
            n_outputs,
            self.nr_blocks,
            self.hidden_size,
            self.dropout,
            encoding=self._input_encoding(),
        )

    def _check_params(self) -> None:
        super()._check_params()
        if self.smoothness < 0:
            raise ValueError(f"smoothness must be >= 0, got {self.smoothness}")

    def _penalty(self, module: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        smooth = self.smoothness
        if smooth and not x.requires_grad:  # fgsm's input already is a leaf that needs grad
            x = x.detach().requires_grad_(True)
        out, w = module.forward_with_weights(x)
        penalty = self.weight_norm * w.abs().mean()
        if smooth:
            penalty = penalty + smooth * jacobian_norm_estimate(w, x)
        return out, penalty

    def weight_sensitivity(self, X: Any, eps: float = 1e-3, n_directions: int = 8) -> float:  # noqa: N803
        """How fast the fitted ``W(x)`` changes with ``x``: the root mean square, over the rows
        of ``X`` and ``n_directions`` random unit directions ``v`` each (seeded), of the
        directional derivative ``|W(x + eps v) - W(x - eps v)| / (2 eps)`` (all weights and the
        bias; the fitted ensemble). Its square estimates the mean over rows of
        ``||dW/dx||_F^2 / d``; the training penalty divides the same norm by ``W``'s size
        ``C (d + 1)`` instead."""
        x = torch.as_tensor(self._fitted_input(X))
        gen = torch.Generator().manual_seed(0)
        total = 0.0
        with torch.no_grad():
            for _ in range(n_directions):
                v = torch.randn(x.shape, generator=gen, dtype=x.dtype)
                v = v / v.norm(dim=1, keepdim=True)
                diff = self.module_.weights(x + eps * v) - self.module_.weights(x - eps * v)
                total += float((diff.flatten(1) / (2 * eps)).pow(2).sum(1).mean())
        return float(np.sqrt(total / n_directions))

    def _raw_contributions(self, X: Any) -> tuple[np.ndarray, ...]:  # noqa: N803
        x = self._fitted_input(X)
        with torch.no_grad():
            xt = torch.as_tensor(x)
            w = self.module_.weights(xt)
            out = self.module_(xt)
        w = w.numpy()
        return w[..., :-1], w[..., :-1] * x[:, None, :], w[..., -1], out.numpy()

    def explain(self, X: Any) -> Contributions:  # noqa: N803
        """Exact per-feature contributions ``W(x) * x`` (+ bias) of every output, per row."""
        return self.explain_raw(X)

    def explain_raw(self, X: Any) -> Contributions:  # noqa: N803
        """:meth:`explain` on the scale of ``module_``'s outputs, the one post-hoc explainers of
        ``module_`` see: logits (the same as :meth:`explain` for a classifier), or the
        standardised target for :class:`INNRegressor`."""
        weights, contrib, bias, out = self._raw_contributions(X)
        return Contributions(contrib, weights, bias, out)

    def global_importance(self, X: Any) -> np.ndarray:  # noqa: N803
        """Mean ``|contribution|`` per feature over the rows of ``X`` (and over outputs)."""
        return np.abs(self.explain(X).contributions).mean((0, 1))


class INNClassifier(_INNMixin, _ClassifierNet):
    __doc__ = (
        "INN classifier: a TabResNet hypernetwork emits a linear model per example.\n\n"
        "    weight_norm: L1 penalty on the mean |W(x)| (feature weights and bias).\n"
        "    smoothness: penalty on how fast W(x) changes with x (||dW/dx||_F^2 / W.size).\n"
        + (TabResNetClassifier.__doc__ or "").split("\n", 1)[1]
    )

    def __init__(
        self,
        nr_blocks: int = 2,
        hidden_size: int = 128,
        dropout: float = 0.1,
        weight_norm: float = 0.1,
        smoothness: float = 0.0,
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        batch_size: int = 256,
        epochs: int = 40,
        warmup_epochs: int = 5,
        nr_restarts: int = 3,
        augmentation: str | None = None,
        augmentation_probability: float = 0.0,
        oversample: bool = False,
        numeric_bins: int = 0,
        seed: int = 0,
        device: str = "auto",
    ) -> None:
        self.nr_blocks = nr_blocks
        self.hidden_size = hidden_size
        self.dropout = dropout
        self.weight_norm = weight_norm
        self.smoothness = smoothness
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.epochs = epochs
        self.warmup_epochs = warmup_epochs
        self.nr_restarts = nr_restarts
        self.augmentation = augmentation
        self.augmentation_probability = augmentation_probability
        self.oversample = oversample
        self.numeric_bins = numeric_bins
        self.seed = seed
        self.device = device


class INNRegressor(_INNMixin, _RegressorNet):
    __doc__ = (
        "INN regressor: one output, trained on the standardised target; :meth:`explain` gives\n"
        "contributions in the target's units (the bias holds its mean), :meth:`explain_raw` on\n"
        "the standardised scale ``module_`` outputs."
    )
    __init__ = INNClassifier.__init__

    def explain(self, X: Any) -> Contributions:  # noqa: N803
        """Exact contributions in target units: ``contributions.sum(-1) + bias == predict(X)``."""
        weights, contrib, bias, out = self._raw_contributions(X)
        s, m = self.y_scale_, self.y_mean_
        return Contributions(contrib * s, weights * s, bias * s + m, out * s + m)
