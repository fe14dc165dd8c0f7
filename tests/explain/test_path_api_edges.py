"""API edges of the path explainers: every spelling of ``target``, input dtypes, unbatched
inputs, Captum's ``gausslegendre`` and ``n_steps="auto"`` that cannot meet its tolerance."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from glassworks.explain.hessians import (
    expected_hessians,
    grouped_integrated_hessians,
    integrated_hessians,
)
from glassworks.explain.paths import (
    ConvergenceWarning,
    as_target,
    expected_gradients,
    integrated_gradients,
)
from glassworks.explain.quadrature import rule


def mlp(d: int = 5, classes: int = 3, dtype: torch.dtype = torch.float64) -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(d, 8), nn.Softplus(), nn.Linear(8, classes))
    return net.to(dtype).eval()


def rows(n: int = 4, d: int = 5, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(1), dtype=dtype)


PER_ROW = [0, 2, 1, 2]
TARGETS = {
    "int": 1,
    "numpy int": np.int64(1),
    "0-d tensor": torch.tensor(1),
    "0-d array": np.array(1),
    "list": PER_ROW,
    "tuple": tuple(PER_ROW),
    "list of numpy ints": [np.int64(t) for t in PER_ROW],
    "1-d tensor": torch.tensor(PER_ROW),
    "1-d int32 tensor": torch.tensor(PER_ROW, dtype=torch.int32),
    "1-d array": np.array(PER_ROW),
}


def _reference(target: object) -> torch.Tensor:
    """The same target as a long tensor (what every spelling must mean)."""
    per_row = np.broadcast_to(np.asarray(target), (4,))
    return torch.as_tensor(per_row.copy(), dtype=torch.long)


@pytest.mark.parametrize("name", list(TARGETS))
def test_every_target_spelling_means_the_same(name: str) -> None:
    model, x = mlp(), rows()
    target = TARGETS[name]
    ref = _reference(target)
    bg = rows(6)
    torch.testing.assert_close(
        integrated_gradients(model, x, target=target, n_steps=8).attributions,
        integrated_gradients(model, x, target=ref, n_steps=8).attributions,
    )
    torch.testing.assert_close(
        expected_gradients(model, x, bg, target, n_samples=4).attributions,
        expected_gradients(model, x, bg, ref, n_samples=4).attributions,
    )
    torch.testing.assert_close(
        integrated_hessians(model, x, target=target, n_steps=4).interactions,
        integrated_hessians(model, x, target=ref, n_steps=4).interactions,
    )
    torch.testing.assert_close(
        expected_hessians(model, x, bg, target, n_baselines=2, n_steps=4).interactions,
        expected_hessians(model, x, bg, ref, n_baselines=2, n_steps=4).interactions,
    )
    groups = torch.tensor([0, 0, 1, 1, 1])
    torch.testing.assert_close(
        grouped_integrated_hessians(model, x, groups, 2, target=target, n_steps=4).interactions,
        grouped_integrated_hessians(model, x, groups, 2, target=ref, n_steps=4).interactions,
    )


def test_as_target_normalises() -> None:
    assert as_target(None, 3) is None
    assert as_target(np.int32(2), 3) == 2
    assert isinstance(as_target(np.int32(2), 3), int)
    assert as_target(torch.tensor(2), 3) == 2
    t = as_target([1, 0, 2], 3)
    assert t.dtype == torch.long
    assert t.tolist() == [1, 0, 2]


@pytest.mark.parametrize(
    ("target", "error", "message"),
    [
        ([0, 1], ValueError, r"target .*expected shape \(4,\).*got \(2,\)"),
        (torch.tensor([[0, 1, 0, 1]]), ValueError, r"target .*got \(1, 4\)"),
        (3, ValueError, r"target 3 is out of range: the model returns 3 outputs"),
        (-1, ValueError, r"target -1 is out of range"),
        ([0, 1, 5, 0], ValueError, r"target 5 is out of range"),
        (np.array([0, -2, 1, 1]), ValueError, r"target -2 is out of range"),
        (torch.tensor([0.0, 1.0, 1.0, 0.0]), TypeError, r"target must hold integer"),
        ([0.5, 1, 1, 0], TypeError, r"target must hold integer"),
        (True, TypeError, r"target must be a class index"),
        ("1", TypeError, r"target must be an int"),
        (1.0, TypeError, r"target must be an int"),
    ],
)
def test_bad_targets_are_named(target: object, error: type, message: str) -> None:
    model, x = mlp(), rows()
    with pytest.raises(error, match=message):
        integrated_gradients(model, x, target=target, n_steps=4)
    with pytest.raises(error, match=message):
        expected_gradients(model, x, rows(6), target, n_samples=2)
    with pytest.raises(error, match=message):
        integrated_hessians(model, x, target=target, n_steps=2)


@pytest.mark.parametrize(
    ("model_dtype", "input_dtype"), [(torch.float64, torch.float32), (torch.float32, torch.float64)]
)
def test_inputs_are_cast_to_the_model_dtype(
    model_dtype: torch.dtype, input_dtype: torch.dtype
) -> None:
    model = mlp(dtype=model_dtype)
    x = rows(dtype=input_dtype)
    bg = rows(6, dtype=input_dtype)
    ig = integrated_gradients(model, x, torch.zeros(1, 5, dtype=input_dtype), target=1)
    assert ig.attributions.dtype == model_dtype
    ref = integrated_gradients(model, x.to(model_dtype), target=1)
    torch.testing.assert_close(ig.attributions, ref.attributions)
    assert expected_gradients(model, x, bg, 1, n_samples=4).attributions.dtype == model_dtype
    ih = integrated_hessians(model, x, target=1, n_steps=4)
    assert ih.interactions.dtype == model_dtype
    eh = expected_hessians(model, x, bg, 1, n_baselines=2, n_steps=4)
    assert eh.interactions.dtype == model_dtype
    numpy_in = integrated_gradients(model, x.numpy(), target=1)  # numpy arrays work too
    torch.testing.assert_close(numpy_in.attributions, ref.attributions)


def test_integer_inputs_are_refused_clearly() -> None:
    model = mlp()
    x = torch.randint(0, 3, (4, 5))
    with pytest.raises(TypeError, match=r"inputs must be floating point.*torch.int64"):
        integrated_gradients(model, x, target=0)
    with pytest.raises(TypeError, match=r"inputs must be floating point"):
        expected_gradients(model, x, rows(6), 0)
    with pytest.raises(TypeError, match=r"inputs must be floating point"):
        integrated_hessians(model, x, target=0)


def test_unbatched_inputs_are_refused_not_read_as_rows() -> None:
    model, x = mlp(), rows()[0]  # one example, shape (5,)
    message = r"shape \(5,\).*add a batch dimension: x\[None\] or x\.unsqueeze\(0\)"
    with pytest.raises(ValueError, match=message):
        integrated_gradients(model, x, target=0)
    with pytest.raises(ValueError, match=message):
        expected_gradients(model, x, rows(6), 0)
    with pytest.raises(ValueError, match=message):
        integrated_hessians(model, x, target=0)
    with pytest.raises(ValueError, match=message):
        expected_hessians(model, x, rows(6), 0)
    with pytest.raises(ValueError, match=message):
        grouped_integrated_hessians(model, x, torch.zeros(5, dtype=torch.long), 1, target=0)
    # the fix the message gives works, and equals the row in a batch
    one = integrated_gradients(model, x[None], target=0).attributions
    torch.testing.assert_close(
        one[0], integrated_gradients(model, rows(), target=0).attributions[0]
    )


def test_sequences_of_embeddings_still_work() -> None:
    """(B, T, E) inputs (text models at the embedding layer) are batches, as before."""
    torch.manual_seed(2)
    w = torch.randn(6, 3, dtype=torch.float64)

    def seq_model(e: torch.Tensor) -> torch.Tensor:
        return torch.tanh(e).sum(1) @ w

    x = torch.randn(2, 4, 6, dtype=torch.float64)
    res = integrated_gradients(seq_model, x, target=[0, 2])
    assert res.attributions.shape == (2, 4, 6)
    assert res.delta.abs().max() < 1e-6


def test_captum_gausslegendre_is_an_alias() -> None:
    a, w = rule("gausslegendre", 7)
    b, v = rule("gauss_legendre", 7)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(w, v)
    model, x = mlp(), rows()
    ours = integrated_gradients(model, x, target=1, n_steps=12, method="gauss_legendre")
    captum_spelling = integrated_gradients(model, x, target=1, n_steps=12, method="gausslegendre")
    torch.testing.assert_close(captum_spelling.attributions, ours.attributions, rtol=0, atol=0)
    assert captum_spelling.method == "gauss_legendre"
    auto = integrated_gradients(model, x, target=1, n_steps="auto", method="gausslegendre")
    assert auto.converged is True
    ih = integrated_hessians(model, x, target=1, n_steps=6).interactions
    for spelling in ("gausslegendre", "gauss_legendre"):
        alias = integrated_hessians(model, x, target=1, n_steps=6, method=spelling)
        torch.testing.assert_close(alias.interactions, ih, rtol=0, atol=0)
    with pytest.raises(ValueError, match="unknown quadrature 'simpson'.*gausslegendre"):
        integrated_gradients(model, x, target=1, method="simpson")
    with pytest.raises(ValueError, match="unknown Integrated Hessians method 'riemann_left'"):
        integrated_hessians(model, x, target=1, method="riemann_left")


def test_auto_steps_warn_when_the_tolerance_is_not_met() -> None:
    """Riemann-left errors shrink like 1/n: 1e-12 is out of reach within 20 steps."""
    model, x = mlp(), rows() * 3
    with pytest.warns(ConvergenceWarning, match=r"max_steps=20.*> tolerance 1e-12"):
        res = integrated_gradients(
            model,
            x,
            target=1,
            n_steps="auto",
            method="riemann_left",
            tolerance=1e-12,
            max_steps=20,
        )
    assert res.converged is False
    assert res.n_steps == 20  # 8, 16, then capped at max_steps (not 32)
    assert issubclass(ConvergenceWarning, RuntimeWarning)


def test_auto_steps_that_converge_do_not_warn() -> None:
    model, x = mlp(), rows()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = integrated_gradients(model, x, target=1, n_steps="auto", tolerance=1e-4)
        fixed = integrated_gradients(model, x, target=1, n_steps=8)
    assert res.converged is True
    assert fixed.converged is None  # fixed steps: the tolerance is not checked
    with pytest.raises(ValueError, match="n_steps must be an int or 'auto'"):
        integrated_gradients(model, x, target=1, n_steps="many")
