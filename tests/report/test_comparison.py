import json
import math
from pathlib import Path

import polars as pl
import pytest

from glassworks.errors import DataError
from glassworks.report.comparison import (
    COST_BENCHMARK,
    RECORD_FIELDS,
    compare,
    comparison_metrics,
    goals,
    markdown,
    normalized_plot,
    rank_plot,
    read_records,
)

AUROC = {  # dataset -> method -> AUROC of seeds 0 and 1
    "d1": {"decision_tree": (0.5, 0.6), "inn": (0.8, 0.8), "catboost": (0.9, 0.7)},
    "d2": {"decision_tree": (0.6, 0.6), "inn": (0.9, 0.9), "catboost": (0.6, 0.6)},
    "d3": {"decision_tree": (0.7, 0.7), "inn": (0.7, 0.7), "catboost": (0.9, 0.9)},
}


def _records(with_tabresnet: bool = False) -> pl.DataFrame:
    rows = []
    for d, methods in AUROC.items():
        for m, values in methods.items():
            for seed, v in enumerate(values):
                rows.append(
                    {
                        "dataset": d,
                        "method": m,
                        "seed": seed,
                        "test_auroc": v,
                    }
                )
                if with_tabresnet and m == "inn":
                    rows.append(
                        {
                            "dataset": d,
                            "method": "tabresnet",
                            "seed": seed,
                            "test_auroc": v - 0.05,
                        }
                    )
    return pl.DataFrame(rows)


def test_normalised_auroc_ranks_and_critical_difference() -> None:
    comp = compare(_records())
    row = comp.table.filter((pl.col("dataset") == "d1") & (pl.col("method") == "inn")).row(
        0, named=True
    )
    assert row["auroc_mean"] == pytest.approx(0.8)
    assert row["auroc_std"] == pytest.approx(0.0)
    assert row["normalized_mean"] == pytest.approx((0.8 / 0.5 + 0.8 / 0.6) / 2)
    ranks = {r["method"]: r["mean_rank"] for r in comp.summary.iter_rows(named=True)}
    # d1: catboost 0.8 = inn 0.8 (tie 1.5), dt 3; d2: inn 1, dt/catboost 2.5; d3: cat 1, 2.5 tie
    assert ranks == pytest.approx(
        {
            "inn": (1.5 + 1 + 2.5) / 3,
            "catboost": (1.5 + 2.5 + 1) / 3,
            "decision_tree": (3 + 2.5 + 2.5) / 3,
        }
    )
    assert comp.critical_difference == pytest.approx(2.343 * math.sqrt(3 * 4 / (6 * 3)))
    assert comp.n_datasets == 3


def test_markdown_and_plots(tmp_path: Path) -> None:
    records = _records()
    comp = compare(records)
    text = markdown(comp, ["inn", "catboost", "decision_tree"])
    assert "| d2 | **0.9000 ± 0.0000** | 0.6000 ± 0.0000 | 0.6000 ± 0.0000 |" in text
    assert "| inn |" in text
    assert "critical difference" in text
    assert "| method | mean AUROC | mean normalised AUROC | mean rank |" in text
    assert "train time (s)" not in text
    assert f"`{COST_BENCHMARK}`" in text  # the training-cost claim lives in the benchmark
    rank_plot(comp, tmp_path / "ranks.png")
    normalized_plot(records, "decision_tree", tmp_path / "norm.png")
    assert (tmp_path / "ranks.png").stat().st_size > 1000
    assert (tmp_path / "norm.png").stat().st_size > 1000


def test_goals_in_numbers() -> None:
    records = _records(with_tabresnet=True)
    out = goals(compare(records), records)
    inn = (0.8 + 0.9 + 0.7) / 3
    catboost = (0.8 + 0.6 + 0.9) / 3  # tabresnet = inn - 0.05 is lower
    assert out["inn_minus_best_black_box"] == pytest.approx(inn - catboost)
    assert not any("time" in k for k in out)  # training cost: benchmarks/, not a DVC metric


def test_refusals() -> None:
    with pytest.raises(ValueError, match="reference method 'ebm' has no results"):
        compare(_records(), "ebm")
    with pytest.raises(ValueError, match="lack columns"):
        compare(_records().drop("test_auroc"))


