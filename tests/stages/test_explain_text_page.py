"""The ``explain_text`` stage's highlight page goes through the shared page helper: every
explainer's block shows the prediction, path methods their completeness, no special tokens."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from glassworks.explain.summary import compare_text_explainers
from glassworks.report.text_study import explained_texts, write_pages
from tests.fakes import REVIEWS, tiny_lstm

SPAN_TEXT = re.compile(r"<span class='tok'[^>]*>(.*?)</span>")


def test_stage_page_items(tmp_path: Path) -> None:
    model = tiny_lstm()
    texts = REVIEWS[:2]
    comp = compare_text_explainers(
        model.module_,
        model.tokenizer_,
        texts,
        methods=("ig", "eg", "occlusion"),
        n_steps=8,
        eg_samples=4,
        ks=(0.5,),
    )
    labels = ["negative", "positive"]
    items = explained_texts(comp, labels, model.tokenizer_)
    assert [(e.name, e.method) for e in items] == [
        (f"text {i}", m) for i in range(2) for m in ("ig", "eg", "occlusion")
    ]
    for e in items:
        i = int(e.name.split()[1])
        assert e.label == labels[int(comp.target[i])]
        assert e.probability == pytest.approx(float(comp.probability[i]))
        assert e.extra.startswith("deletion AUC ")
        assert e.hidden[0] is True  # [CLS]
    ig, eg, occ = items[:3]
    assert ig.output_gap == pytest.approx(float(comp.output_gap[0]))
    assert sum(ig.scores) == pytest.approx(ig.output_gap + ig.delta, abs=1e-5)
    assert eg.reference == "f(x) − mean f(drawn baselines)"
    assert sum(eg.scores) == pytest.approx(eg.output_gap + eg.delta)
    assert occ.delta is None
    assert occ.highlighted().completeness is None
    write_pages(comp, labels, tmp_path, "tiny <run>", model.tokenizer_)
    page = (tmp_path / "highlights.html").read_text(encoding="utf-8")
    assert page.count("class='ex g-") == 6  # one explainer shown at a time (a toggle)
    assert page.count("prediction: <span class='label'>") == 6
    assert page.count("completeness: ") == 4  # IG and EG per text
    assert page.count("class='legend'") == 1
    assert "[CLS]" not in SPAN_TEXT.findall(page)
    assert "tiny &lt;run&gt;" in page
