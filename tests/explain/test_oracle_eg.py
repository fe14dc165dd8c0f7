"""Expected and Integrated Gradients against exact integrals written in the test.

Expected Gradients (Erion et al. 2021) is ``E_{x' ~ background, a ~ U(0, 1)}[(x - x') .
grad f(x' + a (x - x'))]``; for a finite background its exact value is the mean over the
background rows of Integrated Gradients ``IG(x, x')``, which a 96-node Gauss-Legendre rule
(``numpy.polynomial.legendre.leggauss``) computes to float64 precision for a smooth model. The
Monte Carlo error of EG is judged with a standard error estimated from single-sample draws.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from glassworks.explain.paths import expected_gradients, integrated_gradients
from glassworks.explain.quadrature import rule


def _smooth_mlp(seed: int = 0) -> nn.Module:
    """A softplus/tanh MLP, 4 -> 1, float64, weights large enough to be clearly non-linear."""
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(4, 10), nn.Softplus(), nn.Linear(10, 8), nn.Tanh(), nn.Linear(8, 1)
    ).double()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(2.0)
    return model


def _grad(model: nn.Module, points: torch.Tensor) -> torch.Tensor:
    x = points.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(model(x).sum(), x)
    return g


def exact_ig(model: nn.Module, x: torch.Tensor, base: torch.Tensor, n: int = 96) -> torch.Tensor:
    """``(x - x') * int_0^1 grad f(x' + a (x - x')) da`` by Gauss-Legendre on [0, 1]."""
    nodes, weights = np.polynomial.legendre.leggauss(n)
    a = torch.from_numpy((nodes + 1) / 2).reshape(-1, 1)
    w = torch.from_numpy(weights / 2).reshape(-1, 1)
    total = torch.zeros_like(x)
    for row in range(x.shape[0]):
        pts = base[row] + a * (x[row] - base[row])
        total[row] = (x[row] - base[row]) * (w * _grad(model, pts)).sum(0)
    return total


def exact_eg(model: nn.Module, x: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """Mean over the background rows of the exact IG: EG's expectation."""
    out = torch.zeros_like(x)
    for row in range(x.shape[0]):
        xs = x[row].expand(len(background), -1)
        out[row] = exact_ig(model, xs, background).mean(0)
    return out


@pytest.fixture
def setup() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    model = _smooth_mlp()
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, 4, generator=gen, dtype=torch.float64) + 1.0
    background = torch.randn(5, 4, generator=gen, dtype=torch.float64) - 0.5
    return model, x, background


def test_integrated_gradients_matches_exact_quadrature(setup) -> None:  # noqa: ANN001
    """Gauss-Legendre IG from a non-zero baseline equals the exact path integral."""
    model, x, background = setup
    base = background[:2]
    got = integrated_gradients(model, x, base, n_steps=48).attributions
    torch.testing.assert_close(got, exact_ig(model, x, base), rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("method", ["riemann_left", "riemann_right", "riemann_middle"])
def test_riemann_rules_match_a_hand_written_sum(setup, method: str) -> None:  # noqa: ANN001
    """Captum's Riemann rules, written out: n equal cells, left/right end or midpoint."""
    model, x, background = setup
    base, n = background[:2], 7
    offset = {"riemann_left": 0.0, "riemann_right": 1.0, "riemann_middle": 0.5}[method]
    a = (torch.arange(n, dtype=torch.float64) + offset) / n
    expected = torch.stack(
        [
            (x[r] - base[r]) * _grad(model, base[r] + a.reshape(-1, 1) * (x[r] - base[r])).mean(0)
            for r in range(2)
        ]
    )
    got = integrated_gradients(model, x, base, n_steps=n, method=method).attributions
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)


def test_trapezoid_and_gauss_legendre_rules_are_the_textbook_ones() -> None:
    """Nodes and weights on [0, 1]: trapezoid on n equispaced points, Legendre's rule mapped."""
    a, w = rule("riemann_trapezoid", 5)
    np.testing.assert_allclose(a, [0.0, 0.25, 0.5, 0.75, 1.0], atol=1e-15)
    np.testing.assert_allclose(w, [0.125, 0.25, 0.25, 0.25, 0.125], atol=1e-15)
    for n in (1, 3, 8):
        nodes, weights = np.polynomial.legendre.leggauss(n)
        a, w = rule("gauss_legendre", n)
        np.testing.assert_allclose(a, (nodes + 1) / 2, atol=1e-15)
        np.testing.assert_allclose(w, weights / 2, atol=1e-15)
        # exact for t^k, k <= 2n - 1
        for k in range(2 * n):
            assert float(np.sum(w * a**k)) == pytest.approx(1 / (k + 1), rel=1e-12)


def _single_draws(
    model: nn.Module, x: torch.Tensor, background: torch.Tensor, n: int, seed: int
) -> torch.Tensor:
    """``n`` independent one-sample EG attributions of ``x`` (one row): ``(n, d)``."""
    rows = x.expand(n, -1).contiguous()
    return expected_gradients(model, rows, background, n_samples=1, seed=seed).attributions


def test_expected_gradients_is_unbiased_for_the_exact_expectation(setup) -> None:  # noqa: ANN001
    """EG's mean over many draws is within 4 standard errors of the exact background IG."""
    model, x, background = setup
    exact = exact_eg(model, x, background)
    for row in range(x.shape[0]):
        draws = _single_draws(model, x[row : row + 1], background, 4000, seed=11 + row)
        se = draws.std(0) / np.sqrt(len(draws))
        assert bool((se > 0).all())
        err = (draws.mean(0) - exact[row]).abs()
        assert bool((err < 4 * se).all()), (err / se).tolist()
        # the n_samples average of the engine itself, against the same error bar
        n = 2000
        est = expected_gradients(model, x[row : row + 1], background, n_samples=n, seed=5)
        se_n = draws.std(0) / np.sqrt(n)
        err_n = (est.attributions[0] - exact[row]).abs()
        assert bool((err_n < 4 * se_n).all()), (err_n / se_n).tolist()
        # the test can tell: the path point fixed at x (alpha = 1) is many errors away
        at_x = ((x[row] - background) * _grad(model, x[row].expand(len(background), -1))).mean(0)
        assert float((at_x - exact[row]).abs().max()) > 20 * float(se.max())


def test_expected_gradients_draws_alpha_uniformly() -> None:
    """With ``f(x) = x^3 / 3``, ``x = 1`` and baseline 0 a draw is ``alpha^2``: the recovered
    alphas must be U(0, 1) (not fixed at 1 or 0, not a grid)."""

    def cube(x: torch.Tensor) -> torch.Tensor:
        return (x**3 / 3).sum(-1)

    draws = _single_draws(cube, torch.ones(1, 1, dtype=torch.float64), torch.zeros(1, 1), 2000, 3)
    alphas = draws[:, 0].clamp_min(0).sqrt().numpy()
    assert stats.kstest(alphas, "uniform").pvalue > 1e-3
    assert len(np.unique(alphas)) == len(alphas)


def test_expected_gradients_draws_baselines_uniformly() -> None:
    """With a linear model a draw is ``w * (x - x')`` exactly, so each draw names its baseline;
    every background row must be drawn about equally often."""
    w = torch.tensor([1.0, 2.0], dtype=torch.float64)
    background = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    x = torch.tensor([[2.0, 3.0]], dtype=torch.float64)
    draws = _single_draws(lambda z: z @ w, x, background, 4000, 9)
    base = x - draws / w
    which = (base[:, 0] + 2 * base[:, 1]).round().long()
    counts = np.bincount(which.numpy(), minlength=4)
    assert counts.sum() == 4000
    assert stats.chisquare(counts).pvalue > 1e-3