def test_paired_vs_pairs_by_dataset_and_seed() -> None:
    import polars as pl

    from glassworks.report.comparison import paired_vs

    rows = []
    for d in ("a", "b"):
        for seed in range(3):
            base = 0.7 if d == "a" else 0.9  # a large dataset effect shared by all methods
            rows += [
                {"dataset": d, "method": "inn", "seed": seed, "test_auroc": base + 0.01 * seed},
                {
                    "dataset": d,
                    "method": "lr",
                    "seed": seed,
                    "test_auroc": base + 0.01 * seed - 0.02,
                },
                {
                    "dataset": d,
                    "method": "cb",
                    "seed": seed,
                    "test_auroc": base + (-1) ** seed * 0.03,
                },
            ]
    out = paired_vs(pl.DataFrame(rows), "inn")
    assert out["lr"]["verdict"] == "inn beats lr"
    assert out["lr"]["difference"]["mean"] == pytest.approx(0.02)
    assert out["lr"]["pairs"] == 6
    assert out["cb"]["verdict"] == "no significant difference"


def test_read_records_one_row_per_seed_file(tmp_path: Path) -> None:
    for row in _records().iter_rows(named=True):
        folder = tmp_path / row["method"] / row["dataset"] / str(row["seed"])
        folder.mkdir(parents=True)
        # an older output_info.json still holds its seconds: not read
        (folder / "output_info.json").write_text(json.dumps({**row, "train_time": 2.5, "extra": 1}))
    methods, datasets = ["inn", "catboost", "decision_tree"], ["d1", "d2", "d3"]
    records = read_records(tmp_path, methods, datasets)
    assert records.columns == list(RECORD_FIELDS)
    assert records.height == 18
    assert records.sort(["dataset", "method", "seed"]).equals(
        _records().sort(["dataset", "method", "seed"])
    )
    with pytest.raises(DataError, match="no train_tabular results"):
        read_records(tmp_path, ["tabresnet"], datasets)
    (tmp_path / "inn" / "d1" / "0" / "output_info.json").write_text("{")
    with pytest.raises(DataError, match="not a train_tabular output_info.json"):
        read_records(tmp_path, methods, datasets)


def test_comparison_metrics_add_ranks_and_goals() -> None:
    records = _records(with_tabresnet=True)
    comp = compare(records, "decision_tree")
    m = comparison_metrics(comp, records, "decision_tree")
    assert m["reference"] == "decision_tree"
    assert m["n_datasets"] == 3
    assert m["critical_difference"] == comp.critical_difference
    assert set(m["mean_rank"]) == {"inn", "catboost", "decision_tree", "tabresnet"}
    assert m["mean_normalized_auroc"]["decision_tree"] == pytest.approx(1.0)
    assert {k: v for k, v in m.items() if k in goals(comp, records)} == goals(comp, records)


def test_outputs_do_not_depend_on_timings() -> None:
    """Records that still carry seconds (older ``output_info.json``) give the same table, page
    and metrics whatever the seconds: nothing timed reaches a DVC output."""
    base = _records(with_tabresnet=True)
    outputs = []
    for scale in (1.0, 7.0):
        records = base.with_columns(
            (pl.col("seed") * scale + 1.0).alias("train_time"),
            pl.lit(scale).alias("inference_time"),
        )
        comp = compare(records)
        metrics = comparison_metrics(comp, records, "decision_tree")
        outputs.append((comp.table, comp.summary, markdown(comp), json.dumps(metrics)))
    (table, summary, text, metrics), (table2, summary2, text2, metrics2) = outputs
    assert table.equals(table2)
    assert summary.equals(summary2)
    assert (text, metrics) == (text2, metrics2)
    assert not any("time" in c for c in [*table.columns, *summary.columns])
    assert "time" not in metrics


# ---- regression datasets: RMSE, lower is better, never mixed with AUROC ----------------------

RMSE_VALUES = {  # dataset -> method -> test RMSE of seeds 0 and 1
    "r1": {"decision_tree": (2.0, 2.0), "inn": (1.0, 1.0), "catboost": (1.5, 1.5)},
    "r2": {"decision_tree": (4.0, 4.0), "inn": (3.0, 3.0), "catboost": (2.0, 2.0)},
}


