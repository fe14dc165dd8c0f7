"""Integrated Gradients (Sundararajan et al. 2017) and Expected Gradients (Erion et al. 2021;
Janizek et al., JMLR 2021, ``path_explain``) for any differentiable torch model.

All path points of a chunk of examples go through the model in one batched forward/backward pass;
the chunk size comes from ``batch_size`` (rows per pass), so memory stays bounded. Every call
returns the completeness delta ``sum(attr) - (f(x) - f(x'))`` per example.

Inputs are batches (batch dimension first; a single example needs ``x[None]``), cast to the
model's parameter dtype; ``target`` is one class index for every row or one per row (an int, a
sequence, a 0-d/1-d tensor or numpy array), checked against the model's outputs.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from glassworks.explain.quadrature import canonical_method, rule

Model = Callable[..., torch.Tensor]
Target = int | np.integer | Sequence[int] | np.ndarray | torch.Tensor | None
"""A class index for every row, one per row, or ``None`` (a model with one output)."""

log = logging.getLogger(__name__)


class ConvergenceWarning(RuntimeWarning):
    """``n_steps="auto"`` reached ``max_steps`` without meeting its tolerance."""


@dataclass(frozen=True)
class Attribution:
    """Attributions (shape of the inputs), completeness delta per example, and what ran."""

    attributions: torch.Tensor
    delta: torch.Tensor
    n_steps: int
    method: str
    converged: bool | None = None
    """``n_steps="auto"`` only: whether every example met the tolerance (``None``: not checked)."""

    def relative_delta(self, output_gap: torch.Tensor) -> torch.Tensor:
        """``|delta| / max(|f(x) - f(x')|, 1e-12)``."""
        return self.delta.abs() / output_gap.abs().clamp_min(1e-12)


def as_target(target: Target, batch: int, device: torch.device | None = None) -> Any:
    """``target`` as ``None``, an ``int`` (every row) or a ``(batch,)`` long tensor on ``device``.

    Accepts Python and numpy integers, sequences of ints and 0-d/1-d tensors or arrays; anything
    else, or one index per row of the wrong length, raises naming ``target``.
    """
    if target is None:
        return None
    if isinstance(target, bool | np.bool_):
        raise TypeError(f"target must be a class index (an integer), got {target!r}")
    if isinstance(target, int | np.integer):
        return int(target)
    if isinstance(target, torch.Tensor | np.ndarray):
        t = torch.as_tensor(target)
    elif isinstance(target, Sequence) and not isinstance(target, str | bytes):
        try:
            t = torch.as_tensor(list(target))
        except (TypeError, ValueError, RuntimeError) as exc:
            raise TypeError(f"target must hold integer class indices: {exc}") from None
        if t.numel() == 0:
            t = t.long()
    else:
        raise TypeError(
            "target must be an int, a sequence of ints or a 0-d/1-d integer tensor or array, "
            f"got {type(target).__name__}"
        )
    if t.dtype == torch.bool or t.is_floating_point() or t.is_complex():
        raise TypeError(f"target must hold integer class indices, got dtype {t.dtype}")
    if t.ndim == 0:
        return int(t)
    if t.ndim != 1 or t.shape[0] != batch:
        raise ValueError(
            f"target must be one class index for all rows or one per row: expected shape "
            f"({batch},) for {batch} input rows, got {tuple(t.shape)}"
        )
    return t.to(device=device, dtype=torch.long)


def _check_range(target: int | torch.Tensor, n_outputs: int) -> None:
    if isinstance(target, int):
        lo = hi = target
    elif target.numel():
        lo, hi = int(target.min()), int(target.max())
    else:
        return
    if lo < 0 or hi >= n_outputs:
        bad = lo if lo < 0 else hi
        raise ValueError(
            f"target {bad} is out of range: the model returns {n_outputs} outputs per example "
            f"(class indices 0..{n_outputs - 1})"
        )


def select_output(out: torch.Tensor, target: int | torch.Tensor | None) -> torch.Tensor:
    """The explained scalar per row: ``out`` itself (1 value per row) or column ``target``."""
    if out.ndim == 1:
        return out
    if target is None:
        if out.shape[-1] == 1:
            return out.reshape(out.shape[0])
        raise ValueError(f"model returns {out.shape[-1]} outputs per example: give target")
    _check_range(target, out.shape[1])
    if isinstance(target, int):
        return out[:, target]
    return out.gather(1, target.reshape(-1, 1).to(out.device)).reshape(-1)


def model_dtype(model: Model) -> torch.dtype | None:
    """The dtype of the model's first floating-point parameter (``None`` for plain functions)."""
    params = getattr(model, "parameters", None)
    if not callable(params):
        return None
    for p in params():
        if torch.is_tensor(p) and p.is_floating_point():
            return p.dtype
    return None


def as_inputs(
    model: Model, inputs: torch.Tensor | np.ndarray, name: str = "inputs"
) -> torch.Tensor:
    """``inputs`` checked (a floating-point batch, batch dimension first) and cast to the model's
    parameter dtype. One example of shape ``(d,)`` is refused rather than read as ``d`` rows."""
    x = torch.as_tensor(inputs) if isinstance(inputs, np.ndarray) else inputs
    if not torch.is_tensor(x):
        raise TypeError(f"{name} must be a torch tensor or numpy array, got {type(x).__name__}")
    if x.ndim < 2:
        raise ValueError(
            f"{name} must be a batch, shape (batch, ...), got shape {tuple(x.shape)}; "
            "for one example add a batch dimension: x[None] or x.unsqueeze(0)"
        )
    if not x.is_floating_point():
        raise TypeError(
            f"{name} must be floating point to be differentiated, got {x.dtype} (token ids: "
            "explain at the embedding layer, e.g. glassworks.explain.text)"
        )
    dtype = model_dtype(model)
    if dtype is not None and x.dtype != dtype:
        log.debug("casting %s from %s to the model's %s", name, x.dtype, dtype)
        x = x.to(dtype)
    return x


def _expand_target(target: int | torch.Tensor | None, rows: torch.Tensor) -> Any:
    if target is None or isinstance(target, int):
        return target
    return target[rows]


def per_example(
    kwargs: dict[str, Any] | None, batch: int, take: Callable[[torch.Tensor], torch.Tensor]
) -> dict[str, Any]:
    """Forward kwargs for a set of rows: ``take`` applies to every tensor with one row per
    example (e.g. an attention mask); anything else is passed unchanged."""
    return {
        k: take(v) if torch.is_tensor(v) and v.shape[:1] == (batch,) else v
        for k, v in (kwargs or {}).items()
    }


def _baselines(
    inputs: torch.Tensor, baselines: torch.Tensor | np.ndarray | float | None
) -> torch.Tensor:
    if baselines is None:
        return torch.zeros_like(inputs)
    if isinstance(baselines, int | float):
        return torch.full_like(inputs, float(baselines))
    return torch.as_tensor(baselines).to(inputs).expand_as(inputs)


def path_gradients(
    model: Model,
    starts: torch.Tensor,
    ends: torch.Tensor,
    alphas: torch.Tensor,
    weights: torch.Tensor,
    target: int | torch.Tensor | None,
    batch_size: int,
    forward_kwargs: dict[str, Any] | None = None,
    create_graph: bool = False,
) -> torch.Tensor:
    """``sum_k w_k * grad f(start + a_k (end - start))`` per example, in chunks of rows.

    ``alphas``/``weights`` are ``(n,)`` (shared) or ``(B, n)`` (per example, e.g. sampled).
    ``create_graph=True`` keeps the graph (to the inputs and the model's parameters) so the result
    can be differentiated again, e.g. in an attribution penalty (Erion et al. 2021).
    """
    b = starts.shape[0]
    n = alphas.shape[-1]
    alphas = alphas.expand(b, n) if alphas.ndim == 1 else alphas
    weights = weights.expand(b, n) if weights.ndim == 1 else weights
    total = torch.zeros_like(starts)
    flat_ex = torch.arange(b, device=starts.device).repeat_interleave(n)
    flat_a = alphas.reshape(-1).to(starts)
    flat_w = weights.reshape(-1).to(starts)
    shape = (-1,) + (1,) * (starts.ndim - 1)
    for lo in range(0, b * n, batch_size):
        ex = flat_ex[lo : lo + batch_size]
        a = flat_a[lo : lo + batch_size].reshape(shape)
        kwargs = per_example(forward_kwargs, b, lambda v, ex=ex: v[ex])
        with torch.enable_grad():
            x = starts[ex] + a * (ends[ex] - starts[ex])
            if not (create_graph and x.requires_grad):
                x = x.detach().requires_grad_(True)
            y = select_output(model(x, **kwargs), _expand_target(target, ex))
            (g,) = torch.autograd.grad(y.sum(), x, create_graph=create_graph)
        total = total.index_add(0, ex, g * flat_w[lo : lo + batch_size].reshape(shape))
    return total


def activation_bytes_per_row(
    model: Model,
    example: torch.Tensor,
    target: int | torch.Tensor | None = None,
    forward_kwargs: dict[str, Any] | None = None,
) -> float:
    """Bytes autograd keeps per input row for one backward pass through ``model``.

    Measured, not guessed: the tensors saved for backward are summed (via
    ``saved_tensors_hooks``) for probes of 2 and 6 copies of ``example``; the slope drops what
    does not grow with the batch (weights).
    """
    target = as_target(target, example.shape[0], example.device)
    sizes = []
    for rows in (2, 6):
        total = 0

        def pack(t: torch.Tensor) -> torch.Tensor:
            nonlocal total
            total += t.numel() * t.element_size()
            return t

        x = example[:1].expand(rows, *example.shape[1:]).clone().requires_grad_(True)
        kwargs = per_example(
            forward_kwargs, example.shape[0], lambda v, rows=rows: v[:1].expand(rows, *v.shape[1:])
        )
        tgt = target[:1].expand(rows) if torch.is_tensor(target) else target
        with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            select_output(model(x, **kwargs), tgt)
        sizes.append(total)
    per_row = (sizes[1] - sizes[0]) / 4
    return max(per_row, 3.0 * example[:1].numel() * example.element_size())


def rows_for_budget(per_row_bytes: float, budget_mb: float, factor: float = 2.5) -> int:
    """Path points per pass that fit ``budget_mb``: saved activations x ``factor`` covers the
    gradients and temporaries of the backward pass (measured on the seq-64 transformer: ~2.3x for
    one backward; Hessians keep the graph for double backward and use a larger factor)."""
    return max(1, int(budget_mb * 2**20 / (factor * per_row_bytes)))


def _outputs(
    model: Model, x: torch.Tensor, target: Any, kwargs: dict[str, Any] | None, batch_size: int
) -> torch.Tensor:
    outs = []
    with torch.no_grad():
        for lo in range(0, x.shape[0], batch_size):
            rows = torch.arange(lo, min(lo + batch_size, x.shape[0]), device=x.device)
            kw = per_example(kwargs, x.shape[0], lambda v, rows=rows: v[rows])
            outs.append(select_output(model(x[rows], **kw), _expand_target(target, rows)))
    return torch.cat(outs)


def integrated_gradients(
    model: Model,
    inputs: torch.Tensor | np.ndarray,
    baselines: torch.Tensor | np.ndarray | float | None = None,
    target: Target = None,
    n_steps: int | str = 32,
    method: str = "gauss_legendre",
    batch_size: int = 512,
    forward_kwargs: dict[str, Any] | None = None,
    tolerance: float = 1e-4,
    max_steps: int = 1024,
    memory_budget_mb: float | None = None,
) -> Attribution:
    """Integrated Gradients of ``model`` at ``inputs`` from ``baselines`` (zeros by default).

    ``n_steps="auto"`` doubles the steps (from 8) until every example's relative completeness
    error is below ``tolerance``; stopping at ``max_steps`` short of it warns
    (:class:`ConvergenceWarning`) and returns ``converged=False``. ``method``: a rule of
    :mod:`~glassworks.explain.quadrature` (Captum's ``gausslegendre`` too). ``batch_size`` = path
    points per pass; with ``memory_budget_mb`` it is instead sized from the measured activation
    memory per row.
    """
    inputs = as_inputs(model, inputs)
    target = as_target(target, inputs.shape[0], inputs.device)
    method = canonical_method(method)
    auto = n_steps == "auto"
    if isinstance(n_steps, str) and not auto:
        raise ValueError(f"n_steps must be an int or 'auto', got {n_steps!r}")
    if auto and max_steps < 1:
        raise ValueError(f"max_steps must be >= 1, got {max_steps}")
    rule(method, 2)  # an unknown method fails before any model call
    base = _baselines(inputs, baselines)
    if memory_budget_mb is not None:
        per_row = activation_bytes_per_row(model, inputs, target, forward_kwargs)
        batch_size = rows_for_budget(per_row, memory_budget_mb)
    gap = _outputs(model, inputs, target, forward_kwargs, batch_size) - _outputs(
        model, base, target, forward_kwargs, batch_size
    )
    steps = min(8, max_steps) if auto else int(n_steps)
    while True:
        a, w = rule(method, steps)
        grads = path_gradients(
            model,
            base,
            inputs,
            torch.from_numpy(a),
            torch.from_numpy(w),
            target,
            batch_size,
            forward_kwargs,
        )
        attr = (inputs - base) * grads
        delta = attr.reshape(attr.shape[0], -1).sum(1) - gap
        result = Attribution(attr.detach(), delta.detach(), steps, method)
        if not auto:
            return result
        rel = result.relative_delta(gap)
        if bool((rel < tolerance).all()):
            return replace(result, converged=True)
        if steps >= max_steps:
            worst = float(rel.max())
            warnings.warn(
                ConvergenceWarning(
                    f"integrated_gradients(n_steps='auto'): stopped at max_steps={max_steps} "
                    f"({method}) with a relative completeness error of {worst:.3g} > tolerance "
                    f"{tolerance:.3g}; raise max_steps, loosen the tolerance or use "
                    "method='gauss_legendre'"
                ),
                stacklevel=2,
            )
            return replace(result, converged=False)
        steps = min(2 * steps, max_steps)


def expected_gradients(
    model: Model,
    inputs: torch.Tensor | np.ndarray,
    background: torch.Tensor | np.ndarray,
    target: Target = None,
    n_samples: int = 64,
    seed: int = 0,
    batch_size: int = 512,
    forward_kwargs: dict[str, Any] | None = None,
    memory_budget_mb: float | None = None,
    create_graph: bool = False,
) -> Attribution:
    """Expected Gradients: each sample draws a baseline from ``background`` *and* a path point
    ``alpha ~ U(0, 1)``; attributions average ``(x - x') * grad f(x' + alpha (x - x'))``.

    The delta compares ``sum(attr)`` with ``f(x) - mean_s f(x'_s)`` over the drawn baselines
    (completeness holds in expectation; it shrinks as ``n_samples`` grows). ``background`` is
    ``(M, *shape)`` shared by all inputs or ``(B, M, *shape)``, one set per input (e.g. random
    token sequences that keep each text's special tokens). With ``create_graph=True`` the
    attributions stay differentiable (for training with an attribution prior, Erion et al. 2021).
    """
    inputs = as_inputs(model, inputs)
    target = as_target(target, inputs.shape[0], inputs.device)
    background = torch.as_tensor(background)
    if background.ndim not in (inputs.ndim, inputs.ndim + 1):
        raise ValueError(
            f"background must be (M, *shape) or (batch, M, *shape) for inputs of shape "
            f"{tuple(inputs.shape)}, got {tuple(background.shape)}"
        )
    if memory_budget_mb is not None:
        per_row = activation_bytes_per_row(model, inputs, target, forward_kwargs)
        batch_size = rows_for_budget(per_row, memory_budget_mb)
    gen = torch.Generator().manual_seed(seed)
    b = inputs.shape[0]
    per_input = background.ndim == inputs.ndim + 1
    m = background.shape[1] if per_input else background.shape[0]
    idx = torch.randint(m, (b, n_samples), generator=gen)
    alphas = torch.rand(b, n_samples, generator=gen, dtype=torch.float64)
    flat_in = inputs.repeat_interleave(n_samples, 0)
    if per_input:
        rows = torch.arange(b).repeat_interleave(n_samples)
        flat_base = background.to(inputs)[rows, idx.reshape(-1)]
    else:
        flat_base = background.to(inputs)[idx.reshape(-1)]
    flat_target = target.repeat_interleave(n_samples) if torch.is_tensor(target) else target
    kwargs = per_example(forward_kwargs, b, lambda v: v.repeat_interleave(n_samples, 0))
    ones = torch.ones(b * n_samples, 1, dtype=torch.float64)
    grads = path_gradients(
        model,
        flat_base,
        flat_in,
        alphas.reshape(-1, 1),
        ones,
        flat_target,
        batch_size,
        kwargs,
        create_graph,
    )
    per_sample = (flat_in - flat_base) * grads
    attr = per_sample.reshape(b, n_samples, *inputs.shape[1:]).mean(1)
    f_x = _outputs(model, inputs, target, forward_kwargs, batch_size)
    f_base = _outputs(model, flat_base, flat_target, kwargs, batch_size).reshape(b, n_samples)
    delta = attr.detach().reshape(b, -1).sum(1) - (f_x - f_base.mean(1))
    return Attribution(
        attr if create_graph else attr.detach(), delta.detach(), n_samples, "expected_gradients"
    )


def as_numpy(t: torch.Tensor) -> np.ndarray:
    """Detach to a CPU numpy array."""
    return t.detach().cpu().numpy()
