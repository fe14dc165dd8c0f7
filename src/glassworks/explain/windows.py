"""Whole long texts through a fixed-length model: overlapping sliding windows, and token
attributions stitched across them.

A text longer than ``max_length`` tokens is read as windows of ``max_length`` tokens (special
tokens included) whose first content tokens lie ``step`` tokens apart, so consecutive windows
share ``max_length - special - step`` tokens (Hugging Face's overflowing tokens; the way BERT
reads long SQuAD contexts, Devlin et al. 2019). The text's logits are the *mean* (or the *sum*)
of its windows' logits. Integrated Gradients is linear in the function explained, so a token's
score for that mean is the mean, over the text's windows, of its score in each window (0 in
windows that do not hold it; the sum for a sum): the stitched scores add up to the text's pooled
logit gap exactly, up to the quadrature error of each window. An ordinal (CORAL) head pools its
windows' scores (its thresholds count once); for it the stitched scores explain the pooled
ordinal score, which raises every cumulative logit alike (how much each token lifts the text's
grade).
Where windows overlap, a token has one score per window; how well those agree (Spearman's rho,
sign agreement) says how much its score depends on the context a window cuts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from scipy.stats import spearmanr

from glassworks.explain.paths import Target, as_target
from glassworks.explain.text import (
    Baseline,
    EncodedTexts,
    encode_ids,
    integrated_gradients_tokens,
)


@dataclass(frozen=True)
class Windows:
    """Texts cut into windows: each window's token ids (special tokens included), the text it
    comes from (``owner``, ascending) and its first content token's position in that text
    (``start``: special tokens not counted); ``added``: per window, 1 at the tokens the
    tokenizer added ([CLS], [SEP]; not [UNK], which stands for text)."""

    input_ids: list[list[int]]
    owner: np.ndarray
    start: np.ndarray
    added: list[list[int]] = field(default_factory=list)

    def counts(self, n_texts: int) -> np.ndarray:
        """Windows per text."""
        return np.bincount(self.owner, minlength=n_texts)

    def pool(self, values: np.ndarray, n_texts: int, how: str = "mean") -> np.ndarray:
        """Per-text mean (or sum) of per-window ``values`` (first axis: windows)."""
        out = np.zeros((n_texts, *values.shape[1:]), dtype=np.float64)
        np.add.at(out, self.owner, values)
        if how == "sum":
            return out
        return out / self.counts(n_texts).reshape(-1, *([1] * (values.ndim - 1)))


def window_capacity(tokenizer: Any, max_length: int) -> int:
    """Content tokens one window holds: ``max_length`` minus the tokenizer's special tokens."""
    return max_length - int(tokenizer.num_special_tokens_to_add())


def sliding_windows(tokenizer: Any, texts: Sequence[str], max_length: int, step: int) -> Windows:
    """Cut ``texts`` into windows of at most ``max_length`` tokens starting every ``step``
    content tokens (a fast tokenizer's overflowing tokens); a short text is one window."""
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError("window_stride needs a fast (Rust) tokenizer: it cuts windows")
    capacity = window_capacity(tokenizer, max_length)
    if not 1 <= step <= capacity:
        raise ValueError(
            f"window_stride: {step} must be between 1 and {capacity} (max_length {max_length} "
            "minus the special tokens)"
        )
    enc = tokenizer(
        list(texts),
        truncation=True,
        max_length=max_length,
        stride=capacity - step,
        return_overflowing_tokens=True,
        return_special_tokens_mask=True,
        padding=False,
    )
    owner = np.asarray(enc["overflow_to_sample_mapping"], dtype=np.int64)
    # fast tokenizers give every text at least one window, in text order; refuse anything else
    if np.any(np.diff(owner) < 0) or not np.array_equal(np.unique(owner), np.arange(len(texts))):
        raise ValueError("the tokenizer's windows are out of text order or miss a text")
    index = np.arange(len(owner)) - np.searchsorted(owner, owner)
    return Windows(list(enc["input_ids"]), owner, index * step, list(enc["special_tokens_mask"]))


