import pytest
import torch
from torch import nn

from glassworks.explain.hessians import (
    expected_hessians,
    grouped_integrated_hessians,
    integrated_hessians,
    softplus_model,
)

pytestmark = pytest.mark.usefixtures("float64")


def closed_form(x: torch.Tensor) -> torch.Tensor:
    return x[:, 0] * x[:, 1] + x[:, 2] ** 2


def test_closed_form_interactions() -> None:
    x = torch.tensor([[1.5, -2.0, 0.7], [0.3, 0.4, -1.1]])
    res = integrated_hessians(closed_form, x, n_steps=4)
    g = res.interactions
    x1, x2, x3 = x.T
    torch.testing.assert_close(g[:, 0, 1], x1 * x2 / 4)
    torch.testing.assert_close(g[:, 1, 0], x1 * x2 / 4)
    torch.testing.assert_close(g[:, 0, 0], x1 * x2 / 4)
    torch.testing.assert_close(g[:, 2, 2], x3**2)
    torch.testing.assert_close(g[:, 0, 2], torch.zeros(2))
    assert res.row_error.max() < 1e-12
    assert res.total_error.max() < 1e-12


def mlp(d: int = 8) -> nn.Module:
    torch.manual_seed(0)
    return (
        nn.Sequential(nn.Linear(d, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 2))
        .double()
        .eval()
    )


def test_certificates_on_softplus_mlp() -> None:
    model = softplus_model(mlp())
    assert not any(isinstance(m, nn.ReLU) for m in model.modules())
    torch.manual_seed(1)
    x = torch.randn(6, 8)
    res = integrated_hessians(model, x, target=1)
    gap = (model(x) - model(torch.zeros(1, 8)))[:, 1].abs()
    assert (res.total_error / gap < 1e-4).all()
    assert (res.row_error / res.ig.abs().amax(1) < 1e-4).all()
    # symmetric off the diagonal
    off = res.interactions - torch.diag_embed(torch.diagonal(res.interactions, dim1=1, dim2=2))
    torch.testing.assert_close(off, off.transpose(1, 2), atol=1e-10, rtol=0)


def test_subset_and_single_index_match_full_matrix() -> None:
    model = softplus_model(mlp())
    x = torch.randn(3, 8)
    full = integrated_hessians(model, x, target=0, n_steps=8)
    sub = integrated_hessians(model, x, target=0, n_steps=8, features=[1, 5], batch_size=5)
    one = integrated_hessians(model, x, target=0, n_steps=8, interaction_index=5)
    torch.testing.assert_close(sub.interactions, full.interactions[:, :, [1, 5]])
    torch.testing.assert_close(one.interactions[:, :, 0], full.interactions[:, :, 5])
    assert torch.isnan(sub.total_error).all()


def test_converges_faster_than_a_double_riemann_grid() -> None:
    """The log-weight Gauss rule with 16 nodes beats path_explain-style double grids."""
    model = softplus_model(mlp(), beta=1.0)
    x = torch.randn(4, 8) * 2
    reference = integrated_hessians(model, x, target=0, n_steps=48).interactions
    ours = integrated_hessians(model, x, target=0, n_steps=16).interactions
    err_ours = (ours - reference).abs().max()
    # double Riemann (midpoint) sum over alpha, beta with 50 x 50 points
    n = 50
    a = (torch.arange(n) + 0.5) / n
    t = (a[:, None] * a[None, :]).reshape(-1)
    grid = torch.zeros_like(reference)
    for tk in t:
        xt = (tk * x).requires_grad_(True)
        y = model(xt)[:, 0]
        (g,) = torch.autograd.grad(y.sum(), xt, create_graph=True)
        h = torch.stack(
            [torch.autograd.grad(g[:, j].sum(), xt, retain_graph=True)[0] for j in range(8)], 2
        )
        grid += (torch.diag_embed(x * g) + tk * x[:, :, None] * x[:, None, :] * h) / len(t)
    err_grid = (grid.detach() - reference).abs().max()
    print(f"log-weight Gauss 16 nodes: {err_ours:.2e}; 50x50 double midpoint grid: {err_grid:.2e}")
    assert err_ours < 1e-5
    assert err_ours * 100 < err_grid


