"""Explain a fitted model on a sample of examples with every path method, plus certificates.

Used by the ``explain`` stage; pure (arrays and models in, arrays and numbers out).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import polars as pl
import torch

from glassworks.data.split import subsample
from glassworks.explain.hessians import expected_hessians, integrated_hessians
from glassworks.explain.metrics import Faithfulness, faithfulness, summarize
from glassworks.explain.pair_deletion import (
    PairDeletion,
    pair_deletion,
    summarize_pair_deletion,
    tabular_pair_deletion,
)
from glassworks.explain.paths import expected_gradients, integrated_gradients
from glassworks.explain.perturbation import perturbation_tokens
from glassworks.explain.text import (
    EncodedTexts,
    encode_texts,
    expected_gradients_tokens,
    integrated_gradients_tokens,
    integrated_hessians_tokens,
)


@dataclass
class Explained:
    """Attributions, interactions and their completeness statistics for a sample."""

    names: list[str]
    values: np.ndarray
    ig: np.ndarray
    eg: np.ndarray
    ih: np.ndarray
    target: np.ndarray
    stats: dict[str, Any] = field(default_factory=dict)

    def arrays(self) -> dict[str, np.ndarray]:
        """What ``attributions.npz`` holds: IG, EG, IH, the explained rows, the explained class
        per row and the feature names."""
        return {
            "ig": self.ig,
            "eg": self.eg,
            "ih": self.ih,
            "values": self.values,
            "target": self.target,
            "names": np.array(self.names),
        }


class Encoder(Protocol):
    """A fitted tabular encoder (``glassworks.models.tabular.TabularEncoder``)."""

    def transform(self, frame: pl.DataFrame) -> np.ndarray: ...


def encoded_sample(
    encoder: Encoder,
    splits: Mapping[str, pl.DataFrame],
    n_examples: int,
    n_background: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The rows to explain (``n_examples`` seeded test rows) and the background
    (``n_background`` seeded train rows), both encoded, each in its split's order."""
    test = subsample(splits["test"], n_examples, seed)
    train = subsample(splits["train"], n_background, seed)
    return encoder.transform(test), encoder.transform(train)


def _rel(err: torch.Tensor, scale: torch.Tensor) -> dict[str, float]:
    rel = (err.abs() / scale.abs().clamp_min(1e-12)).double()
    return {"max": float(rel.max()), "median": float(rel.median())}


def explain_tabular(
    module: torch.nn.Module,
    x: np.ndarray,
    background: np.ndarray,
    names: Sequence[str],
    *,
    n_steps: int = 32,
    ih_steps: int = 16,
    eg_samples: int = 64,
    seed: int = 0,
    interactions: str = "integrated",
    eh_baselines: int = 8,
) -> Explained:
    """IG (zero = mean baseline after standardisation), EG over ``background`` and interactions
    for the predicted class of each row of ``x`` (a one-output model: its log-odds):
    Integrated Hessians from the mean, or with ``interactions="expected"`` Expected Hessians
    over ``eh_baselines`` rows drawn from ``background``."""
    xt = torch.as_tensor(x, dtype=torch.float64)
    bg = torch.as_tensor(background, dtype=torch.float64)
    with torch.no_grad():
        target = module(xt).argmax(1)
    base = bg.mean(0, keepdim=True)
    ig = integrated_gradients(module, xt, base, target, n_steps=n_steps)
    eg = expected_gradients(module, xt, bg, target, n_samples=eg_samples, seed=seed)
    with torch.no_grad():
        gap = (
            module(xt).gather(1, target[:, None])[:, 0]
            - module(base.expand_as(xt)).gather(1, target[:, None])[:, 0]
        )
    if interactions == "expected":
        ih = expected_hessians(
            module, xt, bg, target, n_baselines=eh_baselines, n_steps=ih_steps, seed=seed
        )
        ih_scale = ih.ig.abs().sum(1)  # each drawn baseline has its own gap; scale by |IG|
    elif interactions == "integrated":
        ih = integrated_hessians(module, xt, base, target, n_steps=ih_steps)
        ih_scale = gap
    else:
        raise ValueError(f"interactions: {interactions!r} is not 'integrated' or 'expected'")
    # the IH (or EH) pairs vs IG units, removed = set to the mean row; a one-output model's
    # attributions explain its log-odds, so its drops are read on p(class 1)
    with torch.no_grad():
        one_output = module(xt[:1]).shape[1] == 1
    scored = torch.ones_like(target) if one_output else target
    removal = tabular_pair_deletion(
        module, xt, base[0], ih.interactions, ig.attributions, scored, seed=seed
    )
    stats = {
        "examples": len(x),
        "pair_deletion": summarize_pair_deletion(removal, seed),
        "ig_completeness_relative": _rel(ig.delta, gap),
        # EG's reference is f(x) - mean over its own drawn baselines, not the mean baseline
        "eg_completeness_relative": _rel(
            eg.delta, eg.attributions.reshape(len(x), -1).sum(1) - eg.delta
        ),
        "ih_total_relative": _rel(ih.total_error, ih_scale),
        "ih_rows_vs_ig_relative": _rel(ih.row_error, ih.ig.abs().amax(1)),
        "n_steps": n_steps,
        "ih_steps": ih_steps,
        "eg_samples": eg_samples,
        "interactions": interactions,
    }
    return Explained(
        list(names),
        x,
        ig.attributions.numpy(),
        eg.attributions.numpy(),
        ih.interactions.numpy(),
        target.numpy(),
        stats,
    )


