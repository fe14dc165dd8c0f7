"""Emb-GAM's reports (Singh & Gao 2022): the top n-grams per class, or for a regression target
the one list raising and lowering the prediction (CSV + bar chart), and an HTML page explaining
seeded test texts n-gram by n-gram (``train_embgam``'s model folder)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from glassworks.io import write_text
from glassworks.models.emb_gam import EmbGAMClassifier, EmbGAMRegressor
from glassworks.report.html import Highlighted, highlight_page
from glassworks.report.plots import contribution_bars

NOTE = (
    "Each word carries its n-grams' contributions to the logit, shared equally among the "
    "n-gram's words; word scores plus the intercept add up exactly to the logit."
)
NOTE_REGRESSION = (
    "Each word carries its n-grams' contributions to the predicted value, shared equally among "
    "the n-gram's words; word scores plus the intercept add up exactly to the prediction."
)
MEANING_REGRESSION = (
    "green: the token raises the predicted value; red: it lowers it; white: no effect. Stronger "
    "colour = larger |score| (hover a token for its value)."
)
N_DETAILS = 12
"""N-grams listed under each explained text (largest contribution first)."""


def file_safe(name: str) -> str:
    """``name`` with every character but letters and digits replaced by ``_``."""
    return "".join(ch if ch.isalnum() else "_" for ch in name)


def explained_outputs(model: EmbGAMClassifier) -> list[int]:
    """The classes (indices into ``classes_``) Emb-GAM's outputs explain: the positive class of a
    binary model (its one logit), every class of a multiclass one."""
    return [1] if len(model.classes_) == 2 else list(range(len(model.classes_)))


def _picked_rows(test: pl.DataFrame, n_explain: int, seed: int) -> list[dict[str, Any]]:
    """``n_explain`` seeded test rows, in their order (the same rows for both kinds of model)."""
    rng = np.random.default_rng(seed)
    pick = rng.choice(test.height, size=min(n_explain, test.height), replace=False)
    return [test.row(i, named=True) for i in sorted(pick.tolist())]


def explained_texts(
    model: EmbGAMClassifier,
    label_names: Sequence[str],
    test: pl.DataFrame,
    n_explain: int,
    seed: int,
) -> list[Highlighted]:
    """``n_explain`` seeded test texts (``id, text, label``; in their order) with word scores for
    the predicted class's output (the one logit of a binary model) and their top n-grams."""
    binary = len(model.classes_) == 2
    items = []
    for row in _picked_rows(test, n_explain, seed):
        proba = model.predict_proba([row["text"]])[0]
        k = int(np.argmax(proba))
        output = 0 if binary else k
        tokens, scores = model.token_scores(row["text"], output=output)
        details = model.contributions(row["text"], output=output)
        shown_class = label_names[int(model.classes_[1 if binary else k])]
        caption = (
            f"id {row['id']} · true: {label_names[row['label']]} · predicted: "
            f"{label_names[int(model.classes_[k])]} (p={proba[k]:.2f}) · scores explain "
            f"'{shown_class}' · intercept {model.intercept_[output]:+.3f}"
        )
        items.append(Highlighted(tokens, scores, caption, details[:N_DETAILS]))
    return items


def explained_regression_texts(
    model: EmbGAMRegressor, test: pl.DataFrame, n_explain: int, seed: int
) -> list[Highlighted]:
    """``n_explain`` seeded test texts (``id, text, label``; in their order; the same rows as
    :func:`explained_texts` picks) with word scores for the predicted value and their top n-grams:
    word scores plus the intercept equal the prediction."""
    items = []
    for row in _picked_rows(test, n_explain, seed):
        predicted = float(model.predict([row["text"]])[0])
        tokens, scores = model.token_scores(row["text"])
        details = model.contributions(row["text"])
        caption = (
            f"id {row['id']} · true: {float(row['label']):.4g} · predicted: {predicted:.4g} · "
            f"scores explain the predicted value · intercept {model.intercept_[0]:+.3f}"
        )
        items.append(Highlighted(tokens, scores, caption, details[:N_DETAILS]))
    return items


def write_embgam_regression_reports(
    model: EmbGAMRegressor,
    test: pl.DataFrame,
    out: Path,
    dataset: str,
    *,
    top_k: int,
    n_explain: int,
    seed: int,
) -> None:
    """``top_ngrams.csv`` and ``.png`` (the ``top_k`` training n-grams with the largest positive
    and the ``top_k`` with the largest negative contribution per occurrence, ``coef_ · emb(g)``)
    and ``examples.html`` (see :func:`explained_regression_texts`) in ``out``."""
    top = model.top_ngrams(top_k)
    top.write_csv(out / "top_ngrams.csv")
    shown = pl.concat([top.head(min(top_k, 15)), top.tail(min(top_k, 15))])
    contribution_bars(
        shown.unique("ngram", keep="first"),
        f"{dataset}: n-grams raising and lowering the prediction (Emb-GAM)",
        out / "top_ngrams.png",
        "contribution to the predicted value per occurrence",
    )
    items = explained_regression_texts(model, test, n_explain, seed)
    page = highlight_page(
        f"Emb-GAM explanations — {dataset}", items, NOTE_REGRESSION, MEANING_REGRESSION
    )
    write_text(out / "examples.html", page)


def write_embgam_reports(
    model: EmbGAMClassifier | EmbGAMRegressor,
    label_names: Sequence[str],
    test: pl.DataFrame,
    out: Path,
    dataset: str,
    *,
    top_k: int,
    n_explain: int,
    seed: int,
) -> None:
    """``top_ngrams_<class>.csv`` and ``.png`` per explained class and ``examples.html`` (see
    :func:`explained_texts`) in ``out``; a regressor's reports are
    :func:`write_embgam_regression_reports` (``label_names`` unused)."""
    if isinstance(model, EmbGAMRegressor):
        write_embgam_regression_reports(
            model, test, out, dataset, top_k=top_k, n_explain=n_explain, seed=seed
        )
        return
    for j, cls in enumerate(explained_outputs(model)):
        name = label_names[int(model.classes_[cls])]
        top = model.top_ngrams(top_k, output=j)
        top.write_csv(out / f"top_ngrams_{file_safe(name)}.csv")
        shown = pl.concat([top.head(min(top_k, 15)), top.tail(min(top_k, 15))])
        contribution_bars(
            shown.unique("ngram", keep="first"),
            f"{dataset}: n-grams for '{name}' (Emb-GAM)",
            out / f"top_ngrams_{file_safe(name)}.png",
            "contribution to the logit per occurrence",
        )
    items = explained_texts(model, label_names, test, n_explain, seed)
    page = highlight_page(f"Emb-GAM explanations — {dataset}", items, NOTE)
    write_text(out / "examples.html", page)
