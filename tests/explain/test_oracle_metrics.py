"""Deletion/insertion curves (Petsiuk et al. 2018) and ERASER comprehensiveness/sufficiency
(DeYoung et al. 2020) against a brute force: one forward pass per perturbed text, the tokens
ranked by hand (highest score first, ties by position), areas by the trapezoid rule written out.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

from glassworks.explain.metrics import faithfulness, mean_curves, summarize

L, D, N_CAND = 13, 3, 10  # position 0 is a special token, 11-12 are padding
FRACTIONS = np.linspace(0.0, 1.0, 11)
KS = (0.1, 0.2, 0.5)
TOP = (1, 2, 5)  # ceil(k * 10)


Forward = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _forward(v: torch.Tensor) -> Forward:
    """Two-class model on embeddings: logit ``2 tanh(s) + 0.3 s``, ``s = sum_t e_t . v``."""

    def forward(batch: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        s = ((batch @ v) * masks).sum(-1)
        return torch.stack([torch.zeros_like(s), 2 * torch.tanh(s) + 0.3 * s], -1)

    return forward


def _text(seed: int) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(seed)
    embeds = torch.randn(L, D, generator=gen, dtype=torch.float64)
    baseline = torch.randn(L, D, generator=gen, dtype=torch.float64) * 0.1
    mask = torch.ones(L, dtype=torch.long)
    mask[11:] = 0
    scores = torch.randn(L, generator=gen, dtype=torch.float64)
    scores[4] = scores[7]  # a tie: position 4 ranks first
    candidates = torch.zeros(L, dtype=torch.bool)
    candidates[1:11] = True
    return embeds, baseline, mask, scores, candidates


def _prob(
    forward: Forward,
    embeds: torch.Tensor,
    baseline: torch.Tensor,
    mask: torch.Tensor,
    keep: set[int],
    target: int,
) -> float:
    """The target's probability with every position outside ``keep`` set to the baseline."""
    x = torch.stack([embeds[p] if p in keep else baseline[p] for p in range(L)])
    logits = forward(x[None], mask[None])[0]
    return float(torch.softmax(logits, -1)[target])


def _brute_force(seed: int, target: int) -> dict:
    embeds, baseline, mask, scores, candidates = _text(seed)
    forward = _forward(torch.tensor([1.0, -0.5, 0.8], dtype=torch.float64))
    cand = [p for p in range(L) if candidates[p]]
    fixed = set(range(L)) - set(cand)  # never perturbed
    order = sorted(cand, key=lambda p: (-float(scores[p]), p))
    full = _prob(forward, embeds, baseline, mask, set(range(L)), target)

    def p(keep: set[int]) -> float:
        return _prob(forward, embeds, baseline, mask, keep, target)

    counts = [round(f * N_CAND) for f in FRACTIONS]
    deletion = np.array([p(set(range(L)) - set(order[:c])) for c in counts])
    insertion = np.array([p(fixed | set(order[:c])) for c in counts])
    comp = np.array([full - p(set(range(L)) - set(order[:k])) for k in TOP])
    suff = np.array([full - p(fixed | set(order[:k])) for k in TOP])

    def trap(y: np.ndarray) -> float:
        return float(sum((y[i] + y[i + 1]) / 2 * 0.1 for i in range(10)))

    got = faithfulness(forward, embeds, baseline, mask, scores, candidates, target, ks=KS)
    return {
        "got": got,
        "deletion": deletion,
        "insertion": insertion,
        "comp": comp,
        "suff": suff,
        "deletion_auc": trap(deletion),
        "insertion_auc": trap(insertion),
    }


@pytest.mark.parametrize(("seed", "target"), [(0, 1), (1, 0), (2, 1)])
def test_curves_and_eraser_scores_match_the_brute_force(seed: int, target: int) -> None:
    ref = _brute_force(seed, target)
    got = ref["got"]
    np.testing.assert_allclose(got.fractions, FRACTIONS, atol=1e-15)
    np.testing.assert_allclose(got.deletion, ref["deletion"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got.insertion, ref["insertion"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got.comprehensiveness, ref["comp"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got.sufficiency, ref["suff"], rtol=1e-12, atol=1e-14)
    assert got.deletion_auc == pytest.approx(ref["deletion_auc"], rel=1e-12)
    assert got.insertion_auc == pytest.approx(ref["insertion_auc"], rel=1e-12)
    assert np.ptp(ref["deletion"]) > 1e-2  # the curves move


def test_summary_is_the_mean_over_texts() -> None:
    refs = [_brute_force(s, 1) for s in range(3)]
    summary = summarize([r["got"] for r in refs])
    assert summary["deletion_auc"] == pytest.approx(np.mean([r["deletion_auc"] for r in refs]))
    assert summary["insertion_auc"] == pytest.approx(np.mean([r["insertion_auc"] for r in refs]))
    for j, pct in enumerate((10, 20, 50)):
        comp = np.mean([r["comp"][j] for r in refs])
        suff = np.mean([r["suff"][j] for r in refs])
        assert summary[f"comprehensiveness_{pct}"] == pytest.approx(comp, rel=1e-12)
        assert summary[f"sufficiency_{pct}"] == pytest.approx(suff, rel=1e-12)
    fractions, deletion, insertion = mean_curves([r["got"] for r in refs])
    np.testing.assert_allclose(deletion, np.mean([r["deletion"] for r in refs], 0), rtol=1e-12)
    np.testing.assert_allclose(insertion, np.mean([r["insertion"] for r in refs], 0), rtol=1e-12)
