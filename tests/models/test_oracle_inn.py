"""INN's penalties (Kadra et al. 2023): the L1 term on ``|W(x)|`` is the documented
``weight_norm * mean |W(x)|`` and shrinks the weights; the smoothness term estimates the Jacobian
``dW/dx`` without bias and flattens ``W(x)``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from glassworks.models.inn import INNClassifier, INNModule, jacobian_norm_estimate

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


def _exact_jacobian_sq(module: torch.nn.Module, x: torch.Tensor) -> float:
    """Mean over rows of ``||dW(x_b)/dx_b||_F^2`` from the full Jacobian (eval mode)."""
    jac = torch.autograd.functional.jacobian(module.weights, x)  # (B, C, d+1, B, d)
    return float(sum(jac[b, ..., b, :].pow(2).sum() for b in range(len(x))) / len(x))


def test_jacobian_estimate_is_unbiased_and_the_penalty_adds_it() -> None:
    """Hutchinson's estimate of ``||dW/dx||_F^2 / W.size`` averages to the exact Jacobian's, and
    ``_penalty`` adds ``smoothness`` times it (same random draw) to the L1 term."""
    torch.manual_seed(0)
    module = INNModule(5, 2, nr_blocks=1, hidden_size=8, dropout=0.0).double().eval()
    x = torch.randn(4, 5, dtype=torch.float64)
    exact = _exact_jacobian_sq(module, x) / (2 * 6)
    draws = []
    for _ in range(3000):
        xg = x.clone().requires_grad_(True)
        draws.append(float(jacobian_norm_estimate(module.weights(xg), xg).detach()))
    assert np.mean(draws) == pytest.approx(exact, rel=0.05)
    assert np.std(draws) > 0  # a random estimate, not the exact value in disguise

    torch.manual_seed(1)
    out, penalty = INNClassifier(weight_norm=0.3, smoothness=2.0)._penalty(module, x)
    torch.manual_seed(1)
    xg = x.clone().requires_grad_(True)
    w = module.weights(xg)
    expected = 0.3 * w.abs().mean() + 2.0 * jacobian_norm_estimate(w, xg)
    assert float(penalty.detach()) == pytest.approx(float(expected.detach()), rel=1e-12)
    torch.testing.assert_close(out, module(x))
    # the smoothness term trains the hypernetwork (double backward reaches its first layer)
    (grad,) = torch.autograd.grad(penalty - 0.3 * w.abs().mean(), module.hyper.stem.weight)
    assert grad.abs().sum() > 0


def test_weight_sensitivity_matches_the_jacobian() -> None:
    """``weight_sensitivity`` is ``sqrt(mean ||dW/dx||_F^2 / d)`` up to its random directions."""
    x, y = _data(120)
    model = INNClassifier(weight_norm=0.0, **FAST).fit(x, y)
    xt = torch.as_tensor(x[:40])
    exact = np.sqrt(_exact_jacobian_sq(model.module_, xt) / x.shape[1])
    assert model.weight_sensitivity(x[:40], n_directions=400) == pytest.approx(exact, rel=0.05)


def test_smoothness_slows_how_fast_the_weights_change() -> None:
    """Same data, same seed: a strong smoothness penalty gives a flatter ``W(x)`` than none, and
    a negative one is refused by name."""
    x, y = _data()
    free = INNClassifier(weight_norm=0.0, **FAST).fit(x, y)
    smooth = INNClassifier(weight_norm=0.0, smoothness=10.0, **FAST).fit(x, y)
    xt, _ = _data(200, seed=1)
    s_free, s_smooth = free.weight_sensitivity(xt), smooth.weight_sensitivity(xt)
    assert s_smooth < 0.5 * s_free, (s_smooth, s_free)
    with pytest.raises(ValueError, match="smoothness"):
        INNClassifier(smoothness=-1.0, **FAST).fit(x, y)


def test_smoothness_trains_with_fgsm_augmentation() -> None:
    """FGSM differentiates the whole loss by the input: the penalty must keep that input."""
    x, y = _data(120)
    fast = {**FAST, "epochs": 3}
    model = INNClassifier(
        smoothness=1.0, augmentation="fgsm", augmentation_probability=1.0, **fast
    ).fit(x, y)
    assert np.isfinite(model.history_[-1]["loss"])