@dataclass
class EmbGamExplained:
    """Emb-GAM's exact n-gram contributions on a sample, checked against the path engine.

    ``counts``/``exact``/``ig`` are ``(examples, ngrams)`` over ``vocab``, towards each example's
    predicted class ``target``; ``stats`` holds the certificates (all ~0 for a correct engine).
    """

    vocab: list[str]
    counts: np.ndarray
    exact: np.ndarray
    ig: np.ndarray
    target: np.ndarray
    stats: dict[str, Any]

    def table(self) -> pl.DataFrame:
        """One row per (example, n-gram present): count, exact contribution and IG."""
        rows, cols = np.nonzero(self.counts)
        return pl.DataFrame(
            {
                "example": rows.astype(np.int64),
                "target": self.target[rows].astype(np.int64),
                "ngram": [self.vocab[c] for c in cols],
                "count": self.counts[rows, cols],
                "contribution": self.exact[rows, cols],
                "ig": self.ig[rows, cols],
            }
        ).sort(["example", "contribution"], descending=[False, True])


def explain_embgam(model: Any, texts: Sequence[str], n_steps: int = 8) -> EmbGamExplained:
    """Check the attribution engine against Emb-GAM's exact decomposition (Singh et al. 2022).

    The model is linear in its n-gram counts, so Integrated Gradients from the empty text must
    return each n-gram's contribution exactly, and Integrated Hessians must be diagonal (no
    interactions) with the main effects equal to those contributions.
    """
    tables = [model.explain(t) for t in texts]
    vocab = sorted({g for tb in tables for g in tb["ngram"].to_list()})
    index = {g: i for i, g in enumerate(vocab)}
    cols = [c for c in tables[0].columns if c.startswith("contribution")] if tables else []
    per_unit = np.zeros((len(vocab), len(cols)))
    counts = np.zeros((len(texts), len(vocab)))
    for row, tb in enumerate(tables):
        for g, n, *vals in tb.select("ngram", "count", *cols).iter_rows():
            counts[row, index[g]] = n
            per_unit[index[g]] = np.asarray(vals) / n
    weights = torch.as_tensor(per_unit)
    bias = torch.as_tensor(np.atleast_1d(model.intercept_), dtype=torch.float64)

    def forward(c: torch.Tensor) -> torch.Tensor:
        return c @ weights + bias

    x = torch.as_tensor(counts)
    target = forward(x).argmax(1) if len(cols) > 1 else torch.zeros(len(texts), dtype=torch.long)
    ig = integrated_gradients(forward, x, 0.0, target, n_steps=n_steps)
    exact = np.stack([counts[r] * per_unit[:, int(target[r])] for r in range(len(texts))])
    ih = integrated_hessians(forward, x, 0.0, target, n_steps=4).interactions
    diag = torch.diagonal(ih, dim1=1, dim2=2)
    off_diag = ih - torch.diag_embed(diag)
    logits = model.decision_function(list(texts))
    logits = logits[:, None] if logits.ndim == 1 else logits
    stats = {
        "examples": len(texts),
        "ngrams": len(vocab),
        "ig_vs_exact_max_abs": float(np.abs(ig.attributions.numpy() - exact).max()),
        "ig_completeness_max_abs": float(ig.delta.abs().max()),
        "ih_off_diagonal_max_abs": float(off_diag.abs().max()),
        "ih_diagonal_vs_ig_max_abs": float((diag - ig.attributions).abs().max()),
        "decomposition_vs_model_max_abs": float(
            np.abs(
                exact.sum(1)
                + bias.numpy()[target.numpy()]
                - logits[np.arange(len(texts)), target.numpy()]
            ).max()
        ),
    }
    ig_np = ig.attributions.numpy()
    return EmbGamExplained(vocab, counts, exact, ig_np, target.numpy(), stats)


