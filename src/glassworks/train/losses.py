"""Training losses for text classifiers: cross-entropy, class-weighted cross-entropy, an ordinal
(cumulative-link) loss in the CORAL form of Cao, Mirjalili & Raschka 2020 (arXiv 1901.07884), and
explanation penalties that push a model's attribution to a known-spurious group of tokens to zero:

- ``cdep``: the contextual-decomposition score of the group (Rieger, Singh, Murdoch & Yu, ICML
  2020) pushed to zero, ``mean_b sum_c |relevant_c|`` (glassworks' L1 form);
- ``cdep_ref``: the CDEP reference code's own penalty (``cd_penalty_for_one_decoy_all`` in
  laura-rieger/deep-explanation-penalization): on rows holding a group token, ``mean_b
  softplus(rel_y - irrel_y)`` of the true class ``y``, the CD scores taken without the output
  layer's bias and with the embeddings detached; a cross-entropy asking the non-group part to carry
  the class, with the reference's lambda scale (hundreds);
- ``cdep_int``: interaction-aware CDEP (glassworks): CD run with the *rest* of the text as the
  relevant set, and everything CD does not book to the rest pushed to zero, ``mean_b sum_c |f_c -
  rel_c(not group)|`` without the output bias: the group's own part and the relevant x irrelevant
  gate products plain CDEP leaves out. CD's LSTM rule still books two routes to the rest (the
  output gate is never split, and half of each within-gate interaction goes to each side), so
  the decoy can hide there;
- ``clp``: the decoy's *exact* total effect, its own part and every interaction with the rest,
  ``mean_b sum_c |f_c(x) - f_c(x without the group's tokens)|``: counterfactual logit pairing
  (Garg et al., AIES 2019) with the counterfactual made by deleting the group, what
  ``cdep_int`` approximates through CD; any architecture;
- ``rrr``: Right for the Right Reasons (Ross, Hughes & Doshi-Velez, IJCAI 2017), the squared input
  gradient of ``sum_k log p_k`` on the group's embeddings;
- ``eg``: Expected Gradients of the label's log-probability on the group (an attribution prior,
  Erion et al., Nature Machine Intelligence 2021), one (baseline, alpha) sample per example drawn
  from the batch, differentiable through the attribution engine.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from glassworks.config import CD_BASED
from glassworks.explain.cd import Decomposition, contextual_decomposition
from glassworks.explain.paths import expected_gradients

LossName = Literal["ce", "weighted_ce", "ordinal"]
PenaltyName = Literal["none", "cdep", "cdep_ref", "cdep_int", "clp", "rrr", "eg"]
PENALTIES: tuple[str, ...] = ("none", "cdep", "cdep_ref", "cdep_int", "clp", "rrr", "eg")
CD_PENALTIES: tuple[str, ...] = CD_BASED
"""Penalties built on contextual decomposition (LSTM/CNN only: CD is not defined for attention)."""


def balanced_class_weights(labels: np.ndarray, n_classes: int) -> torch.Tensor:
    """``n / (k * count_c)`` per class (scikit-learn's "balanced"); absent classes get weight 0."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=n_classes).astype(float)
    weights = np.where(counts > 0, counts.sum() / (n_classes * np.maximum(counts, 1)), 0.0)
    return torch.as_tensor(weights, dtype=torch.float32)


def ordinal_targets(y: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Binary targets ``[y > 0, y > 1, ..., y > k-2]`` for the cumulative logits."""
    return (y.unsqueeze(1) > torch.arange(n_classes - 1, device=y.device)).to(torch.float32)


def ordinal_log_probs(cumulative: torch.Tensor) -> torch.Tensor:
    """Class log-probabilities from cumulative logits of P(y > k).

    P(y = k) = P(y > k-1) - P(y > k) with P(y > -1) = 1 and P(y > K-1) = 0; differences of
    non-monotone cumulative probabilities are clamped at a tiny positive value.
    """
    p_gt = torch.sigmoid(cumulative)
    ones = torch.ones_like(p_gt[:, :1])
    upper = torch.cat([ones, p_gt], 1)
    lower = torch.cat([p_gt, torch.zeros_like(ones)], 1)
    return torch.log((upper - lower).clamp_min(1e-9))


class OrdinalLoss(nn.Module):
    """Mean binary cross-entropy over the ``K-1`` cumulative logits (CORAL)."""

    def __init__(self, n_classes: int) -> None:
        super().__init__()
        self.n_classes = n_classes

    def forward(self, cumulative: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Loss of cumulative logits ``(batch, K-1)`` against class indices ``(batch,)``."""
        target = ordinal_targets(y, self.n_classes)
        return F.binary_cross_entropy_with_logits(cumulative, target, reduction="sum") / len(y)


def make_loss(name: LossName, labels: np.ndarray, n_classes: int) -> nn.Module:
    """The loss called ``name``; ``labels`` (train) set the class weights of ``weighted_ce``."""
    if name == "ce":
        return nn.CrossEntropyLoss()
    if name == "weighted_ce":
        return nn.CrossEntropyLoss(weight=balanced_class_weights(labels, n_classes))
    if name == "ordinal":
        if n_classes < 2:
            raise ValueError("the ordinal loss needs at least 2 classes")
        return OrdinalLoss(n_classes)
    raise ValueError(f"unknown loss {name!r}; use ce, weighted_ce or ordinal")


def cdep_penalty(
    module: nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    group: torch.Tensor,
) -> torch.Tensor:
    """``mean_b sum_c |CD relevant part of logit c|`` for the token ``group`` (CDEP)."""
    rel = contextual_decomposition(module, input_ids, group, attention_mask).relevant
    return rel.abs().sum(-1).mean()


@contextlib.contextmanager
def _without_output_bias(module: nn.Module) -> Iterator[None]:
    """The model's last linear layer without its bias for the duration (restored after)."""
    from glassworks.explain.cd import layers

    walk = [layer for _, layer in layers(module)]
    head = walk[-1]
    if not isinstance(head, nn.Linear):
        raise ValueError(
            f"the output bias is left out of the last layer, which must be nn.Linear "
            f"(got {type(head).__name__})"
        )
    if head.bias is None:
        yield
        return
    bias = head.bias
    head.bias = None
    try:
        yield
    finally:
        head.bias = bias


def cdep_reference_penalty(
    module: nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    group: torch.Tensor,
    target: torch.Tensor,
) -> torch.Tensor:
    """The CDEP reference code's penalty (Rieger et al. 2020): over rows with a ``group`` token,
    ``mean_b softplus(rel_y - irrel_y)`` (= the cross-entropy of a softmax over the true class's
    ``(relevant, irrelevant)`` pair against "irrelevant"), CD without the output bias, embeddings
    detached. A batch without a group token costs 0."""
    rows = group.any(1)
    if not bool(rows.any()):
        return torch.zeros((), device=input_ids.device)
    with _without_output_bias(module):
        dec = contextual_decomposition(
            module, input_ids[rows], group[rows], attention_mask[rows], detach_embeddings=True
        )
    y = target[rows].view(-1, 1)
    rel, irrel = dec.relevant.gather(1, y), dec.irrelevant.gather(1, y)
    return F.softplus(rel - irrel).mean()


def group_interaction_part(
    module: nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    group: torch.Tensor,
) -> Decomposition:
    """The output without the last layer's bias, split into what CD books to the tokens
    *outside* ``group`` (``relevant``) and the rest (``irrelevant``, ``(B, C)``): the group's own
    contribution and its relevant x irrelevant gate products with the other tokens. It is CD with
    the complement of ``group`` among real tokens as the relevant set, so a row without a group
    token has ``irrelevant`` exactly 0 and a group holding every real token has all of the output.
    Not every interaction: CD's LSTM rule books the group's effect through the output gate, and
    half of each within-gate interaction, to the relevant side (:func:`counterfactual_penalty`
    measures the exact total effect)."""
    rest = attention_mask.bool() & ~group.bool()
    with _without_output_bias(module):
        return contextual_decomposition(module, input_ids, rest, attention_mask)


def cdep_interaction_penalty(
    module: nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    group: torch.Tensor,
) -> torch.Tensor:
    """Interaction-aware CDEP: ``mean_b sum_c |group_interaction_part_c|`` over the batch (rows
    without a group token contribute 0 and are not decomposed). The plain CDEP penalty lets an
    LSTM keep a decoy by routing it through gate products with the other words, which CD assigns
    to the irrelevant part (the finding in ``docs/results.md``); this form books them to the
    decoy."""
    rows = group.any(1)
    if not bool(rows.any()):
        return torch.zeros((), device=input_ids.device)
    part = group_interaction_part(module, input_ids[rows], attention_mask[rows], group[rows])
    return part.irrelevant.abs().sum() / len(input_ids)


def without_group(
    input_ids: torch.Tensor, attention_mask: torch.Tensor, group: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The batch with the ``group`` tokens deleted: each row's remaining real tokens moved left in
    order, the freed places masked out (they keep a group token's id, which no mask-respecting
    model reads)."""
    keep = attention_mask.bool() & ~group.bool()
    order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)
    return input_ids.gather(1, order), keep.gather(1, order).to(attention_mask.dtype)


def counterfactual_penalty(
    module: nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    group: torch.Tensor,
    logits: torch.Tensor,
) -> torch.Tensor:
    """``mean_b sum_c |f_c(x) - f_c(x without group)|`` (counterfactual logit pairing, Garg et
    al., AIES 2019, the counterfactual deleting the group): the group's exact total effect, all
    its interactions included; ``logits`` is ``f(x)`` (the training forward's). Rows without a
    group token, or with nothing but group tokens (no text would be left), contribute 0 and are
    not run again."""
    group = group.bool() & attention_mask.bool()
    rows = group.any(1) & (attention_mask.bool() & ~group).any(1)
    if not bool(rows.any()):
        return torch.zeros((), device=input_ids.device)
    ids, mask = without_group(input_ids[rows], attention_mask[rows], group[rows])
    out = module(input_ids=ids, attention_mask=mask)
    out = out.logits if hasattr(out, "logits") else out
    return (logits[rows] - out).abs().sum() / len(input_ids)


def rrr_penalty(logits: torch.Tensor, embeds: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
    """``mean_b sum_{t in group} ||d sum_k log p_k / d e_t||^2`` (Ross et al. 2017); ``logits``
    must come from ``embeds``."""
    log_p = torch.log_softmax(logits, -1)
    (grad,) = torch.autograd.grad(log_p.sum(), embeds, create_graph=True)
    return (grad.pow(2).sum(-1) * group).sum() / len(logits)


def eg_penalty(
    module: nn.Module,
    embeds: torch.Tensor,
    attention_mask: torch.Tensor,
    group: torch.Tensor,
    target: torch.Tensor,
    seed: int,
) -> torch.Tensor:
    """``mean_b sum_{t in group} |EG_t|`` of ``log p(target)``: one (baseline, alpha) sample per
    example, baselines drawn from the batch's own embeddings (Erion et al. 2021)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    def log_prob(e: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = module(inputs_embeds=e, attention_mask=attention_mask)
        return torch.log_softmax(out.logits if hasattr(out, "logits") else out, -1)

    with sdpa_kernel(SDPBackend.MATH):  # fused attention has no double backward
        attr = expected_gradients(
            log_prob,
            embeds,
            embeds.detach(),
            target,
            n_samples=1,
            seed=seed,
            batch_size=len(embeds),
            forward_kwargs={"attention_mask": attention_mask},
            create_graph=True,
        ).attributions
    return (attr.sum(-1).abs() * group).sum() / len(embeds)
