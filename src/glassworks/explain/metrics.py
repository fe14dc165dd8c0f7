"""Faithfulness of token attributions: deletion and insertion curves (Petsiuk et al. 2018, RISE),
comprehensiveness and sufficiency at top-k% tokens (DeYoung et al. 2020, ERASER).

What a "removed" token becomes is the metric's ``replacement``, and it matters: scoring with the
very embedding an explainer integrates from (IG, occlusion and LIME start from ``pad``) favours
that explainer. So every score is computed under several replacements:

- ``pad`` / ``mask`` / ``random``: the token's embedding is replaced by the [PAD] embedding, the
  [MASK] embedding ([UNK] where the tokenizer has no mask token), or the embedding of a uniformly
  drawn non-special vocabulary token (seeded; one draw per text and position, shared by every
  explainer so that their scores stay paired). Length and positions never change.
- ``remove``: the tokens are deleted from the sequence and the rest shift left (the model adds
  positions itself; the attention mask shrinks), as ERASER does. Ids are dropped, not detokenised
  and re-tokenised (which would re-split word pieces). Only for models whose output does not
  depend on right padding (:func:`padding_invariant` checks it), e.g. Hugging Face BERT (MiniLM).

Scores are the target class's probability. Per-text scores are summarised over texts by a
bootstrap interval (:mod:`glassworks.stats`); :func:`compare_explainers` names a winner only when
the paired interval of its difference to the runner-up excludes 0.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch

from glassworks.stats import NO_DIFFERENCE, bootstrap_metric_ci, paired_difference

if TYPE_CHECKING:
    from glassworks.explain.text import EncodedTexts

EmbeddingForward = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Replacement = Literal["pad", "mask", "random", "remove"]
REPLACEMENTS: tuple[str, ...] = ("pad", "mask", "random", "remove")

LOWER_IS_BETTER = ("deletion_auc", "sufficiency")
"""Metrics where a smaller value means a more faithful explainer (the others: larger)."""


@dataclass(frozen=True)
class Faithfulness:
    """Curves and scores for one text (probabilities of the target class)."""

    fractions: np.ndarray
    deletion: np.ndarray
    insertion: np.ndarray
    ks: tuple[float, ...]
    comprehensiveness: np.ndarray
    sufficiency: np.ndarray

    @property
    def deletion_auc(self) -> float:
        """Area under the deletion curve (lower = more faithful)."""
        return float(np.trapezoid(self.deletion, self.fractions))

    @property
    def insertion_auc(self) -> float:
        """Area under the insertion curve (higher = more faithful)."""
        return float(np.trapezoid(self.insertion, self.fractions))


def _keep_masks(order: np.ndarray, counts: Sequence[int], length: int, delete: bool) -> np.ndarray:
    """One row per count: True where a token keeps its embedding."""
    rows = (
        np.ones((len(counts), length), dtype=bool)
        if delete
        else np.zeros((len(counts), length), dtype=bool)
    )
    for r, c in enumerate(counts):
        rows[r, order[:c]] = not delete
    return rows


def removed_batch(
    embeds: torch.Tensor, attention_mask: torch.Tensor, keep: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Delete the tokens where ``keep`` (``(R, L)`` bool) is False: each row's kept tokens are
    packed to the left (positions shift) and right-padded; the attention mask shrinks."""
    keep = keep & attention_mask.bool().unsqueeze(0)
    rows, length = keep.shape
    out = torch.zeros(rows, length, embeds.shape[-1], dtype=embeds.dtype, device=embeds.device)
    mask = torch.zeros(rows, length, dtype=attention_mask.dtype, device=embeds.device)
    for r in range(rows):
        idx = keep[r].nonzero().squeeze(1)
        out[r, : len(idx)] = embeds[idx]
        mask[r, : len(idx)] = 1
    width = max(1, int(mask.sum(1).max()))
    return out[:, :width], mask[:, :width]


