"""The one "predict, explain with IG, caption, HTML page" helper and the command that uses it."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from rich.console import Console

from glassworks import cli
from glassworks.report.explained_text import (
    ExplainedText,
    explanation_page,
    hidden_tokens,
    predict_and_explain,
)
from tests.fakes import REVIEWS, tiny_lstm

SPAN_TEXT = re.compile(r"<span class='tok'[^>]*>(.*?)</span>")


@pytest.fixture(scope="module")
def model():  # noqa: ANN201 - a fitted TextClassifier
    return tiny_lstm()


def test_predict_and_explain(model) -> None:  # noqa: ANN001
    texts = REVIEWS[:3]
    out = predict_and_explain(model, texts, n_steps=16)
    proba = model.predict_proba(texts)
    assert [e.text for e in out] == texts
    for e, p in zip(out, proba, strict=True):
        assert e.label == model.label_names_[int(p.argmax())]
        assert e.probability == pytest.approx(float(p.max()))
        assert e.tokens[0] == "[CLS]"
        assert e.hidden[0] is True
        assert not any(e.hidden[1:])
        assert len(e.scores) == len(e.tokens)
        # completeness: the scores add up to f(x) - f(baseline) up to IG's reported delta
        assert sum(e.scores) == pytest.approx(e.output_gap + e.delta, abs=1e-5)
        assert abs(e.delta) < 1e-3
        assert not e.truncated
        assert e.summary().startswith(f"{e.label} (p={e.probability:.3f}) · IG completeness")


def test_explanation_page_shows_prediction_completeness_and_no_specials(model) -> None:  # noqa: ANN001
    out = predict_and_explain(model, ["a charming , funny film", "<s> dull </s>"], n_steps=8)
    page = explanation_page("t", out)
    assert page.count("class='ex'") == 2
    assert page.count("class='legend'") == 1
    shown = SPAN_TEXT.findall(page)
    assert "[CLS]" not in shown
    assert "charming" in shown
    for e in out:
        assert f"prediction: <span class='label'>{e.label}</span>" in page
        assert f"= {e.output_gap:+.4f}" in page
    assert "Integrated Gradients at the embedding layer" in page


def test_captions_and_truncation() -> None:
    e = ExplainedText(
        "positive", 0.75, ["[CLS]", "x"], [0.0, 1.0], text="x", delta=2e-6, output_gap=1.0,
        n_tokens=300, max_length=256,
    )  # fmt: skip
    assert e.truncated
    assert e.summary() == "positive (p=0.750) · IG completeness delta +2.0e-06"
    item = e.highlighted()
    assert item.caption == "'x' · IG · 300 tokens: only the first 256 read"
    assert item.prediction == ("positive", 0.75)
    assert item.completeness.attribution_sum == pytest.approx(1.000002)
    lime = ExplainedText("neg", 0.6, ["a"], [0.1], method="lime", name="text 3", extra="AUC 0.2")
    assert lime.summary() == "neg (p=0.600)"
    assert lime.highlighted().caption == "text 3 · LIME · AUC 0.2"
    assert lime.highlighted().completeness is None


def test_hidden_tokens_keep_unknown_words() -> None:
    tok = SimpleNamespace(all_special_tokens=["[UNK]", "<|endoftext|>"], unk_token="[UNK]")
    tokens = ["<|endoftext|>", "[UNK]", "[CLS]", "word", "</s>"]
    assert hidden_tokens(tok, tokens) == [True, False, True, False, True]


def test_cli_page_uses_the_helper(model, tmp_path: Path) -> None:  # noqa: ANN001
    folder = tmp_path / "model"
    model.save(folder)
    html = tmp_path / "e.html"
    console = Console(record=True, width=200)
    spoof = "evil\u202eroot film"
    assert cli.explain_text(str(folder), [spoof, "a charming film"], html, 8, console) == 0
    text = console.export_text()
    assert "IG completeness delta" in text
    assert "[CLS]" not in text  # special tokens hidden in the terminal too
    assert "\u202e" not in text  # the override is shown, not obeyed
    page = html.read_text(encoding="utf-8")
    assert page.count("class='legend'") == 1
    assert page.count("prediction: <span class='label'>") == 2
    assert page.count("completeness: ") == 2
    assert "[CLS]" not in SPAN_TEXT.findall(page)
    expected = predict_and_explain(model, [spoof, "a charming film"], n_steps=8)
    assert page == explanation_page(f"glassworks: {folder}", expected)
    assert np.isfinite([e.delta for e in expected]).all()
