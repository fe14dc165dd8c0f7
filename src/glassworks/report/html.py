"""Self-contained HTML with per-token highlights; every piece of text is escaped."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;color:#222}
.ex{border:1px solid #ddd;border-radius:6px;padding:.8em 1em;margin:1em 0}
.meta{color:#555;font-size:.9em;margin-bottom:.4em}
.tok{padding:1px 2px;border-radius:3px}
table{border-collapse:collapse;font-size:.85em;margin-top:.5em}
td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:left}
"""


@dataclass(frozen=True)
class Highlighted:
    """One explained text: tokens with scores, and a caption."""

    tokens: Sequence[str]
    scores: Sequence[float]
    caption: str
    details: Sequence[tuple[str, float]] = ()
    """Optional rows (e.g. each n-gram and its contribution) listed under the text."""


def _color(score: float, scale: float) -> str:
    a = min(abs(score) / scale, 1.0) if scale > 0 else 0.0
    rgb = "39,174,96" if score >= 0 else "192,57,43"
    return f"rgba({rgb},{a * 0.85:.3f})"


def highlight_page(title: str, items: Sequence[Highlighted], note: str = "") -> str:
    """An HTML page: green = pushes towards the explained output, red = away from it."""
    scale = max((abs(s) for it in items for s in it.scores), default=1.0) or 1.0
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title><style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
    ]
    if note:
        parts.append(f"<p>{html.escape(note)}</p>")
    for it in items:
        spans = " ".join(
            f"<span class='tok' style='background:{_color(s, scale)}' "
            f"title='{s:+.4f}'>{html.escape(t)}</span>"
            for t, s in zip(it.tokens, it.scores, strict=True)
        )
        rows = "".join(
            f"<tr><td>{html.escape(k)}</td><td>{v:+.4f}</td></tr>" for k, v in it.details
        )
        table = (
            f"<table><tr><th>n-gram</th><th>contribution</th></tr>{rows}</table>" if rows else ""
        )
        parts.append(
            f"<div class='ex'><div class='meta'>{html.escape(it.caption)}</div>"
            f"<div>{spans}</div>{table}</div>"
        )
    parts.append("</body></html>")
    return "\n".join(parts)


def text_plot(tokens: Sequence[str], scores: Sequence[float], title: str, caption: str = "") -> str:
    """path_explain's ``text_plot`` as a self-contained HTML page: tokens highlighted by signed
    score, colour centred at zero, with a legend."""
    note = (
        "Legend: green = raises the explained output, red = lowers it; stronger colour = "
        "larger |score| (hover a token for its value)."
    )
    return highlight_page(title, [Highlighted(tokens, scores, caption)], note)
