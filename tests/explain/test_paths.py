import numpy as np
import pytest
import torch
from torch import nn

from glassworks.explain.paths import expected_gradients, integrated_gradients
from glassworks.explain.quadrature import METHODS, log_weight_rule, rule

pytestmark = pytest.mark.usefixtures("float64")


def mlp(d: int = 6, classes: int = 3, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return (
        nn.Sequential(
            nn.Linear(d, 16), nn.Softplus(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, classes)
        )
        .double()
        .eval()
    )


@pytest.mark.parametrize("method", METHODS)
def test_linear_model_exact_for_every_rule(method: str) -> None:
    torch.manual_seed(0)
    w = torch.randn(5)
    model = lambda x: x @ w + 0.3  # noqa: E731
    x, base = torch.randn(4, 5), torch.randn(4, 5)
    res = integrated_gradients(model, x, base, n_steps=3, method=method)
    torch.testing.assert_close(res.attributions, (x - base) * w, atol=1e-12, rtol=0)
    assert res.delta.abs().max() < 1e-12


def test_rules_integrate_polynomials() -> None:
    a, w = rule("gauss_legendre", 5)
    assert (w * a**9).sum() == pytest.approx(0.1, abs=1e-14)
    t, v = log_weight_rule(6)
    assert (v * t**11).sum() == pytest.approx(1 / 144, abs=1e-14)
    with pytest.raises(ValueError, match="unknown quadrature"):
        rule("simpson", 4)


# riemann_trapezoid is left out on purpose: Captum 0.9 gives every step 1/n and halves the end
# ones, so its weights sum to (n-1)/n; ours are the trapezoid rule (exact for linear models).
@pytest.mark.parametrize(
    "method", ["riemann_left", "riemann_right", "riemann_middle", "gauss_legendre"]
)
def test_agrees_with_captum(method: str) -> None:
    from captum.attr import IntegratedGradients

    model = mlp()
    torch.manual_seed(1)
    x, base = torch.randn(5, 6), torch.randn(5, 6)
    target = torch.tensor([0, 1, 2, 1, 0])
    ours = integrated_gradients(model, x, base, target=target, n_steps=24, method=method)
    captum_method = "gausslegendre" if method == "gauss_legendre" else method
    ref, delta = IntegratedGradients(model).attribute(
        x, base, target=target, n_steps=24, method=captum_method, return_convergence_delta=True
    )
    torch.testing.assert_close(ours.attributions, ref, atol=1e-5, rtol=0)
    torch.testing.assert_close(ours.delta, delta, atol=1e-5, rtol=0)


def test_completeness_default_and_auto_steps() -> None:
    model = mlp()
    torch.manual_seed(2)
    x = torch.randn(8, 6) * 2
    res = integrated_gradients(model, x, target=1)
    gap = model(x)[:, 1] - model(torch.zeros(1, 6))[:, 1]
    assert (res.relative_delta(gap) < 1e-4).all()
    coarse = integrated_gradients(
        model, x, target=1, n_steps="auto", method="riemann_middle", tolerance=1e-6
    )
    assert (coarse.relative_delta(gap) < 1e-6).all()
    assert coarse.n_steps > 8


def test_chunking_does_not_change_results_and_images_work() -> None:
    torch.manual_seed(3)
    conv = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Softplus(), nn.Flatten(), nn.Linear(2 * 4 * 4, 2))
    conv = conv.double().eval()
    x = torch.randn(3, 1, 6, 6)
    a = integrated_gradients(conv, x, target=0, n_steps=10, batch_size=7)
    b = integrated_gradients(conv, x, target=0, n_steps=10, batch_size=1000)
    torch.testing.assert_close(a.attributions, b.attributions)
    assert a.attributions.shape == x.shape


def test_expected_gradients_linear_is_complete_and_seeded() -> None:
    torch.manual_seed(4)
    w = torch.randn(5)
    model = lambda x: x @ w  # noqa: E731
    x, bg = torch.randn(3, 5), torch.randn(50, 5)
    res = expected_gradients(model, x, bg, n_samples=16, seed=7)
    assert res.delta.abs().max() < 1e-12
    again = expected_gradients(model, x, bg, n_samples=16, seed=7)
    torch.testing.assert_close(res.attributions, again.attributions)


def test_expected_gradients_converges() -> None:
    model = mlp()
    torch.manual_seed(5)
    x, bg = torch.randn(4, 6), torch.randn(20, 6)
    small = expected_gradients(model, x, bg, target=0, n_samples=8).delta.abs().mean()
    big = expected_gradients(model, x, bg, target=0, n_samples=512).delta.abs().mean()
    assert big < small


def test_needs_target_for_multi_output() -> None:
    with pytest.raises(ValueError, match="give target"):
        integrated_gradients(mlp(), torch.randn(2, 6))
    assert np.isfinite(integrated_gradients(mlp(classes=1), torch.randn(2, 6)).delta).all()


def test_memory_budget_sizes_the_chunks() -> None:
    from glassworks.explain.paths import activation_bytes_per_row, rows_for_budget

    model = mlp(d=6)
    x = torch.randn(5, 6)
    per_row = activation_bytes_per_row(model, x, target=0)
    # two hidden layers of 16 (pre- and post-activation) and the input, float64
    assert 6 * 8 <= per_row < 2000
    assert rows_for_budget(per_row, 1.0) > rows_for_budget(per_row, 0.01) >= 1
    tight = integrated_gradients(model, x, target=0, n_steps=16, memory_budget_mb=0.001)
    loose = integrated_gradients(model, x, target=0, n_steps=16)
    torch.testing.assert_close(tight.attributions, loose.attributions)


def test_expected_gradients_memory_budget() -> None:
    model = mlp()
    x, bg = torch.randn(3, 6), torch.randn(10, 6)
    a = expected_gradients(model, x, bg, target=0, n_samples=12)
    b = expected_gradients(model, x, bg, target=0, n_samples=12, memory_budget_mb=0.001)
    torch.testing.assert_close(a.attributions, b.attributions)
