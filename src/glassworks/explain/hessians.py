"""Integrated and Expected Hessians: pairwise feature interactions (Janizek, Sturmfels & Lee,
"Explaining explanations: axiomatic feature interactions for deep networks", JMLR 2021).

``Gamma_ij = (x_i - x'_i)(x_j - x'_j) iint a*b * d_i d_j f(x' + ab(x - x')) da db`` for i != j,
plus the main-effect term ``(x_i - x'_i) iint d_i f(...)`` on the diagonal. The path enters only
through ``t = a*b`` and ``iint h(ab) da db = int h(t)(-ln t) dt``, so one Gauss rule for the weight
``-ln t`` (:func:`~glassworks.explain.quadrature.log_weight_rule`) replaces the paper's double
Riemann sum: 8-16 nodes reach ~1e-7 where the double grid needs thousands of points. Hessian
columns come from batched Hessian-vector products (one vectorised backward per chunk of rows).
Certificates: each row sums to the Integrated Gradients attribution and the total to
``f(x) - f(x')``; both errors are returned.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from glassworks.explain.paths import (
    Model,
    Target,
    _baselines,
    _expand_target,
    _outputs,
    activation_bytes_per_row,
    as_inputs,
    as_target,
    integrated_gradients,
    per_example,
    rows_for_budget,
    select_output,
)
from glassworks.explain.quadrature import double_grid_rule, log_weight_rule

HESSIAN_MEMORY_FACTOR = 8.0
"""Peak memory / saved activations for a pass with Hessian-vector products (double backward)."""

IH_METHODS: dict[str, str] = {
    "log_gauss": "log_gauss",
    "path_explain_grid": "path_explain_grid",
    "gauss_legendre": "log_gauss",
    "gausslegendre": "log_gauss",
}
"""Integrated Hessians rules by name. ``gauss_legendre`` (and Captum's ``gausslegendre``) name
this module's Gauss rule, ``log_gauss``: Gauss quadrature adapted to the double path integral."""


@dataclass(frozen=True)
class Interactions:
    """``interactions[b, i, j]`` (j over ``features``), IG reference and certificate errors."""

    interactions: torch.Tensor
    features: torch.Tensor
    """Column indices the interaction matrix covers (all features by default)."""
    ig: torch.Tensor
    row_error: torch.Tensor
    """Per example: max_i |sum_j Gamma_ij - IG_i| (only when all features are covered)."""
    total_error: torch.Tensor
    """Per example: |sum_ij Gamma_ij - (f(x) - f(x'))| (only when all features are covered)."""
    n_steps: int


def softplus_model(model: nn.Module, beta: float = 10.0) -> nn.Module:
    """A copy of ``model`` with every ``nn.ReLU`` replaced by ``nn.Softplus(beta)`` (a ReLU
    network's Hessian is zero almost everywhere). Functional ``relu`` calls are not replaced."""
    clone = copy.deepcopy(model)
    for name, module in list(clone.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.ReLU):
                setattr(module, child_name, nn.Softplus(beta=beta))
        del name
    return clone


def _hvp_columns(g: torch.Tensor, x: torch.Tensor, vecs: torch.Tensor) -> torch.Tensor:
    """``vecs`` (m, R, d) -> (m, R, d): Hessian-vector products, each over all R rows at once.

    Plain double backward over stacked path points: measured 2-3x faster here than
    ``is_grads_batched`` (vmap) for MLP-sized models (benchmarks/attribution.py).
    """
    if not g.requires_grad:  # the gradient is constant: a (locally) linear model
        return torch.zeros_like(vecs)
    cols = []
    for v in vecs:
        (h,) = torch.autograd.grad(g, x, grad_outputs=v, retain_graph=True, allow_unused=True)
        cols.append(torch.zeros_like(x) if h is None else h)
    return torch.stack(cols)


@dataclass(frozen=True)
class _Chunk:
    """Path points of one pass: example index, node, weight, x - x', the point, the gradient
    there (its graph kept for Hessian-vector products)."""

    ex: torch.Tensor
    t: torch.Tensor
    w: torch.Tensor
    dx: torch.Tensor
    x: torch.Tensor
    g: torch.Tensor


def _chunks(
    model: Model,
    inputs: torch.Tensor,
    base: torch.Tensor,
    nodes: Sequence[float],
    weights: Sequence[float],
    target: int | torch.Tensor | None,
    batch_size: int,
    forward_kwargs: dict[str, Any] | None,
) -> Iterator[_Chunk]:
    """All (example, node) path points, ``batch_size`` rows per forward/backward pass."""
    b, n = inputs.shape[0], len(nodes)
    t_all = torch.tensor(nodes, dtype=inputs.dtype, device=inputs.device)
    w_all = torch.tensor(weights, dtype=inputs.dtype, device=inputs.device)
    flat_ex = torch.arange(b, device=inputs.device).repeat_interleave(n)
    flat_k = torch.arange(n, device=inputs.device).repeat(b)
    shape = (-1,) + (1,) * (inputs.ndim - 1)
    for lo in range(0, b * n, batch_size):
        ex = flat_ex[lo : lo + batch_size]
        k = flat_k[lo : lo + batch_size]
        t, w = t_all[k].reshape(shape), w_all[k].reshape(shape)
        dx = inputs[ex] - base[ex]
        x = (base[ex] + t * dx).detach().requires_grad_(True)
        kwargs = per_example(forward_kwargs, b, lambda v, ex=ex: v[ex])
        with torch.enable_grad():
            y = select_output(model(x, **kwargs), _expand_target(target, ex))
            (g,) = torch.autograd.grad(y.sum(), x, create_graph=True)
        yield _Chunk(ex, t, w, dx, x, g)


def _ig_and_gap(
    model: Model,
    inputs: torch.Tensor,
    base: torch.Tensor,
    target: int | torch.Tensor | None,
    n_steps: int,
    batch_size: int,
    forward_kwargs: dict[str, Any] | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Integrated Gradients and ``f(x) - f(x')``: what the interaction certificates check."""
    ig = integrated_gradients(
        model,
        inputs,
        base,
        target,
        n_steps=max(n_steps, 16),
        batch_size=batch_size,
        forward_kwargs=forward_kwargs,
    )
    gap = _outputs(model, inputs, target, forward_kwargs, batch_size) - _outputs(
        model, base, target, forward_kwargs, batch_size
    )
    return ig.attributions, gap


def integrated_hessians(
    model: Model,
    inputs: torch.Tensor | np.ndarray,
    baselines: torch.Tensor | np.ndarray | float | None = None,
    target: Target = None,
    n_steps: int = 16,
    batch_size: int = 1024,
    features: Sequence[int] | None = None,
    interaction_index: int | None = None,
    forward_kwargs: dict[str, Any] | None = None,
    method: str = "log_gauss",
    memory_budget_mb: float | None = None,
) -> Interactions:
    """Integrated Hessians of ``model`` at ``inputs`` (shape ``(B, d)``) from ``baselines``.

    ``features`` restricts the columns j of the matrix (``interaction_index`` = one column), for
    large d; rows always cover every feature. ``batch_size`` = path points per pass.
    ``method``: ``log_gauss`` (``n_steps`` Gauss nodes for the weight ``-ln t``; also spelt
    ``gauss_legendre`` / ``gausslegendre``) or ``path_explain_grid`` (the reference's double grid
    with ``n_steps`` points, for comparison).
    """
    inputs = as_inputs(model, inputs)
    if inputs.ndim != 2:
        raise ValueError(f"inputs must be (batch, features), got shape {tuple(inputs.shape)}")
    if method not in IH_METHODS:
        raise ValueError(
            f"unknown Integrated Hessians method {method!r} (one of {', '.join(IH_METHODS)})"
        )
    method = IH_METHODS[method]
    b, d = inputs.shape
    target = as_target(target, b, inputs.device)
    base = _baselines(inputs, baselines)
    if memory_budget_mb is not None:
        per_row = activation_bytes_per_row(model, inputs, target, forward_kwargs)
        batch_size = rows_for_budget(per_row, memory_budget_mb, HESSIAN_MEMORY_FACTOR)
    cols = (
        torch.arange(d)
        if features is None and interaction_index is None
        else torch.tensor(
            [interaction_index] if interaction_index is not None else list(features or [])
        )
    )
    if method == "log_gauss":
        nodes, weights = log_weight_rule(n_steps)
    else:
        nodes, weights = double_grid_rule(n_steps)
    gamma = torch.zeros(b, d, len(cols), dtype=inputs.dtype, device=inputs.device)
    eye = torch.eye(d, dtype=inputs.dtype, device=inputs.device)[cols]  # (m, d)
    for c in _chunks(model, inputs, base, nodes, weights, target, batch_size, forward_kwargs):
        # vecs[j, r] = dx[r, j] e_j  ->  hv[j, r, i] = dx[r, j] H_r[i, j]
        vecs = eye.unsqueeze(1) * c.dx[:, cols].T.unsqueeze(2)
        hv = _hvp_columns(c.g, c.x, vecs)
        second = (c.w * c.t).unsqueeze(2) * c.dx.unsqueeze(2) * hv.permute(1, 2, 0)  # (R, d, m)
        gamma.index_add_(0, c.ex, second.detach())
        main = c.w * c.dx * c.g.detach()  # diagonal term, (R, d)
        for col, j in enumerate(cols.tolist()):
            gamma[:, j, col].index_add_(0, c.ex, main[:, j])
    ig, gap = _ig_and_gap(model, inputs, base, target, n_steps, batch_size, forward_kwargs)
    if len(cols) == d:
        row_error = (gamma.sum(2) - ig).abs().amax(1)
        total_error = (gamma.sum((1, 2)) - gap).abs()
    else:
        row_error = total_error = torch.full((b,), float("nan"))
    return Interactions(gamma, cols, ig, row_error, total_error, n_steps)


def expected_hessians(
    model: Model,
    inputs: torch.Tensor | np.ndarray,
    background: torch.Tensor | np.ndarray,
    target: Target = None,
    n_baselines: int = 8,
    n_steps: int = 8,
    seed: int = 0,
    batch_size: int = 256,
    features: Sequence[int] | None = None,
) -> Interactions:
    """Expected Hessians: Integrated Hessians averaged over baselines drawn from ``background``.

    Each drawn baseline gets the deterministic log-weight rule (``n_steps`` nodes) instead of
    the paper's random path points, so the only Monte Carlo error left is over baselines.
    """
    inputs = as_inputs(model, inputs)
    b = inputs.shape[0]
    target = as_target(target, b, inputs.device)
    background = torch.as_tensor(background)
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randint(background.shape[0], (b, n_baselines), generator=gen)
    flat_in = inputs.repeat_interleave(n_baselines, 0)
    flat_base = background.to(inputs)[idx.reshape(-1)]
    flat_target = target.repeat_interleave(n_baselines) if torch.is_tensor(target) else target
    res = integrated_hessians(model, flat_in, flat_base, flat_target, n_steps, batch_size, features)
    shape = (b, n_baselines)
    return Interactions(
        res.interactions.reshape(*shape, *res.interactions.shape[1:]).mean(1),
        res.features,
        res.ig.reshape(*shape, -1).mean(1),
        res.row_error.reshape(shape).amax(1),
        res.total_error.reshape(shape).amax(1),
        n_steps,
    )


def grouped_integrated_hessians(
    model: Model,
    inputs: torch.Tensor | np.ndarray,
    groups: torch.Tensor,
    n_groups: int,
    baselines: torch.Tensor | np.ndarray | float | None = None,
    target: Target = None,
    n_steps: int = 16,
    batch_size: int = 256,
    forward_kwargs: dict[str, Any] | None = None,
    memory_budget_mb: float | None = None,
) -> Interactions:
    """Integrated Hessians summed over groups of input positions (e.g. the embedding dims of a
    token): ``Gamma[p, q] = sum_{i in p, j in q} Gamma_ij`` for inputs of any shape.

    ``groups`` (the input's shape, with or without the batch dimension) gives each position's
    group id in ``[0, n_groups)``; -1 leaves a position out. Needs ``n_groups`` Hessian-vector
    products per chunk instead of one per input position (a token x token matrix of a sequence of
    16 embeddings of width 128 costs 16 HVPs, not 2048).
    """
    inputs = as_inputs(model, inputs)
    b = inputs.shape[0]
    target = as_target(target, b, inputs.device)
    base = _baselines(inputs, baselines)
    if memory_budget_mb is not None:
        per_row = activation_bytes_per_row(model, inputs, target, forward_kwargs)
        batch_size = rows_for_budget(per_row, memory_budget_mb, HESSIAN_MEMORY_FACTOR)
    ids = groups.to(inputs.device).expand_as(inputs).reshape(b, -1).long()
    nodes, weights = log_weight_rule(n_steps)
    gamma = torch.zeros(b, n_groups, n_groups, dtype=inputs.dtype, device=inputs.device)
    valid = ids >= 0
    safe_ids = ids.clamp_min(0)

    def by_group(values: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """(R, *S) -> (R, n_groups): sums over each group's positions."""
        flat = values.reshape(values.shape[0], -1) * valid[rows]
        out = torch.zeros(values.shape[0], n_groups, dtype=values.dtype, device=values.device)
        return out.scatter_add_(1, safe_ids[rows], flat)

    for c in _chunks(model, inputs, base, nodes, weights, target, batch_size, forward_kwargs):
        member = ids[c.ex].reshape(c.dx.shape)
        for q in range(n_groups):
            hv = _hvp_columns(c.g, c.x, (c.dx * (member == q)).unsqueeze(0))[0]
            gamma[:, :, q].index_add_(0, c.ex, by_group((c.w * c.t) * c.dx * hv.detach(), c.ex))
        gamma.diagonal(dim1=1, dim2=2).index_add_(
            0, c.ex, by_group(c.w * c.dx * c.g.detach(), c.ex)
        )
    ig, gap = _ig_and_gap(model, inputs, base, target, n_steps, batch_size, forward_kwargs)
    ig_groups = by_group(ig, torch.arange(b, device=inputs.device))
    row_error = (gamma.sum(2) - ig_groups).abs().amax(1)
    total_error = (gamma.sum((1, 2)) - gap).abs()
    if not bool(valid.all()):  # positions left out: the certificates do not apply
        row_error = total_error = torch.full((b,), float("nan"))
    return Interactions(gamma, torch.arange(n_groups), ig_groups, row_error, total_error, n_steps)
