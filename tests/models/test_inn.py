import numpy as np
import pytest
import torch
from sklearn.base import clone

from glassworks.models.inn import INNClassifier, INNRegressor
from glassworks.models.tabresnet import TabResNetClassifier

FAST = {
    "epochs": 12,
    "warmup_epochs": 2,
    "nr_restarts": 2,
    "hidden_size": 32,
    "batch_size": 32,
    "device": "cpu",
}


def _binary(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    y = (2 * x[:, 0] - x[:, 1] > 0).astype(int)
    return x, y


def _multiclass(n: int = 600, k: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3, size=(k, 5))
    y = rng.integers(0, k, n)
    return centres[y] + rng.normal(size=(n, 5)), y


@pytest.fixture(scope="module")
def binary_inn() -> tuple[INNClassifier, np.ndarray, np.ndarray]:
    x, y = _binary()
    return INNClassifier(**FAST).fit(x, y), x, y


def test_contributions_sum_exactly_to_the_logit(binary_inn) -> None:
    model, x, _ = binary_inn
    exp = model.explain(x[:50])
    assert exp.contributions.shape == (50, 1, 4)
    np.testing.assert_allclose(exp.contributions.sum(-1) + exp.bias, exp.output, atol=1e-10)
    np.testing.assert_allclose(exp.output, model.decision_function(x[:50]), atol=1e-12)
    # contributions are W(x) * x, feature by feature
    np.testing.assert_allclose(exp.contributions, exp.weights * x[:50, None, :], atol=1e-12)
    p = model.predict_proba(x[:50])[:, 1]
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-exp.output[:, 0])), atol=1e-12)


def test_inn_learns_the_rule_and_reports_global_importance(binary_inn) -> None:
    model, x, y = binary_inn
    xt, yt = _binary(300, seed=1)
    assert (model.predict(xt) == yt).mean() > 0.9
    imp = model.global_importance(xt)
    np.testing.assert_allclose(imp, np.abs(model.explain(xt).contributions).mean((0, 1)))
    assert imp.shape == (4,)
    # INN's decomposition is not identifiable: noise features may receive contributions too
    # (the L1 penalty favours large |x_j|), so no ranking of the true features is asserted here


def test_snapshot_ensemble_explains_as_it_predicts(binary_inn) -> None:
    model, x, _ = binary_inn
    members = model.module_.members
    assert len(members) == FAST["nr_restarts"]
    xt = torch.as_tensor(x[:20])
    with torch.no_grad():
        mean_w = torch.stack([m.weights(xt) for m in members]).mean(0)
        mean_logit = torch.stack([m(xt) for m in members]).mean(0)
    exp = model.explain(x[:20])
    np.testing.assert_allclose(exp.weights, mean_w[..., :-1].numpy(), atol=1e-12)
    np.testing.assert_allclose(exp.output, mean_logit.numpy(), atol=1e-12)
    # the ensemble's explanation differs from the last snapshot's (the reference's choice)
    with torch.no_grad():
        last = members[-1].weights(xt)[..., :-1].numpy()
    assert np.abs(last - exp.weights).max() > 1e-6


def test_multiclass_ten_classes() -> None:
    x, y = _multiclass()
    model = INNClassifier(**FAST).fit(x[:450], y[:450])
    exp = model.explain(x[450:])
    assert exp.contributions.shape == (150, 10, 5)
    np.testing.assert_allclose(exp.contributions.sum(-1) + exp.bias, exp.output, atol=1e-10)
    proba = model.predict_proba(x[450:])
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-12)
    assert (model.predict(x[450:]) == y[450:]).mean() > 0.7  # chance is 0.1
    pred = exp.output.argmax(1)
    assert exp.for_output(pred).shape == (150, 5)


def test_regressor_contributions_in_target_units() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 3))
    y = 100 + 5 * x[:, 0] - 3 * x[:, 1]
    model = INNRegressor(**{**FAST, "epochs": 30}).fit(x[:400], y[:400])
    pred = model.predict(x[400:])
    assert 1 - np.mean((pred - y[400:]) ** 2) / np.var(y[400:]) > 0.9
    exp = model.explain(x[400:])
    np.testing.assert_allclose(exp.contributions.sum(-1)[:, 0] + exp.bias[:, 0], pred, atol=1e-8)


