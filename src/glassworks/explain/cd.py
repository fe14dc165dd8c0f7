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

import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn
from torch.autograd.function import once_differentiable

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


# The LSTM rule runs its recurrence as one autograd node (:class:`_LSTMDecomposition`) with a
# hand-written backward: eager autograd over ~30 small ops per step cost 10x a forward pass.
# Buffers hold chunks of steps, block-major ``(blocks, n, B, cols)``: a step's slot is
# ``buf[:, i]``, and a block over the whole chunk is one ``(n * B, cols)`` matrix, so the input
# projections and the weight gradients are one product per chunk. Without a backward one
# cache-sized chunk is reused. With one, each chunk of steps saves its gate sigmoids and cells in
# an arena of ``_ARENA_BYTES`` (the backward's scratch is one more): arenas are recycled across
# calls on CPU, since glibc hands big freed blocks back to the kernel and page-faulting tens of
# MB afresh on every call cost as much as the recurrence itself.
_ARENA_BYTES = 16 * 2**20
_ARENAS_KEPT = 16  # idle arenas kept for the next call, at most (256 MiB)
_SCRATCH_BYTES = 4 * 2**20
_arenas: list[torch.Tensor] = []
_arenas_lock = threading.Lock()


def _take_arena(nbytes: int, device: torch.device) -> torch.Tensor:
    """A byte buffer of at least ``nbytes``: a recycled arena when one is big enough (CPU)."""
    if device.type == "cpu" and nbytes <= _ARENA_BYTES:
        with _arenas_lock:
            if _arenas:
                return _arenas.pop()
        return torch.empty(_ARENA_BYTES, dtype=torch.uint8)
    return torch.empty(nbytes, dtype=torch.uint8, device=device)


def _give_arenas(arenas: list[torch.Tensor]) -> None:
    """Keep arenas for later calls (full-size CPU ones, up to ``_ARENAS_KEPT``)."""
    with _arenas_lock:
        for arena in arenas:
            full = arena.device.type == "cpu" and arena.numel() == _ARENA_BYTES
            if full and len(_arenas) < _ARENAS_KEPT:
                _arenas.append(arena)


