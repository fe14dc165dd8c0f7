"""Regression test metrics and the paired RMSE interval, against sklearn and a brute-force
bootstrap of RMSE itself (the oracle the linearised interval must track)."""

from __future__ import annotations

import numpy as np
import pytest

from glassworks.stats import N_BOOT, NO_DIFFERENCE
from glassworks.train.evaluate import (
    paired_rmse,
    regression_metrics,
    rmse,
    rmse_pseudo_values,
)


def _data(n: int = 400, seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    y = rng.normal(size=n)
    return y, {
        "good": y + 0.5 * rng.standard_normal(n),
        "bad": y + 0.8 * rng.standard_normal(n),
        "twin": y + 0.5 * rng.standard_normal(n),
    }


def test_regression_metrics_match_sklearn() -> None:
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    y, pred = _data()
    m = regression_metrics(y, pred["good"])
    assert set(m) == {"rmse", "mae", "r2"}
    assert m["rmse"] == pytest.approx(np.sqrt(mean_squared_error(y, pred["good"])), rel=1e-12)
    assert m["mae"] == pytest.approx(mean_absolute_error(y, pred["good"]), rel=1e-12)
    assert m["r2"] == pytest.approx(r2_score(y, pred["good"]), rel=1e-12)
    assert regression_metrics(y, np.full_like(y, y.mean()))["r2"] == pytest.approx(0, abs=1e-12)


def test_pseudo_values_average_to_the_rmse() -> None:
    y, pred = _data()
    v = rmse_pseudo_values(y, pred["bad"])
    assert v.mean() == pytest.approx(rmse(y, pred["bad"]), rel=1e-12)
    np.testing.assert_array_equal(rmse_pseudo_values(y, y), np.zeros_like(y))  # a perfect fit


def _exact_bootstrap_diff(y: np.ndarray, a: np.ndarray, b: np.ndarray, seed: int) -> np.ndarray:
    """The percentile interval of RMSE(a) − RMSE(b) over resamples of the examples, computed by
    brute force with the resampling of :func:`glassworks.stats.bootstrap_mean_ci`."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, y.size, size=(N_BOOT, y.size))
    ra = np.sqrt(((a - y) ** 2)[idx].mean(1))
    rb = np.sqrt(((b - y) ** 2)[idx].mean(1))
    return np.quantile(ra - rb, [0.025, 0.975])


def test_paired_rmse_interval_tracks_the_exact_bootstrap_and_lower_wins() -> None:
    y, pred = _data()
    out = paired_rmse(y, pred, [("good", "bad"), ("bad", "good"), ("good", "twin")], seed=4)
    assert set(out) == {"rmse", "differences"}
    for k, p in pred.items():
        assert out["rmse"][k]["mean"] == pytest.approx(rmse(y, p), rel=1e-12)
        lo, hi = out["rmse"][k]["ci95"]
        assert lo < rmse(y, p) < hi
    good_bad, bad_good, good_twin = out["differences"]
    assert (good_bad["a"], good_bad["b"]) == ("good", "bad")
    diff = good_bad["difference"]
    assert diff["mean"] == pytest.approx(rmse(y, pred["good"]) - rmse(y, pred["bad"]), rel=1e-12)
    exact = _exact_bootstrap_diff(y, pred["good"], pred["bad"], seed=4)
    width = exact[1] - exact[0]
    np.testing.assert_allclose(diff["ci95"], exact, atol=0.05 * width)  # measured: 1%
    assert diff["ci95"][1] < 0
    assert good_bad["verdict"] == "good beats bad"  # lower RMSE wins
    assert bad_good["verdict"] == "good beats bad"
    assert bad_good["difference"]["mean"] == pytest.approx(-diff["mean"], rel=1e-12)
    assert good_twin["verdict"] == NO_DIFFERENCE
    assert paired_rmse(y, pred, [("good", "bad")], seed=4) == paired_rmse(
        y, pred, [("good", "bad")], seed=4
    )
