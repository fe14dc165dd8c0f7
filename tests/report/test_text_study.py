"""What the ``explain_text`` study writes: the highlight page and interaction plots, the verdict
table, the mean deletion / insertion curves as PNG and as DVC plot tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from glassworks.explain.metrics import faithfulness_by_replacement, mean_curves
from glassworks.explain.summary import TextComparison, compare_text_explainers
from glassworks.report.text_study import write_curve_tables, write_text_study
from tests.fakes import REVIEWS, tiny_lstm

LABELS = ["negative", "positive"]


@pytest.fixture(scope="module")
def comp_and_model() -> tuple[TextComparison, object]:
    model = tiny_lstm()
    comp = compare_text_explainers(
        model.module_,
        model.tokenizer_,
        REVIEWS[:3],
        methods=("ig", "occlusion"),
        n_steps=8,
        n_interactions=2,
        ih_steps=4,
        ks=(0.5,),
    )
    return comp, model


def test_write_text_study(comp_and_model: tuple, tmp_path: Path) -> None:
    comp, model = comp_and_model
    study = faithfulness_by_replacement(
        model.module_, model.tokenizer_, comp.enc, comp.scores, comp.target, ("pad", "mask"),
        ks=(0.5,), known={"pad": comp.faithfulness},
    )  # fmt: skip
    write_text_study(comp, study, LABELS, tmp_path, "toy <run>", model.tokenizer_)
    assert {f.name for f in tmp_path.iterdir()} == {
        "highlights.html",
        "faithfulness_comparison.csv",
        "deletion.png",
        "insertion.png",
        "interactions_0.png",
        "interactions_1.png",
        "top_pairs_0.png",
        "top_pairs_1.png",
    }
    page = (tmp_path / "highlights.html").read_text(encoding="utf-8")
    assert page.count("class='ex g-") == 3 * 2  # 3 texts x 2 explainers, one explainer shown
    assert page.count("type='radio'") == 2 + 1
    assert "toy &lt;run&gt;" in page
    table = pl.read_csv(tmp_path / "faithfulness_comparison.csv")
    assert table.to_dicts() == pl.DataFrame(study.table()).to_dicts()
    assert set(table["replacement"]) == {"pad", "mask"}
    for png in tmp_path.glob("*.png"):
        assert png.read_bytes()[:4] == b"\x89PNG"


def test_write_curve_tables(comp_and_model: tuple, tmp_path: Path) -> None:
    comp, _ = comp_and_model
    write_curve_tables(comp, tmp_path / "plots")
    for j, name in ((1, "deletion"), (2, "insertion")):
        table = pl.read_csv(tmp_path / "plots" / f"{name}.csv")
        assert table.columns == ["fraction", "ig", "occlusion"]
        fractions = mean_curves(comp.faithfulness["ig"])[0]
        np.testing.assert_array_equal(table["fraction"].to_numpy(), np.round(fractions, 4))
        assert table["fraction"][0] == 0.0
        assert table["fraction"][-1] == 1.0
        for m in ("ig", "occlusion"):
            np.testing.assert_allclose(table[m].to_numpy(), mean_curves(comp.faithfulness[m])[j])