def _carve(arena: torch.Tensor, dtype: torch.dtype, *shapes: tuple[int, ...]) -> list[torch.Tensor]:
    """Consecutive 64-byte aligned views of ``arena`` with ``shapes``."""
    item = torch.empty((), dtype=dtype).element_size()
    views, offset = [], 0
    for shape in shapes:
        nbytes = math.prod(shape) * item
        views.append(arena[offset : offset + nbytes].view(dtype).view(shape))
        offset += -(-nbytes // 64) * 64
    return views


def _arena_bytes(dtype: torch.dtype, *shapes: tuple[int, ...]) -> int:
    """The bytes :func:`_carve` needs for ``shapes``."""
    item = torch.empty((), dtype=dtype).element_size()
    return sum(-(-math.prod(shape) * item // 64) * 64 for shape in shapes)


def _chunks(t_len: int, step_bytes: int, budget: int) -> list[tuple[int, int]]:
    """``[lo, hi)`` ranges of steps whose per-step buffers fit in ``budget`` bytes."""
    per = max(1, budget // max(step_bytes, 1))
    return [(lo, min(lo + per, t_len)) for lo in range(0, t_len, per)]


class _Slots:
    """Per-step views of a chunk of gate slots ``s`` ``(3, n, B, 4H)`` (blocks: the gates at the
    relevant pre-activation ``ac``, at the total, at ``bc``; the ``ac`` and ``bc`` blocks leave
    the output gate's columns unused), of the factors ``r`` ``(2, n, B, 3H)`` of the relevant and
    total cell updates, and of the doubled cells ``d`` ``(3, n, B, H)`` (relevant, total,
    irrelevant)."""

    def __init__(self, s: torch.Tensor, r: torch.Tensor, d: torch.Tensor) -> None:
        h3 = s.shape[-1] * 3 // 4
        h = h3 // 3
        self.s, self.ac3, self.tot4 = s.unbind(1), s[0, ..., :h3].unbind(0), s[1].unbind(0)
        self.tot3, self.bc = s[1, ..., :h3].unbind(0), s[2, ..., :h3].unbind(0)
        self.o, self.ou = s[1, ..., h3:].unbind(0), s[1:2, ..., h3:].unbind(1)
        self.at, self.ab = s[:2, ..., :h3].unbind(1), s[::2, ..., :h3].unbind(1)  # pairs
        self.tot3u, self.bcu = s[1:2, ..., :h3].unbind(1), s[2:, ..., :h3].unbind(1)
        self.r, self.r0u = r.unbind(1), r[:1].unbind(1)
        self.r0, self.r1 = r[0].unbind(0), r[1].unbind(0)
        self.ri, self.rf, self.rg = (r[..., k * h : (k + 1) * h].unbind(1) for k in range(3))
        self.d, self.d01, self.d2u = d.unbind(1), d[:2].unbind(1), d[2:].unbind(1)
        self.d0, self.d1, self.d2 = d[0].unbind(0), d[1].unbind(0), d[2].unbind(0)

    def gates(self, i: int, k: int, kst: torch.Tensor) -> None:
        """Step ``i``'s factors into slot ``k``: ``r = [s_ac + s_tot - s_bc, 2 s_tot] + kst``
        (the i, f, g columns)."""
        torch.add(self.at[i], self.tot3u[i], out=self.r[k])
        self.r0[k].sub_(self.bc[i])
        self.r[k].add_(kst)


class _Cells:
    """A step's hidden algebra: from the doubled cells their sigmoids ``e`` ``(3, B, H)`` and the
    hidden states over the output gate ``u`` ``(2, B, H)`` (the backward recomputes them)."""

    def __init__(self, bsz: int, h: int, like: torch.Tensor) -> None:
        kw: dict[str, Any] = {"dtype": like.dtype, "device": like.device}
        self.e = torch.empty(3, bsz, h, **kw)
        self.e01, self.e1u, self.e2 = self.e[:2], self.e[1:2], self.e[2]
        self.u = torch.empty(2, bsz, h, **kw)
        self.u0, self.u1 = self.u[0], self.u[1]
        self.cst = torch.tensor([-0.5, -1.0], **kw).view(2, 1, 1)

    def hidden(self, d: torch.Tensor) -> None:
        """``e = sigmoid(d)``, ``u = [e_rel + e_tot - e_irrel - 1/2, 2 e_tot - 1]``."""
        torch.sigmoid(d, out=self.e)
        torch.add(self.e01, self.e1u, out=self.u)
        self.u0.sub_(self.e2)
        self.u.add_(self.cst)


def _lstm_cd_forward(
    x_in: torch.Tensor,
    rel_in: torch.Tensor | None,
    g: torch.Tensor,
    ng: torch.Tensor,
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    bias: torch.Tensor,
    kst: torch.Tensor,
    nbc: torch.Tensor,
    keep: bool,
) -> tuple[torch.Tensor, list[torch.Tensor], ...]:
    """The CD recurrence over time-major inputs ``(T, B, E)`` (arguments: see
    :func:`lstm_last_hidden`): the relevant and total hidden states before each step and after
    the last, ``(2, T + 1, B, H)``; when ``keep``, the chunks of gate sigmoids, factors and cells
    the backward needs, the arenas holding them, and the chunks' step ranges."""
    t_len, bsz, e_dim = x_in.shape
    h = w_hh.shape[1]
    h3, h4 = 3 * h, 4 * h
    kw: dict[str, Any] = {"dtype": x_in.dtype, "device": x_in.device}
    # a step's share of a forward arena (gates 12H, factors 6H, cells 3H), or the backward's
    step_bytes = bsz * 21 * h * x_in.element_size()
    chunks = _chunks(t_len, step_bytes, _ARENA_BYTES - 256 if keep else _SCRATCH_BYTES)
    sizes = [hi - lo for lo, hi in chunks] if keep else [max(hi - lo for lo, hi in chunks)]
    shapes = [
        ((3, n, bsz, h4), (2, n if keep else 1, bsz, h3), (3, n if keep else max(n, 2), bsz, h))
        for n in sizes
    ]
    arenas = [_take_arena(_arena_bytes(x_in.dtype, *sh), x_in.device) for sh in shapes]
    bufs = [_carve(a, x_in.dtype, *sh) for a, sh in zip(arenas, shapes, strict=True)]
    s_bufs, r_bufs, d_bufs = ([b[k] for b in bufs] for k in range(3))
    ring = not keep and sizes[0] == 1  # one step per chunk: the cells alternate two slots
    for s in s_bufs:  # the unused output-gate columns: finite for the sigmoid
        s[0::2, ..., h3:].zero_()
    span = max(sizes)
    nb = torch.zeros(span, 2, bsz, h, **kw)  # bias-bias products off the group (relevant only)
    nb_l = nb.unbind(0)
    hs = torch.empty(2, t_len + 1, bsz, h, **kw)  # step t reads t, writes t + 1
    hs[:, 0].zero_()
    hs_l, hrel_l, htot_l = hs.unbind(1), hs[0].unbind(0), hs[1].unbind(0)
    b3, w3t, w4t, w_t = bias[:h3], w_hh[:h3].t(), w_hh.t(), w_ih.t()
    cells = _Cells(bsz, h, x_in)
    sl = _Slots(s_bufs[0], r_bufs[0], d_bufs[0])
    d01_prev: torch.Tensor | None = None
    for c, (lo, hi) in enumerate(chunks):
        n = hi - lo
        s = s_bufs[c if keep else 0]
        if keep and c:
            sl = _Slots(s, r_bufs[c], d_bufs[c])
        # input projections (+ bias) of the chunk, written where the recurrent parts are added
        torch.addmm(bias, x_in[lo:hi].view(-1, e_dim), w_t, out=s[1, :n].view(-1, h4))
        if rel_in is None:  # whole tokens: a step's projection is relevant or not at all
            torch.lerp(b3.expand(n, bsz, h3), s[1, :n, :, :h3], g[lo:hi], out=s[0, :n, :, :h3])
        else:
            torch.addmm(
                b3, rel_in[lo:hi].view(-1, e_dim), w_t[:, :h3], out=s[0, :n].view(-1, h4)[:, :h3]
            )
        torch.mul(ng[lo:hi], nbc, out=nb[:n, 0])
        for t in range(lo, hi):
            i = t - lo
            if t:
                sl.ac3[i].addmm_(hrel_l[t], w3t)
                sl.tot4[i].addmm_(htot_l[t], w4t)
            torch.sub(sl.tot3[i], sl.ac3[i], out=sl.bc[i])  # bc: the irrelevant part + bias
            sl.bc[i].add_(b3)
            sl.s[i].sigmoid_()
            k = i if keep else 0
            sl.gates(i, k, kst)
            j = t % 2 if ring else i
            d01 = sl.d01[j]
            torch.addcmul(nb_l[i], sl.ri[k], sl.rg[k], out=d01)
            if d01_prev is not None:
                d01.addcmul_(sl.rf[k], d01_prev, value=0.5)
            torch.sub(sl.d1[j], sl.d0[j], out=sl.d2[j])
            cells.hidden(sl.d[j])
            torch.mul(cells.u, sl.ou[i], out=hs_l[t + 1])
            d01_prev = d01
    if not keep:
        _give_arenas(arenas)
        return hs, [], [], [], [], chunks
    return hs, s_bufs, r_bufs, d_bufs, arenas, chunks


def _lstm_cd_backward(
    g_hs: torch.Tensor,
    x_in: torch.Tensor,
    rel_in: torch.Tensor | None,
    g: torch.Tensor,
    ng: torch.Tensor,
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    kst: torch.Tensor,
    hs: torch.Tensor,
    s_bufs: list[torch.Tensor],
    r_bufs: list[torch.Tensor],
    d_bufs: list[torch.Tensor],
    chunks: list[tuple[int, int]],
) -> tuple[torch.Tensor | None, ...]:
    """Gradients of :func:`_lstm_cd_forward`'s inputs from those of its hidden states: the steps
    in reverse (recomputing each step's hidden algebra), then per chunk one product for each
    weight and input gradient."""
    t_len, bsz, e_dim = x_in.shape
    h = w_hh.shape[1]
    h3, h4 = 3 * h, 4 * h
    kw: dict[str, Any] = {"dtype": hs.dtype, "device": hs.device}
    g_hs = g_hs.contiguous()
    g_x_in = torch.empty_like(x_in)
    g_rel_in = None if rel_in is None else torch.empty_like(rel_in)
    g_w_ih, g_w_hh, g_kst = torch.zeros_like(w_ih), torch.zeros_like(w_hh), torch.zeros_like(kst)
    g_b, g_nbc = torch.zeros(h4, **kw), torch.zeros(h, **kw)
    cells = _Cells(bsz, h, hs)
    g_e, ds_e = torch.empty(3, bsz, h, **kw), torch.empty(3, bsz, h, **kw)
    g_e0, g_e1, g_e2, g_e01 = g_e[0], g_e[1], g_e[2], g_e[:2]
    ds_s = torch.empty(3, bsz, h4, **kw)
    carry, zeros = torch.empty(2, bsz, h, **kw), torch.zeros(2, bsz, h, **kw)
    gh = g_hs[:, -1].clone()  # (2, B, H)
    gh0, gh1 = gh[0], gh[1]
    g_hs0, g_hs1 = g_hs[0].unbind(0), g_hs[1].unbind(0)
    sgn_d = torch.tensor([-1.0, 1.0], **kw).view(2, 1, 1)  # irrelevant = total - relevant
    sgn_ab = torch.tensor([1.0, -1.0], **kw).view(2, 1, 1)  # bc enters with a minus
    w3 = w_hh[:h3]
    span = max(hi - lo for lo, hi in chunks)
    # gradients of the pre-activations, of the cell factors, of the doubled cells
    shapes = (3, span, bsz, h4), (2, span, bsz, h3), (3, span, bsz, h)
    arena = _take_arena(_arena_bytes(hs.dtype, *shapes), hs.device)
    g_s_buf, g_r_buf, g_d_buf = _carve(arena, hs.dtype, *shapes)
    g_s_buf[0::2, ..., h3:].zero_()  # unused output-gate columns
    for c in range(len(chunks) - 1, -1, -1):
        lo, hi = chunks[c]
        n = hi - lo
        sl = _Slots(s_bufs[c], r_bufs[c], d_bufs[c])
        g_s, g_r, g_d = g_s_buf[:, :n], g_r_buf[:, :n], g_d_buf[:, :n]
        gl = _Slots(g_s, g_r, g_d)
        for t in range(hi - 1, lo - 1, -1):
            i = t - lo
            cells.hidden(sl.d[i])
            torch.mul(gh, sl.ou[i], out=g_e01)  # hidden = u * o
            go = gl.o[i]
            torch.mul(gh0, cells.u0, out=go)
            go.addcmul_(gh1, cells.u1)
            torch.add(g_e0, g_e1, alpha=2, out=g_e1)
            torch.neg(g_e0, out=g_e2)
            torch.addcmul(cells.e, cells.e, cells.e, value=-1, out=ds_e)  # sigmoid' = e (1 - e)
            gd01 = gl.d01[i]
            torch.mul(g_e, ds_e, out=gl.d[i])
            gd01.addcmul_(gl.d2u[i], sgn_d)
            if t < t_len - 1:
                gd01.add_(carry, alpha=0.5)
            torch.mul(gd01, sl.rg[i], out=gl.ri[i])
            torch.mul(gd01, sl.ri[i], out=gl.rg[i])
            if t:
                d01_prev = sl.d01[i - 1] if i else d_bufs[c - 1][:2, -1]
                torch.addcmul(zeros, gd01, d01_prev, value=0.5, out=gl.rf[i])
                torch.mul(sl.rf[i], gd01, out=carry)
            else:
                gl.rf[i].zero_()
            torch.mul(gl.r0u[i], sgn_ab, out=gl.ab[i])
            torch.add(gl.r0[i], gl.r1[i], alpha=2, out=gl.tot3[i])
            s = sl.s[i]
            torch.addcmul(s, s, s, value=-1, out=ds_s)
            gl.s[i].mul_(ds_s)
            gl.at[i].addcmul_(gl.bcu[i], sgn_d)  # bc = total - ac + bias
            if t:
                torch.addmm(g_hs0[t], gl.ac3[i], w3, out=gh0)
                torch.addmm(g_hs1[t], gl.tot4[i], w_hh, out=gh1)
        # the chunk's weight, input and bias gradients: one product each
        f_ac3 = g_s[0].reshape(-1, h4)[:, :h3]
        f_tot4, f_bc = g_s[1].reshape(-1, h4), g_s[2].reshape(-1, h4)[:, :h3]
        g_w_hh[:h3].addmm_(f_ac3.t(), hs[0, lo:hi].reshape(-1, h))  # the states each step read
        g_w_hh.addmm_(f_tot4.t(), hs[1, lo:hi].reshape(-1, h))
        x_flat = x_in[lo:hi].view(-1, e_dim)
        g_b[:h3].add_(f_bc.sum(0))
        if rel_in is None:  # the relevant projection is the total's at steps in the group
            g_b[:h3].addmv_(f_ac3.t(), ng[lo:hi].view(-1))
            f_tot4 = f_tot4.clone()
            f_tot4[:, :h3].addcmul_(f_ac3, g[lo:hi].view(-1, 1))
        else:
            assert g_rel_in is not None
            torch.mm(f_ac3, w_ih[:h3], out=g_rel_in[lo:hi].view(-1, e_dim))
            g_w_ih[:h3].addmm_(f_ac3.t(), rel_in[lo:hi].view(-1, e_dim))
            g_b[:h3].add_(f_ac3.sum(0))
        torch.mm(f_tot4, w_ih, out=g_x_in[lo:hi].view(-1, e_dim))
        g_w_ih.addmm_(f_tot4.t(), x_flat)
        g_b.add_(f_tot4.sum(0))
        g_kst.add_(g_r.reshape(2, -1, h3).sum(1).unsqueeze(1))
        g_nbc.addmv_(g_d[0].reshape(-1, h).t(), ng[lo:hi].view(-1))
    _give_arenas([arena])
    return g_x_in, g_rel_in, None, None, g_w_ih, g_w_hh, g_b, g_kst, g_nbc, None


class _LSTMDecomposition(torch.autograd.Function):
    """:func:`_lstm_cd_forward` as one autograd node, with :func:`_lstm_cd_backward`. The
    backward recycles the forward's arenas; a second backward (``retain_graph=True``) reruns the
    forward to get them back."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        x_in: torch.Tensor,
        rel_in: torch.Tensor | None,
        g: torch.Tensor,
        ng: torch.Tensor,
        w_ih: torch.Tensor,
        w_hh: torch.Tensor,
        bias: torch.Tensor,
        kst: torch.Tensor,
        nbc: torch.Tensor,
        keep: bool,
    ) -> torch.Tensor:
        hs, *steps = _lstm_cd_forward(x_in, rel_in, g, ng, w_ih, w_hh, bias, kst, nbc, keep)
        if keep:  # the output through save_for_backward (an attribute would be a cycle)
            ctx.save_for_backward(x_in, rel_in, g, ng, w_ih, w_hh, bias, kst, nbc, hs)
            ctx.steps = steps
        return hs

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, g_hs: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        x_in, rel_in, g, ng, w_ih, w_hh, bias, kst, nbc, hs = ctx.saved_tensors
        steps, ctx.steps = ctx.steps, None
        if steps is None:  # backward again: the arenas went back after the first one
            hs, *steps = _lstm_cd_forward(x_in, rel_in, g, ng, w_ih, w_hh, bias, kst, nbc, True)
        s_bufs, r_bufs, d_bufs, arenas, chunks = steps
        grads = _lstm_cd_backward(
            g_hs, x_in, rel_in, g, ng, w_ih, w_hh, kst, hs, s_bufs, r_bufs, d_bufs, chunks
        )
        del s_bufs, r_bufs, d_bufs, steps
        _give_arenas(arenas)
        return grads


def lstm_last_hidden(module: nn.Module, rel: torch.Tensor, irrel: torch.Tensor, ctx: dict) -> Parts:
    """CD through a 1-layer unidirectional ``batch_first`` LSTM held as ``module.lstm`` (Murdoch
    et al. 2018), read at each sequence's last real step.

    Every gate's pre-activation is ``a + b + c`` (relevant, irrelevant, bias); its non-linearity
    is split three ways, ``a``'s part ``(f(a+c) - f(c) + f(a+b+c) - f(b+c)) / 2``, ``b``'s part
    symmetrically, ``c``'s part ``f(c)``. The product of the input and cell gates' bias parts goes
    to the relevant part at steps inside the group, to the irrelevant part elsewhere. The cell
    state's tanh is split two ways; each irrelevant part is the total minus the relevant one.

    For speed each step carries the relevant part and the total side by side (one matrix product
    and one pass of each element-wise op for both), every tanh is a sigmoid
    (``tanh(x) = 2 sigmoid(2x) - 1``: the cell gate's weights are doubled), the input
    projections are one product per chunk of steps, and the recurrence is one autograd node with
    a hand-written backward (the CDEP penalty backpropagates through it).
    """
    lstm: nn.LSTM = module.lstm
    group = ctx["token_group"]  # (B, T) bool
    mask = ctx.get("attention_mask")
    b, t_len, _ = rel.shape
    h = lstm.hidden_size
    kw: dict[str, Any] = {"dtype": rel.dtype, "device": rel.device}
    scale = torch.ones(4 * h, **kw)
    scale[2 * h : 3 * h] = 2.0
    w_ih, w_hh = lstm.weight_ih_l0 * scale[:, None], lstm.weight_hh_l0 * scale[:, None]
    bias = (lstm.bias_ih_l0 + lstm.bias_hh_l0) * scale if lstm.bias else torch.zeros(4 * h, **kw)
    in_group = group[:, :t_len].t().unsqueeze(-1).contiguous()  # (T, B, 1): time-major
    g, ng = in_group.to(rel.dtype), (~in_group).to(rel.dtype)
    x_in = (rel + irrel).transpose(0, 1).contiguous()  # (T, B, E)
    # right after the embedding rel / irrel are whole tokens: project the total once
    rel_in = None if ctx.get("token_split") else rel.transpose(0, 1).contiguous()
    f_bias = torch.sigmoid(bias)
    g_one = torch.zeros(3 * h, **kw)
    g_one[2 * h :] = 1.0
    kst = torch.stack([f_bias[: 3 * h] - g_one, -g_one]).unsqueeze(1)  # (2, 1, 3H) constants
    nbc = -2 * f_bias[:h] * (2 * f_bias[2 * h : 3 * h] - 1)  # the bias-bias product, doubled
    inputs = (x_in, rel_in, g, ng, w_ih, w_hh, bias, kst, nbc)
    keep = torch.is_grad_enabled() and any(x is not None and x.requires_grad for x in inputs)
    hs = _LSTMDecomposition.apply(*inputs, keep)  # (2, T + 1, B, H): relevant, total
    last = last_real_step(mask, b, t_len, rel.device) + 1
    rows = torch.arange(b, device=rel.device)
    h_rel, h_tot = hs[0, last, rows], hs[1, last, rows]
    return h_rel, h_tot - h_rel


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
                    "it; penalise a transformer with penalty 'clp', 'rrr' or 'eg' instead"
                )
            elif isinstance(layer, nn.Embedding):
                why = "an embedding can only be the first layer"
            raise UnsupportedLayerError(path, layer, why)


def contextual_decomposition(
    model: nn.Module,
    inputs: torch.Tensor,
    group: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    detach_embeddings: bool = False,
) -> Decomposition:
    """Split ``model(inputs)`` into the part due to ``group`` and the rest.

    ``inputs``: token ids ``(B, T)`` when the first layer is an ``nn.Embedding`` (``group`` is then
    a ``(B, T)`` token mask), else a float tensor with ``group`` a mask broadcastable to it (e.g.
    ``(B, 1, H, W)`` pixels). ``attention_mask`` ``(B, T)`` marks real tokens for LSTMs over
    right-padded batches. The result's ``relevant + irrelevant`` equals the model's output.
    ``detach_embeddings``: no gradient reaches the embedding table through the decomposition (as
    the CDEP reference code's penalty, which reads ``embed(x).data``).
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
        if detach_embeddings:
            emb = emb.detach()
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
