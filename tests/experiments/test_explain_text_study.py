"""The ``explain_text`` study: explainers compared on a text sample, their faithfulness under
every replacement (the baseline's own results reused), and the metrics the stage writes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from glassworks.config import ExplainTextSettings
from glassworks.experiments.explain_text import TextStudy, run_text_study, study_metrics
from tests.fakes import REVIEWS, tiny_lstm

SETTINGS = ExplainTextSettings(
    n_texts=5,
    n_texts_note="a toy sample",
    methods=("ig", "occlusion", "random"),
    n_steps=8,
    n_interactions=1,
    ih_steps=4,
    ks=(0.5,),
    replacements=("pad", "mask"),
)


@pytest.fixture(scope="module")
def study() -> TextStudy:
    return run_text_study(tiny_lstm(), REVIEWS[:3], SETTINGS)


def test_metrics_per_explainer_and_per_replacement(study: TextStudy) -> None:
    m = study.metrics
    assert {"ig", "occlusion", "random", "ih"} <= set(m)
    assert (m["n_texts"], m["n_texts_requested"], m["n_texts_note"]) == (3, 5, "a toy sample")
    assert m["baseline"] == "pad"
    assert m["n_truncated"] == 0
    f = m["faithfulness"]
    assert f["replacements"] == ["pad", "mask"]
    assert f["n_texts"] == 3
    assert set(f["scores"]["mask"]) == {"ig", "occlusion", "random"}
    # the top-level means are the baseline's (pad) numbers of the replacement study
    for method in ("ig", "occlusion", "random"):
        pad = f["scores"]["pad"][method]["deletion_auc"]["mean"]
        assert m[method]["deletion_auc"] == pytest.approx(pad)
    assert m == study_metrics(study.comparison, study.faithfulness, SETTINGS, 3)


def test_the_baseline_is_scored_once(study: TextStudy) -> None:
    comp, faith = study.comparison, study.faithfulness
    for method, results in comp.faithfulness.items():
        assert faith.results["pad"][method] == results  # reused, not recomputed
        assert faith.results["mask"][method] is not results
    assert len(comp.interactions) == 1


def test_seconds_are_kept_out_of_the_metrics(study: TextStudy) -> None:
    sec = study.seconds
    assert set(sec) == {"explain", "faithfulness", "total"}
    assert 0 < sec["explain"] < sec["total"]
    assert sec["faithfulness"] == study.faithfulness.seconds
    assert sec["explain"] + sec["faithfulness"] <= sec["total"]
    assert "seconds" not in json.dumps(study.metrics)  # nor seconds_per_text: MLflow only
    per_text = study.comparison.seconds_per_text()
    assert set(per_text) == {"ig", "occlusion", "random", "ih"}
    assert all(v > 0 for v in per_text.values())


def test_the_note_is_written_only_when_set(study: TextStudy) -> None:
    plain = SETTINGS.model_copy(update={"n_texts_note": None})
    m = study_metrics(study.comparison, study.faithfulness, plain, 3)
    assert "n_texts_note" not in m
    assert m["n_texts_requested"] == 5


def _study(metrics: dict[str, Any]) -> TextStudy:
    return TextStudy(None, None, metrics, {})  # type: ignore[arg-type]


def test_lowest_deletion_auc() -> None:
    metrics = {
        "ig": {"deletion_auc": 0.4},
        "lime": {"deletion_auc": 0.3},
        "random": {"deletion_auc": 0.3},  # a tie: the first in metrics order
        "ih": {"rows_vs_ig_rel_max": 0.0},
        "n_texts": 3,
    }
    assert _study(metrics).lowest_deletion_auc() == ("lime", 0.3)
    assert _study({"ig": {"deletion_auc": 0.9}}).lowest_deletion_auc() == ("ig", 0.9)
