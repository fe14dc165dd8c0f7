"""Attributions and token x token interactions for text models at the input-embedding layer.

Works with any Hugging Face model that accepts ``inputs_embeds`` (and with our own transformers,
which follow the same ``get_input_embeddings()`` / ``inputs_embeds`` convention). The path runs
from a baseline embedding sequence (``pad``/``mask`` token embeddings or ``zeros``) to the text's
embeddings; special tokens ([CLS], [SEP]) and padding keep their embeddings on the whole path, so
they get exactly zero attribution and padded batches of different lengths give each text the same
result as alone. A token's score is the *sum* of its embedding dimensions' attributions (a mean
would break completeness)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from glassworks.explain.hessians import grouped_integrated_hessians
from glassworks.explain.paths import Target, as_target, expected_gradients, integrated_gradients

Baseline = Literal["pad", "mask", "zeros"]


@dataclass(frozen=True)
class TextExplanation:
    """Per-text tokens, token scores and completeness (and token x token interactions)."""

    tokens: list[list[str]]
    scores: list[torch.Tensor]
    delta: torch.Tensor
    output_gap: torch.Tensor
    interactions: list[torch.Tensor] | None = None
    n_tokens: list[int] = field(default_factory=list)
    """Tokens per text before truncation to ``max_length``."""
    word_ids: list[list[int | None]] = field(default_factory=list)
    """Each token's word index (fast tokenizers; empty otherwise): pages merge word pieces."""


class _EmbeddingForward:
    """``f(embeddings, attention_mask) -> logits`` for an HF-style model."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def __call__(self, embeds: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.model(inputs_embeds=embeds, attention_mask=attention_mask)
        return out.logits if hasattr(out, "logits") else out


def _special_mask(tokenizer: Any, input_ids: torch.Tensor) -> torch.Tensor:
    special = torch.zeros_like(input_ids, dtype=torch.bool)
    for tid in set(tokenizer.all_special_ids):
        special |= input_ids == tid
    return special


def _baseline_embeddings(
    model: Any, tokenizer: Any, input_ids: torch.Tensor, embeds: torch.Tensor, kind: Baseline
) -> torch.Tensor:
    special = _special_mask(tokenizer, input_ids)
    if kind == "zeros":
        fill = torch.zeros_like(embeds)
    else:
        tid = tokenizer.pad_token_id if kind == "pad" else tokenizer.mask_token_id
        if tid is None:
            raise ValueError(f"the tokenizer has no {kind} token; use baseline='zeros'")
        table = model.get_input_embeddings()
        fill = table(torch.full_like(input_ids, tid)).detach()
    return torch.where(special.unsqueeze(-1), embeds, fill)


@dataclass(frozen=True)
class EncodedTexts:
    """A padded batch of texts at the embedding layer, shared by every token explainer.

    ``candidates`` marks the tokens an explainer may perturb: real tokens that are not special.
    """

    forward: _EmbeddingForward
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    embeds: torch.Tensor
    baseline: torch.Tensor
    candidates: torch.Tensor
    tokens: list[list[str]]
    n_truncated: int
    special_ids: tuple[int, ...] = ()
    full_lengths: tuple[int, ...] = ()
    """Tokens per text before truncation."""
    word_ids: tuple[list[int | None], ...] = ()
    """Each token's word index (fast tokenizers; empty otherwise)."""

    @property
    def lengths(self) -> list[int]:
        """Tokens per text (special tokens included, padding excluded)."""
        return self.attention_mask.sum(1).tolist()

    def logits(self) -> torch.Tensor:
        """The model's logits for the texts."""
        with torch.no_grad():
            return self.forward(self.embeds, self.attention_mask)

    def output_gap(self, target: torch.Tensor) -> torch.Tensor:
        """``f(x) - f(x')`` of the target logit per text (what IG must add up to)."""
        with torch.no_grad():
            full = self.forward(self.embeds, self.attention_mask)
            base = self.forward(self.baseline, self.attention_mask)
        idx = target.view(-1, 1)
        return (full.gather(1, idx) - base.gather(1, idx)).squeeze(1)

    def select(self, rows: Sequence[int]) -> EncodedTexts:
        """The texts at ``rows``, trimmed to their longest length."""
        rows = list(rows)
        width = max(self.lengths[i] for i in rows)
        return replace(
            self,
            input_ids=self.input_ids[rows, :width],
            attention_mask=self.attention_mask[rows, :width],
            embeds=self.embeds[rows, :width],
            baseline=self.baseline[rows, :width],
            candidates=self.candidates[rows, :width],
            tokens=[self.tokens[i] for i in rows],
            n_truncated=0,
            full_lengths=tuple(self.full_lengths[i] for i in rows) if self.full_lengths else (),
            word_ids=tuple(self.word_ids[i] for i in rows) if self.word_ids else (),
        )


def encode_texts(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    baseline: Baseline = "pad",
    max_length: int = 128,
) -> EncodedTexts:
    """Tokenise (truncating to ``max_length``, counted), embed and build the baseline."""
    texts = list(texts)
    full = tokenizer(texts, truncation=False)["input_ids"]
    enc = tokenizer(
        texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt"
    )
    lengths = enc["attention_mask"].sum(1).tolist()
    words = tuple(enc.word_ids(i)[:n] for i, n in enumerate(lengths)) if enc.is_fast else ()
    return encode_ids(
        model,
        tokenizer,
        enc["input_ids"],
        enc["attention_mask"],
        baseline,
        n_truncated=sum(len(ids) > max_length for ids in full),
        full_lengths=tuple(len(ids) for ids in full),
        word_ids=words,
    )


