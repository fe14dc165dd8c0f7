"""Explained texts as the pages and the terminal show them: :func:`predict_and_explain` and
:func:`explanation_page` are the one way the command line, the ``explain`` flow and the
``explain_text`` stage turn a model and texts into a highlight page (Integrated Gradients at the
embedding layer, Sundararajan et al. 2017, via :mod:`glassworks.explain.text`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from glassworks.explain.text import Baseline, explain_texts
from glassworks.explain.windows import explain_windows
from glassworks.report.html import SPECIAL_TOKENS, Completeness, Highlighted, highlight_page

METHOD_NAMES: dict[str, str] = {
    "ig": "IG",
    "eg": "EG",
    "lime": "LIME",
    "kernel_shap": "Kernel SHAP",
    "occlusion": "occlusion",
    "random": "random scores",
}


class TextModel(Protocol):
    """What :func:`predict_and_explain` needs of a text classifier (``TextClassifier``)."""

    module_: Any
    tokenizer_: Any
    max_length: int
    label_names_: Sequence[str]

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities, ``(len(texts), n_classes)``."""
        ...


def hidden_tokens(tokenizer: Any, tokens: Sequence[str]) -> list[bool]:
    """Which tokens the pages leave out: the tokenizer's special tokens and
    :data:`~glassworks.report.html.SPECIAL_TOKENS`, except the unknown-word token (it stands for
    text)."""
    special = set(getattr(tokenizer, "all_special_tokens", ())) | SPECIAL_TOKENS
    special.discard(getattr(tokenizer, "unk_token", None))
    return [t in special for t in tokens]


@dataclass(frozen=True)
class ExplainedText:
    """One text's prediction and token scores, as the pages and the terminal show them."""

    label: str
    probability: float
    tokens: list[str]
    scores: list[float]
    text: str = ""
    method: str = "ig"
    delta: float | None = None
    """Completeness error ``sum(scores) - output_gap`` (path methods only)."""
    output_gap: float | None = None
    """What the scores must add up to, e.g. ``f(x) - f(baseline)`` of the explained logit."""
    reference: str = "f(x) − f(baseline)"
    n_tokens: int | None = None
    """Tokens before truncation (``None``: not counted)."""
    max_length: int | None = None
    name: str = ""
    """Heading on the page (default: the start of ``text``)."""
    extra: str = ""
    """Appended to the heading (e.g. a faithfulness score)."""
    hidden: list[bool] | None = None
    """Tokens left out of the pages (default: by name, see :func:`hidden_tokens`)."""
    words: list[int | None] | None = None
    """Each token's word index: the pages show words, word pieces merged (scores summed)."""

    @property
    def truncated(self) -> bool:
        """Whether the model read (and the method explained) only the first ``max_length``."""
        if self.n_tokens is None or self.max_length is None:
            return False
        return self.n_tokens > self.max_length

    def summary(self) -> str:
        """``label (p=…) · IG completeness delta …``: the one-line caption."""
        line = f"{self.label} (p={self.probability:.3f})"
        if self.delta is not None:
            name = METHOD_NAMES.get(self.method, self.method)
            line += f" · {name} completeness delta {self.delta:+.1e}"
        return line

    def highlighted(self) -> Highlighted:
        """The page item: heading, prediction, completeness and tokens."""
        heading = self.name or repr(self.text[:80])
        parts = [heading, METHOD_NAMES.get(self.method, self.method), self.extra]
        if self.truncated:
            parts.append(f"{self.n_tokens} tokens: only the first {self.max_length} read")
        complete = (
            None
            if self.delta is None or self.output_gap is None
            else Completeness(self.output_gap + self.delta, self.output_gap, self.reference)
        )
        return Highlighted(
            self.tokens,
            self.scores,
            " · ".join(p for p in parts if p),
            prediction=(self.label, self.probability),
            completeness=complete,
            hidden=self.hidden,
            words=self.words,
            group=METHOD_NAMES.get(self.method, self.method),
        )


def predict_and_explain(
    model: TextModel,
    texts: Sequence[str],
    n_steps: int = 32,
    method: str = "gauss_legendre",
    baseline: Baseline = "pad",
) -> list[ExplainedText]:
    """Predict each text and explain the predicted class with Integrated Gradients at the
    embedding layer (what ``glassworks explain-text`` and the ``explain`` flow show); a model
    read in sliding windows is explained over the whole text, stitched across its windows."""
    texts = list(texts)
    proba = np.asarray(model.predict_proba(texts))
    predicted = proba.argmax(1)
    stride = getattr(model, "window_stride", None)
    if stride is not None:
        return _windowed(model, texts, proba, predicted, stride, n_steps, baseline)
    exp = explain_texts(
        model.module_,
        model.tokenizer_,
        texts,
        target=predicted,
        baseline=baseline,
        n_steps=n_steps,
        method=method,
        max_length=model.max_length,
    )
    return [
        ExplainedText(
            label=str(model.label_names_[int(k)]),
            probability=float(proba[i, k]),
            tokens=list(exp.tokens[i]),
            scores=exp.scores[i].tolist(),
            text=text,
            delta=float(exp.delta[i]),
            output_gap=float(exp.output_gap[i]),
            n_tokens=exp.n_tokens[i] if exp.n_tokens else None,
            max_length=model.max_length,
            hidden=hidden_tokens(model.tokenizer_, exp.tokens[i]),
            words=list(exp.word_ids[i]) if exp.word_ids else None,
        )
        for i, (text, k) in enumerate(zip(texts, predicted, strict=True))
    ]


def _windowed(
    model: TextModel,
    texts: list[str],
    proba: np.ndarray,
    predicted: np.ndarray,
    stride: int,
    n_steps: int,
    baseline: Baseline,
) -> list[ExplainedText]:
    """Stitched IG of whole texts for a model read in sliding windows (the output gap and the
    scores are those of the pooled window logit of the predicted class; for an ordinal head, of
    the pooled ordinal score)."""
    windows = explain_windows(
        model.module_,
        model.tokenizer_,
        texts,
        model.max_length,
        stride,
        target=predicted,
        baseline=baseline,
        n_steps=n_steps,
        pool=getattr(model, "window_pool", "mean"),
    )
    return [
        ExplainedText(
            label=str(model.label_names_[int(k)]),
            probability=float(proba[i, k]),
            tokens=list(w.tokens),
            scores=w.scores.tolist(),
            text=text,
            delta=w.delta,
            output_gap=w.output_gap,
            reference=f"{getattr(model, 'window_pool', 'mean')} over windows of f(x) − f(baseline)",
            extra=f"{w.n_windows} windows of {model.max_length} tokens" if w.n_windows > 1 else "",
            hidden=hidden_tokens(model.tokenizer_, w.tokens),
        )
        for i, (text, k, w) in enumerate(zip(texts, predicted, windows, strict=True))
    ]


IG_NOTE = "Integrated Gradients at the embedding layer, for the predicted class."


def explanation_page(title: str, explained: Sequence[ExplainedText], note: str = IG_NOTE) -> str:
    """The self-contained HTML highlight page of ``explained`` (with the colour legend, each
    text's prediction and completeness; special tokens hidden)."""
    return highlight_page(title, [e.highlighted() for e in explained], note)
