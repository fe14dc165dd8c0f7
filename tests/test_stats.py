import numpy as np
import pytest

from glassworks import stats


def test_summary_mean_sd_and_interval_brackets_the_mean() -> None:
    s = stats.summarise([0.80, 0.82, 0.81])
    assert s.mean == pytest.approx(0.81)
    assert s.sd == pytest.approx(0.01)
    assert s.lo <= s.mean <= s.hi
    assert 0.80 <= s.lo < s.hi <= 0.82
    assert s.n == 3
    assert s.as_dict()["ci95"] == [s.lo, s.hi]
    assert s.fmt() == f"0.810 ± 0.010 [{s.lo:.3f}, {s.hi:.3f}]"
    assert stats.summarise([0.5]).fmt() == "0.500 (1 seed)"


def test_bootstrap_interval_matches_normal_theory_on_many_values() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(1.0, 2.0, size=2000)
    lo, hi = stats.bootstrap_mean_ci(x, n_boot=4000)
    half = 1.96 * x.std(ddof=1) / np.sqrt(x.size)
    assert (hi - lo) / 2 == pytest.approx(half, rel=0.1)
    assert lo < x.mean() < hi
    assert stats.bootstrap_mean_ci(x, seed=3) == stats.bootstrap_mean_ci(x, seed=3)


def test_paired_verdicts() -> None:
    better = stats.paired_difference([0.9, 0.91, 0.92], [0.8, 0.80, 0.83], names=("A", "B"))
    assert better.verdict == "A beats B"
    assert better.diff.lo > 0
    worse = stats.paired_difference([0.8, 0.80, 0.83], [0.9, 0.91, 0.92], names=("A", "B"))
    assert worse.verdict == "B beats A"
    # paired, not pooled: a large seed effect shared by both does not hide a steady gain
    steady = stats.paired_difference([0.5, 0.7, 0.9], [0.49, 0.69, 0.89])
    assert steady.verdict == "A beats B"
    noisy = stats.paired_difference([0.80, 0.84, 0.79], [0.81, 0.80, 0.82])
    assert noisy.verdict == stats.NO_DIFFERENCE
    assert stats.paired_difference([0.9], [0.1]).verdict == stats.NO_DIFFERENCE  # one seed


def test_bad_values() -> None:
    with pytest.raises(ValueError, match="no values"):
        stats.summarise([])
    with pytest.raises(ValueError, match="non-finite"):
        stats.summarise([1.0, float("nan")])
    with pytest.raises(ValueError, match="3 values of A but 2 of B"):
        stats.paired_difference([1, 2, 3], [1, 2])
