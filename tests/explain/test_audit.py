import numpy as np
import polars as pl
import pytest
import torch
from torch import nn

from glassworks.explain.audit import (
    Audit,
    agreement,
    agreement_intervals,
    audit_tabular,
    frozen_hypernetwork_attributions,
    reference_gap,
    score_table,
    tabular_attributions,
    xai_bench_scores,
)
from glassworks.explain.paths import integrated_gradients
from glassworks.models.inn import INNClassifier, INNRegressor
from glassworks.models.tabresnet import TabResNetClassifier, TabResNetRegressor

pytestmark = pytest.mark.usefixtures("float64")
FAST = {"epochs": 6, "warmup_epochs": 1, "nr_restarts": 2, "hidden_size": 16, "device": "cpu"}


def _data(n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 5))
    return x, (x[:, 0] - x[:, 2] > 0).astype(int)


def test_agreement_perfect_and_reversed() -> None:
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(20, 6))
    same = agreement(truth, truth, top_k=3)
    assert same == {
        "spearman": 1.0,
        "top_k_overlap": 1.0,
        "sign_agreement": 1.0,
        "l1_relative": 0.0,
    }
    flipped = agreement(-truth, truth, top_k=3)
    assert flipped["spearman"] == pytest.approx(-1.0)
    assert flipped["top_k_overlap"] == 1.0
    assert flipped["sign_agreement"] == 0.0
    assert flipped["l1_relative"] == pytest.approx(2.0)


def _constant_weights_inn() -> tuple[INNClassifier, np.ndarray]:
    """An INN whose hypernetwork ignores x: W(x) = W, so the model is exactly linear."""
    x, y = _data()
    inn = INNClassifier(**FAST).fit(x, y)
    with torch.no_grad():
        for m in inn.module_.members:
            m.hyper.head.weight.zero_()
            m.hyper.head.bias.copy_(torch.linspace(-1, 1, m.hyper.head.bias.numel()))
    return inn, x


def test_every_explainer_recovers_a_linear_inn_exactly() -> None:
    inn, x = _constant_weights_inn()
    xs = x[:15]
    exact = inn.explain(xs).for_output(0)
    attrs = tabular_attributions(
        inn.module_,
        xs,
        x[:100],
        np.zeros(15, dtype=int),
        np.zeros(5),
        lime_samples=300,
        kernel_shap_samples=300,
    )
    np.testing.assert_allclose(attrs["ig"], exact, atol=1e-8)  # linear: IG from 0 is W * x
    np.testing.assert_allclose(attrs["kernel_shap"], exact, atol=1e-5)  # SHAP of a linear model
    assert agreement(attrs["lime"], exact)["spearman"] > 0.95
    # EG draws its baselines from the background: W * (x - x') for a linear model
    eg = tabular_attributions(
        inn.module_, xs, np.zeros((10, 5)), np.zeros(15, dtype=int), np.zeros(5), methods=("eg",)
    )["eg"]
    np.testing.assert_allclose(eg, exact, atol=1e-8)
    assert agreement(attrs["eg"], exact)["spearman"] > 0.8


def test_xai_bench_on_a_linear_model() -> None:
    lin = nn.Linear(4, 1, bias=True).double()
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[3.0, -1.0, 0.5, 2.0]]))
    rng = np.random.default_rng(1)
    x = rng.normal(size=(10, 4))
    base = np.zeros(4)
    truth = x * np.array([3.0, -1.0, 0.5, 2.0])
    t = np.zeros(10, dtype=int)
    good = xai_bench_scores(lin, x, truth, t, base)
    assert good.faithfulness == pytest.approx(1.0)
    assert good.monotonicity == pytest.approx(1.0)
    assert good.monotonic_fraction == 1.0
    bad = xai_bench_scores(lin, x, -truth, t, base)
    assert bad.faithfulness == pytest.approx(-1.0)
    shuffled = xai_bench_scores(lin, x, truth[:, ::-1].copy(), t, base)
    assert shuffled.monotonicity < good.monotonicity