def test_same_seed_same_model_other_seed_differs() -> None:
    x, y = _binary(200)
    a = INNClassifier(**FAST, seed=3).fit(x, y).decision_function(x)
    b = INNClassifier(**FAST, seed=3).fit(x, y).decision_function(x)
    c = INNClassifier(**FAST, seed=4).fit(x, y).decision_function(x)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-6


def test_sklearn_api_clone_and_params() -> None:
    m = INNClassifier(weight_norm=0.5, nr_blocks=3)
    c = clone(m)
    assert c.get_params()["weight_norm"] == 0.5
    assert c.get_params()["nr_blocks"] == 3
    assert "weight_norm" not in TabResNetClassifier().get_params()


@pytest.mark.parametrize("kind", ["mixup", "cutmix", "cutout", "fgsm", "gaussian_noise"])
def test_every_augmentation_trains(kind: str) -> None:
    x, y = _binary(200)
    m = INNClassifier(**FAST, augmentation=kind, augmentation_probability=1.0).fit(x, y)
    assert (m.predict(x) == y).mean() > 0.8


def test_oversampling_trains_on_imbalanced_data() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3))
    y = (x[:, 0] > 1.3).astype(int)  # ~10% positives
    m = TabResNetClassifier(**FAST, oversample=True).fit(x, y)
    assert m.predict(x)[y == 1].mean() > 0.6


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        (np.ones((10, 2)), np.linspace(0, 1, 10), "continuous"),
        (np.ones((10, 2)), np.zeros(10), "single class"),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), np.array([0, 1]), "row 0, column 1"),
        (np.ones(10), np.arange(10) % 2, "2-D"),
        (np.ones((10, 2)), np.arange(9) % 2, "10 rows but y has 9"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(x, y, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        INNClassifier(**FAST).fit(x, y)


def test_bad_params_and_wrong_width(binary_inn) -> None:
    x, y = _binary(50)
    with pytest.raises(ValueError, match="augmentation: unknown kind 'rotate'"):
        INNClassifier(**FAST, augmentation="rotate").fit(x, y)
    with pytest.raises(ValueError, match="nr_restarts"):
        INNClassifier(epochs=3, warmup_epochs=2, nr_restarts=3, device="cpu").fit(x, y)
    model, _, _ = binary_inn
    with pytest.raises(ValueError, match="fitted on 4"):
        model.predict(np.ones((3, 5)))


def test_regression_decomposition_sums_exactly_to_the_prediction() -> None:
    """A regression INN (one output): ``W(x)·x + b(x)`` is its prediction, exactly, in the
    target's units (``explain``) and on the standardised scale its module outputs
    (``explain_raw``, what post-hoc explainers of ``module_`` see)."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 4))
    y = -20 + 4 * x[:, 0] + 2 * x[:, 2] + rng.normal(scale=0.1, size=300)
    model = INNRegressor(**{**FAST, "epochs": 20}).fit(x[:240], y[:240])
    xs = x[240:]
    pred = model.predict(xs)
    exp, raw = model.explain(xs), model.explain_raw(xs)
    assert exp.contributions.shape == raw.contributions.shape == (60, 1, 4)
    np.testing.assert_allclose(exp.contributions.sum(-1)[:, 0] + exp.bias[:, 0], pred, rtol=1e-12)
    np.testing.assert_allclose(exp.output[:, 0], pred, rtol=1e-12)
    standardised = model.decision_function(xs)[:, 0]
    np.testing.assert_allclose(raw.contributions.sum(-1)[:, 0] + raw.bias[:, 0], standardised,
                               atol=1e-12)  # fmt: skip
    np.testing.assert_allclose(exp.contributions, raw.contributions * model.y_scale_, rtol=1e-12)
    np.testing.assert_allclose(pred, standardised * model.y_scale_ + model.y_mean_, rtol=1e-12)
    assert np.abs(exp.for_output(0)).mean(0).argmax() == 0  # the strongest feature leads


def test_classifier_explain_raw_is_explain(binary_inn) -> None:
    model, x, _ = binary_inn
    a, b = model.explain(x[:20]), model.explain_raw(x[:20])
    for field in ("contributions", "weights", "bias", "output"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
