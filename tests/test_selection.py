import math

import pytest

from glassworks.selection import (
    RULE,
    SelectionLeak,
    check_metric_name,
    choose,
    choose_record,
    higher_is_better,
)


def test_highest_wins_and_ties_go_to_the_first() -> None:
    assert choose({0.1: 0.7, 1.0: 0.8, 10.0: 0.75}, metric="valid_accuracy") == 1.0
    assert choose({0.1: 0.8, 1.0: 0.8, 10.0: 0.8}, metric="valid_accuracy") == 0.1
    near = {"a": 0.8000, "b": 0.8004}
    assert choose(near, metric="valid_accuracy") == "b"
    assert choose(near, metric="valid_accuracy", tie_tol=1e-3) == "a"
    assert choose([("x", 2.0), ("y", 1.0)], metric="valid_loss", higher_is_better=False) == "y"
    assert choose({"a": math.nan, "b": 0.1}, metric="valid_accuracy") == "b"
    assert "validation" in RULE


@pytest.mark.parametrize(
    "name", ["test_accuracy", "test", "accuracy_test", "test/auroc", "metrics.test.f1", "TEST_acc"]
)
def test_test_metrics_are_refused(name: str) -> None:
    with pytest.raises(SelectionLeak, match="validation only"):
        choose({"a": 1.0}, metric=name)
    with pytest.raises(SelectionLeak):
        check_metric_name(name)


@pytest.mark.parametrize("name", ["valid_accuracy", "val_auroc", "contest_score", "latest"])
def test_other_names_pass(name: str) -> None:
    assert check_metric_name(name) == name


def test_choose_record_reads_only_its_column() -> None:
    rows = [
        {"lam": 1, "valid_accuracy": 0.7, "test_accuracy": 0.9},
        {"lam": 3, "valid_accuracy": 0.8, "test_accuracy": 0.1},
    ]
    assert choose_record(rows, metric="valid_accuracy")["lam"] == 3
    stripped = [{k: v for k, v in r.items() if not k.startswith("test")} for r in rows]
    assert choose_record(stripped, metric="valid_accuracy")["lam"] == 3
    with pytest.raises(SelectionLeak):
        choose_record(rows, metric="test_accuracy")
    with pytest.raises(KeyError, match="no such column"):
        choose_record(rows, metric="valid_f1")


@pytest.mark.parametrize(
    ("name", "higher"),
    [("valid_rmse", False), ("valid_mae", False), ("val/loss", False), ("valid.error", False),
     ("valid_mse", False), ("valid_auroc", True), ("valid_accuracy", True), ("valid_qwk", True),
     ("valid_r2", True), ("valid_rmsle_like", True), ("neg_mean_squared_error", True)],
)  # fmt: skip
def test_higher_is_better_knows_error_metrics(name: str, higher: bool) -> None:
    assert higher_is_better(name) is higher


def test_lower_is_better_uses_the_same_rule() -> None:
    """Lowest validation RMSE wins; ties (within tie_tol) go to the earliest candidate."""
    rows = [
        {"method": "ebm", "valid_rmse": 2.0, "test_rmse": 0.5},
        {"method": "inn", "valid_rmse": 1.0, "test_rmse": 9.0},
        {"method": "lr", "valid_rmse": 1.0 + 1e-12, "test_rmse": 0.1},
    ]
    metric = "valid_rmse"
    assert (
        choose_record(rows, metric=metric, higher_is_better=higher_is_better(metric))["method"]
        == "inn"
    )
    assert (
        choose({"a": 1.0005, "b": 1.0}, metric=metric, higher_is_better=False, tie_tol=1e-3) == "a"
    )
    assert "lowest" in RULE
