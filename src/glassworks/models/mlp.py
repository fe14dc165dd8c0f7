"""A small smooth MLP classifier (softplus, so Integrated Hessians are informative), trained with
Adam and early stopping on a validation split; scikit-learn API over numpy matrices."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted
from torch import nn


class MLPClassifier(ClassifierMixin, BaseEstimator):
    """``hidden`` softplus layers; ``module_`` is the torch model (logits), float64 on CPU."""

    def __init__(
        self,
        hidden: tuple[int, ...] = (64, 64),
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        epochs: int = 200,
        batch_size: int = 128,
        patience: int = 20,
        seed: int = 0,
    ) -> None:
        self.hidden = hidden
        self.lr = lr
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.patience = patience
        self.seed = seed

    def _build(self, d: int, k: int) -> nn.Module:
        layers: list[nn.Module] = []
        for h in self.hidden:
            layers += [nn.Linear(d, h), nn.Softplus()]
            d = h
        layers.append(nn.Linear(d, k))
        return nn.Sequential(*layers).double()

    def fit(
        self,
        X: np.ndarray,  # noqa: N803
        y: np.ndarray,
        X_valid: np.ndarray | None = None,  # noqa: N803
        y_valid: np.ndarray | None = None,
    ) -> MLPClassifier:
        """Train; with a validation split, keep the epoch with the lowest validation loss."""
        torch.manual_seed(self.seed)
        self.classes_, y_idx = np.unique(np.asarray(y), return_inverse=True)
        x = torch.as_tensor(np.asarray(X), dtype=torch.float64)
        t = torch.as_tensor(y_idx)
        self.module_ = self._build(x.shape[1], len(self.classes_))
        opt = torch.optim.Adam(
            self.module_.parameters(), lr=self.lr, weight_decay=self.weight_decay
        )
        loss_fn = nn.CrossEntropyLoss()
        has_valid = X_valid is not None and y_valid is not None
        if has_valid:
            xv = torch.as_tensor(np.asarray(X_valid), dtype=torch.float64)
            tv = torch.as_tensor(np.searchsorted(self.classes_, np.asarray(y_valid)))
        best, best_state, waited = float("inf"), None, 0
        gen = torch.Generator().manual_seed(self.seed)
        for _ in range(self.epochs):
            self.module_.train()
            for idx in torch.randperm(len(x), generator=gen).split(self.batch_size):
                opt.zero_grad()
                loss_fn(self.module_(x[idx]), t[idx]).backward()
                opt.step()
            if has_valid:
                self.module_.eval()
                with torch.no_grad():
                    val = float(loss_fn(self.module_(xv), tv))
                if val < best - 1e-6:
                    best, waited = val, 0
                    best_state = {k: v.clone() for k, v in self.module_.state_dict().items()}
                else:
                    waited += 1
                    if waited >= self.patience:
                        break
        if best_state is not None:
            self.module_.load_state_dict(best_state)
        self.module_.eval()
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
        """Class probabilities."""
        check_is_fitted(self, "module_")
        with torch.no_grad():
            logits = self.module_(torch.as_tensor(np.asarray(X), dtype=torch.float64))
        return torch.softmax(logits, -1).numpy()

    def predict(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
        """Most probable class."""
        return self.classes_[self.predict_proba(X).argmax(1)]
