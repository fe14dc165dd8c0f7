"""Perturbation explainers for text at the token level, through Captum: LIME (Ribeiro et al. 2016),
Kernel SHAP (Lundberg & Lee 2017) and occlusion (Zeiler & Fergus 2014).

They perturb the same thing the path methods integrate over: a token "off" has its embedding
replaced by the baseline embedding (:class:`~glassworks.explain.text.EncodedTexts`), special
tokens and padding never move. Each text is explained on its own (Captum's surrogate models
need one example per call), trimmed to its length.
"""

from __future__ import annotations

from typing import Literal

import torch

from glassworks.explain.text import EncodedTexts

Perturbation = Literal["lime", "kernel_shap", "occlusion"]


def _feature_mask(candidates: torch.Tensor, dim: int) -> torch.Tensor:
    """Feature id per (token, dim): each candidate token is one feature; all other tokens share
    the last id (they never change, so they get no weight)."""
    length = candidates.shape[0]
    ids = torch.arange(length, device=candidates.device)
    ids = torch.where(candidates, ids, torch.full_like(ids, length))
    _, dense = torch.unique(ids, return_inverse=True)
    return dense.view(1, length, 1).expand(1, length, dim)


def perturbation_tokens(
    enc: EncodedTexts,
    target: torch.Tensor,
    method: Perturbation,
    n_samples: int = 200,
    seed: int = 0,
    batch_size: int = 64,
) -> torch.Tensor:
    """Token scores ``(B, L)`` (zero on padding and special tokens) from LIME, Kernel SHAP or
    occlusion of one token at a time against the baseline embedding."""
    from captum._utils.models.linear_model import SkLearnRidge
    from captum.attr import KernelShap, Lime, Occlusion

    b, length, dim = enc.embeds.shape
    out = torch.zeros(b, length, dtype=enc.embeds.dtype, device=enc.embeds.device)
    for i, n in enumerate(enc.lengths):
        x = enc.embeds[i : i + 1, :n]
        base = enc.baseline[i : i + 1, :n]
        mask = enc.attention_mask[i : i + 1, :n]
        cand = enc.candidates[i, :n]
        if not bool(cand.any()):
            continue
        tgt = int(target[i])
        with torch.no_grad():
            if method == "occlusion":
                attr = Occlusion(enc.forward).attribute(
                    x,
                    sliding_window_shapes=(1, dim),
                    strides=(1, dim),
                    baselines=base,
                    target=tgt,
                    additional_forward_args=(mask,),
                    perturbations_per_eval=batch_size,
                )
                scores = attr[0, :, 0]  # every dim of a window holds the window's effect
            else:
                torch.manual_seed(seed + i)
                fmask = _feature_mask(cand, dim)
                explainer = (
                    Lime(enc.forward, interpretable_model=SkLearnRidge(alpha=1.0))
                    if method == "lime"
                    else KernelShap(enc.forward)
                )
                attr = explainer.attribute(
                    x,
                    baselines=base,
                    target=tgt,
                    additional_forward_args=(mask,),
                    feature_mask=fmask,
                    n_samples=n_samples,
                    perturbations_per_eval=batch_size,
                )
                scores = attr[0, :, 0]  # a feature's weight is repeated over its dims
        out[i, :n] = torch.where(
            cand, scores.to(out.dtype), torch.zeros_like(scores, dtype=out.dtype)
        )
    return out
