"""The piecewise-linear encoding of numeric inputs (``numeric_bins``) shared by TabResNet and INN:
hand-computed values and slopes, which columns it encodes, and INN's exact decomposition with it."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from glassworks.models.inn import INNClassifier
from glassworks.models.tabresnet import PiecewiseLinearEncoding, TabResNetClassifier

FAST = {"epochs": 12, "warmup_epochs": 2, "nr_restarts": 2, "hidden_size": 32, "batch_size": 32,
        "device": "cpu"}  # fmt: skip


def _train() -> np.ndarray:
    # column 0: 0..8 (numeric), column 1: one-hot code, column 2: constant
    return np.array([[float(v), float(v % 2), 5.0] for v in range(9)])


def test_bins_sit_at_training_quantiles_and_skip_binary_and_constant_columns() -> None:
    enc = PiecewiseLinearEncoding.fit(_train(), n_bins=4)
    assert enc.columns.tolist() == [0, 0, 0, 0]  # only the numeric column
    np.testing.assert_allclose(enc.lower.numpy(), [0, 2, 4, 6])
    np.testing.assert_allclose(enc.width.numpy(), [2, 2, 2, 2])
    assert enc.n_outputs == 3 + 4


def test_encoding_values_by_hand() -> None:
    enc = PiecewiseLinearEncoding.fit(_train(), n_bins=4)
    x = torch.tensor([[-1.0, 1.0, 5.0], [3.0, 0.0, 5.0], [8.0, 1.0, 5.0], [20.0, 0.0, 5.0]])
    out = enc(x)
    np.testing.assert_allclose(out[:, :3].numpy(), x.numpy())  # the input comes first, unchanged
    np.testing.assert_allclose(
        out[:, 3:].numpy(),
        [[0, 0, 0, 0],  # below the first edge
         [1, 0.5, 0, 0],  # 3 is half way through the bin [2, 4]
         [1, 1, 1, 1],  # the last edge
         [1, 1, 1, 1]],  # beyond: saturated
    )  # fmt: skip


def test_slopes_are_one_over_the_bin_width_inside_and_zero_outside() -> None:
    enc = PiecewiseLinearEncoding.fit(_train(), n_bins=4)
    x = torch.tensor([[3.0, 0.0, 5.0]], requires_grad=True)
    jac = torch.autograd.functional.jacobian(enc, x)[0, :, 0, 0]  # d out / d x_0
    np.testing.assert_allclose(jac.numpy(), [1, 0, 0, 0, 0.5, 0, 0])


def test_duplicate_quantiles_collapse_and_zero_bins_is_refused() -> None:
    x = np.array([[0.0], [0.0], [0.0], [0.0], [1.0], [2.0]])
    enc = PiecewiseLinearEncoding.fit(x, n_bins=5)
    assert np.all(enc.width.numpy() > 0)  # no empty bins from repeated quantiles
    with pytest.raises(ValueError, match="numeric_bins"):
        PiecewiseLinearEncoding.fit(x, n_bins=0)


def _step(n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.uniform(-2, 2, n), rng.integers(0, 2, n), rng.normal(size=n)])
    y = ((np.abs(x[:, 0]) > 1) ^ (x[:, 1] > 0)).astype(int)
    return x, y


def test_inn_with_binned_inputs_decomposes_exactly_and_survives_pickling() -> None:
    x, y = _step()
    model = INNClassifier(numeric_bins=8, **FAST).fit(x, y)
    plain = INNClassifier(**FAST).fit(x, y)
    member = model.module_.members[0]
    assert member.encoding is not None
    assert member.encoding.columns.tolist() == [0] * 8 + [2] * 8
    assert member.hyper.stem.in_features == 3 + 16
    exp = model.explain(x[:50])
    assert exp.contributions.shape == (50, 1, 3)  # still one contribution per input column
    np.testing.assert_allclose(exp.contributions.sum(-1) + exp.bias, exp.output, atol=1e-10)
    np.testing.assert_allclose(exp.contributions, exp.weights * x[:50, None, :], atol=1e-12)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.decision_function(x), model.decision_function(x))
    assert not np.allclose(model.decision_function(x), plain.decision_function(x))
    xt, yt = _step(400, seed=1)
    assert (model.predict(xt) == yt).mean() > 0.85


def test_tabresnet_with_binned_inputs_fits_and_smoothness_passes_through() -> None:
    x, y = _step()
    model = TabResNetClassifier(numeric_bins=8, **FAST).fit(x, y)
    assert isinstance(model.module_.members[0][0], PiecewiseLinearEncoding)
    assert model.predict_proba(x[:5]).shape == (5, 2)
    inn = INNClassifier(numeric_bins=8, smoothness=1.0, **FAST).fit(x, y)  # double backward
    assert np.isfinite(inn.weight_sensitivity(x[:50]))


def test_numeric_bins_survives_clone_and_get_params() -> None:
    from sklearn.base import clone

    for cls in (INNClassifier, TabResNetClassifier):
        model = clone(cls(numeric_bins=12, **FAST))
        assert model.get_params()["numeric_bins"] == 12


@pytest.mark.parametrize("bad", [-1, 2.5, True])
def test_bad_numeric_bins_is_refused(bad: object) -> None:
    x, y = _step(100)
    with pytest.raises(ValueError, match="numeric_bins"):
        INNClassifier(numeric_bins=bad, **FAST).fit(x, y)