def encode_token_ids(
    model: Any, tokenizer: Any, rows: Sequence[Sequence[int]], baseline: Baseline = "pad"
) -> EncodedTexts:
    """A padded batch of token-id rows at the embedding layer (as
    :func:`~glassworks.explain.text.encode_texts`, for rows already tokenised)."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.as_tensor(list(r), dtype=torch.long)
        mask[i, : len(r)] = 1
    return encode_ids(model, tokenizer, ids, mask, baseline, full_lengths=tuple(map(len, rows)))


class _OrdinalScore:
    """``f(embeddings, attention_mask)``: an ordinal head's score, as one column (the first
    cumulative logit; the others differ from it by constant thresholds)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def __call__(self, embeds: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.model.cumulative_logits(inputs_embeds=embeds, attention_mask=attention_mask)
        return out[:, :1]


@dataclass(frozen=True)
class WindowedExplanation:
    """One text's stitched Integrated Gradients.

    ``tokens``/``scores``: the text's content tokens and their scores for the mean (or sum) of
    its windows' target logits; ``output_gap``: that pool's ``f(x) - f(x')``; ``delta``:
    ``sum(scores) - output_gap``; ``overlap``: the pairs of scores one token got from two
    consecutive windows (``(k, 2)``; empty when no windows overlap)."""

    tokens: list[str]
    scores: np.ndarray
    output_gap: float
    delta: float
    n_windows: int
    target: int
    overlap: np.ndarray


def explain_windows(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    max_length: int,
    step: int,
    target: Target = None,
    baseline: Baseline = "pad",
    n_steps: int = 32,
    batch_size: int = 64,
    pool: str = "mean",
) -> list[WindowedExplanation]:
    """Integrated Gradients of whole ``texts`` through a model read in sliding windows, stitched
    per text (see the module docstring); ``pool``: ``mean`` or ``sum``, as the model pools its
    windows. ``target``: a class per text (default: the class of the highest pooled logit).
    For an ordinal head the scores explain the pooled ordinal score, and ``target`` (required)
    only names the class the model predicted."""
    if pool not in ("mean", "sum"):
        raise ValueError(f"pool: unknown {pool!r}; use mean or sum")
    ordinal = bool(getattr(model, "ordinal", False))
    texts = list(texts)
    win = sliding_windows(tokenizer, texts, max_length, step)
    batches = [
        encode_token_ids(model, tokenizer, win.input_ids[lo : lo + batch_size], baseline)
        for lo in range(0, len(win.input_ids), batch_size)
    ]
    if target is None and ordinal:
        raise ValueError("target: an ordinal head's explanation needs the predicted classes")
    if target is None:
        logits = np.concatenate([enc.logits().double().cpu().numpy() for enc in batches])
        tgt = torch.as_tensor(win.pool(logits, len(texts), pool).argmax(1))
    else:
        t = as_target(target, len(texts), torch.device("cpu"))
        tgt = torch.full((len(texts),), t) if isinstance(t, int) else t.cpu()
    per_window = tgt[torch.as_tensor(win.owner)]
    if ordinal:  # explain the one score column
        batches = [replace(enc, forward=_OrdinalScore(model)) for enc in batches]
        per_window = torch.zeros_like(per_window)
    device = next(model.parameters()).device
    scores: list[tuple[np.ndarray, np.ndarray]] = []
    gaps = []
    for b, enc in enumerate(batches):
        t = per_window[b * batch_size : (b + 1) * batch_size].to(device)
        s, _ = integrated_gradients_tokens(enc, t, n_steps)
        gaps.append(enc.output_gap(t).double().cpu().numpy())
        for i, toks in enumerate(enc.tokens):
            keep = ~np.asarray(win.added[b * batch_size + i], dtype=bool)  # [UNK] stays
            row = s[i, : len(toks)].double().cpu().numpy()
            scores.append((row[keep], np.asarray(toks, dtype=object)[keep]))
    gap = win.pool(np.concatenate(gaps), len(texts), pool)
    return [_stitch(win, i, scores, float(gap[i]), int(tgt[i]), pool) for i in range(len(texts))]


def _stitch(
    win: Windows,
    text: int,
    scores: list[tuple[np.ndarray, np.ndarray]],
    gap: float,
    target: int,
    pool: str,
) -> WindowedExplanation:
    rows = np.flatnonzero(win.owner == text)
    length = max(int(win.start[r]) + len(scores[r][0]) for r in rows)
    total = np.zeros(length)
    tokens = [""] * length
    pairs: list[tuple[float, float]] = []
    for a, r in enumerate(rows):
        s, toks = scores[r]
        lo = int(win.start[r])
        total[lo : lo + len(s)] += s
        tokens[lo : lo + len(s)] = [str(t) for t in toks]
        if a + 1 < len(rows):  # the overlap with the next window, seen from both
            nxt = rows[a + 1]
            n_shared = lo + len(s) - int(win.start[nxt])
            if n_shared > 0:
                pairs += zip(s[len(s) - n_shared :], scores[nxt][0][:n_shared], strict=True)
    stitched = total if pool == "sum" else total / len(rows)
    return WindowedExplanation(
        tokens,
        stitched,
        gap,
        float(stitched.sum() - gap),
        len(rows),
        target,
        np.asarray(pairs, dtype=np.float64).reshape(-1, 2),
    )


def overlap_agreement(explanations: Sequence[WindowedExplanation]) -> dict[str, Any]:
    """How the scores one token got from two overlapping windows agree, over ``explanations``:
    Spearman's rho and the share with the same sign (None without overlapping pairs)."""
    pairs = np.concatenate([e.overlap for e in explanations]) if explanations else np.zeros((0, 2))
    if len(pairs) < 3:
        return {"n_pairs": len(pairs), "spearman": None, "sign_agreement": None}
    rho = spearmanr(pairs[:, 0], pairs[:, 1]).statistic
    return {
        "n_pairs": len(pairs),
        "spearman": float(rho),
        "sign_agreement": float(np.mean(np.sign(pairs[:, 0]) == np.sign(pairs[:, 1]))),
    }