def test_audit_tabular_runs_both_halves() -> None:
    x, y = _data()
    inn = INNClassifier(**FAST).fit(x, y)
    black = TabResNetClassifier(**FAST).fit(x, y)
    audit = audit_tabular(
        inn,
        black,
        x[:8],
        x[:50],
        [f"f{i}" for i in range(5)],
        n_steps=16,
        eg_samples=16,
        lime_samples=50,
        kernel_shap_samples=50,
    )
    assert set(audit.inn_scores) == {"ig", "eg", "lime", "kernel_shap"}
    assert set(audit.frozen_scores) == {"ig", "eg", "lime", "kernel_shap"}
    assert audit.exact.shape == (8, 5)
    assert audit.best_inn_explainer == audit.best_explainer_of_inn_decomposition
    assert audit.best_inn_explainer in audit.inn_scores
    # (b) hypernetwork frozen: IG from 0 is INN's decomposition, so an exact explainer scores ~0
    assert audit.frozen_scores["ig"]["l1_relative"] < 1e-8
    assert audit.frozen_scores["ig"]["spearman"] == pytest.approx(1.0)
    # (a) full model: IG from 0 adds up to f(x) - f(0); the gap to INN's terms is b(x) - b(0)
    np.testing.assert_allclose(audit.ig_sum_gap, audit.gap, atol=5e-2)
    summary = audit.agreement_summary()
    assert set(summary) == {"full_model", "frozen_hypernetwork", "decomposition_gap"}
    ci = summary["frozen_hypernetwork"]["intervals"]["ig"]["l1_relative"]
    assert ci["n"] == 8
    assert ci["ci95"][1] < 1e-8
    assert summary["decomposition_gap"]["bias_gap_abs_mean"] > 0
    for scores in audit.black_box_scores.values():
        assert -1 <= scores["faithfulness"] <= 1
    np.testing.assert_allclose(
        audit.exact.sum(1) + inn.explain(x[:8]).bias[:, 0], inn.decision_function(x[:8])[:, 0]
    )


def test_frozen_hypernetwork_ig_is_inns_decomposition_but_full_ig_is_not() -> None:
    x, y = _data()
    inn = INNClassifier(**FAST).fit(x, y)
    xs = x[:12]
    target = np.zeros(12, dtype=int)
    contrib = inn.explain(xs)
    exact = contrib.for_output(0)
    frozen = frozen_hypernetwork_attributions(
        inn.module_, xs, x[:50], target, np.zeros(5), methods=("ig", "kernel_shap"), n_steps=8,
        kernel_shap_samples=300,
    )  # fmt: skip
    np.testing.assert_allclose(frozen["ig"], exact, atol=1e-6)
    np.testing.assert_allclose(frozen["kernel_shap"], exact, atol=1e-5)  # SHAP of a linear model
    # (a): IG of the full logit from 0 adds up to f(x) - f(0), not to INN's terms f(x) - b(x)
    xt = torch.as_tensor(xs)
    full = integrated_gradients(inn.module_, xt, 0.0, 0, n_steps=256)
    with torch.no_grad():
        f_x = inn.module_(xt)[:, 0].numpy()
        f_0 = inn.module_(torch.zeros_like(xt))[:, 0].numpy()
    sums = full.attributions.sum(1).numpy()
    np.testing.assert_allclose(sums, f_x - f_0, atol=5e-3)  # completeness (ReLU: ~1/n)
    gap = reference_gap(inn.module_, xs, target)
    np.testing.assert_allclose(f_x - f_0 - exact.sum(1), gap, atol=1e-10)  # = b(x) - b(0)
    np.testing.assert_allclose(f_x - contrib.bias[:, 0], exact.sum(1), atol=1e-10)
    assert np.abs(gap).max() > 1e-3  # so sum(IG) != sum(W(x) * x): (a) cannot reach 0
    assert np.abs(sums - exact.sum(1)).max() > 1e-3
    a = agreement(full.attributions.numpy(), exact)["l1_relative"]
    b = agreement(frozen["ig"], exact)["l1_relative"]
    assert b < 1e-6 < a


def test_agreement_intervals_cover_the_mean() -> None:
    rng = np.random.default_rng(2)
    ref = rng.normal(size=(30, 6))
    attr = ref + rng.normal(scale=0.5, size=ref.shape)
    ci = agreement_intervals(attr, ref, top_k=3)
    means = agreement(attr, ref, top_k=3)
    for m, s in ci.items():
        assert s["mean"] == pytest.approx(means[m])
        assert s["ci95"][0] <= s["mean"] <= s["ci95"][1]
        assert s["n"] == 30


def _hand_audit() -> Audit:
    rng = np.random.default_rng(0)
    x, exact = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    scores = {
        "ig": {"spearman": 0.9, "top_k_overlap": 1.0, "sign_agreement": 1.0, "l1_relative": 0.1},
        "lime": {"spearman": 0.5, "top_k_overlap": 0.5, "sign_agreement": 0.7, "l1_relative": 0.6},
    }
    frozen = {"ig": {**scores["ig"], "spearman": 1.0}}
    black = {"ig": {"faithfulness": 0.8, "monotonicity": 0.6, "monotonicity_strict": 0.4}}
    return Audit(
        names=["a", "b", "c"],
        x=x,
        exact=exact,
        inn_attributions={"ig": exact + 1, "lime": exact - 1},
        inn_scores=scores,
        black_box_attributions={"ig": exact * 2},
        black_box_scores=black,
        seconds={"inn": 1.5},
        frozen_attributions={"ig": exact},
        frozen_scores=frozen,
        gap=np.ones(4),
    )


