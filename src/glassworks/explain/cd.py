"""Contextual decomposition (CD): how much of a network's output comes from a chosen group of
inputs (Murdoch, Liu & Yu, ICLR 2018 for LSTMs; Singh, Murdoch & Yu, ICLR 2019 for CNNs), the
score CDEP penalises (Rieger, Singh, Murdoch & Yu, ICML 2020).

Every activation is carried as two parts, ``relevant`` (from the group) and ``irrelevant`` (from
everything else), whose sum is always the ordinary activation, so at the output
``relevant + irrelevant == model(x)`` to float precision. The walk is generic: it descends
``nn.Sequential`` containers (and a model's ``cd_layers()``, the modules its ``forward`` applies in
order) and applies one rule per layer type:

- affine layers (Linear, Conv1d/2d, eval-mode BatchNorm, average pooling): the weights act on each
  part; the bias is split between them in proportion to their magnitudes (as CDEP does);
- element-wise activations (ReLU, GELU, tanh, ...): ``rel' = act(rel)``,
  ``irrel' = act(rel + irrel) - act(rel)``;
- max pooling: both parts are read at the positions where the total is maximal;
- dropout: identity in eval mode, one shared mask in training mode;
- embeddings: a token's vector goes to the part its group membership says;
- LSTMs read at each sequence's last real step (:func:`lstm_last_hidden`, which a model
  registers for its own module type with :func:`register_rule`, e.g.
  :class:`glassworks.models.lstm.LastHiddenLSTM`): Murdoch et al.'s gate-wise split (two- and
  three-way Shapley splits of each non-linearity), batched over examples and groups given as token
  masks rather than one contiguous span.

The explainers work on any torch module and never import a model: a model brings its own rules.

Attention has no CD rule (the product of two decomposed activations mixes both parts in every
term); a model with an unsupported layer raises :class:`UnsupportedLayerError` naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

Parts = tuple[torch.Tensor, torch.Tensor]
Rule = Callable[[nn.Module, torch.Tensor, torch.Tensor, dict[str, Any]], Parts]


class UnsupportedLayerError(TypeError):
    """A layer with no contextual-decomposition rule."""

    def __init__(self, path: str, module: nn.Module, why: str = "") -> None:
        kinds = ", ".join(sorted({t.__name__ for t in RULES}))
        detail = why or f"supported layers: {kinds}, and nn.Sequential / cd_layers() containers"
        super().__init__(
            f"contextual decomposition has no rule for layer {path!r} "
            f"({type(module).__name__}): {detail}"
        )


@dataclass(frozen=True)
class Decomposition:
    """The output split into the group's part and the rest; ``relevant + irrelevant`` is the
    model's output."""

    relevant: torch.Tensor
    irrelevant: torch.Tensor

    @property
    def total(self) -> torch.Tensor:
        """``relevant + irrelevant`` (the model's output)."""
        return self.relevant + self.irrelevant


# --------------------------------------------------------------------------- rules


def _split_bias(rel: torch.Tensor, irrel: torch.Tensor, bias: torch.Tensor | None) -> Parts:
    """Give each part the share of ``bias`` its magnitude earns (CDEP's rule)."""
    if bias is None:
        return rel, irrel
    a, b = rel.abs() + 1e-20, irrel.abs() + 1e-20
    share = a / (a + b)
    return rel + share * bias, irrel + (1 - share) * bias


def _linear(module: nn.Module, rel: torch.Tensor, irrel: torch.Tensor, _: dict) -> Parts:
    w, b = module.weight, module.bias
    return _split_bias(F.linear(rel, w), F.linear(irrel, w), _bias_like(b, rel, -1))


def _bias_like(bias: torch.Tensor | None, ref: torch.Tensor, dim: int) -> torch.Tensor | None:
    if bias is None:
        return None
    shape = [1] * ref.ndim
    shape[dim] = -1
    return bias.view(shape)


def _conv(module: nn.Module, rel: torch.Tensor, irrel: torch.Tensor, _: dict) -> Parts:
    conv = module._conv_forward  # type: ignore[attr-defined]
    rel_out, irrel_out = conv(rel, module.weight, None), conv(irrel, module.weight, None)
    return _split_bias(rel_out, irrel_out, _bias_like(module.bias, rel_out, 1))


