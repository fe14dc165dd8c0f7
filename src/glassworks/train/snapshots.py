"""Training loop shared by INN and TabResNet: Adam with linear warm-up, then cosine annealing with
warm restarts (Loshchilov & Hutter 2017), a snapshot at the end of every cycle (snapshot ensembles,
Huang et al. 2017), optional augmentation with a probability and random minority oversampling.

Targets are *soft* (one-hot rows, or a float column for regression) so mixup and cutmix mix labels
the same way they mix inputs. The augmentations follow the INN reference (Kadra et al. 2023):
mixup (Zhang et al. 2018), cutmix (Yun et al. 2019, per feature), cutout (DeVries & Taylor 2017,
per feature), FGSM (Goodfellow et al. 2015) and Gaussian noise.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import nn

log = logging.getLogger(__name__)

Augmentation = Literal["mixup", "cutmix", "cutout", "fgsm", "gaussian_noise"]
AUGMENTATIONS: tuple[str, ...] = ("mixup", "cutmix", "cutout", "fgsm", "gaussian_noise")
LossFn = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
"""``loss(module, x, soft_targets)`` -> scalar (the task loss plus any penalty)."""

MIXUP_ALPHA = 0.2
CUTOUT_FRACTION = 0.2
FGSM_EPSILON = 0.03
NOISE_STD = 0.1


@dataclass
class SnapshotFit:
    """What training produced: one state dict per cycle and the per-epoch loss and learning rate
    (no wall time: a run fact, not model state; the callers that need it time the fit)."""

    snapshots: list[dict[str, torch.Tensor]]
    history: list[dict[str, float]] = field(default_factory=list)


def augment(
    kind: str,
    x: torch.Tensor,
    y: torch.Tensor,
    gen: torch.Generator,
    grad_of: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One augmented batch ``(x', y')``; ``grad_of(x, y)`` gives d loss / d x for FGSM."""
    n, d = x.shape
    if kind in ("mixup", "cutmix"):
        perm = torch.randperm(n, generator=gen).to(x.device)
        if kind == "mixup":
            lam = float(
                np.random.default_rng(int(torch.randint(2**31, (1,), generator=gen))).beta(
                    MIXUP_ALPHA, MIXUP_ALPHA
                )
            )
            return lam * x + (1 - lam) * x[perm], lam * y + (1 - lam) * y[perm]
        keep = (torch.rand(n, d, generator=gen) < torch.rand(n, 1, generator=gen)).to(x)
        lam = keep.mean(1, keepdim=True)
        return keep * x + (1 - keep) * x[perm], lam * y + (1 - lam) * y[perm]
    if kind == "cutout":
        drop = (torch.rand(n, d, generator=gen) < CUTOUT_FRACTION).to(x)
        return x * (1 - drop), y
    if kind == "fgsm":
        if grad_of is None:
            raise ValueError("fgsm augmentation needs the loss gradient")
        return (x + FGSM_EPSILON * grad_of(x, y).sign()).detach(), y
    if kind == "gaussian_noise":
        return x + NOISE_STD * torch.randn(n, d, generator=gen).to(x), y
    raise ValueError(f"augmentation: unknown kind {kind!r} (known: {', '.join(AUGMENTATIONS)})")


def oversample_indices(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random oversampling: every class drawn (with replacement) up to the largest class count."""
    classes, counts = np.unique(labels, return_counts=True)
    top = counts.max()
    parts = []
    for c, k in zip(classes, counts, strict=True):
        idx = np.flatnonzero(labels == c)
        parts.append(idx)
        if k < top:
            parts.append(rng.choice(idx, top - k, replace=True))
    return np.concatenate(parts)


def train_snapshots(
    module: nn.Module,
    loss_fn: LossFn,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    warmup_epochs: int,
    nr_restarts: int,
    augmentation: str | None = None,
    augmentation_probability: float = 0.0,
    oversample_labels: np.ndarray | None = None,
    seed: int = 0,
    device: str = "cpu",
    on_epoch: Callable[[int, float], None] | None = None,
) -> SnapshotFit:
    """Train ``module`` (float32 on ``device``) on soft targets ``y`` and return the snapshots.

    The schedule: ``warmup_epochs`` of linear warm-up, then the remaining epochs split into
    ``nr_restarts`` equal cosine cycles; the weights at the end of each cycle are one snapshot.
    """
    if nr_restarts < 1:
        raise ValueError("nr_restarts must be at least 1")
    if epochs < warmup_epochs + nr_restarts:
        raise ValueError(
            f"epochs ({epochs}) must exceed warmup_epochs ({warmup_epochs}) by at least "
            f"nr_restarts ({nr_restarts})"
        )
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    module = module.float().to(device)
    xt = torch.as_tensor(x, dtype=torch.float32, device=device)
    yt = torch.as_tensor(y, dtype=torch.float32, device=device)
    if oversample_labels is None:
        n_rows = len(x)
    else:
        _, counts = np.unique(oversample_labels, return_counts=True)
        n_rows = len(counts) * int(counts.max())
    steps_per_epoch = max(1, -(-n_rows // batch_size))
    opt = torch.optim.Adam(module.parameters(), lr=lr, weight_decay=weight_decay)
    cycle_epochs = (epochs - warmup_epochs) // nr_restarts
    boundaries = [warmup_epochs + cycle_epochs * (i + 1) for i in range(nr_restarts)]
    boundaries[-1] = epochs

    def lr_factor(step: int) -> float:
        e = step / steps_per_epoch
        if e < warmup_epochs:
            return (step + 1) / (warmup_epochs * steps_per_epoch)
        start = warmup_epochs
        for end in boundaries:
            if e < end:
                return 0.5 * (1 + np.cos(np.pi * (e - start) / (end - start)))
            start = end
        return 0.0

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)

    def grad_of(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        xb = xb.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(loss_fn(module, xb, yb), xb)
        return g

    fit = SnapshotFit(snapshots=[])
    for epoch in range(epochs):
        module.train()
        order = (
            oversample_indices(oversample_labels, rng)
            if oversample_labels is not None
            else np.arange(len(xt))
        )
        order = torch.as_tensor(order[rng.permutation(len(order))], device=device)
        total, seen = 0.0, 0
        for idx in order.split(batch_size):
            if len(idx) < 2 and len(order) > 1:
                continue  # BatchNorm cannot train on a single row
            xb, yb = xt[idx], yt[idx]
            if augmentation and float(torch.rand(1, generator=gen)) < augmentation_probability:
                xb, yb = augment(augmentation, xb, yb, gen, grad_of)
            opt.zero_grad()
            loss = loss_fn(module, xb, yb)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
            seen += len(idx)
        mean_loss = total / max(seen, 1)
        fit.history.append({"epoch": epoch + 1, "loss": mean_loss, "lr": opt.param_groups[0]["lr"]})
        if on_epoch is not None:
            on_epoch(epoch + 1, mean_loss)
        if epoch + 1 in boundaries:
            fit.snapshots.append(
                copy.deepcopy({k: v.detach().cpu() for k, v in module.state_dict().items()})
            )
    return fit
