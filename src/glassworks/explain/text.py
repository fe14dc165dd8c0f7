"""Attributions and token x token interactions for text models at the input-embedding layer.

Works with any Hugging Face model that accepts ``inputs_embeds`` (and with our own transformers,
which follow the same ``get_input_embeddings()`` / ``inputs_embeds`` convention). The path runs
from a baseline embedding sequence (``pad``/``mask`` token embeddings or ``zeros``) to the text's
embeddings; special tokens ([CLS], [SEP]) and padding keep their embeddings on the whole path, so
they get exactly zero attribution and padded batches of different lengths give each text the same
result as alone. A token's score is the *sum* of its embedding dimensions' attributions (a mean
would break completeness).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from glassworks.explain.hessians import grouped_integrated_hessians
from glassworks.explain.paths import integrated_gradients

Baseline = Literal["pad", "mask", "zeros"]


@dataclass(frozen=True)
class TextExplanation:
    """Per-text tokens, token scores and completeness (and token x token interactions)."""

    tokens: list[list[str]]
    scores: list[torch.Tensor]
    delta: torch.Tensor
    output_gap: torch.Tensor
    interactions: list[torch.Tensor] | None = None


class _EmbeddingForward:
    """``f(embeddings, attention_mask) -> logits`` for an HF-style model."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def __call__(self, embeds: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.model(inputs_embeds=embeds, attention_mask=attention_mask)
        return out.logits if hasattr(out, "logits") else out


def _baseline_embeddings(
    model: Any, tokenizer: Any, input_ids: torch.Tensor, embeds: torch.Tensor, kind: Baseline
) -> torch.Tensor:
    special = torch.zeros_like(input_ids, dtype=torch.bool)
    for tid in set(tokenizer.all_special_ids):
        special |= input_ids == tid
    if kind == "zeros":
        fill = torch.zeros_like(embeds)
    else:
        tid = tokenizer.pad_token_id if kind == "pad" else tokenizer.mask_token_id
        if tid is None:
            raise ValueError(f"the tokenizer has no {kind} token; use baseline='zeros'")
        table = model.get_input_embeddings()
        fill = table(torch.full_like(input_ids, tid)).detach()
    return torch.where(special.unsqueeze(-1), embeds, fill)


def explain_texts(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    target: int | Sequence[int] | None = None,
    baseline: Baseline = "pad",
    n_steps: int = 32,
    method: str = "gauss_legendre",
    interactions: bool = False,
    ih_steps: int = 16,
    max_length: int = 128,
    batch_size: int = 256,
) -> TextExplanation:
    """Integrated Gradients (and optionally Integrated Hessians) of ``texts`` at the embeddings.

    ``target``: class index per text (default: the predicted class).
    """
    model.eval()
    enc = tokenizer(
        list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt"
    )
    device = next(model.parameters()).device
    input_ids = enc["input_ids"].to(device)
    mask = enc["attention_mask"].to(device)
    embeds = model.get_input_embeddings()(input_ids).detach()
    base = _baseline_embeddings(model, tokenizer, input_ids, embeds, baseline)
    forward = _EmbeddingForward(model)
    with torch.no_grad():
        logits = forward(embeds, mask)
    if target is None:
        tgt = logits.argmax(-1)
    elif isinstance(target, int):
        tgt = torch.full((len(texts),), target, device=device)
    else:
        tgt = torch.as_tensor(list(target), device=device)
    kwargs = {"attention_mask": mask}
    with sdpa_kernel(SDPBackend.MATH):  # fused attention has no double backward
        ig = integrated_gradients(
            forward,
            embeds,
            base,
            tgt,
            n_steps=n_steps,
            method=method,
            batch_size=batch_size,
            forward_kwargs=kwargs,
        )
        inter = None
        if interactions:
            positions = torch.arange(input_ids.shape[1], device=device)
            groups = positions.view(1, -1, 1).expand(*embeds.shape).clone()
            res = grouped_integrated_hessians(
                forward,
                embeds,
                groups,
                input_ids.shape[1],
                base,
                tgt,
                n_steps=ih_steps,
                batch_size=max(1, batch_size // 4),
                forward_kwargs=kwargs,
            )
            inter = res.interactions
    with torch.no_grad():
        gap = (logits - forward(base, mask)).gather(1, tgt.view(-1, 1)).squeeze(1)
    token_scores = ig.attributions.sum(-1)
    lengths = mask.sum(1).tolist()
    tokens = [
        tokenizer.convert_ids_to_tokens(ids[:n].tolist())
        for ids, n in zip(input_ids, lengths, strict=True)
    ]
    return TextExplanation(
        tokens=tokens,
        scores=[token_scores[i, :n].detach().cpu() for i, n in enumerate(lengths)],
        delta=ig.delta.detach().cpu(),
        output_gap=gap.detach().cpu(),
        interactions=None
        if inter is None
        else [inter[i, :n, :n].detach().cpu() for i, n in enumerate(lengths)],
    )
