"""Pair deletion: do the feature *interactions* Integrated Hessians ranks highest matter to the
model? (Janizek, Sturmfels & Lee, "Explaining explanations: axiomatic feature interactions for
deep networks", JMLR 2021.)

For one example and each ``k`` the units (tokens or tabular features) of three sets are replaced by
the baseline, and the score is the drop of the target class's probability, ``p(full) - p(removed)``
(larger = the ranking found what the model relies on):

- ``ih_pairs``: the union of the top-k candidate pairs ``i < j`` ranked by the symmetrised
  off-diagonal interaction ``(Gamma_ij + Gamma_ji) / 2``, descending and signed (pairs that push
  toward the target first), ties by ``(i, j)``. ``m_k`` = the size of that union.
- ``ig_units``: the top ``m_k`` candidate units by Integrated Gradients (ties by position): the
  same number of units, ranked one at a time.
- ``random_pairs``: the mean over ``n_random`` seeded draws of the union of ``k`` distinct random
  candidate pairs.

Every row of one example (the full input, then the ``ih``, ``ig`` and random rows) goes through the
model in one batched forward, as in :mod:`glassworks.explain.metrics`. Per-example drops are
summarised over examples by bootstrap intervals and paired differences (:mod:`glassworks.stats`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from glassworks.stats import paired_difference, summarise

EmbeddingForward = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``(embeds (R, L, D), attention_mask (R, L)) -> logits (R, C)`` (or ``(R, 1)``: one log-odds)."""

METHODS: tuple[str, ...] = ("ih_pairs", "ig_units", "random_pairs")
COMPARISONS: tuple[tuple[str, str], ...] = (("ih_pairs", "ig_units"), ("ih_pairs", "random_pairs"))


@dataclass(frozen=True)
class PairDeletion:
    """Probability drops of one example per method and ``k`` (Janizek et al. 2021 pairs).

    ``drops[method]``: ``(len(ks),)``; ``removed``: ``(len(ks),)`` units the IH pairs remove
    (``m_k``, also the count the IG ranking removes); ``pairs``: the IH-ranked pairs, best first
    (up to the largest ``k``).
    """

    ks: tuple[int, ...]
    drops: dict[str, np.ndarray]
    removed: np.ndarray
    pairs: tuple[tuple[int, int], ...] = ()


def target_probability(logits: torch.Tensor, target: int) -> torch.Tensor:
    """``(R,)`` float64 probability of ``target``: softmax over ``(R, C)`` logits, or for one
    output per row (a binary model's log-odds, as TabResNet/INN give) ``sigmoid`` for class 1 and
    ``1 - sigmoid`` for class 0 (their ``predict_proba``)."""
    z = logits.double()
    if z.ndim == 1:
        z = z.unsqueeze(-1)
    if z.shape[-1] == 1:
        if target not in (0, 1):
            raise ValueError(
                f"a model with one output (log-odds) has classes 0 and 1, not {target}"
            )
        p = torch.sigmoid(z[:, 0])
        return p if target == 1 else 1.0 - p
    return torch.softmax(z, -1)[:, target]