@dataclass
class TextComparison:
    """Token scores of several explainers on the same texts, with their faithfulness.

    ``scores[m]`` is ``(B, L)`` (zero on padding and special tokens); ``faithfulness[m]`` one
    :class:`~glassworks.explain.metrics.Faithfulness` per text; ``interactions`` holds token x
    token Integrated Hessians for the first texts of ``interaction_rows``.
    """

    enc: EncodedTexts
    target: torch.Tensor
    probability: torch.Tensor
    scores: dict[str, torch.Tensor]
    deltas: dict[str, torch.Tensor]
    seconds: dict[str, float]
    faithfulness: dict[str, list[Faithfulness]]
    output_gap: torch.Tensor
    """``f(x) - f(x')`` of the target logit per text (what IG must add up to)."""
    interaction_rows: list[int] = field(default_factory=list)
    interactions: list[torch.Tensor] = field(default_factory=list)
    pair_deletion: list[PairDeletion] = field(default_factory=list)
    """Per text with interactions: the IH-ranked pairs deleted vs as many IG-ranked tokens vs
    random pairs (:mod:`glassworks.explain.pair_deletion`)."""

    def summary(self) -> dict[str, Any]:
        """Per explainer: faithfulness means and completeness (path methods); IH's agreement with
        IG. No timings (machine state, not results: :meth:`seconds_per_text` gives them)."""
        out: dict[str, Any] = {}
        for m, results in self.faithfulness.items():
            row: dict[str, Any] = summarize(results)
            if m in self.deltas:
                row["completeness_abs_max"] = float(self.deltas[m].abs().max())
                if m == "ig":
                    row["completeness_rel_max"] = _rel(self.deltas[m], self.output_gap)["max"]
            out[m] = row
        if self.interactions:
            gap = self.output_gap.abs().clamp_min(1e-12)
            errs = [
                float((ih.sum(-1) - self.scores["ig"][i, : ih.shape[0]]).abs().max())
                for i, ih in zip(self.interaction_rows, self.interactions, strict=True)
            ]
            totals = [
                float((ih.sum() - self.output_gap[i]).abs() / gap[i])
                for i, ih in zip(self.interaction_rows, self.interactions, strict=True)
            ]
            out["ih"] = {
                "n_texts": len(self.interactions),
                "rows_vs_ig_abs_max": max(errs),
                "rows_vs_ig_rel_max": max(
                    e / float(gap[i]) for e, i in zip(errs, self.interaction_rows, strict=True)
                ),
                "total_rel_max": max(totals),
            }
            if self.pair_deletion:
                out["ih"]["pair_deletion"] = summarize_pair_deletion(self.pair_deletion)
        return out

    def seconds_per_text(self) -> dict[str, float]:
        """Wall-clock seconds per explained text of each explainer (and of ``ih`` when token
        interactions were computed): run facts for the MLflow run, never a DVC output."""
        n = len(self.enc.tokens)
        out = {m: self.seconds[m] / n for m in self.faithfulness}
        if self.interactions:
            out["ih"] = self.seconds["ih"] / len(self.interactions)
        return out


