"""Self-contained HTML with per-token highlights; every piece of text is escaped.

The pages cannot be spoofed by the text they show: each token is a bidi isolate (an unclosed
U+202E in one token cannot reverse the tokens after it) that may wrap anywhere (a 10,000-character
token cannot widen the page); there is no script and nothing is fetched. Each page carries a
numeric colour scale, and special tokens ([CLS], [SEP], padding) are not shown.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

POSITIVE_RGB = "39,174,96"
"""Green: the token raises the explained output."""
NEGATIVE_RGB = "192,57,43"
"""Red: the token lowers the explained output."""
MAX_ALPHA = 0.85
SPECIAL_TOKENS: frozenset[str] = frozenset({"[CLS]", "[SEP]", "[PAD]", "<s>", "</s>", "<pad>"})
"""Tokens hidden from the pages by default (they carry no text; path methods give them 0)."""

_STYLE = f"""
body{{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222;
overflow-wrap:anywhere;word-break:break-word}}
h1,p,.meta{{unicode-bidi:isolate}}
.ex{{border:1px solid #ddd;border-radius:6px;padding:.8em 1em;margin:1em 0;max-width:100%;
box-sizing:border-box}}
.meta{{color:#555;font-size:.9em;margin-bottom:.4em}}
.num{{font-variant-numeric:tabular-nums}}
.text{{direction:ltr;unicode-bidi:isolate;line-height:1.9;max-width:100%}}
.tok{{padding:1px 2px;border-radius:3px;unicode-bidi:isolate;overflow-wrap:anywhere;
word-break:break-word;max-width:100%}}
.legend{{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;margin:1em 0;font-size:.9em}}
.bar{{width:18em;max-width:100%;height:.9em;border:1px solid #bbb;margin:.3em 0 .1em;
background:linear-gradient(to right,rgba({NEGATIVE_RGB},{MAX_ALPHA}),
rgba({NEGATIVE_RGB},0) 50%,rgba({POSITIVE_RGB},0) 50%,rgba({POSITIVE_RGB},{MAX_ALPHA}))}}
.ticks{{display:grid;grid-template-columns:1fr 1fr 1fr;width:18em;max-width:100%;font-size:.85em}}
.ticks span:nth-child(2){{text-align:center}}.ticks span:nth-child(3){{text-align:right}}
table{{border-collapse:collapse;font-size:.85em;margin-top:.5em;max-width:100%}}
td,th{{padding:2px 8px;border-bottom:1px solid #eee;text-align:left;unicode-bidi:isolate;
overflow-wrap:anywhere}}
"""

_MEANING = (
    "green: the token raises the explained output (the predicted class's score); red: it lowers "
    "it; white: no effect. Stronger colour = larger |score| (hover a token for its value)."
)


@dataclass(frozen=True)
class Completeness:
    """The attributions' sum against the output change they must add up to."""

    attribution_sum: float
    output_gap: float
    reference: str = "f(x) − f(baseline)"
    """What ``output_gap`` is (Expected Gradients: f(x) − mean f(baselines))."""

    @property
    def gap(self) -> float:
        """``attribution_sum - output_gap`` (0 for a complete attribution)."""
        return self.attribution_sum - self.output_gap


@dataclass(frozen=True)
class Highlighted:
    """One explained text: tokens with scores, and a caption."""

    tokens: Sequence[str]
    scores: Sequence[float]
    caption: str
    details: Sequence[tuple[str, float]] = ()
    """Optional rows (e.g. each n-gram and its contribution) listed under the text."""
    prediction: tuple[str, float] | None = None
    """The model's prediction: (label, probability)."""
    completeness: Completeness | None = None
    hidden: Sequence[bool] | None = None
    """Tokens not shown; by default those named in :data:`SPECIAL_TOKENS`."""
    words: Sequence[int | None] | None = None
    """Each token's word index (a fast tokenizer's ``word_ids``): the pieces of one word are shown
    as that word; None: WordPiece's ``##`` continuation pieces join the token before."""
    group: str | None = None
    """The explainer's name: a page with several shows one explainer at a time, chosen by a
    toggle at the top (the first group by default)."""

    def _hidden(self) -> list[bool]:
        hidden = [t in SPECIAL_TOKENS for t in self.tokens] if self.hidden is None else self.hidden
        if len(hidden) != len(self.tokens):
            raise ValueError(f"hidden has {len(hidden)} flags for {len(self.tokens)} tokens")
        return list(hidden)

    @property
    def n_hidden(self) -> int:
        """How many tokens the page leaves out (special tokens)."""
        return sum(self._hidden())

    def shown(self) -> list[tuple[str, float]]:
        """The (word, score) pairs the page shows: special tokens left out, word pieces merged
        into their word (``thrill ##s`` -> ``thrills``) with their scores summed, so the shown
        scores still add up to the attribution total."""
        if self.words is not None and len(self.words) != len(self.tokens):
            raise ValueError(f"words has {len(self.words)} ids for {len(self.tokens)} tokens")
        out: list[tuple[str, float]] = []
        last_word: int | None = None
        pairs = zip(self.tokens, self.scores, self._hidden(), strict=True)
        for i, (token, score, hidden) in enumerate(pairs):
            if hidden:
                last_word = None
                continue
            word = self.words[i] if self.words is not None else None
            piece = token.startswith("##") and len(token) > 2
            joins = out and (
                (word is not None and word == last_word) or (self.words is None and piece)
            )
            text = token[2:] if piece else token
            if joins:
                prev, total = out[-1]
                out[-1] = (prev + text, total + float(score))
            else:
                out.append((text, float(score)))
            last_word = word
        return out


@dataclass(frozen=True)
class ColourScale:
    """Scores map to colours linearly up to ``limit`` (saturated beyond); ``low``/``high`` are
    the smallest and largest scores shown."""

    limit: float
    low: float
    high: float

    @classmethod
    def of(cls, items: Sequence[Highlighted]) -> ColourScale:
        """The page's scale: symmetric, saturating at the largest |score| shown."""
        finite = [float(s) for it in items for _, s in it.shown() if math.isfinite(s)]
        if not finite:
            return cls(1.0, 0.0, 0.0)
        limit = max(abs(s) for s in finite) or 1.0
        return cls(limit, min(finite), max(finite))

    def color(self, score: float) -> str:
        """CSS colour of ``score``: green above 0, red below, alpha ~ |score| / limit."""
        if not math.isfinite(score):
            return "rgba(0,0,0,0)"
        a = min(abs(score) / self.limit, 1.0) if self.limit > 0 else 0.0
        rgb = POSITIVE_RGB if score >= 0 else NEGATIVE_RGB
        return f"rgba({rgb},{a * MAX_ALPHA:.3f})"


def _num(v: float) -> str:
    return f"{v:+.4g}" if v else "0"


def legend(scale: ColourScale, meaning: str = _MEANING, n_hidden: int = 0) -> str:
    """The colour legend: a gradient bar labelled −limit / 0 / +limit, the range of the scores
    shown and what the colours mean."""
    hidden = (
        f" {n_hidden} special tokens ({', '.join(sorted(SPECIAL_TOKENS))} and the like) are not "
        "shown."
        if n_hidden
        else ""
    )
    return (
        "<div class='legend'><div>Colour scale (token attribution)</div>"
        "<div class='bar' title='colour scale'></div>"
        f"<div class='ticks num'><span>{_num(-scale.limit)}</span><span>0</span>"
        f"<span>{_num(scale.limit)}</span></div>"
        f"<div class='meta num'>scores shown range from {_num(scale.low)} to "
        f"{_num(scale.high)}; the colour saturates at |score| = {scale.limit:.4g}.</div>"
        f"<div>{html.escape(meaning)}{html.escape(hidden)}</div></div>"
    )


def _prediction_line(it: Highlighted) -> str:
    parts = []
    if it.prediction is not None:
        label, p = it.prediction
        parts.append(
            f"prediction: <span class='label'>{html.escape(str(label))}</span> "
            f"<span class='num'>(p = {p:.3f})</span>"
        )
    if it.completeness is not None:
        c = it.completeness
        ok = c.output_gap != 0 and math.isfinite(c.gap)
        rel = f", relative {abs(c.gap) / abs(c.output_gap):.1e}" if ok else ""
        parts.append(
            f"completeness: <span class='num'>Σ attributions = {c.attribution_sum:+.4f} · "
            f"{html.escape(c.reference)} = {c.output_gap:+.4f} · gap {c.gap:+.2e}{rel}</span>"
        )
    return f"<div class='meta'>{' · '.join(parts)}</div>" if parts else ""


def highlight_page(
    title: str, items: Sequence[Highlighted], note: str = "", meaning: str = _MEANING
) -> str:
    """An HTML page: green = pushes towards the explained output, red = away from it; with a
    numeric colour legend, each item's prediction and completeness when given."""
    scale = ColourScale.of(items)
    n_hidden = sum(it.n_hidden for it in items)
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title><style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
    ]
    if note:
        parts.append(f"<p>{html.escape(note)}</p>")
    parts.append(legend(scale, meaning, n_hidden))
    groups = list(dict.fromkeys(it.group for it in items if it.group))
    toggle = len(groups) > 1
    if toggle:
        parts.append(_toggle(groups))
    for it in items:
        spans = " ".join(
            f"<span class='tok' style='background:{scale.color(s)}' "
            f"title='{float(s):+.4g}'>{html.escape(t)}</span>"
            for t, s in it.shown()
        )
        rows = "".join(
            f"<tr><td>{html.escape(k)}</td><td>{v:+.4f}</td></tr>" for k, v in it.details
        )
        table = (
            f"<table><tr><th>n-gram</th><th>contribution</th></tr>{rows}</table>" if rows else ""
        )
        group = f" g-{groups.index(it.group)}" if toggle and it.group in groups else ""
        parts.append(
            f"<div class='ex{group}'><div class='meta'>{html.escape(it.caption)}</div>"
            f"{_prediction_line(it)}<div class='text'>{spans}</div>{table}</div>"
        )
    parts.append("</body></html>")
    return "\n".join(parts)


def _toggle(groups: Sequence[str]) -> str:
    """Radio buttons and the CSS that shows only the chosen explainer's items: no script (the
    cards show this page in a sandboxed frame, where scripts do not run). The inputs precede the
    items as their siblings, so ``:checked ~ .g-<i>`` selects them; ids are indices, never the
    (escaped) names."""
    rules = ["div.ex[class*=' g-']{display:none}"]
    rules += [f"#show-{i}:checked~div.ex.g-{i}{{display:block}}" for i in range(len(groups))]
    rules.append("#show-all:checked~div.ex{display:block}")
    buttons = [
        f"<input type='radio' name='show' id='show-{i}'{' checked' if i == 0 else ''}>"
        f"<label for='show-{i}'>{html.escape(g)}</label> "
        for i, g in enumerate(groups)
    ]
    buttons.append(
        "<input type='radio' name='show' id='show-all'><label for='show-all'>all</label>"
    )
    return f"<style>{''.join(rules)}</style><span class='meta'>explainer: </span>" + "".join(
        buttons
    )


def text_plot(tokens: Sequence[str], scores: Sequence[float], title: str, caption: str = "") -> str:
    """path_explain's ``text_plot`` as a self-contained HTML page: tokens highlighted by signed
    score, colour centred at zero, with a legend."""
    return highlight_page(title, [Highlighted(tokens, scores, caption)])