def _rmse_records() -> pl.DataFrame:
    return pl.DataFrame(
        [
            {"dataset": d, "method": m, "seed": s, "test_rmse": v}
            for d, methods in RMSE_VALUES.items()
            for m, values in methods.items()
            for s, v in enumerate(values)
        ]
    )


def test_regression_comparison_normalises_rmse_and_ranks_lowest_first() -> None:
    from glassworks.report.comparison import RMSE

    comp = compare(_rmse_records(), "decision_tree", RMSE)
    row = comp.table.filter((pl.col("dataset") == "r1") & (pl.col("method") == "inn")).row(
        0, named=True
    )
    assert (row["rmse_mean"], row["rmse_std"], row["normalized_mean"]) == (1.0, 0.0, 0.5)
    assert row["rank"] == 1.0  # the lowest RMSE ranks first
    summary = {r["method"]: r for r in comp.summary.iter_rows(named=True)}
    assert summary["inn"]["mean_rank"] == pytest.approx(1.5)  # r1: 1, r2: 2
    assert summary["catboost"]["mean_rank"] == pytest.approx(1.5)
    assert summary["decision_tree"]["mean_rank"] == 3.0
    assert summary["catboost"]["mean_normalized"] == pytest.approx((1.5 / 2 + 2 / 4) / 2)
    assert summary["inn"]["mean_rmse"] == pytest.approx(2.0)
    assert not any("auroc" in c for c in [*comp.table.columns, *comp.summary.columns])
    with pytest.raises(ValueError, match=r"lack columns \['test_rmse'\]"):
        compare(_records(), "decision_tree", RMSE)  # AUROC records are not RMSE records


def test_regression_markdown_states_the_direction(tmp_path: Path) -> None:
    from glassworks.report.comparison import RMSE

    records = _rmse_records()
    comp = compare(records, "decision_tree", RMSE)
    text = markdown(comp, ["inn", "catboost", "decision_tree"])
    lines = text.splitlines()
    assert lines[0] == "| dataset (test RMSE, lower is better) | inn | catboost | decision_tree |"
    assert "| r1 | **1.0000 ± 0.0000** | 1.5000 ± 0.0000 | 2.0000 ± 0.0000 |" in text  # lowest
    assert "| r2 | 3.0000 ± 0.0000 | **2.0000 ± 0.0000** | 4.0000 ± 0.0000 |" in text
    assert (
        "| method | mean RMSE (lower is better) | mean RMSE / decision_tree RMSE (lower is better) "
        "| mean rank (1 = lowest RMSE) |"
    ) in text
    assert "AUROC" not in text
    rank_plot(comp, tmp_path / "ranks.png")
    normalized_plot(records, "decision_tree", tmp_path / "norm.png", RMSE)
    assert (tmp_path / "ranks.png").stat().st_size > 1000
    assert (tmp_path / "norm.png").stat().st_size > 1000


def test_page_keeps_auroc_and_rmse_apart() -> None:
    from glassworks.report.comparison import METRICS, page

    records = {"classification": _records(), "regression": _rmse_records()}
    comps = {t: compare(r, "decision_tree", METRICS[t]) for t, r in records.items()}
    methods = ["inn", "catboost", "decision_tree"]
    only_auroc = page({"classification": comps["classification"]}, methods, "decision_tree")
    assert only_auroc == markdown(comps["classification"], methods)  # as before regression
    both = page(comps, methods, "decision_tree")
    auroc_part, rmse_part = both.split("## Regression datasets: test RMSE (lower is better)")
    assert auroc_part.startswith("## Classification datasets: test AUROC (higher is better)")
    assert "| d1 |" in auroc_part and "| r1 |" not in auroc_part  # noqa: PT018
    assert "| r1 |" in rmse_part and "| d1 |" not in rmse_part  # noqa: PT018
    assert "RMSE" not in auroc_part
    assert "AUROC" not in rmse_part
    assert both.count(COST_BENCHMARK) == 1
    only_rmse = page({"regression": comps["regression"]}, methods, "decision_tree")
    assert only_rmse.startswith("## Regression datasets")
    assert "AUROC" not in only_rmse