def test_audit_tables_arrays_and_metrics() -> None:
    audit = _hand_audit()
    tables = audit.tables()
    assert list(tables) == ["audit", "audit_frozen", "black_box"]
    assert tables["audit"]["explainer"].to_list() == ["ig", "lime"]
    assert tables["audit"].filter(pl.col("explainer") == "lime")["spearman"].item() == 0.5
    assert tables["black_box"].columns[0] == "explainer"
    assert score_table({}).height == 0
    arrays = audit.arrays()
    assert list(arrays) == [
        "x", "exact", "names", "bias_gap", "inn_ig", "inn_lime", "inn_frozen_ig", "tabresnet_ig",
    ]  # fmt: skip
    assert arrays["names"].tolist() == ["a", "b", "c"]
    np.testing.assert_array_equal(arrays["inn_lime"], audit.exact - 1)
    m = audit.metrics()
    assert (m["n_examples"], m["n_features"]) == (4, 3)
    assert m["best_explainer_of_inn_decomposition"] == m["best_inn_explainer"] == "ig"
    assert m["inn"] == audit.inn_scores
    assert m["tabresnet"] == audit.black_box_scores
    assert m["agreement_with_inn_decomposition"]["frozen_hypernetwork"]["best_explainer"] == "ig"
    assert "seconds" not in m  # machine state stays out of the DVC metrics


def _regression(n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 5))
    return x, 50 + 3 * x[:, 0] - 2 * x[:, 2] + rng.normal(scale=0.1, size=n)


def test_audit_tabular_on_regression_models() -> None:
    """A regression INN (one output): its decomposition W(x)·x is read on the standardised scale
    ``module_`` explains, so IG of the frozen linear model is that decomposition again (~0 error),
    and every metric applies; the metrics say so."""
    from glassworks.explain.audit import REGRESSION_NOTE

    x, y = _regression()
    inn = INNRegressor(**FAST).fit(x, y)
    black = TabResNetRegressor(**FAST).fit(x, y)
    audit = audit_tabular(
        inn, black, x[:6], x[:40], [f"f{i}" for i in range(5)], n_steps=16, eg_samples=16,
        lime_samples=50, kernel_shap_samples=50,
    )  # fmt: skip
    assert audit.regression
    raw = inn.explain_raw(x[:6])
    np.testing.assert_array_equal(audit.exact, raw.contributions[:, 0])
    np.testing.assert_allclose(  # the terms and the bias add up to the standardised prediction
        audit.exact.sum(1) + raw.bias[:, 0], inn.decision_function(x[:6])[:, 0], atol=1e-12
    )
    assert audit.frozen_scores["ig"]["l1_relative"] < 1e-8
    assert (
        set(audit.inn_scores) == set(audit.black_box_scores) == {"ig", "eg", "lime", "kernel_shap"}
    )
    np.testing.assert_allclose(audit.ig_sum_gap, audit.gap, atol=5e-2)
    m = audit.metrics()
    assert (m["task"], m["explained_output"]) == ("regression", REGRESSION_NOTE)
    assert "none is skipped" in m["explained_output"]
    assert "task" not in _hand_audit().metrics()  # classification metrics keep their keys
    with pytest.raises(ValueError, match="both be classifiers or both regressors"):
        audit_tabular(inn, TabResNetClassifier(**FAST).fit(x, y > 50), x[:2], x[:5], list("abcde"))


def test_explain_rows_of_regressors() -> None:
    """New rows of a regression model: INN's exact terms in the target's units (adding up, with
    the bias, to the predicted value), else Kernel SHAP of ``predict`` (adding up to
    ``f(x) - f(0)``)."""
    from sklearn.linear_model import Ridge

    from glassworks.explain.audit import explain_rows, is_regressor

    x, y = _regression()
    inn = INNRegressor(**FAST).fit(x, y)
    attr, pred, method = explain_rows(inn, x[:5])
    assert method == "inn_exact"
    np.testing.assert_allclose(pred, inn.predict(x[:5]))
    np.testing.assert_allclose(attr.sum(1) + inn.explain(x[:5]).bias[:, 0], pred, rtol=1e-12)
    ridge = Ridge().fit(x, y)
    attr, pred, method = explain_rows(ridge, x[:3], n_samples=200)
    assert method == "kernel_shap"
    np.testing.assert_allclose(pred, ridge.predict(x[:3]))
    np.testing.assert_allclose(attr, ridge.coef_ * x[:3], atol=1e-4)  # SHAP of a linear model
    assert not is_regressor(object())
    assert is_regressor(ridge)
