"""INN's L1 penalty on the per-example weights ``|W(x)|`` (Kadra et al. 2023): its value is the
documented ``weight_norm * mean |W(x)|``, and training with it shrinks the weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from glassworks.models.inn import INNClassifier, INNModule

FAST = {
    "epochs": 20,
    "lr": 1e-2,
    "warmup_epochs": 1,
    "nr_restarts": 1,
    "hidden_size": 16,
    "nr_blocks": 1,
    "batch_size": 64,
    "dropout": 0.0,
    "device": "cpu",
}


def _data(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5))
    y = (x[:, 0] - 0.5 * x[:, 1] + 0.3 * rng.normal(size=n) > 0).astype(int)
    return x, y


def _mean_abs_weights(model: INNClassifier, x: np.ndarray) -> float:
    """Mean ``|W(x)|`` (feature weights and bias) of the fitted model, read from ``explain``."""
    exp = model.explain(x)
    return float(np.abs(np.concatenate([exp.weights, exp.bias[..., None]], -1)).mean())


def test_penalty_is_weight_norm_times_mean_absolute_weight() -> None:
    """The training objective's extra term, against ``|W(x)|`` from the hypernetwork's output."""
    torch.manual_seed(0)
    module = INNModule(5, 3, nr_blocks=1, hidden_size=8, dropout=0.0).double()
    x = torch.randn(7, 5, dtype=torch.float64)
    raw = module.hyper(x).reshape(7, 3, 6)  # (B, C, d + 1): the hypernetwork's flat output
    expected_logits = (raw[..., :5] * x[:, None, :]).sum(-1) + raw[..., 5]
    for lam in (0.0, 0.3, 2.0):
        out, penalty = INNClassifier(weight_norm=lam)._penalty(module, x)
        torch.testing.assert_close(out, expected_logits, rtol=1e-12, atol=1e-12)
        assert float(penalty.detach()) == pytest.approx(
            lam * float(raw.detach().abs().mean()), rel=1e-12
        )
    # the penalty is differentiable towards the hypernetwork
    _, penalty = INNClassifier(weight_norm=1.0)._penalty(module, x)
    (grad,) = torch.autograd.grad(penalty, module.hyper.stem.weight)
    assert grad.abs().sum() > 0


def test_weight_norm_shrinks_the_per_example_weights() -> None:
    """Same data, same seed: a strong L1 penalty gives a smaller mean ``|W(x)|`` than none."""
    x, y = _data()
    free = INNClassifier(weight_norm=0.0, **FAST).fit(x, y)
    sparse = INNClassifier(weight_norm=1.0, **FAST).fit(x, y)
    xt, _ = _data(200, seed=1)
    w_free, w_sparse = _mean_abs_weights(free, xt), _mean_abs_weights(sparse, xt)
    assert w_sparse < 0.6 * w_free, (w_sparse, w_free)
