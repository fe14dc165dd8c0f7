"""CDEP's summary: test at the lambda chosen on validation, verdicts from paired intervals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from glassworks.errors import DataError
from glassworks.report.cdep import (
    SELECT_METRIC,
    SUMMARISED,
    arm_result,
    compare_arms,
    comparison_markdown,
    read_records,
    report_page,
    runs_table,
    summary,
)
from glassworks.selection import RULE
from glassworks.stats import NO_DIFFERENCE


def _rows(arm: str, n_test: int, acc_by_seed: dict[int, float], lam: float = 0.0) -> list[dict]:
    out = []
    for seed, acc in acc_by_seed.items():
        k = round(acc * n_test)
        # which examples are right differs between arms and seeds (errors are not nested)
        rng = np.random.default_rng([seed, *map(ord, arm)])
        correct = rng.permutation([1] * k + [0] * (n_test - k)).tolist()
        out.append({"variant": "gender", "arm": arm, "lambda": lam, "seed": seed,
                    "in_grid": seed == 0, "valid_accuracy": acc, "test_accuracy": k / n_test,
                    "test_correct": correct, "ig_mass": 0.2, "n_test": n_test})  # fmt: skip
    return out


def test_a_small_test_split_blocks_a_verdict_that_seeds_alone_would_give() -> None:
    # 3 seeds, a steady 3-point gain: the seed interval excludes 0, 117 examples cannot
    a = _rows("lstm-cdep", 117, {0: 0.78, 1: 0.79, 2: 0.80}, 3.0)
    b = _rows("lstm-none", 117, {0: 0.75, 1: 0.76, 2: 0.77})
    c = compare_arms(a, b, ("lstm-cdep", "lstm-none"))
    assert c["seeds"]["verdict"] == "lstm-cdep beats lstm-none"
    assert c["examples"]["difference"]["ci95"][0] < 0 < c["examples"]["difference"]["ci95"][1]
    assert c["verdict"] == NO_DIFFERENCE


def test_a_large_gap_on_a_large_split_is_a_verdict() -> None:
    a = _rows("lstm-cdep", 872, {0: 0.80, 1: 0.81, 2: 0.82}, 3.0)
    b = _rows("lstm-none", 872, {0: 0.50, 1: 0.52, 2: 0.51})
    assert compare_arms(a, b, ("lstm-cdep", "lstm-none"))["verdict"] == "lstm-cdep beats lstm-none"
    assert compare_arms(b, a, ("lstm-none", "lstm-cdep"))["verdict"] == "lstm-cdep beats lstm-none"


def test_summary_reports_test_only_at_the_chosen_lambda() -> None:
    grid = [
        {
            "variant": "gender",
            "arm": "lstm-cdep",
            "lambda": lam,
            "seed": 0,
            "in_grid": True,
            "valid_accuracy": v,
            "test_accuracy": t,
            "test_correct": [1, 0],
            "ig_mass": 0.1,
            "n_test": 2,
        }  # fmt: skip
        for lam, v, t in ((1.0, 0.70, 0.99), (3.0, 0.80, 0.50), (10.0, 0.75, 0.98))
    ]
    extra = [dict(grid[1], seed=s, in_grid=False, test_accuracy=0.52 + s / 100) for s in (1, 2)]
    none = _rows("lstm-none", 2, {0: 0.5, 1: 0.5, 2: 0.5})
    records = pl.DataFrame([*grid, *extra, *none])
    result = summary(records)
    cdep = result["gender.lstm"]["cdep"]
    assert cdep["lambda"] == 3.0  # best validation, not best test (lambda 1)
    assert cdep["seeds"] == [0, 1, 2]
    assert np.isclose(cdep["test_accuracy"]["mean"], np.mean([0.50, 0.53, 0.54]))
    text = comparison_markdown(result)
    assert "### gender · lstm" in text
    assert "| cdep | 3 |" in text
    assert "this test split holds 2 texts" in text
    assert "0.990" not in text  # non-chosen test readings stay out
    assert "0.980" not in text


def _arm(arm: str = "lstm-cdep") -> list[dict]:
    grid = [
        {**r, "ig_mass": 0.1 * lam, "probe_accuracy": 0.5, "test_macro_f1": 0.6}
        for lam, acc in ((1.0, 0.70), (10.0, 0.80))
        for r in _rows(arm, 20, {0: acc}, lam)
    ]
    seeds = [
        {**r, "in_grid": False, "ig_mass": 1.0, "probe_accuracy": 0.5, "test_macro_f1": 0.6}
        for r in _rows(arm, 20, {1: 0.75}, 10.0)
    ]
    return grid + seeds


def test_arm_result_marks_and_summarises_the_chosen_lambda() -> None:
    rows = _arm()
    result = arm_result(rows, 10.0, 0)
    assert [r["chosen"] for r in rows] == [False, True, True]  # marked in place
    assert result["runs"] is rows
    assert result["selection"] == {"metric": SELECT_METRIC, "rule": RULE, "lambda": 10.0,
                                   "grid_seed": 0}  # fmt: skip
    chosen = result["chosen"]
    assert chosen["lambda"] == 10.0
    assert chosen["seeds"] == [0, 1]
    assert set(chosen) == {"lambda", "seeds", *SUMMARISED}
    assert chosen["valid_accuracy"]["mean"] == pytest.approx(0.775)
    flat = runs_table(rows)
    assert "test_correct" not in flat.columns
    assert flat.height == 3


def test_read_records_reads_every_arm_and_refuses_damage(tmp_path: Path) -> None:
    (tmp_path / "decoy").mkdir()
    for arm in ("lstm-cdep", "lstm-none"):
        rows = arm_result(_arm(arm), 10.0, 0)
        (tmp_path / "decoy" / f"{arm}.json").write_text(json.dumps(rows))
    records = read_records(tmp_path, ["decoy"], ["lstm-cdep", "lstm-none"])
    assert records.height == 6
    assert records["arm"].unique().sort().to_list() == ["lstm-cdep", "lstm-none"]
    with pytest.raises(DataError, match="run `dvc repro train_cdep`"):
        read_records(tmp_path, ["decoy"], ["transformer-eg"])
    (tmp_path / "decoy" / "bad.json").write_text("{}")
    with pytest.raises(DataError, match="not a train_cdep metrics file"):
        read_records(tmp_path, ["decoy"], ["bad"])


def test_report_page_has_the_comparison_then_the_grids() -> None:
    records = pl.DataFrame(_arm("lstm-cdep") + _arm("lstm-none"), infer_schema_length=None)
    result = summary(records)
    page = report_page(result, records, "test_accuracy")
    assert page.startswith("# CDEP on SST-2 variants\n\n")
    assert page.index("## Lambda grids") > page.index(comparison_markdown(result).splitlines()[0])
    assert "lambda grid (seed 0)" in page
    header = next(line for line in page.splitlines() if line.startswith("| model | penalty |"))
    assert header.endswith("| CD mass | CD mass with interactions |")  # no training seconds
    # records from older train_cdep metrics still carry seconds: the page does not show them
    timed = records.with_columns(pl.lit(123.0).alias("train_seconds"))
    assert report_page(summary(timed), timed, "test_accuracy") == page