def test_expected_hessians_single_baseline_equals_ih() -> None:
    model = softplus_model(mlp())
    x, base = torch.randn(2, 8), torch.randn(1, 8)
    eh = expected_hessians(model, x, base, target=1, n_baselines=3, n_steps=8)
    ih = integrated_hessians(model, x, base, target=1, n_steps=8)
    torch.testing.assert_close(eh.interactions, ih.interactions)


def test_rejects_non_tabular_inputs() -> None:
    with pytest.raises(ValueError, match=r"\(batch, features\)"):
        integrated_hessians(closed_form, torch.randn(2, 3, 4))


def _path_explain_torch():  # noqa: ANN202
    """path_explain's torch explainer, loaded by file path (its package __init__ needs TF)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("path_explain")
    if spec is None or spec.origin is None:
        pytest.skip("path-explain is not installed")
    path = Path(spec.origin).parent / "explainers" / "path_explainer_torch.py"
    module_spec = importlib.util.spec_from_file_location("path_explainer_torch", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.PathExplainerTorch


def test_agrees_with_path_explain_on_its_grid() -> None:
    explainer_cls = _path_explain_torch()
    torch.manual_seed(3)
    model = softplus_model(mlp(6), beta=1.0).float()
    x = torch.randn(4, 6, dtype=torch.float32).requires_grad_(True)  # path_explain's typo:
    base = torch.zeros(1, 6, dtype=torch.float32)  # it sets .requires_grad_ = True
    target = torch.tensor([0, 1, 1, 0])
    ref = explainer_cls(model).interactions(
        x, base, num_samples=25, use_expectation=False, output_indices=target, verbose=False
    )
    import copy

    ours = integrated_hessians(
        copy.deepcopy(model).double(),
        x.detach().double(),
        target=target,
        n_steps=25,
        method="path_explain_grid",
    )
    torch.testing.assert_close(ours.interactions, ref.double(), atol=1e-5, rtol=0)


def test_grouped_equals_summed_full_matrix() -> None:
    model = softplus_model(mlp(8), beta=1.0)
    x = torch.randn(3, 8)
    groups = torch.tensor([0, 0, 1, 1, 1, 2, 2, -1])
    full = integrated_hessians(model, x, target=1, n_steps=8).interactions
    grouped = grouped_integrated_hessians(
        model, x.reshape(3, 8), groups, 3, target=1, n_steps=8, batch_size=7
    )
    member = torch.nn.functional.one_hot(groups.clamp_min(0), 3).double()
    member[groups < 0] = 0
    expected = torch.einsum("bij,ip,jq->bpq", full, member, member)
    torch.testing.assert_close(grouped.interactions, expected)
    assert torch.isnan(grouped.row_error).all()  # a position is left out (-1)


def test_grouped_certificates_on_sequences() -> None:
    torch.manual_seed(5)
    lin = nn.Linear(4, 1).double()

    def seq_model(e: torch.Tensor) -> torch.Tensor:  # (B, L, D) -> (B,)
        return torch.tanh(lin(e)).sum((1, 2)) + (e[:, 0] * e[:, 2]).sum(1)

    x = torch.randn(2, 3, 4)
    groups = torch.arange(3).reshape(3, 1).expand(3, 4)
    res = grouped_integrated_hessians(seq_model, x, groups, 3, n_steps=16)
    assert res.interactions.shape == (2, 3, 3)
    gap = seq_model(x) - seq_model(torch.zeros_like(x))
    assert (res.total_error / gap.abs() < 1e-6).all()
    assert res.interactions[:, 0, 2].abs().min() > 1e-3  # the x0*x2 term shows up


def test_memory_budget_gives_the_same_interactions() -> None:
    model = softplus_model(mlp(), beta=1.0)
    x = torch.randn(3, 8)
    free = integrated_hessians(model, x, target=0, n_steps=8)
    tight = integrated_hessians(model, x, target=0, n_steps=8, memory_budget_mb=0.01)
    torch.testing.assert_close(tight.interactions, free.interactions)
    groups = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    a = grouped_integrated_hessians(model, x, groups, 4, target=0, n_steps=8)
    b = grouped_integrated_hessians(model, x, groups, 4, target=0, n_steps=8, memory_budget_mb=0.01)
    torch.testing.assert_close(a.interactions, b.interactions)
