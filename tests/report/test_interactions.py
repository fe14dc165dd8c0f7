"""The pair-deletion section of the report and the card: rows per model and k, read from what the
explain stages write, with the paired verdict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from glassworks.explain.pair_deletion import PairDeletion, summarize_pair_deletion
from glassworks.report.card import card_inputs
from glassworks.report.interactions import HEADER, interactions_section


def _summary(ih_better: bool) -> dict:
    rng = np.random.default_rng(0)
    results = []
    for _ in range(12):
        ig = rng.uniform(0.0, 0.1, 2)
        ih = ig + (0.3 if ih_better else 0.0)
        rand = rng.uniform(0.0, 0.05, 2)
        drops = {"ih_pairs": ih, "ig_units": ig, "random_pairs": rand}
        results.append(PairDeletion((1, 2), drops, np.array([2.0, 3.0])))
    return summarize_pair_deletion(results)


def test_section_lists_every_model_and_k(tmp_path: Path) -> None:
    (tmp_path / "explain_text").mkdir()
    (tmp_path / "explain").mkdir()
    text = {"ig": {"deletion_auc": 0.3}, "ih": {"n_texts": 12, "pair_deletion": _summary(True)}}
    (tmp_path / "explain_text" / "sst2-small.json").write_text(json.dumps(text))
    (tmp_path / "explain" / "mlp-openml-31.json").write_text(
        json.dumps({"pair_deletion": _summary(False)})
    )
    (tmp_path / "explain" / "embgam-sst2.json").write_text(json.dumps({"examples": 3}))
    lines = interactions_section(tmp_path)
    rows = [ln for ln in lines if ln.startswith("| explain")]
    assert len(rows) == 4  # two models x k in (1, 2); the model without the metric is left out
    assert lines[0].startswith("## Faithfulness of interactions")
    assert len(rows[0].split("|")) == len(HEADER) + 2
    text_k1 = next(r for r in rows if r.startswith("| explain_text/sst2-small | 1 |"))
    assert ": ih_pairs |" in text_k1  # IH pairs beat IG tokens: the paired interval excludes 0
    tab_k1 = next(r for r in rows if r.startswith("| explain/mlp-openml-31 | 1 |"))
    assert "no significant difference" in tab_k1


def test_no_section_before_any_pair_deletion(tmp_path: Path) -> None:
    assert interactions_section(tmp_path) == []


def test_card_shows_the_text_models_pair_deletion(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics/explain_text"
    metrics.mkdir(parents=True)
    data = {
        "ig": {"deletion_auc": 0.3, "insertion_auc": 0.6},
        "ih": {"pair_deletion": _summary(True)},
    }
    (metrics / "sst2-small.json").write_text(json.dumps(data))
    inputs = card_inputs({"stage": "train_text", "stage_item": "sst2-small"}, tmp_path)
    titles = [t for t, _, _ in inputs.tables]
    assert any(t.startswith("Faithfulness of interactions") for t in titles)
    table = next(rows for t, _, rows in inputs.tables if t.startswith("Faithfulness of inter"))
    assert [r[1] for r in table] == ["1", "2"]