def faithfulness(
    forward: EmbeddingForward,
    embeds: torch.Tensor,
    baseline: torch.Tensor | Literal["remove"],
    attention_mask: torch.Tensor,
    scores: torch.Tensor,
    candidates: torch.Tensor,
    target: int,
    n_fractions: int = 11,
    ks: Sequence[float] = (0.1, 0.2, 0.5),
) -> Faithfulness:
    """Deletion/insertion curves and ERASER scores for one text, in one batched forward.

    ``embeds``: ``(L, D)``; ``baseline``: the replacement embeddings ``(L, D)`` (see
    :func:`replacement_embeddings`) or ``"remove"`` to delete tokens; ``attention_mask``: ``(L,)``;
    ``scores``: ``(L,)`` token attributions (higher = more evidence for ``target``);
    ``candidates``: ``(L,)`` bool, the tokens that may be removed (not padding, not special
    tokens). Ties are broken by position.
    """
    cand = np.flatnonzero(candidates.cpu().numpy())
    n = len(cand)
    s = scores.detach().cpu().double().numpy()[cand]
    order = cand[np.lexsort((cand, -s))]
    fractions = np.linspace(0.0, 1.0, n_fractions)
    counts = [int(round(f * n)) for f in fractions]
    top = [max(1, int(np.ceil(k * n))) if n else 0 for k in ks]
    length = embeds.shape[0]
    keep = np.concatenate(
        [
            _keep_masks(order, counts, length, delete=True),  # deletion curve
            _keep_masks(order, counts, length, delete=False),  # insertion curve
            _keep_masks(order, top, length, delete=True),  # comprehensiveness
            _keep_masks(order, top, length, delete=False),  # sufficiency
        ]
    )
    not_cand = np.ones(length, dtype=bool)
    not_cand[cand] = False
    keep |= not_cand  # special tokens and padding never move
    keep_t = torch.as_tensor(keep, device=embeds.device)
    if isinstance(baseline, str):
        if baseline != "remove":
            raise ValueError(
                f"baseline: a tensor of replacement embeddings or 'remove', not {baseline!r}"
            )
        batch, masks = removed_batch(embeds, attention_mask, keep_t)
    else:
        batch = torch.where(keep_t.unsqueeze(-1), embeds.unsqueeze(0), baseline.unsqueeze(0))
        masks = attention_mask.unsqueeze(0).expand(len(keep), -1)
    with torch.no_grad():
        probs = torch.softmax(forward(batch, masks).double(), -1)[:, target].cpu().numpy()
        full = float(
            torch.softmax(forward(embeds.unsqueeze(0), attention_mask.unsqueeze(0)).double(), -1)[
                0, target
            ]
        )
    m = len(counts)
    d, i = probs[:m], probs[m : 2 * m]
    comp = full - probs[2 * m : 2 * m + len(top)]
    suff = full - probs[2 * m + len(top) :]
    return Faithfulness(fractions, d, i, tuple(ks), comp, suff)


def replacement_token_ids(
    tokenizer: Any,
    input_ids: torch.Tensor,
    kind: Replacement,
    seed: int = 0,
) -> torch.Tensor:
    """``(B, L)`` ids that replace each token under ``kind`` (``pad``, ``mask`` or ``random``).

    ``mask`` is [MASK] where the tokenizer has one, else [UNK]; ``random`` draws uniformly from the
    vocabulary without the tokenizer's special tokens, seeded (the same ids for every explainer).
    """
    if kind == "pad":
        tid = tokenizer.pad_token_id
        if tid is None:
            raise ValueError("replacement 'pad': the tokenizer has no pad token")
        return torch.full_like(input_ids, tid)
    if kind == "mask":
        tid = tokenizer.mask_token_id
        tid = tokenizer.unk_token_id if tid is None else tid
        if tid is None:
            raise ValueError(
                "replacement 'mask': the tokenizer has neither a mask nor an unk token"
            )
        return torch.full_like(input_ids, tid)
    if kind == "random":
        allowed = torch.ones(len(tokenizer), dtype=torch.bool)
        allowed[[i for i in set(tokenizer.all_special_ids) if i is not None]] = False
        pool = allowed.nonzero().squeeze(1)
        gen = torch.Generator().manual_seed(seed)
        draw = torch.randint(len(pool), tuple(input_ids.shape), generator=gen)
        return pool[draw].to(input_ids.device)
    raise ValueError(f"replacement {kind!r} has no token ids (known: pad, mask, random; remove)")


def replacement_embeddings(
    model: Any,
    tokenizer: Any,
    input_ids: torch.Tensor,
    embeds: torch.Tensor,
    candidates: torch.Tensor,
    kind: Replacement,
    seed: int = 0,
) -> torch.Tensor:
    """``(B, L, D)`` embeddings a removed token takes under ``kind``; tokens that are not
    ``candidates`` (special tokens, padding) keep their own embedding."""
    ids = replacement_token_ids(tokenizer, input_ids, kind, seed)
    with torch.no_grad():
        fill = model.get_input_embeddings()(ids).to(embeds)
    return torch.where(candidates.unsqueeze(-1), fill, embeds)