def _write_infos(root: Path, records: pl.DataFrame) -> None:
    for row in records.iter_rows(named=True):
        folder = root / row["method"] / row["dataset"] / str(row["seed"])
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "output_info.json").write_text(json.dumps({**row, "n_train": 10}))


def test_read_records_by_task_splits_the_datasets(tmp_path: Path) -> None:
    from glassworks.report.comparison import REGRESSION_RECORD_FIELDS, read_records_by_task

    _write_infos(tmp_path, _records())
    _write_infos(tmp_path, _rmse_records())
    methods = ["inn", "catboost", "decision_tree"]
    got = read_records_by_task(tmp_path, methods, ["d1", "r1", "d2", "r2", "d3"])
    assert list(got) == ["classification", "regression"]
    assert got["classification"].columns == list(RECORD_FIELDS)
    assert got["regression"].columns == list(REGRESSION_RECORD_FIELDS)
    assert sorted(set(got["regression"]["dataset"])) == ["r1", "r2"]
    assert got["classification"].height == 18
    assert list(read_records_by_task(tmp_path, methods, ["r2"])) == ["regression"]
    with pytest.raises(DataError, match="not a train_tabular output_info.json"):
        read_records(tmp_path, methods, ["r1"])  # the AUROC reader refuses RMSE results
    mixed = tmp_path / "inn" / "d1" / "0" / "output_info.json"
    mixed.write_text(json.dumps({"dataset": "d1", "method": "inn", "seed": 0, "test_rmse": 1.0}))
    with pytest.raises(DataError, match="a regression result, but other results of d1"):
        read_records_by_task(tmp_path, ["catboost", "inn"], ["d1"])


def test_metrics_by_task_never_mixes_the_scores() -> None:
    from glassworks.report.comparison import METRICS, metrics_by_task, regression_metrics

    records = {"classification": _records(), "regression": _rmse_records()}
    comps = {t: compare(r, "decision_tree", METRICS[t]) for t, r in records.items()}
    both = metrics_by_task(comps, records, "decision_tree")
    auroc_only = comparison_metrics(comps["classification"], records["classification"],
                                    "decision_tree")  # fmt: skip
    assert {k: v for k, v in both.items() if k != "regression"} == auroc_only  # as before
    reg = both["regression"]
    assert reg == regression_metrics(comps["regression"], records["regression"], "decision_tree")
    assert (reg["metric"], reg["direction"], reg["n_datasets"]) == (
        "test_rmse",
        "lower is better",
        2,
    )
    assert reg["mean_normalized_rmse"]["decision_tree"] == pytest.approx(1.0)
    assert reg["mean_rmse"]["inn"] == pytest.approx(2.0)
    assert set(reg["mean_rank"]) == {"inn", "catboost", "decision_tree"}
    assert "mean_auroc" not in reg
    assert set(both["mean_rank"]) == set(auroc_only["mean_rank"])
    assert "regression" not in metrics_by_task(
        {"classification": comps["classification"]}, records, "decision_tree"
    )
    only = metrics_by_task({"regression": comps["regression"]}, records, "decision_tree")
    assert set(only) == {"reference", "regression"}


def test_paired_vs_on_rmse_lower_is_better() -> None:
    from glassworks.report.comparison import paired_vs

    rows = []
    for d in ("a", "b"):
        for seed in range(3):
            base = 1.0 if d == "a" else 5.0
            rows += [
                {"dataset": d, "method": "inn", "seed": seed, "test_rmse": base + 0.01 * seed},
                {"dataset": d, "method": "lr", "seed": seed, "test_rmse": base + 0.01 * seed + 0.2},
            ]
    out = paired_vs(pl.DataFrame(rows), "inn", "test_rmse", higher_is_better=False)
    assert out["lr"]["verdict"] == "inn beats lr"  # INN's RMSE is lower
    assert out["lr"]["difference"]["mean"] == pytest.approx(0.2)  # lr − inn
    assert out["lr"]["difference_of"] == "test_rmse of b - a (lower is better)"
