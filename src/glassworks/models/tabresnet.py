"""TabResNet: a residual MLP for tabular data (Gorishniy et al. 2021, "Revisiting Deep Learning
Models for Tabular Data"; the backbone of INN, Kadra et al. 2023), and the scikit-learn estimators
shared by TabResNet and INN: same data checks, same training loop
(:mod:`glassworks.train.snapshots`), same snapshot ensemble.

Binary tasks have one output (the log-odds of the second class), multiclass tasks one per class,
regression one (on the standardised target). ``numeric_bins`` > 0 feeds the network its input
followed by a piecewise-linear encoding of the numeric columns (:class:`PiecewiseLinearEncoding`).
"""

from __future__ import annotations

import copy
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


class PiecewiseLinearEncoding(nn.Module):
    """``x`` followed by the piecewise-linear encoding of its numeric columns (Gorishniy, Rubachev
    & Babenko 2022, "On Embeddings for Numerical Features in Tabular Deep Learning"): each column
    with more than two distinct training values is cut into up to ``n_bins`` bins at its training
    quantiles; bin ``t`` reads 0 below its lower edge, 1 above its upper edge and rises linearly
    in between (the paper leaves the first bin open below and the last open above; here every
    bin saturates, and the raw column, which comes first, carries what lies beyond the training
    range). The map is continuous and piecewise linear in ``x``, so gradients (attributions,
    INN's smoothness penalty) pass through it.

    Buffers: ``columns`` (the input column of each bin), ``lower`` and ``width`` (its edges).
    """

    def __init__(
        self, n_features: int, columns: torch.Tensor, lower: torch.Tensor, width: torch.Tensor
    ) -> None:
        super().__init__()
        self.n_features = n_features
        self.register_buffer("columns", columns.long())
        self.register_buffer("lower", lower.float())
        self.register_buffer("width", width.float())

    @classmethod
    def fit(cls, x: np.ndarray, n_bins: int) -> PiecewiseLinearEncoding:
        """Bins at the quantiles of each numeric column of the training matrix ``x``."""
        if n_bins < 1:
            raise ValueError(f"numeric_bins must be >= 1 to encode, got {n_bins}")
        columns, lower, width = [], [], []
        levels = np.linspace(0.0, 1.0, n_bins + 1)
        for j in range(x.shape[1]):
            col = x[:, j]
            if len(np.unique(col)) <= 2:
                continue  # binary and constant columns (one-hot codes) stay as they are
            edges = np.unique(np.quantile(col, levels))
            if len(edges) < 2:
                continue
            columns += [j] * (len(edges) - 1)
            lower += list(edges[:-1])
            width += list(np.diff(edges))
        return cls(
            x.shape[1],
            torch.as_tensor(columns, dtype=torch.long),
            torch.as_tensor(lower, dtype=torch.float32),
            torch.as_tensor(width, dtype=torch.float32),
        )

    @property
    def n_outputs(self) -> int:
        """Input columns plus bins."""
        return self.n_features + len(self.columns)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, n_features + bins)``."""
        bins = ((x[:, self.columns] - self.lower) / self.width).clamp(0.0, 1.0)
        return torch.cat([x, bins], 1)


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

    def _input_encoding(self) -> PiecewiseLinearEncoding | None:
        """A fresh copy of the fitted input encoding (each snapshot member gets its own)."""
        encoding = getattr(self, "encoding_", None)
        return copy.deepcopy(encoding) if encoding is not None else None

    def _build(self, n_features: int, n_outputs: int) -> nn.Module:
        encoding = self._input_encoding()
        if encoding is None:
            return TabResNet(n_features, n_outputs, self.nr_blocks, self.hidden_size, self.dropout)
        net = TabResNet(
            encoding.n_outputs, n_outputs, self.nr_blocks, self.hidden_size, self.dropout
        )
        return nn.Sequential(encoding, net)

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
        bins = getattr(self, "numeric_bins", 0)
        if not isinstance(bins, int | np.integer) or isinstance(bins, bool) or bins < 0:
            raise ValueError(f"numeric_bins must be an integer >= 0, got {bins!r}")

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
        bins = int(getattr(self, "numeric_bins", 0))
        self.encoding_ = PiecewiseLinearEncoding.fit(x, bins) if bins else None

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
    numeric_bins: 0 feeds the network the encoded features as they are; N > 0 appends a
        piecewise-linear encoding of each numeric column in up to N quantile bins (Gorishniy et
        al. 2022; fitted on the training rows).
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
        numeric_bins: int = 0,
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
        self.numeric_bins = numeric_bins
        self.seed = seed
        self.device = device


class TabResNetRegressor(_RegressorNet):
    __doc__ = "Black-box TabResNet regressor." + _DOC_PARAMS
    __init__ = TabResNetClassifier.__init__
