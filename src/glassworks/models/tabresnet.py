"""TabResNet: a residual MLP for tabular data (Gorishniy et al. 2021, "Revisiting Deep Learning
Models for Tabular Data"; the backbone of INN, Kadra et al. 2023), and the scikit-learn estimators
shared by TabResNet and INN: same data checks, same training loop
(:mod:`glassworks.train.snapshots`), same snapshot ensemble.

Binary tasks have one output (the log-odds of the second class), multiclass tasks one per class,
regression one (on the standardised target).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted
from torch import nn

from glassworks.device import resolve_device
from glassworks.train.snapshots import AUGMENTATIONS, train_snapshots


class ResidualBlock(nn.Module):
    """``x + Dropout(Linear(Dropout(GELU(Linear(BatchNorm(x))))))``."""

    def __init__(self, width: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(width)
        self.fc1 = nn.Linear(width, width)
        self.fc2 = nn.Linear(width, width)
        self.act = nn.GELU()
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual update."""
        h = self.drop(self.act(self.fc1(self.norm(x))))
        return x + self.drop(self.fc2(h))


class TabResNet(nn.Module):
    """Linear stem, ``nr_blocks`` residual blocks, BatchNorm + GELU, linear head."""

    def __init__(
        self,
        n_features: int,
        n_outputs: int,
        nr_blocks: int = 2,
        hidden_size: int = 128,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.stem = nn.Linear(n_features, hidden_size)
        self.blocks = nn.Sequential(
            *(ResidualBlock(hidden_size, dropout) for _ in range(nr_blocks))
        )
        self.norm = nn.BatchNorm1d(hidden_size)
        self.act = nn.GELU()
        self.head = nn.Linear(hidden_size, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs ``(B, n_outputs)``."""
        return self.head(self.act(self.norm(self.blocks(self.stem(x)))))


class SnapshotEnsemble(nn.Module):
    """Mean of the members' outputs (logits), and of their per-example weights for INN members:
    the logits are linear in the weights, so averaged contributions sum to the averaged logit."""

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Mean logits."""
        return torch.stack([m(x) for m in self.members]).mean(0)

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """Mean per-example linear weights (INN members only)."""
        return torch.stack([m.weights(x) for m in self.members]).mean(0)


def check_features(X: Any, owner: str) -> np.ndarray:  # noqa: N803
    """A finite 2-D float matrix, or a ValueError naming the first bad column."""
    x = np.asarray(X, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{owner}: X must be 2-D (rows x features), got shape {x.shape}")
    if len(x) == 0:
        raise ValueError(f"{owner}: X has no rows")
    bad = ~np.isfinite(x)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(
            f"{owner}: X has {int(bad.sum())} missing or infinite values (first at row {row}, "
            f"column {col}); impute them first (TabularEncoder does)"
        )
    return x


def check_classes(y: Any, owner: str) -> tuple[np.ndarray, np.ndarray]:
    """``(classes, class index per row)``; refuses a continuous target or a single class."""
    y = np.asarray(y)
    kind = type_of_target(y)
    if kind not in ("binary", "multiclass"):
        raise ValueError(
            f"{owner}: the target is {kind!r} ({len(np.unique(y))} distinct values), not class "
            "labels; use a regressor for a continuous target"
        )
    classes, idx = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"{owner}: y holds a single class ({classes[0]!r}); need at least two")
    return classes, idx


class _SnapshotNet(BaseEstimator):
    """Shared fit/predict for TabResNet and INN; subclasses set ``interpretable`` and build."""

    interpretable = False

    def _build(self, n_features: int, n_outputs: int) -> nn.Module:
        return TabResNet(n_features, n_outputs, self.nr_blocks, self.hidden_size, self.dropout)

    def _penalty(self, module: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return module(x), torch.zeros((), device=x.device)

    def _check_params(self) -> None:
        if self.augmentation is not None and self.augmentation not in AUGMENTATIONS:
            raise ValueError(
                f"augmentation: unknown kind {self.augmentation!r} "
                f"(known: {', '.join(AUGMENTATIONS)})"
            )
        if not 0.0 <= self.augmentation_probability <= 1.0:
            raise ValueError("augmentation_probability must lie in [0, 1]")

    def _train(
        self,
        x: np.ndarray,
        targets: np.ndarray,
        n_outputs: int,
        task_loss: Any,
        labels: np.ndarray | None,
    ) -> None:
        self._check_params()
        device = resolve_device(self.device)

        def loss(module: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
            out, penalty = self._penalty(module, xb)
            return task_loss(out, yb) + penalty

        torch.manual_seed(self.seed)  # the initial weights depend on the seed alone
        fit = train_snapshots(
            self._build(x.shape[1], n_outputs),
            loss,
            x,
            targets,
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            weight_decay=self.weight_decay,
            warmup_epochs=self.warmup_epochs,
            nr_restarts=self.nr_restarts,
            augmentation=self.augmentation,
            augmentation_probability=self.augmentation_probability,
            oversample_labels=labels if self.oversample else None,
            seed=self.seed,
            device=device,
        )
        members = []
        for state in fit.snapshots:
            member = self._build(x.shape[1], n_outputs)
            member.load_state_dict(state)
            members.append(member)
        self.module_ = SnapshotEnsemble(members).double().eval()
        self.n_features_in_ = x.shape[1]
        self.n_outputs_ = n_outputs
        self.history_ = fit.history

    def _fitted_input(self, X: Any) -> np.ndarray:  # noqa: N803
        """``X`` checked against the fitted model: finite, 2-D, the fitted feature count."""
        check_is_fitted(self, "module_")
        x = check_features(X, type(self).__name__)
        if x.shape[1] != self.n_features_in_:
            raise ValueError(
                f"{type(self).__name__}: X has {x.shape[1]} features, "
                f"the model was fitted on {self.n_features_in_}"
            )
        return x

    def decision_function(self, X: Any) -> np.ndarray:  # noqa: N803
        """The ensemble's raw outputs ``(n, n_outputs)`` (logits, or the standardised target)."""
        x = self._fitted_input(X)
        with torch.no_grad():
            return self.module_(torch.as_tensor(x)).numpy()


class _ClassifierNet(ClassifierMixin, _SnapshotNet):
    def fit(self, X: Any, y: Any) -> Any:  # noqa: N803
        """Train on ``X`` (encoded features) and class labels ``y``."""
        name = type(self).__name__
        x = check_features(X, name)
        self.classes_, idx = check_classes(y, name)
        if len(idx) != len(x):
            raise ValueError(f"{name}: X has {len(x)} rows but y has {len(idx)}")
        k = len(self.classes_)
        if k == 2:
            targets = idx[:, None].astype(np.float32)

            def task_loss(out: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
                return F.binary_cross_entropy_with_logits(out, yb)

            n_outputs = 1
        else:
            targets = np.eye(k, dtype=np.float32)[idx]

            def task_loss(out: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
                return F.cross_entropy(out, yb)

            n_outputs = k
        self._train(x, targets, n_outputs, task_loss, idx)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:  # noqa: N803
        """Class probabilities ``(n, n_classes)``."""
        out = self.decision_function(X)
        if out.shape[1] == 1:
            p = expit(out[:, 0])
            return np.stack([1 - p, p], 1)
        out = out - out.max(1, keepdims=True)
        e = np.exp(out)
        return e / e.sum(1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:  # noqa: N803
        """Most probable class."""
        return self.classes_[self.predict_proba(X).argmax(1)]


class _RegressorNet(RegressorMixin, _SnapshotNet):
    def fit(self, X: Any, y: Any) -> Any:  # noqa: N803
        """Train on ``X`` and a continuous target ``y`` (standardised internally)."""
        name = type(self).__name__
        x = check_features(X, name)
        yv = np.asarray(y, dtype=np.float64).reshape(-1)
        if len(yv) != len(x):
            raise ValueError(f"{name}: X has {len(x)} rows but y has {len(yv)}")
        if not np.isfinite(yv).all():
            raise ValueError(f"{name}: y has missing or infinite values")
        self.y_mean_ = float(yv.mean())
        self.y_scale_ = float(yv.std()) or 1.0
        targets = ((yv - self.y_mean_) / self.y_scale_)[:, None].astype(np.float32)
        self._train(x, targets, 1, F.mse_loss, None)
        return self

    def predict(self, X: Any) -> np.ndarray:  # noqa: N803
        """Predicted values."""
        return self.decision_function(X)[:, 0] * self.y_scale_ + self.y_mean_


_DOC_PARAMS = """
    nr_blocks, hidden_size, dropout: the TabResNet backbone.
    lr, weight_decay, batch_size: Adam and its batches.
    epochs, warmup_epochs, nr_restarts: linear warm-up, then ``nr_restarts`` cosine cycles; the
        weights at the end of each cycle join the snapshot ensemble.
    augmentation, augmentation_probability: one of mixup, cutmix, cutout, fgsm, gaussian_noise,
        applied to a batch with that probability.
    oversample: random oversampling of minority classes every epoch.
    device: ``auto`` (CUDA when present), ``cpu`` or ``cuda``; inference is float64 on CPU.
"""


class TabResNetClassifier(_ClassifierNet):
    __doc__ = "Black-box TabResNet classifier (INN's twin without the linear head)." + _DOC_PARAMS

    def __init__(
        self,
        nr_blocks: int = 2,
        hidden_size: int = 128,
        dropout: float = 0.1,
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        batch_size: int = 256,
        epochs: int = 40,
        warmup_epochs: int = 5,
        nr_restarts: int = 3,
        augmentation: str | None = None,
        augmentation_probability: float = 0.0,
        oversample: bool = False,
        seed: int = 0,
        device: str = "auto",
    ) -> None:
        self.nr_blocks = nr_blocks
        self.hidden_size = hidden_size
        self.dropout = dropout
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.epochs = epochs
        self.warmup_epochs = warmup_epochs
        self.nr_restarts = nr_restarts
        self.augmentation = augmentation
        self.augmentation_probability = augmentation_probability
        self.oversample = oversample
        self.seed = seed
        self.device = device


class TabResNetRegressor(_RegressorNet):
    __doc__ = "Black-box TabResNet regressor." + _DOC_PARAMS
    __init__ = TabResNetClassifier.__init__