def padding_invariant(
    forward: EmbeddingForward,
    embeds: torch.Tensor,
    attention_mask: torch.Tensor,
    atol: float = 1e-4,
) -> bool:
    """Whether the model ignores right padding (a precondition of ``remove``): the outputs of a
    text with a short prefix kept must match, alone and right-padded to the full length."""
    n = int(attention_mask.sum())
    k = max(1, n // 2)
    pad_mask = attention_mask.clone()
    pad_mask[k:] = 0
    with torch.no_grad():
        alone = forward(embeds[:k].unsqueeze(0), attention_mask[:k].unsqueeze(0))
        padded = forward(embeds.unsqueeze(0), pad_mask.unsqueeze(0))
    return bool(torch.allclose(alone.double(), padded.double(), atol=atol, rtol=1e-4))


def per_text_scores(results: Sequence[Faithfulness]) -> dict[str, np.ndarray]:
    """``{metric: (n_texts,) values}``: deletion/insertion AUC, comprehensiveness/sufficiency per
    k (named ``comprehensiveness_<pct>``)."""
    out = {
        "deletion_auc": np.array([r.deletion_auc for r in results]),
        "insertion_auc": np.array([r.insertion_auc for r in results]),
    }
    for j, k in enumerate(results[0].ks):
        pct = int(round(100 * k))
        out[f"comprehensiveness_{pct}"] = np.array([r.comprehensiveness[j] for r in results])
        out[f"sufficiency_{pct}"] = np.array([r.sufficiency[j] for r in results])
    return out


def summarize(results: Sequence[Faithfulness]) -> dict[str, float]:
    """Means over texts: deletion/insertion AUC, comprehensiveness/sufficiency per k."""
    return {m: float(v.mean()) for m, v in per_text_scores(results).items()}


def summarize_with_ci(results: Sequence[Faithfulness], seed: int = 0) -> dict[str, dict[str, Any]]:
    """Per metric: mean, sd over texts and the 95% bootstrap interval of the mean over texts."""
    return {
        m: bootstrap_metric_ci(v, seed=seed).as_dict() for m, v in per_text_scores(results).items()
    }


def lower_is_better(metric: str) -> bool:
    """Deletion AUC and sufficiency: smaller is more faithful."""
    return metric.startswith(LOWER_IS_BETTER)


def compare_explainers(
    per_text: Mapping[str, Mapping[str, np.ndarray]], seed: int = 0
) -> dict[str, dict[str, Any]]:
    """Per metric: the explainers ranked by mean, and whether the best one *wins*.

    ``per_text``: ``{explainer: {metric: (n_texts,) scores}}`` on the same texts. The best
    explainer wins only when the paired bootstrap interval over texts of its difference to the
    runner-up excludes 0 (:func:`glassworks.stats.paired_difference`); otherwise the result is
    "no significant difference".
    """
    names = list(per_text)
    metrics = list(next(iter(per_text.values()))) if names else []
    out: dict[str, dict[str, Any]] = {}
    for metric in metrics:
        low = lower_is_better(metric)
        means = {m: float(np.mean(per_text[m][metric])) for m in names}
        ranking = sorted(names, key=lambda m: (means[m] if low else -means[m], m))
        row: dict[str, Any] = {
            "better": "lower" if low else "higher",
            "ranking": ranking,
            "means": means,
        }
        if len(ranking) < 2:
            row |= {"winner": None, "result": NO_DIFFERENCE, "reason": "one explainer"}
            out[metric] = row
            continue
        best, second = ranking[0], ranking[1]
        diff = paired_difference(
            per_text[best][metric], per_text[second][metric], names=(best, second), seed=seed
        )
        d = diff.diff
        significant = d.n > 1 and (d.hi < 0.0 if low else d.lo > 0.0)
        row |= {
            "best": best,
            "runner_up": second,
            "difference": diff.as_dict(),
            "winner": best if significant else None,
            "result": f"{best} wins" if significant else NO_DIFFERENCE,
        }
        out[metric] = row
    return out


@dataclass(frozen=True)
class ReplacementStudy:
    """Faithfulness of several explainers under several replacements, on the same texts.

    ``results[replacement][explainer]``: one :class:`Faithfulness` per text; ``skipped``: the
    replacements not run, with the reason; ``tokens``: the token each replacement puts in.
    """

    results: dict[str, dict[str, list[Faithfulness]]]
    skipped: dict[str, str]
    tokens: dict[str, str]
    seconds: float

    def per_text(self, replacement: str) -> dict[str, dict[str, np.ndarray]]:
        """``{explainer: {metric: (n_texts,) scores}}`` under one replacement."""
        return {m: per_text_scores(r) for m, r in self.results[replacement].items()}

    def summary(self, seed: int = 0) -> dict[str, Any]:
        """JSON-ready: per replacement x explainer x metric the mean, sd and 95% bootstrap
        interval over texts, and per replacement x metric which explainer wins (if any)."""
        return {
            "replacements": list(self.results),
            "skipped": dict(self.skipped),
            "replacement_tokens": dict(self.tokens),
            "n_texts": len(next(iter(next(iter(self.results.values())).values())))
            if self.results
            else 0,
            "scores": {
                rep: {m: summarize_with_ci(r, seed) for m, r in by_m.items()}
                for rep, by_m in self.results.items()
            },
            "comparison": {
                rep: compare_explainers(self.per_text(rep), seed) for rep in self.results
            },
        }

    def table(self) -> list[dict[str, Any]]:
        """One row per replacement x metric: best explainer, runner-up, paired difference and
        the verdict ("<explainer> wins" or "no significant difference")."""
        rows = []
        for rep in self.results:
            for metric, c in compare_explainers(self.per_text(rep)).items():
                diff = c.get("difference", {}).get("difference", {})
                lo, hi = diff.get("ci95", [float("nan"), float("nan")])
                rows.append(
                    {
                        "replacement": rep,
                        "metric": metric,
                        "better": c["better"],
                        "best": c.get("best"),
                        "runner_up": c.get("runner_up"),
                        "difference": diff.get("mean"),
                        "ci95_lo": lo,
                        "ci95_hi": hi,
                        "result": c["result"],
                    }
                )
        return rows


def faithfulness_by_replacement(
    model: Any,
    tokenizer: Any,
    enc: EncodedTexts,
    scores: Mapping[str, torch.Tensor],
    target: torch.Tensor,
    replacements: Sequence[str] = ("pad", "mask", "random"),
    n_fractions: int = 11,
    ks: Sequence[float] = (0.1, 0.2, 0.5),
    seed: int = 0,
    known: Mapping[str, Mapping[str, list[Faithfulness]]] | None = None,
) -> ReplacementStudy:
    """Deletion, insertion (Petsiuk et al. 2018) and ERASER comprehensiveness / sufficiency
    (DeYoung et al. 2020) of every explainer's token ``scores`` ``(B, L)`` under each of
    ``replacements``. ``remove`` is skipped, with the reason recorded, when the model is not
    invariant to right padding (its shortened sequences would then be scored wrongly).
    ``known``: results already computed for a replacement (e.g. ``pad`` when the explainers'
    baseline is ``pad``, same ``ks`` and ``n_fractions``), reused instead of recomputed."""
    import time

    start = time.perf_counter()
    results: dict[str, dict[str, list[Faithfulness]]] = {}
    skipped: dict[str, str] = {}
    tokens: dict[str, str] = {}
    for rep in replacements:
        if rep not in REPLACEMENTS:
            raise ValueError(f"unknown replacement {rep!r} (known: {', '.join(REPLACEMENTS)})")
        if known and rep in known and set(known[rep]) == set(scores):
            results[rep] = {m: list(known[rep][m]) for m in scores}
            ids = replacement_token_ids(tokenizer, enc.input_ids[:1, :1], rep, seed)  # type: ignore[arg-type]
            tokens[rep] = str(tokenizer.convert_ids_to_tokens(int(ids[0, 0])))
            continue
        if rep == "remove":
            rows = [i for i, n in enumerate(enc.lengths) if n > 1]
            if not all(
                padding_invariant(enc.forward, enc.embeds[i], enc.attention_mask[i]) for i in rows
            ):
                skipped[rep] = (
                    "the model's output changes with right padding, so deleting tokens (and "
                    "padding the shorter sequences) cannot be scored faithfully"
                )
                continue
            base: list[torch.Tensor | Literal["remove"]] = ["remove"] * len(enc.lengths)
            tokens[rep] = "(deleted; later tokens shift left)"
        else:
            fill = replacement_embeddings(
                model,
                tokenizer,
                enc.input_ids,
                enc.embeds,
                enc.candidates,
                rep,
                seed,  # type: ignore[arg-type]
            )
            base = list(fill)
            ids = replacement_token_ids(tokenizer, enc.input_ids[:1, :1], rep, seed)  # type: ignore[arg-type]
            tokens[rep] = (
                "uniform over non-special vocabulary tokens (seeded)"
                if rep == "random"
                else str(tokenizer.convert_ids_to_tokens(int(ids[0, 0])))
            )
        results[rep] = {
            m: [
                faithfulness(
                    enc.forward,
                    enc.embeds[i],
                    base[i],
                    enc.attention_mask[i],
                    s[i],
                    enc.candidates[i],
                    int(target[i]),
                    n_fractions,
                    ks,
                )
                for i in range(len(enc.lengths))
            ]
            for m, s in scores.items()
        }
    return ReplacementStudy(results, skipped, tokens, time.perf_counter() - start)


def mean_curves(results: Sequence[Faithfulness]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fractions and the mean deletion and insertion curves over texts."""
    return (
        results[0].fractions,
        np.mean([r.deletion for r in results], 0),
        np.mean([r.insertion for r in results], 0),
    )