def compare_text_explainers(
    module: torch.nn.Module,
    tokenizer: Any,
    texts: Sequence[str],
    methods: Sequence[str] = ("ig", "eg", "lime", "occlusion", "random"),
    baseline: str = "pad",
    max_length: int = 128,
    n_steps: int = 32,
    eg_samples: int = 64,
    lime_samples: int = 200,
    n_interactions: int = 0,
    ih_steps: int = 16,
    ks: Sequence[float] = (0.1, 0.2, 0.5),
    seed: int = 0,
) -> TextComparison:
    """Explain the predicted class of ``texts`` with each of ``methods`` (``ig``, ``eg``,
    ``lime``, ``kernel_shap``, ``occlusion``, ``random``) and score each explainer's faithfulness
    on every text; token x token IH for the ``n_interactions`` shortest texts."""
    enc = encode_texts(module, tokenizer, texts, baseline, max_length)  # type: ignore[arg-type]
    logits = enc.logits()
    target = logits.argmax(-1)
    probability = torch.softmax(logits.double(), -1).gather(1, target.view(-1, 1)).squeeze(1)
    scores: dict[str, torch.Tensor] = {}
    deltas: dict[str, torch.Tensor] = {}
    seconds: dict[str, float] = {}
    gen = torch.Generator().manual_seed(seed)
    for m in methods:
        start = time.perf_counter()
        if m == "ig":
            scores[m], deltas[m] = integrated_gradients_tokens(enc, target, n_steps)
        elif m == "eg":
            scores[m], deltas[m] = expected_gradients_tokens(module, enc, target, eg_samples, seed)
        elif m in ("lime", "kernel_shap", "occlusion"):
            scores[m] = perturbation_tokens(enc, target, m, lime_samples, seed)  # type: ignore[arg-type]
        elif m == "random":
            noise = torch.rand(enc.input_ids.shape, generator=gen, dtype=torch.float64)
            scores[m] = torch.where(enc.candidates.cpu(), noise, 0.0).to(enc.embeds)
        else:
            raise ValueError(f"unknown explainer {m!r}")
        seconds[m] = time.perf_counter() - start
    faith = {
        m: [
            faithfulness(
                enc.forward,
                enc.embeds[i],
                enc.baseline[i],
                enc.attention_mask[i],
                s[i],
                enc.candidates[i],
                int(target[i]),
                ks=ks,
            )
            for i in range(len(texts))
        ]
        for m, s in scores.items()
    }
    comparison = TextComparison(
        enc, target, probability, scores, deltas, seconds, faith, enc.output_gap(target)
    )
    if n_interactions and "ig" in scores:
        rows = sorted(range(len(texts)), key=lambda i: (enc.lengths[i], i))[:n_interactions]
        start = time.perf_counter()
        sub = enc.select(rows)
        ih = integrated_hessians_tokens(sub, target[rows], ih_steps)
        seconds["ih"] = time.perf_counter() - start
        comparison.interaction_rows = rows
        comparison.interactions = [
            ih[j, : enc.lengths[i], : enc.lengths[i]].cpu() for j, i in enumerate(rows)
        ]
        comparison.pair_deletion = [
            _text_pair_deletion(enc, i, comparison.interactions[j], scores["ig"][i], target, seed)
            for j, i in enumerate(rows)
        ]
    return comparison


def _text_pair_deletion(
    enc: EncodedTexts,
    row: int,
    interactions: torch.Tensor,
    ig: torch.Tensor,
    target: torch.Tensor,
    seed: int,
) -> PairDeletion:
    """Pair deletion on text ``row``: its ``(n, n)`` token interactions padded to the batch's
    length (padding is never a candidate), tokens replaced by the explainers' baseline."""
    length = enc.embeds.shape[1]
    full = torch.zeros(length, length, dtype=torch.float64)
    n = interactions.shape[0]
    full[:n, :n] = interactions.double()
    return pair_deletion(
        enc.forward,
        enc.embeds[row],
        enc.baseline[row],
        enc.attention_mask[row],
        full.to(enc.embeds.device),
        ig,
        enc.candidates[row],
        int(target[row]),
        seed=seed,
    )