def _batch_norm(module: nn.Module, rel: torch.Tensor, irrel: torch.Tensor, _: dict) -> Parts:
    bn = module
    if bn.training or bn.running_mean is None:
        raise UnsupportedLayerError(
            type(bn).__name__, bn, "BatchNorm is affine only in eval mode (running statistics)"
        )
    scale = torch.rsqrt(bn.running_var + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight
    shift = -bn.running_mean * scale
    if bn.bias is not None:
        shift = shift + bn.bias
    s, t = _bias_like(scale, rel, 1), _bias_like(shift, rel, 1)
    return _split_bias(rel * s, irrel * s, t)


def _linear_no_bias(module: nn.Module, rel: torch.Tensor, irrel: torch.Tensor, _: dict) -> Parts:
    return module(rel), module(irrel)


def _activation(module: nn.Module, rel: torch.Tensor, irrel: torch.Tensor, _: dict) -> Parts:
    rel_out = module(rel)
    return rel_out, module(rel + irrel) - rel_out


def _max_pool(module: nn.Module, rel: torch.Tensor, irrel: torch.Tensor, _: dict) -> Parts:
    total = rel + irrel
    pool = {
        nn.MaxPool1d: F.max_pool1d,
        nn.MaxPool2d: F.max_pool2d,
    }[type(module)]
    out, idx = pool(
        total,
        module.kernel_size,
        module.stride,
        module.padding,
        module.dilation,
        module.ceil_mode,
        return_indices=True,
    )
    flat_idx = idx.flatten(2)

    def take(t: torch.Tensor) -> torch.Tensor:
        return t.flatten(2).gather(2, flat_idx).view_as(out)

    return take(rel), take(irrel)


def _adaptive_max_pool(module: nn.Module, rel: torch.Tensor, irrel: torch.Tensor, _: dict) -> Parts:
    pool = {
        nn.AdaptiveMaxPool1d: F.adaptive_max_pool1d,
        nn.AdaptiveMaxPool2d: F.adaptive_max_pool2d,
    }[type(module)]
    out, idx = pool(rel + irrel, module.output_size, return_indices=True)
    flat_idx = idx.flatten(2)
    return (
        rel.flatten(2).gather(2, flat_idx).view_as(out),
        irrel.flatten(2).gather(2, flat_idx).view_as(out),
    )


def _dropout(module: nn.Module, rel: torch.Tensor, irrel: torch.Tensor, _: dict) -> Parts:
    if not module.training:
        return rel, irrel
    keep = F.dropout(torch.ones_like(rel), module.p, training=True)  # one mask for both parts
    return rel * keep, irrel * keep


def last_real_step(
    attention_mask: torch.Tensor | None, batch: int, length: int, device: torch.device
) -> torch.Tensor:
    """Index of each row's last real step (``length - 1`` without a mask)."""
    if attention_mask is None:
        return torch.full((batch,), length - 1, dtype=torch.long, device=device)
    return (attention_mask.sum(1).long() - 1).clamp_min(0)


def lstm_last_hidden(module: nn.Module, rel: torch.Tensor, irrel: torch.Tensor, ctx: dict) -> Parts:
    """CD through a 1-layer unidirectional ``batch_first`` LSTM held as ``module.lstm`` (Murdoch
    et al. 2018), read at each sequence's last real step.

    Every gate's pre-activation is ``a + b + c`` (relevant, irrelevant, bias); its non-linearity
    is split three ways, ``a``'s part ``(f(a+c) - f(c) + f(a+b+c) - f(b+c)) / 2``, ``b``'s part
    symmetrically, ``c``'s part ``f(c)``. The product of the input and cell gates' bias parts goes
    to the relevant part at steps inside the group, to the irrelevant part elsewhere. For speed,
    all four gates go through one sigmoid (``tanh(x) = 2 sigmoid(2x) - 1``: the cell gate's rows
    are doubled) and the three evaluations per step are stacked into one call.
    """
    lstm: nn.LSTM = module.lstm
    group = ctx["token_group"]  # (B, T) bool
    mask = ctx.get("attention_mask")
    b, t_len, _ = rel.shape
    h = lstm.hidden_size
    scale = torch.ones(4 * h, 1, dtype=rel.dtype, device=rel.device)
    scale[2 * h : 3 * h] = 2.0
    w_ih, w_hh = lstm.weight_ih_l0 * scale, lstm.weight_hh_l0 * scale
    bias = (lstm.bias_ih_l0 + lstm.bias_hh_l0) * scale[:, 0] if lstm.bias else scale[:, 0] * 0
    if ctx.get("token_split"):  # rel/irrel are whole tokens: project once, split by the mask
        x_tot = F.linear(rel + irrel, w_ih)
        x_rel = x_tot * group[:, :t_len].unsqueeze(-1)
        x_irrel = x_tot - x_rel
    else:
        x_rel, x_irrel = F.linear(rel, w_ih), F.linear(irrel, w_ih)  # (B, T, 4H), no bias
    f_bias = torch.sigmoid(bias)
    s_i, s_f = f_bias[:h], f_bias[h : 2 * h]
    t_g = 2 * f_bias[2 * h : 3 * h] - 1  # tanh of the cell gate's bias
    bias_bias = (s_i * t_g).expand(b, h)
    in_group = group[:, :t_len].unsqueeze(-1)
    bb_rel = torch.where(in_group, bias_bias.unsqueeze(1), 0.0)  # (B, T, H)
    bb_irrel = bias_bias.unsqueeze(1) - bb_rel
    c_rel = c_irrel = h_rel = h_irrel = rel.new_zeros(b, h)
    outs_rel, outs_irrel = [], []
    for t in range(t_len):
        hh = F.linear(torch.cat([h_rel, h_irrel]), w_hh)
        ac = x_rel[:, t] + hh[:b] + bias
        bc = x_irrel[:, t] + hh[b:] + bias
        o = torch.sigmoid(ac[:, 3 * h :] + bc[:, 3 * h :] - bias[3 * h :])
        ac, bc = ac[:, : 3 * h], bc[:, : 3 * h]
        f_ac, f_bc, f_abc = torch.sigmoid(torch.stack([ac, bc, ac + bc - bias[: 3 * h]])).unbind(0)
        d, e = f_ac - f_bc, f_abc - f_bias[: 3 * h]
        part_a, part_b = 0.5 * (e + d), 0.5 * (e - d)
        ri, rf, rg = part_a[:, :h], part_a[:, h : 2 * h], 2 * part_a[:, 2 * h :]
        ii, if_, ig = part_b[:, :h], part_b[:, h : 2 * h], 2 * part_b[:, 2 * h :]
        new_rel = ri * (rg + t_g) + s_i * rg + bb_rel[:, t]
        new_irrel = ii * (rg + ig + t_g) + (ri + s_i) * ig + bb_irrel[:, t]
        if t > 0:
            new_rel = new_rel + (rf + s_f) * c_rel
            new_irrel = new_irrel + (rf + if_ + s_f) * c_irrel + if_ * c_rel
        c_rel, c_irrel = new_rel, new_irrel
        th_a, th_b, th_ab = torch.tanh(torch.stack([c_rel, c_irrel, c_rel + c_irrel])).unbind(0)
        h_rel = o * 0.5 * (th_a + th_ab - th_b)
        h_irrel = o * th_ab - h_rel
        outs_rel.append(h_rel)
        outs_irrel.append(h_irrel)
    last = last_real_step(mask, b, t_len, rel.device)
    rows = torch.arange(b, device=rel.device)
    return torch.stack(outs_rel, 1)[rows, last], torch.stack(outs_irrel, 1)[rows, last]


RULES: dict[type[nn.Module], Rule] = {
    nn.Linear: _linear,
    nn.Conv1d: _conv,
    nn.Conv2d: _conv,
    nn.BatchNorm1d: _batch_norm,
    nn.BatchNorm2d: _batch_norm,
    nn.AvgPool1d: _linear_no_bias,
    nn.AvgPool2d: _linear_no_bias,
    nn.AdaptiveAvgPool1d: _linear_no_bias,
    nn.AdaptiveAvgPool2d: _linear_no_bias,
    nn.Flatten: _linear_no_bias,
    nn.Identity: _linear_no_bias,
    nn.MaxPool1d: _max_pool,
    nn.MaxPool2d: _max_pool,
    nn.AdaptiveMaxPool1d: _adaptive_max_pool,
    nn.AdaptiveMaxPool2d: _adaptive_max_pool,
    nn.Dropout: _dropout,
    nn.Dropout1d: _dropout,
    nn.Dropout2d: _dropout,
    nn.ReLU: _activation,
    nn.LeakyReLU: _activation,
    nn.ELU: _activation,
    nn.GELU: _activation,
    nn.SiLU: _activation,
    nn.Softplus: _activation,
    nn.Tanh: _activation,
    nn.Sigmoid: _activation,
}


def register_rule(module_type: type[nn.Module], rule: Rule) -> None:
    """Decompose every ``module_type`` layer with ``rule`` (how a model outside this package, such
    as an LSTM wrapper, makes itself decomposable without the explainer importing it)."""
    RULES[module_type] = rule


# --------------------------------------------------------------------------- walking


def layers(model: nn.Module, path: str = "model") -> Iterator[tuple[str, nn.Module]]:
    """The leaf layers ``model``'s forward applies, in order, with their dotted paths."""
    if isinstance(model, nn.Sequential):
        for name, child in model.named_children():
            yield from layers(child, f"{path}.{name}")
    elif hasattr(model, "cd_layers"):
        named = {id(m): n for n, m in model.named_modules()}
        for child in model.cd_layers():
            yield from layers(child, f"{path}.{named.get(id(child), type(child).__name__)}")
    else:
        yield path, model


def check_supported(model: nn.Module) -> None:
    """Raise :class:`UnsupportedLayerError` for the first layer with no CD rule."""
    for i, (path, layer) in enumerate(layers(model)):
        if i == 0 and isinstance(layer, nn.Embedding):
            continue
        if type(layer) not in RULES:
            why = ""
            if isinstance(layer, nn.MultiheadAttention | nn.TransformerEncoder) or (
                "Transformer" in type(layer).__name__
            ):
                why = (
                    "attention multiplies two decomposed activations, so CD is not defined for "
                    "it; penalise a transformer with penalty 'rrr' or 'eg' instead"
                )
            elif isinstance(layer, nn.Embedding):
                why = "an embedding can only be the first layer"
            raise UnsupportedLayerError(path, layer, why)


def contextual_decomposition(
    model: nn.Module,
    inputs: torch.Tensor,
    group: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
) -> Decomposition:
    """Split ``model(inputs)`` into the part due to ``group`` and the rest.

    ``inputs``: token ids ``(B, T)`` when the first layer is an ``nn.Embedding`` (``group`` is then
    a ``(B, T)`` token mask), else a float tensor with ``group`` a mask broadcastable to it (e.g.
    ``(B, 1, H, W)`` pixels). ``attention_mask`` ``(B, T)`` marks real tokens for LSTMs over
    right-padded batches. The result's ``relevant + irrelevant`` equals the model's output.
    """
    check_supported(model)
    walk = list(layers(model))
    ctx: dict[str, Any] = {"attention_mask": attention_mask}
    first_path, first = walk[0]
    if isinstance(first, nn.Embedding):
        if group.shape != inputs.shape:
            raise ValueError(
                f"group shape {tuple(group.shape)} must match the token ids {tuple(inputs.shape)}"
            )
        keep = group.bool()
        ctx["token_group"] = keep
        ctx["token_split"] = True
        emb = first(inputs)
        rel = emb * keep.unsqueeze(-1)
        irrel = emb - rel
        walk = walk[1:]
    else:
        keep = group.to(inputs.dtype)
        try:
            rel = inputs * keep
        except RuntimeError as err:
            raise ValueError(
                f"group shape {tuple(group.shape)} does not broadcast to the inputs "
                f"{tuple(inputs.shape)}"
            ) from err
        irrel = inputs - rel
        if inputs.ndim == 3:  # (B, T, E) sequences: a step is in the group if any feature is
            ctx["token_group"] = group.bool().expand_as(inputs).any(-1)
    for _, layer in walk:
        rel, irrel = RULES[type(layer)](layer, rel, irrel, ctx)
        ctx["token_split"] = False  # only the layer right after the embedding sees whole tokens
    return Decomposition(rel, irrel)
