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