def candidate_pairs(
    interactions: torch.Tensor | np.ndarray, candidates: torch.Tensor | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """All candidate pairs ``(n_pairs, 2)`` (``i < j``) ranked by ``(Gamma_ij + Gamma_ji) / 2``,
    descending (signed), ties by ``(i, j)``, and their symmetrised interactions."""
    gamma = torch.as_tensor(interactions).detach().cpu().double().numpy()
    cand = np.flatnonzero(torch.as_tensor(candidates).cpu().numpy())
    sym = (gamma + gamma.T) / 2.0
    a, b = np.triu_indices(len(cand), 1)
    i, j = cand[a], cand[b]
    values = sym[i, j]
    if not np.all(np.isfinite(values)):
        raise ValueError("interactions: non-finite value between candidate units")
    order = np.lexsort((j, i, -values))
    return np.stack([i[order], j[order]], 1).astype(int), values[order]


def top_pairs(
    interactions: torch.Tensor | np.ndarray, candidates: torch.Tensor | np.ndarray, k: int
) -> list[tuple[int, int]]:
    """The ``k`` best candidate pairs by symmetrised Integrated Hessians (fewer if fewer exist)."""
    pairs, _ = candidate_pairs(interactions, candidates)
    return [(int(i), int(j)) for i, j in pairs[:k]]


def _check(
    embeds: torch.Tensor,
    baseline: torch.Tensor,
    attention_mask: torch.Tensor,
    interactions: torch.Tensor,
    attributions: torch.Tensor,
    candidates: torch.Tensor,
    ks: Sequence[int],
    n_random: int,
) -> None:
    if embeds.ndim != 2:
        raise ValueError(f"embeds must be (L, D), got shape {tuple(embeds.shape)}")
    length = embeds.shape[0]
    if torch.broadcast_shapes(baseline.shape, embeds.shape) != embeds.shape:
        raise ValueError(f"baseline {tuple(baseline.shape)} does not fit embeds (L, D)")
    for name, t, shape in (
        ("attention_mask", attention_mask, (length,)),
        ("interactions", interactions, (length, length)),
        ("attributions", attributions, (length,)),
        ("candidates", candidates, (length,)),
    ):
        if tuple(t.shape) != shape:
            raise ValueError(f"{name} must have shape {shape}, got {tuple(t.shape)}")
    if not ks or any(int(k) < 1 for k in ks):
        raise ValueError(f"ks must be positive pair counts, got {tuple(ks)}")
    if n_random < 1:
        raise ValueError(f"n_random must be at least 1, got {n_random}")


def pair_deletion(
    forward: EmbeddingForward,
    embeds: torch.Tensor,
    baseline: torch.Tensor,
    attention_mask: torch.Tensor,
    interactions: torch.Tensor,
    attributions: torch.Tensor,
    candidates: torch.Tensor,
    target: int,
    ks: Sequence[int] = (1, 2, 3),
    n_random: int = 20,
    seed: int = 0,
) -> PairDeletion:
    """Probability drops when the top Integrated Hessians pairs, the same number of top Integrated
    Gradients units, or random pairs are replaced by ``baseline`` (Janizek et al. 2021).

    ``embeds``/``baseline``: ``(L, D)`` (tabular: ``D = 1``); ``attention_mask``: ``(L,)``;
    ``interactions``: ``(L, L)`` IH of the target class; ``attributions``: ``(L,)`` IG of the
    target class; ``candidates``: ``(L,)`` bool, the units that may be removed (not padding, not
    special tokens; the others never change). With fewer than ``k`` candidate pairs every pair is
    used (``k`` is capped); with fewer than 2 candidates nothing is removed and every drop is 0.
    Random draws use ``np.random.default_rng(seed)``. One batched forward.
    """
    _check(embeds, baseline, attention_mask, interactions, attributions, candidates, ks, n_random)
    ks = tuple(int(k) for k in ks)
    length = embeds.shape[0]
    cand_mask = torch.as_tensor(candidates).bool().cpu().numpy()
    cand = np.flatnonzero(cand_mask)
    pairs, _ = candidate_pairs(interactions, cand_mask)
    n_pairs = len(pairs)
    ig = attributions.detach().cpu().double().numpy()[cand]
    if not np.all(np.isfinite(ig)):
        raise ValueError("attributions: non-finite value at a candidate unit")
    ig_order = cand[np.lexsort((cand, -ig))]

    def without(units: np.ndarray) -> np.ndarray:
        row = np.ones(length, dtype=bool)
        row[units] = False
        return row

    rng = np.random.default_rng(seed)
    ih_rows, ig_rows, random_rows, removed = [], [], [], []
    for k in ks:
        k_eff = min(k, n_pairs)
        union = np.unique(pairs[:k_eff].ravel())
        removed.append(len(union))
        ih_rows.append(without(union))
        ig_rows.append(without(ig_order[: len(union)]))
        for _ in range(n_random):
            draw = rng.choice(n_pairs, size=k_eff, replace=False)
            random_rows.append(without(np.unique(pairs[draw].ravel())))
    keep = np.stack([np.ones(length, dtype=bool), *ih_rows, *ig_rows, *random_rows])
    keep |= ~cand_mask  # special tokens and padding never move
    keep_t = torch.as_tensor(keep, device=embeds.device)
    base = baseline.to(embeds).expand_as(embeds)
    batch = torch.where(keep_t.unsqueeze(-1), embeds.unsqueeze(0), base.unsqueeze(0))
    masks = attention_mask.unsqueeze(0).expand(len(keep), -1)
    with torch.no_grad():
        probs = target_probability(forward(batch, masks), target).cpu().numpy()
    drops = probs[0] - probs[1:]
    drops[keep[1:].all(1)] = 0.0  # nothing removed: exactly no change
    n = len(ks)
    return PairDeletion(
        ks=ks,
        drops={
            "ih_pairs": drops[:n],
            "ig_units": drops[n : 2 * n],
            "random_pairs": drops[2 * n :].reshape(n, n_random).mean(1),
        },
        removed=np.array(removed, dtype=int),
        pairs=tuple((int(i), int(j)) for i, j in pairs[: min(max(ks), n_pairs)]),
    )


def tabular_pair_deletion(
    model_fn: Callable[[torch.Tensor], torch.Tensor],
    X: torch.Tensor,  # noqa: N803
    baseline: torch.Tensor,
    interactions: torch.Tensor,
    attributions: torch.Tensor,
    target: torch.Tensor | Sequence[int] | int,
    ks: Sequence[int] = (1, 2, 3),
    n_random: int = 20,
    seed: int = 0,
) -> list[PairDeletion]:
    """:func:`pair_deletion` for each row of a tabular batch ``X`` ``(N, F)``: every feature is a
    candidate unit (``D = 1``, a mask of ones). ``model_fn`` maps ``(R, F)`` to logits ``(R, C)``
    (softmax) or to one log-odds ``(R, 1)``/``(R,)`` (sigmoid; class 0 gets ``1 - p``, as the
    binary TabResNet/INN's ``predict_proba``). ``baseline``: ``(F,)``; ``interactions``:
    ``(N, F, F)`` and ``attributions`` ``(N, F)`` explain each row's ``target`` class (for a
    one-logit model and target 0, those of the negated logit). ``seed`` is shared by every row."""
    x = torch.as_tensor(X)
    n, f = x.shape
    targets = torch.as_tensor(target).reshape(-1).expand(n)

    def forward(embeds: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        del mask
        return model_fn(embeds.squeeze(-1))

    base = torch.as_tensor(baseline).to(x).reshape(f, 1)
    ones = torch.ones(f, dtype=torch.long, device=x.device)
    every = torch.ones(f, dtype=torch.bool, device=x.device)
    return [
        pair_deletion(
            forward,
            x[r].unsqueeze(-1),
            base,
            ones,
            torch.as_tensor(interactions[r]),
            torch.as_tensor(attributions[r]),
            every,
            int(targets[r]),
            ks,
            n_random,
            seed,
        )
        for r in range(n)
    ]


def summarize_pair_deletion(results: Sequence[PairDeletion], seed: int = 0) -> dict[str, Any]:
    """JSON-ready over examples: per method and ``k`` the mean drop with a 95% bootstrap interval,
    the mean units removed, and the paired differences ``ih_pairs - ig_units`` and
    ``ih_pairs - random_pairs`` per ``k`` (:func:`glassworks.stats.paired_difference`: a
    ``winner`` only when the paired interval excludes 0)."""
    if not results:
        raise ValueError("summarize_pair_deletion: no results")
    ks = results[0].ks
    if any(r.ks != ks for r in results):
        raise ValueError("summarize_pair_deletion: results with different ks")
    per = {m: np.stack([r.drops[m] for r in results]) for m in METHODS}  # (n, len(ks))
    removed = np.stack([r.removed for r in results])
    differences: dict[str, dict[str, Any]] = {}
    for a, b in COMPARISONS:
        by_k = {}
        for c, k in enumerate(ks):
            diff = paired_difference(per[a][:, c], per[b][:, c], names=(a, b), seed=seed)
            d = diff.diff
            winner = (a if d.lo > 0.0 else b if d.hi < 0.0 else None) if d.n > 1 else None
            by_k[f"k={k}"] = diff.as_dict() | {"winner": winner}
        differences[f"{a}-{b}"] = by_k
    return {
        "ks": list(ks),
        "n_examples": len(results),
        "removed": {f"k={k}": float(removed[:, c].mean()) for c, k in enumerate(ks)},
        "methods": {
            m: {f"k={k}": summarise(per[m][:, c], seed=seed).as_dict() for c, k in enumerate(ks)}
            for m in METHODS
        },
        "differences": differences,
    }


def pair_deletion_table(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Flat rows ``{method, k, mean, lo, hi, verdict}`` of :func:`summarize_pair_deletion`: one per
    method x k (``verdict`` ``None``), then one per paired difference x k (``method`` e.g.
    ``ih_pairs-ig_units``; ``verdict`` from :func:`glassworks.stats.paired_difference`)."""
    rows = []
    for method, by_k in summary["methods"].items():
        for key, s in by_k.items():
            lo, hi = s["ci95"]
            rows.append(
                {
                    "method": method,
                    "k": int(key.removeprefix("k=")),
                    "mean": s["mean"],
                    "lo": lo,
                    "hi": hi,
                    "verdict": None,
                }
            )
    for name, by_k in summary["differences"].items():
        for key, d in by_k.items():
            lo, hi = d["difference"]["ci95"]
            rows.append(
                {
                    "method": name,
                    "k": int(key.removeprefix("k=")),
                    "mean": d["difference"]["mean"],
                    "lo": lo,
                    "hi": hi,
                    "verdict": d["verdict"],
                }
            )
    return rows
