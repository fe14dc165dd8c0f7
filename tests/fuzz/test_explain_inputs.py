"""The explain entry points under hypothesis: tabular rows with NaN/inf, text in numeric
features, unknown categories, missing features; texts of any unicode, blank, huge; the
``glassworks explain-text`` command with damaged or path-like model arguments. Each input is
explained (finite attributions, IG completeness holds) or refused with one error naming it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rich.console import Console

from glassworks import cli
from glassworks.errors import DataError
from glassworks.explain.audit import explain_rows
from glassworks.explain.text import explain_texts
from glassworks.models.tabular import TabularEncoder, make_tabular_model
from glassworks.models.text_classifier import TextClassifier
from tests.fakes import tiny_lstm, toy_tabular
from tests.fuzz.conftest import tried

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def tabular() -> tuple[TabularEncoder, Any]:
    frame = toy_tabular(80)
    enc = TabularEncoder().fit(frame)
    model = make_tabular_model("logistic_regression", 0, {}).fit(
        enc.transform(frame), frame["label"].to_numpy()
    )
    return enc, model


cell = st.one_of(
    st.sampled_from([None, float("nan"), float("inf"), -float("inf"), "", "12", "1e400", "red",
                     "blue", "purple", "NaN", True, [], {}, 10**400]),
    st.floats(), st.integers(), st.text(max_size=8),
)  # fmt: skip
row = st.fixed_dictionaries(
    {}, optional={"age": cell, "colour": cell, "label": cell, "extra": cell}
)


@FUZZ
@given(rows=st.lists(row, max_size=4))
@example(rows=[{"age": float("inf"), "colour": "red"}])
@example(rows=[{"age": "12", "colour": "purple", "label": 7}])
@example(rows=[{"age": None, "colour": None}])
def test_tabular_rows(tabular: tuple[TabularEncoder, Any], rows: list[dict[str, Any]]) -> None:
    enc, model = tabular
    tried("explain rows (flow task input)")
    try:
        x = enc.transform_rows(rows)
    except DataError as exc:
        assert str(exc).startswith("rows")  # noqa: PT017 - names the input (row, feature)
        return
    assert np.isfinite(x).all()
    attr, target, method = explain_rows(model, x, n_samples=40)
    assert method == "kernel_shap"
    assert attr.shape == (len(rows), len(enc.feature_names_))
    assert np.isfinite(attr).all()


@pytest.fixture(scope="module")
def text_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[TextClassifier, Path]:
    model = tiny_lstm()
    folder = tmp_path_factory.mktemp("model") / "model"
    model.save(folder)
    return model, folder


@FUZZ
@given(texts=st.lists(st.one_of(st.text(max_size=40), st.sampled_from(["", " ", "\x00", "🙂"*50])),
                      min_size=1, max_size=3))  # fmt: skip
def test_texts(text_model: tuple[TextClassifier, Path], texts: list[str]) -> None:
    """Any unicode, including blank and control characters: predicted and explained, with IG's
    completeness (attributions sum to f(x) - f(baseline))."""
    model, _ = text_model
    tried("explain texts (flow task input)")
    proba = model.predict_proba(texts)
    assert np.isfinite(proba).all()
    exp = explain_texts(model.module_, model.tokenizer_, texts, n_steps=16,
                        max_length=model.max_length)  # fmt: skip
    for scores in exp.scores:
        assert all(math.isfinite(float(v)) for v in scores)
    assert np.abs(np.asarray(exp.delta)).max() < 1e-3


@pytest.mark.slow
def test_huge_text(text_model: tuple[TextClassifier, Path], tmp_path: Path) -> None:
    """A 10 MB text: truncated to the model's length, explained, the CLI says it truncated."""
    model, folder = text_model
    text = "warm and wise " * (10 * 1024 * 1024 // 14)
    tried("explain-text CLI (10 MB text)")
    out = Console(record=True, width=200)
    assert cli.explain_text(str(folder), [text], tmp_path / "e.html", 8, out) == 0
    assert "reads (and IG explains) only the first" in out.export_text()


@FUZZ
@given(
    victim=st.sampled_from(["model.pt", "glassworks.json", "tokenizer.json", None]),
    data=st.binary(max_size=200),
    ref=st.sampled_from(["folder", "../../etc/passwd", "/etc", "runs:/nope/model", ""]),
)
def test_cli_model_argument(
    text_model: tuple[TextClassifier, Path], tmp_path: Path, victim: str | None, data: bytes,
    ref: str,
) -> None:  # fmt: skip
    """``glassworks explain-text --model``: a damaged folder or a path that is no model gives
    exit status 1 and one line naming it; no traceback, no page written."""
    import shutil

    _, folder = text_model
    tried("explain-text CLI --model")
    target = str(folder)
    if ref == "folder" and victim is not None:
        copy = tmp_path / "copy"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(folder, copy)
        hit = next(copy.rglob(victim), None)
        if hit is not None:
            hit.write_bytes(data)
        target = str(copy)
    elif ref != "folder":
        target = ref
    out = Console(record=True, width=200)
    html = tmp_path / "page.html"
    html.unlink(missing_ok=True)
    code = cli.explain_text(target, ["a charming film"], html, 8, out)
    text = out.export_text()
    if code == 0:
        assert html.exists()
    else:
        assert code == 1
        assert "error:" in text
        assert not html.exists()
