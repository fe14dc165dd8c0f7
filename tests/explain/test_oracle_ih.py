"""Integrated Hessians (Janizek, Sturmfels & Lee, JMLR 2021) against the paper's double integral,
computed here by brute force with a tensor-product Gauss-Legendre rule in (alpha, beta).

``Gamma_ij = dx_i dx_j iint a b d_i d_j f(x' + a b dx) da db`` (i != j) and
``Gamma_ii = dx_i iint d_i f(x' + a b dx) da db + dx_i^2 iint a b d_i^2 f(x' + a b dx) da db``,
with ``dx = x - x'``. The library's one-dimensional rule for the weight ``-ln t`` must agree.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from glassworks.explain.hessians import grouped_integrated_hessians, integrated_hessians
from glassworks.explain.quadrature import log_weight_rule


def _smooth_mlp(d: int = 4) -> nn.Module:
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(d, 12), nn.Softplus(), nn.Linear(12, 6), nn.Tanh())
    model.append(nn.Linear(6, 1))
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1.5)
    return model.double()


def brute_force_ih(
    model: nn.Module, x: torch.Tensor, base: torch.Tensor, n: int = 40
) -> torch.Tensor:
    """``(B, d, d)`` interactions by a 2-D Gauss-Legendre rule over (alpha, beta)."""
    nodes, weights = np.polynomial.legendre.leggauss(n)
    a, w = (nodes + 1) / 2, weights / 2
    t = torch.from_numpy(np.outer(a, a).reshape(-1))  # alpha * beta on the grid
    wt = torch.from_numpy(np.outer(w, w).reshape(-1))
    b, d = x.shape
    out = torch.zeros(b, d, d, dtype=torch.float64)
    for r in range(b):
        dx = x[r] - base[r]
        pts = (base[r] + t[:, None] * dx).requires_grad_(True)
        (g,) = torch.autograd.grad(model(pts).sum(), pts, create_graph=True)
        hess = torch.stack([torch.autograd.grad(g[:, i].sum(), pts, retain_graph=True)[0]
                            for i in range(d)], 1)  # fmt: skip
        second = (wt * t)[:, None, None] * hess  # (n^2, d, d)
        out[r] = dx[:, None] * dx[None, :] * second.sum(0).detach()
        out[r] += torch.diag(dx * (wt[:, None] * g).sum(0).detach())
    return out


@pytest.mark.parametrize("n", [1, 2, 5, 12])
def test_log_weight_rule_integrates_polynomials_against_minus_log_t(n: int) -> None:
    """``int_0^1 t^k (-ln t) dt = 1 / (k + 1)^2``, exact for k <= 2n - 1; nodes in (0, 1)."""
    t, w = log_weight_rule(n)
    assert ((t > 0) & (t < 1)).all()
    for k in range(2 * n):
        assert float(np.sum(w * t**k)) == pytest.approx(1 / (k + 1) ** 2, rel=1e-10)


def test_log_weight_rule_equals_the_double_integral() -> None:
    """``iint h(a b) da db = int h(t) (-ln t) dt`` for a smooth non-polynomial ``h``."""
    nodes, weights = np.polynomial.legendre.leggauss(60)
    a, w = (nodes + 1) / 2, weights / 2
    double = float(np.sum(np.outer(w, w) * np.cos(3 * np.outer(a, a))))
    t, wl = log_weight_rule(16)
    assert float(np.sum(wl * np.cos(3 * t))) == pytest.approx(double, rel=1e-10)


def test_integrated_hessians_match_the_brute_force_double_integral() -> None:
    model = _smooth_mlp()
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 4, generator=gen, dtype=torch.float64)
    base = torch.randn(3, 4, generator=gen, dtype=torch.float64) * 0.5
    got = integrated_hessians(model, x, base, n_steps=16).interactions
    expected = brute_force_ih(model, x, base)
    torch.testing.assert_close(got, expected, rtol=1e-8, atol=1e-10)
    assert expected.abs().max() > 1e-2


def test_grouped_interactions_match_the_brute_force_sums() -> None:
    """Groups {0, 2} and {1, 3}: each entry is the sum of the brute-force block."""
    model = _smooth_mlp()
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, 4, generator=gen, dtype=torch.float64)
    groups = torch.tensor([0, 1, 0, 1])
    got = grouped_integrated_hessians(model, x, groups, 2, n_steps=16).interactions
    full = brute_force_ih(model, x, torch.zeros_like(x))
    member = torch.nn.functional.one_hot(groups, 2).double()  # (d, groups)
    expected = torch.einsum("bij,ip,jq->bpq", full, member, member)
    torch.testing.assert_close(got, expected, rtol=1e-8, atol=1e-10)
