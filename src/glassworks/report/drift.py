"""The comparison card of two models' explanations (:mod:`glassworks.explain.drift`): one
self-contained, escaped HTML page (inline SVG, no external requests) that renders inside MLflow's
artifact viewer."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from glassworks.explain.drift import Drift, explanation_drift, word_matrix

_STYLE = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:1.5em auto;padding:0 1em;
color:#222}table{border-collapse:collapse;margin:.5em 0}td,th{padding:3px 10px;
border-bottom:1px solid #ddd;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.a{fill:#1f77b4}.b{fill:#ff7f0e}.sw{display:inline-block;width:.9em;height:.9em;margin:0 .3em}
.note{color:#555;font-size:.9em}"""


def _explain(model: Any, frame: pl.DataFrame) -> tuple[Any, list[str], str, list[str]]:
    """Attributions, feature names, method and row labels of ``frame``'s rows: a tabular
    bundle's own explainer (INN exact, else Kernel SHAP), or IG merged into words (text)."""
    if isinstance(model, dict):
        from glassworks.explain.audit import explain_rows

        attr, _, method = explain_rows(model["model"], model["encoder"].transform(frame))
        rows = [f"row {i}" for i in range(frame.height)]
        return np.asarray(attr), list(model["encoder"].feature_names_), method, rows
    from glassworks.report.explained_text import predict_and_explain

    texts = frame.get_column("text").to_list()
    words = [e.highlighted().shown() for e in predict_and_explain(model, texts)]
    return words, [], "integrated gradients (words)", texts


def compare_models(
    model_a: Any, model_b: Any, frame: pl.DataFrame, top_k: int = 5
) -> tuple[Drift, str, list[str]]:
    """Explain ``frame``'s rows with both models (two tabular bundles, or two text models) and
    compare: the :class:`Drift`, the attribution method and each row's label (text: the text).
    Tabular models' encoded columns are aligned by name (a column one lacks counts 0)."""
    if isinstance(model_a, dict) != isinstance(model_b, dict):
        raise ValueError("one model is tabular, the other a text model")
    (attr_a, feats_a, method, rows), (attr_b, feats_b, _, _) = (
        _explain(m, frame) for m in (model_a, model_b)
    )
    if isinstance(model_a, dict):
        features = sorted(set(feats_a) | set(feats_b))

        def aligned(attr: np.ndarray, feats: list[str]) -> np.ndarray:
            out = np.zeros((attr.shape[0], len(features)))
            out[:, [features.index(f) for f in feats]] = attr
            return out

        attr_a, attr_b = aligned(attr_a, feats_a), aligned(attr_b, feats_b)
    else:
        attr_a, attr_b, features = word_matrix(attr_a, attr_b)
    return explanation_drift(attr_a, attr_b, features, top_k=top_k), method, rows


def _bars(drift: Drift, label_a: str, label_b: str, width: int = 900) -> str:
    """Grouped horizontal bars of the union of both models' top-k features (mean |attribution|,
    each model scaled to its own largest importance so different output scales compare)."""
    names = list(dict.fromkeys([*drift.top_a, *drift.top_b]))
    if not names:
        return "<p>No feature has a non-zero attribution.</p>"
    index = {n: i for i, n in enumerate(drift.features)}
    max_a = max(float(drift.importance_a.max()), 1e-300)
    max_b = max(float(drift.importance_b.max()), 1e-300)
    label_w, row_h, bar_w = 220, 30, width - 300
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' "
        f"height='{row_h * len(names) + 30}'"
        f" role='img' aria-label='global importance, {html.escape(label_a)} vs "
        f"{html.escape(label_b)}'>"
    ]
    for r, name in enumerate(names):
        j = index[name]
        y = 20 + r * row_h
        ra, rb = drift.importance_a[j] / max_a, drift.importance_b[j] / max_b
        parts.append(
            f"<text x='{label_w - 6}' y='{y + 14}' text-anchor='end' font-size='12'>"
            f"{html.escape(name[:32])}</text>"
            f"<rect class='a' x='{label_w}' y='{y}' width='{ra * bar_w:.1f}' height='11'>"
            f"<title>{html.escape(label_a)}: {drift.importance_a[j]:.4g}</title></rect>"
            f"<rect class='b' x='{label_w}' y='{y + 12}' width='{rb * bar_w:.1f}' height='11'>"
            f"<title>{html.escape(label_b)}: {drift.importance_b[j]:.4g}</title></rect>"
        )
    parts.append(
        f"<text x='{label_w}' y='12' font-size='11'>0</text>"
        f"<text x='{label_w + bar_w}' y='12' font-size='11' text-anchor='end'>"
        "largest importance of each model = 1</text></svg>"
    )
    return "".join(parts)


