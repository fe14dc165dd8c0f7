"""The overview page and the champion choice."""

from __future__ import annotations

import json
from pathlib import Path

from glassworks.report.overview import (
    champions,
    champions_table,
    figure_links,
    metrics_tables,
    text_table,
)


def _write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _text(valid: float, test: float) -> dict:
    summ = [{"mean": v, "sd": 0.01, "ci95": [v - 0.01, v + 0.01], "n": 3} for v in (valid, test)]
    return {"seeds": [0, 1, 2], "valid_accuracy": summ[0], "test_accuracy": summ[1]}


def test_champions_pick_the_best_validation_score_per_dataset_and_task(tmp_path: Path) -> None:
    m = tmp_path / "metrics"
    _write(m / "train_text/sst2-small.json", _text(0.80, 0.81))
    _write(m / "train_text/sst2-minilm.json", _text(0.87, 0.86))
    _write(m / "train_text/essays-small.json", _text(0.49, 0.47))
    inn_test = {"mean": 0.66, "per_seed": [0.65, 0.67]}
    _write(m / "train_tabular/inn/openml-31.json",
           {"valid_auroc": {"mean": 0.71}, "test_auroc": inn_test})  # fmt: skip
    ebm_test = {"mean": 0.70, "per_seed": [0.7, 0.7]}  # better on test, worse on validation
    _write(m / "train_tabular/ebm/openml-31.json",
           {"valid_auroc": {"mean": 0.70}, "test_auroc": ebm_test})  # fmt: skip
    runs = {"sst2-small": "sst2", "sst2-minilm": "sst2", "essays-small": "essays"}
    got = {(c.task, c.dataset): c for c in champions(m, runs)}
    assert got["text", "sst2"].stage_item == "sst2-minilm"
    assert got["text", "sst2"].run_name == "sst2-minilm#0"
    assert got["text", "sst2"].name == "glassworks-text-sst2"
    assert (got["text", "essays"].metric, got["text", "essays"].value) == ("valid_accuracy", 0.49)
    assert got["text", "essays"].test["mean"] == 0.47
    tab = got["tabular", "openml-31"]
    assert (tab.run_name, tab.metric, tab.value) == ("inn@openml-31#0", "valid_auroc", 0.71)
    assert tab.stage_item == "openml-31-inn"  # the DVC item its MLflow runs are tagged with
    assert tab.test["mean"] == 0.66  # the test summary at the choice, from the per-seed values
    table = champions_table([c.as_dict() | {"version": 3} for c in got.values()])
    assert "| glassworks-tabular-openml-31 | tabular | openml-31 | inn@openml-31#0 |" in table
    assert "| valid_auroc | 0.7100 | test_auroc | 0.6600 ± 0.0141 [0.6500, 0.6700] | 3 |" in table


def test_text_table(tmp_path: Path) -> None:
    m = tmp_path / "metrics"
    _write(m / "train_text/sst2-small.json", _text(0.80, 0.81))
    table = text_table(m)
    assert (
        "| sst2-small | 3 | 0.800 ± 0.010 [0.790, 0.810] | 0.810 ± 0.010 [0.800, 0.820] |" in table
    )


def test_metrics_tables_and_links(tmp_path: Path) -> None:
    m = tmp_path / "metrics"
    _write(m / "prepare/sst2.json", {"rows": {"train": 10, "test": 2}, "ok": True})
    _write(m / "prepare/essays.json", {"rows": {"train": 7}})
    _write(m / "compare_cdep.json", {"decoy": {"vanilla": 0.5}})
    text = metrics_tables(m)
    assert "### prepare" in text
    assert "| prepare/sst2.json | 10 | 2 |" in text
    assert "| prepare/essays.json | 7 |  |" in text  # missing leaves stay empty
    assert "### compare_cdep" in text
    figs = tmp_path / "data/reports/cdep"
    figs.mkdir(parents=True)
    (figs / "decoy.png").write_bytes(b"png")
    out = tmp_path / "reports"
    assert "(../data/reports/cdep/decoy.png)" in figure_links([tmp_path / "data/reports"], out)


def _tabular_reg(valid: float, test: float) -> dict:
    return {"seeds": [0, 1], "valid_rmse": {"mean": valid, "std": 0.0, "per_seed": [valid] * 2},
            "test_rmse": {"mean": test, "std": 0.1, "per_seed": [test - 0.1, test + 0.1]},
            "test_mae": {"mean": test / 2}, "test_r2": {"mean": 0.9}}  # fmt: skip


def test_regression_champion_has_the_lowest_validation_rmse(tmp_path: Path) -> None:
    """The lowest mean validation RMSE wins, although another method has the lowest test RMSE
    (and the highest RMSE would win under a higher-is-better rule): test is never read."""
    m = tmp_path / "metrics"
    _write(m / "train_tabular/catboost/houses.json", _tabular_reg(valid=2.0, test=1.0))
    _write(m / "train_tabular/inn/houses.json", _tabular_reg(valid=1.5, test=3.0))
    _write(m / "train_tabular/ebm/houses.json", _tabular_reg(valid=4.0, test=2.0))
    for method, valid, test in (("ebm", 0.7, 0.7), ("inn", 0.8, 0.6)):  # AUROC: highest wins
        summary = {"valid_auroc": {"mean": valid}, "test_auroc": {"mean": test, "per_seed": [test]}}
        _write(m / f"train_tabular/{method}/openml-31.json", summary)
    got = {c.dataset: c for c in champions(m, {})}
    reg = got["houses"]
    assert (reg.run_name, reg.metric, reg.value, reg.test_metric) == (
        "inn@houses#0", "valid_rmse", 1.5, "test_rmse",
    )  # fmt: skip
    assert reg.stage_item == "houses-inn"
    assert reg.test["mean"] == 3.0  # reported at the choice, never chosen on
    assert (got["openml-31"].run_name, got["openml-31"].metric) == (
        "inn@openml-31#0",
        "valid_auroc",
    )
    table = champions_table([c.as_dict() | {"version": 1} for c in got.values()])
    assert (
        "| glassworks-tabular-houses | tabular | houses | inn@houses#0 | valid_rmse | 1.5000 |"
        in table
    )


def test_a_dataset_with_mixed_metrics_is_refused(tmp_path: Path) -> None:
    import pytest

    from glassworks.errors import DataError

    m = tmp_path / "metrics"
    _write(m / "train_tabular/inn/houses.json", _tabular_reg(valid=1.5, test=3.0))
    _write(m / "train_tabular/ebm/houses.json", {"valid_auroc": {"mean": 0.7}})
    with pytest.raises(
        DataError, match=r"houses mix validation metrics \['valid_auroc', 'valid_rmse'\]"
    ):
        champions(m, {})