def encode_ids(
    model: Any,
    tokenizer: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    baseline: Baseline = "pad",
    n_truncated: int = 0,
    full_lengths: tuple[int, ...] = (),
    word_ids: tuple[list[int | None], ...] = (),
) -> EncodedTexts:
    """A right-padded batch of token ids ``(B, L)`` and its attention mask at the embedding
    layer: embeddings, the baseline, the perturbable tokens and the token strings."""
    model.eval()
    device = next(model.parameters()).device
    input_ids, mask = input_ids.to(device), attention_mask.to(device)
    embeds = model.get_input_embeddings()(input_ids).detach()
    base = _baseline_embeddings(model, tokenizer, input_ids, embeds, baseline)
    candidates = mask.bool() & ~_special_mask(tokenizer, input_ids)
    lengths = mask.sum(1).tolist()
    tokens = [
        tokenizer.convert_ids_to_tokens(ids[:n].tolist())
        for ids, n in zip(input_ids, lengths, strict=True)
    ]
    return EncodedTexts(
        _EmbeddingForward(model),
        input_ids,
        mask,
        embeds,
        base,
        candidates,
        tokens,
        n_truncated,
        tuple(sorted(set(tokenizer.all_special_ids))),
        full_lengths,
        word_ids,
    )


def _targets(logits: torch.Tensor, target: Target) -> torch.Tensor:
    if target is None:
        return logits.argmax(-1)
    t = as_target(target, logits.shape[0], logits.device)
    if isinstance(t, int):
        return torch.full((logits.shape[0],), t, device=logits.device)
    return t


def random_token_background(
    model: Any, enc: EncodedTexts, n_samples: int, seed: int = 0
) -> torch.Tensor:
    """``(B, n_samples, L, D)`` baselines for Expected Gradients on text: every perturbable
    token replaced by a uniformly drawn non-special vocabulary token, special tokens and padding
    kept (Sturmfels, Lundberg & Lee 2020, "Visualizing the impact of feature attribution
    baselines")."""
    table = model.get_input_embeddings()
    gen = torch.Generator().manual_seed(seed)
    b, length = enc.input_ids.shape
    allowed = torch.ones(table.num_embeddings, dtype=torch.bool)
    allowed[list(enc.special_ids)] = False
    pool = allowed.nonzero().squeeze(1)
    draw = torch.randint(len(pool), (b, n_samples, length), generator=gen)
    with torch.no_grad():
        random = table(pool[draw].to(enc.input_ids.device))
    keep = ~enc.candidates.view(b, 1, length, 1)
    return torch.where(keep, enc.embeds.unsqueeze(1), random)


def integrated_gradients_tokens(
    enc: EncodedTexts,
    target: torch.Tensor,
    n_steps: int = 32,
    method: str = "gauss_legendre",
    batch_size: int = 256,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Integrated Gradients token scores ``(B, L)`` (sum over embedding dims) and the
    completeness delta per text."""
    with sdpa_kernel(SDPBackend.MATH):
        ig = integrated_gradients(
            enc.forward,
            enc.embeds,
            enc.baseline,
            target,
            n_steps=n_steps,
            method=method,
            batch_size=batch_size,
            forward_kwargs={"attention_mask": enc.attention_mask},
        )
    return ig.attributions.sum(-1).detach(), ig.delta.detach()


def expected_gradients_tokens(
    model: Any,
    enc: EncodedTexts,
    target: torch.Tensor,
    n_samples: int = 64,
    seed: int = 0,
    batch_size: int = 256,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Expected Gradients token scores over random-token baselines, and the delta per text."""
    background = random_token_background(model, enc, n_samples, seed)
    with sdpa_kernel(SDPBackend.MATH):
        eg = expected_gradients(
            enc.forward,
            enc.embeds,
            background,
            target,
            n_samples=n_samples,
            seed=seed,
            batch_size=batch_size,
            forward_kwargs={"attention_mask": enc.attention_mask},
        )
    return eg.attributions.sum(-1).detach(), eg.delta.detach()


def integrated_hessians_tokens(
    enc: EncodedTexts, target: torch.Tensor, n_steps: int = 16, batch_size: int = 64
) -> torch.Tensor:
    """Token x token Integrated Hessians ``(B, L, L)`` (embedding dims grouped per token)."""
    length = enc.input_ids.shape[1]
    positions = torch.arange(length, device=enc.embeds.device)
    groups = positions.view(1, -1, 1).expand(*enc.embeds.shape).clone()
    with sdpa_kernel(SDPBackend.MATH):  # fused attention has no double backward
        res = grouped_integrated_hessians(
            enc.forward,
            enc.embeds,
            groups,
            length,
            enc.baseline,
            target,
            n_steps=n_steps,
            batch_size=batch_size,
            forward_kwargs={"attention_mask": enc.attention_mask},
        )
    return res.interactions.detach()


def explain_texts(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    target: Target = None,
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
    enc = encode_texts(model, tokenizer, texts, baseline, max_length)
    logits = enc.logits()
    tgt = _targets(logits, target)
    scores, delta = integrated_gradients_tokens(enc, tgt, n_steps, method, batch_size)
    inter = (
        integrated_hessians_tokens(enc, tgt, ih_steps, max(1, batch_size // 4))
        if interactions
        else None
    )
    gap = enc.output_gap(tgt)
    lengths = enc.lengths
    return TextExplanation(
        tokens=enc.tokens,
        scores=[scores[i, :n].cpu() for i, n in enumerate(lengths)],
        delta=delta.cpu(),
        output_gap=gap.cpu(),
        interactions=None
        if inter is None
        else [inter[i, :n, :n].cpu() for i, n in enumerate(lengths)],
        n_tokens=list(enc.full_lengths),
        word_ids=list(enc.word_ids),
    )