def drift_card(
    title: str,
    label_a: str,
    label_b: str,
    drift: Drift,
    method: str,
    row_text: Sequence[str] = (),
) -> str:
    """The card: the drift figures, the importance bars with a legend, the features whose local
    attributions shifted, and the rows whose explanation changed most."""
    e = html.escape
    verdict = (
        "the same top features"
        if drift.jaccard == 1.0
        else f"{len(set(drift.top_a) ^ set(drift.top_b))} of the top features differ"
    )
    summary = [
        ("rows explained (the same for both)", f"{drift.n_rows}"),
        ("features compared", f"{len(drift.features)}"),
        ("Spearman correlation of global importance", f"{drift.spearman:.3f}"),
        (f"top-{drift.top_k} overlap (Jaccard)", f"{drift.jaccard:.3f} ({verdict})"),
        ("drift score (1 − Jaccard)", f"{drift.score:.3f}"),
        ("features with shifted attributions (KS, Holm p < 0.05)", f"{drift.n_shifted}"),
    ]
    shifted = [s for s in drift.shifts if s.shifted][:20]
    shift_rows = "".join(
        f"<tr><td>{e(s.feature)}</td><td class='n'>{s.importance_a:.4g}</td>"
        f"<td class='n'>{s.importance_b:.4g}</td><td class='n'>{s.ks:.3f}</td>"
        f"<td class='n'>{s.p_adjusted:.2g}</td></tr>"
        for s in shifted
    )
    changed = "".join(
        f"<tr><td class='n'>{r}</td><td class='n'>{d:.3f}</td>"
        f"<td>{e(row_text[r][:160]) if r < len(row_text) else ''}</td></tr>"
        for r, d in drift.changed_rows
    )
    return "\n".join(
        [
            f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title>"
            f"<style>{_STYLE}</style></head><body><h1>{e(title)}</h1>",
            f"<p><span class='sw' style='background:#1f77b4'></span>A = {e(label_a)} "
            f"<span class='sw' style='background:#ff7f0e'></span>B = {e(label_b)} · "
            f"attributions: {e(method)}</p>",
            "<table>"
            + "".join(f"<tr><td>{e(k)}</td><td class='n'>{e(v)}</td></tr>" for k, v in summary)
            + "</table>",
            "<h2>Global importance (mean |attribution|)</h2>",
            _bars(drift, label_a, label_b),
            "<h2>Features whose local attributions shifted</h2>",
            (
                "<table><tr><th>feature</th><th>importance A</th><th>importance B</th>"
                f"<th>KS</th><th>Holm p</th></tr>{shift_rows}</table>"
                if shift_rows
                else "<p>None at the 5% family-wise level.</p>"
            ),
            "<h2>Rows whose explanation changed most</h2>",
            "<table><tr><th>row</th><th>L1 distance (unit-norm attributions, 0–2)</th>"
            f"<th>row</th></tr>{changed}</table>",
            "<p class='note'>Global importance is each feature's mean absolute attribution over "
            "the rows; the shift test compares a feature's attributions under A and B "
            "(two-sample Kolmogorov–Smirnov, Holm-adjusted over all features).</p>",
            "</body></html>",
        ]
    )
