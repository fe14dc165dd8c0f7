"""Emb-GAM: a linear model over the summed LM embeddings of a text's n-grams.

Singh & Gao, "Emb-GAM: an interpretable and efficient predictor using pre-trained language
models" (arXiv 2107.09145, 2022); its successor is ``imodelsx`` AugLinear. Because the model is
linear in the *sum* of n-gram embeddings, each prediction is exactly
``intercept + sum_g count(g) * (w . emb(g))``: one contribution per n-gram. Standardisation of the
summed embedding is affine, so it is folded into ``coef_``/``intercept_`` and the decomposition
stays exact. Unlike the reference, unseen n-grams at predict time are embedded (through the
embedder's cache), not scored as zero, and ``predict_proba`` keeps the intercept.
``min_frequency`` shapes the *training* vocabulary only: at prediction every n-gram of a text is
scored, including training n-grams rarer than ``min_frequency`` (embedded like unseen ones).

``residuals`` (glassworks, not in the paper) gives every training n-gram a weight of its own on
top of the embedding's: the linear model reads the standardised summed embedding *and* the n-gram
counts scaled by ``r``, so an n-gram's contribution per occurrence is ``w . emb(g) + r v_g``. The
shared L2 penalty then shrinks each n-gram's own weight towards what its embedding predicts
rather than towards 0 (the larger ``r``, the weaker that shrinkage): frequent n-grams can depart
from their embedding, rare and unseen ones fall back on it. The model is still an exact sum of
per-n-gram contributions. ``r`` is chosen on validation from the ``residuals`` grid, 0 (plain
Emb-GAM) first so that a tie keeps the paper's model.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import polars as pl
import scipy.sparse as sp
from scipy.special import expit, softmax
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from glassworks.embed.ngrams import NgramSpec, count_ngrams, frequent, tokenize
from glassworks.models.selection import select_on_valid
from glassworks.selection import choose

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV, Ridge, RidgeCV


def ridge_alpha(c: float) -> float:
    """The ridge penalty of an inverse regularisation strength: ``alpha = 1 / C``, so a larger C
    means less regularisation for ridge as for logistic regression, and one grid (strongest
    regularisation first) serves both."""
    if not c > 0:
        raise ValueError(f"C must be > 0 (ridge alpha = 1/C), got {c}")
    return 1.0 / c


class Embedder(Protocol):
    """Maps n-grams to vectors (e.g. :class:`glassworks.embed.cache.CachedEmbedder`)."""

    def embed(self, keys: Sequence[str]) -> np.ndarray: ...


def _design(
    counts: Sequence[Counter[str]], index: dict[str, int], allowed: set[str] | None
) -> tuple[sp.csr_matrix, sp.csr_matrix, list[str]]:
    """Count matrices over the known vocabulary and over n-grams not in it (new keys)."""
    new_index: dict[str, int] = {}
    rows_k, cols_k, vals_k, rows_n, cols_n, vals_n = [], [], [], [], [], []
    for i, c in enumerate(counts):
        for g, n in c.items():
            if allowed is not None and g not in allowed:
                continue
            j = index.get(g)
            if j is not None:
                rows_k.append(i), cols_k.append(j), vals_k.append(n)
            else:
                rows_n.append(i), cols_n.append(new_index.setdefault(g, len(new_index)))
                vals_n.append(n)
    known = sp.csr_matrix(
        (vals_k, (rows_k, cols_k)), shape=(len(counts), len(index)), dtype=np.float64
    )
    new = sp.csr_matrix(
        (vals_n, (rows_n, cols_n)), shape=(len(counts), len(new_index)), dtype=np.float64
    )
    return known, new, list(new_index)


def _with_counts(x: np.ndarray, counts: sp.csr_matrix, r: float) -> np.ndarray | sp.csr_matrix:
    """The design matrix: the standardised summed embeddings, then ``r`` times the n-gram
    counts when ``r`` > 0."""
    if not r:
        return x
    return sp.hstack([sp.csr_matrix(x), counts * r], format="csr")


class _EmbGAM(BaseEstimator):
    """Shared fitting and decomposition; subclasses choose the linear model."""

    _task: Literal["classification", "regression"]

    def __init__(
        self,
        embedder: Embedder | None = None,
        *,
        ngram_order: int = 2,
        ngram_mode: Literal["all", "exact"] = "all",
        stopwords: bool = False,
        min_frequency: int = 1,
        normalize: bool = True,
        Cs: Sequence[float] = (0.01, 0.1, 1.0, 10.0),  # noqa: N803 - scikit-learn's name
        max_iter: int = 2000,
        class_weight: str | None = None,
        residuals: Sequence[float] = (0.0,),
    ) -> None:
        self.embedder = embedder
        self.ngram_order = ngram_order
        self.ngram_mode = ngram_mode
        self.stopwords = stopwords
        self.min_frequency = min_frequency
        self.normalize = normalize
        self.Cs = Cs
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.residuals = residuals

    @classmethod
    def from_spec(cls, embedder: Embedder, spec: NgramSpec, **params: Any) -> _EmbGAM:
        """An estimator whose n-gram hyperparameters come from ``spec`` (e.g. the ``embed``
        stage's ``embed.json``), so fitting uses the n-grams that were embedded."""
        return cls(
            embedder,
            ngram_order=spec.order,
            ngram_mode=spec.mode,
            stopwords=spec.stopwords,
            min_frequency=spec.min_frequency,
            **params,
        )

    # ------------------------------------------------------------------ features
    @property
    def spec(self) -> NgramSpec:
        """The n-gram rule."""
        return NgramSpec(
            order=self.ngram_order,
            mode=self.ngram_mode,
            stopwords=self.stopwords,
            min_frequency=self.min_frequency,
        )

    def _embedder(self) -> Embedder:
        if self.embedder is None:
            raise ValueError("EmbGAM needs an embedder (e.g. CachedEmbedder(Encoder()))")
        return self.embedder

    def _summed(self, texts: Sequence[str]) -> np.ndarray:
        """Sum of n-gram embeddings per text (known and unseen n-grams alike)."""
        return self._features(texts)[0]

    def _features(self, texts: Sequence[str]) -> tuple[np.ndarray, sp.csr_matrix]:
        """Sum of n-gram embeddings per text, and its counts of training-vocabulary n-grams."""
        counts = count_ngrams(texts, self.spec)
        known, new, new_keys = _design(counts, self.vocabulary_index_, None)
        emb = self._embedder()
        summed = (
            known @ self._fit_embeddings
            if self._fit_embeddings is not None
            else (known @ emb.embed(self.vocabulary_))
        )
        if new_keys:
            summed = summed + new @ emb.embed(new_keys)
        return np.asarray(summed), known

    def _make(self, c: float) -> Any:
        raise NotImplementedError

    def _make_cv(self) -> Any:
        raise NotImplementedError

    def _valid_score(self, model: Any, x: np.ndarray, y: np.ndarray) -> float:
        return float(model.score(x, y))

    def _cv_choice(self, model: Any) -> float:
        """The ``C`` a cross-validated model chose."""
        return float(np.atleast_1d(model.C_)[0])

    def _check_params(self) -> None:
        """Reject hyperparameters the linear model cannot use (before any embedding)."""
        self._check_residuals()

    def _check_residuals(self) -> None:
        grid = list(self.residuals)
        if not grid:
            raise ValueError("residuals: give at least one scale (0 = plain Emb-GAM)")
        if any(not np.isfinite(r) or r < 0 for r in grid):
            raise ValueError(f"residuals must be finite scales >= 0, got {grid}")

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        X: Sequence[str],  # noqa: N803
        y: Sequence[Any],
        X_valid: Sequence[str] | None = None,  # noqa: N803
        y_valid: Sequence[Any] | None = None,
    ) -> _EmbGAM:
        """Fit on texts ``X``; choose the regularisation on ``(X_valid, y_valid)`` if given,
        else by 5-fold cross-validation over ``Cs``."""
        texts = list(X)
        y_arr = np.asarray(y)
        if len(texts) != len(y_arr):
            raise ValueError(f"X has {len(texts)} texts but y has {len(y_arr)} labels")
        if not texts:
            raise ValueError("cannot fit on zero texts")
        self._check_params()
        counts = count_ngrams(texts, self.spec)
        self.allowed_ngrams_ = frequent(counts, self.min_frequency)
        vocab = sorted(
            {
                g
                for c in counts
                for g in c
                if self.allowed_ngrams_ is None or g in self.allowed_ngrams_
            }
        )
        if not vocab:
            raise ValueError("no n-grams in the training texts (all empty?)")
        self.vocabulary_ = vocab
        self.vocabulary_index_ = {g: i for i, g in enumerate(vocab)}
        embeddings = np.asarray(self._embedder().embed(vocab), dtype=np.float64)
        self._fit_embeddings = embeddings
        known, _, _ = _design(counts, self.vocabulary_index_, self.allowed_ngrams_)
        summed = np.asarray(known @ embeddings)
        if self.normalize:
            mu = summed.mean(axis=0)
            sigma = summed.std(axis=0)
            sigma[sigma == 0] = 1.0
        else:
            mu, sigma = np.zeros(summed.shape[1]), np.ones(summed.shape[1])
        x = (summed - mu) / sigma
        grid = [float(r) for r in self.residuals]
        has_valid = X_valid is not None and y_valid is not None
        if len(grid) > 1 and not has_valid:
            raise ValueError(
                f"residuals: a grid of {len(grid)} scales is chosen on validation; pass "
                "X_valid and y_valid or give one scale"
            )
        valid = None
        if has_valid:
            summed_v, known_v = self._features(list(X_valid))  # type: ignore[arg-type]
            valid = ((summed_v - mu) / sigma, known_v, np.asarray(y_valid))
        fits: dict[float, tuple[Any, float, dict[float, float]]] = {}
        for r in grid:
            fits[r] = self._fit_linear(_with_counts(x, known, r), y_arr, valid, r)
        # each scale's validation score at the C chosen for it (nan without validation)
        self.residual_scores_ = {r: f[2].get(f[1], float("nan")) for r, f in fits.items()}
        best = grid[0]
        if has_valid:  # ties to the first scale of the grid
            best = choose(self.residual_scores_, metric="valid_score")
        model, self.C_, self.valid_scores_ = fits[best]
        self.residual_ = best
        w = np.atleast_2d(model.coef_)
        d = embeddings.shape[1]
        self.coef_ = np.asarray(w[:, :d]) / sigma
        self.intercept_ = np.atleast_1d(model.intercept_) - self.coef_ @ mu
        if hasattr(model, "classes_"):
            self.classes_ = model.classes_
        # each training n-gram's own weight per occurrence (V, outputs); zeros when r = 0
        self.residual_coef_ = (
            (best * np.asarray(w[:, d:])).T if best else np.zeros((len(vocab), w.shape[0]))
        )
        self.ngram_contributions_ = embeddings @ self.coef_.T + self.residual_coef_
        self.n_features_in_ = d
        self._fit_embeddings = None  # not kept: the contributions are all predict needs
        return self

    def _fit_linear(
        self,
        x: np.ndarray | sp.csr_matrix,
        y: np.ndarray,
        valid: tuple[np.ndarray, sp.csr_matrix, np.ndarray] | None,
        r: float,
    ) -> tuple[Any, float, dict[float, float]]:
        """The linear model on design ``x`` with C chosen on validation (or by 5-fold CV, or
        the one C given): ``(model, C, validation score per C)``."""
        if valid is not None:
            xv = _with_counts(valid[0], valid[1], r)
            return select_on_valid(
                self._make,
                list(self.Cs),
                lambda m: m.fit(x, y),
                lambda m: self._valid_score(m, xv, valid[2]),
            )
        if len(self.Cs) > 1:
            model = self._make_cv().fit(x, y)
            return model, self._cv_choice(model), {}
        c = float(self.Cs[0])
        return self._make(c).fit(x, y), c, {}

    # ------------------------------------------------------------------ decomposition
    def _raw(self, texts: Sequence[str]) -> np.ndarray:
        check_is_fitted(self, "ngram_contributions_")
        counts = count_ngrams(texts, self.spec)
        known, new, new_keys = _design(counts, self.vocabulary_index_, None)
        z = known @ self.ngram_contributions_
        if new_keys:
            z = z + new @ (np.asarray(self._embedder().embed(new_keys), np.float64) @ self.coef_.T)
        return np.asarray(z) + self.intercept_

    def decision_function_embeddings(self, X: Sequence[str]) -> np.ndarray:  # noqa: N803
        """The linear model applied to the summed embeddings (and the training n-grams' counts
        when ``residual_`` > 0): the slow path, for checking."""
        check_is_fitted(self, "coef_")
        summed, known = self._features(list(X))
        z = summed @ self.coef_.T + self.intercept_
        residual = getattr(self, "residual_coef_", None)  # None in models pickled before it
        if residual is not None:
            z = z + np.asarray(known @ residual)
        return z[:, 0] if z.shape[1] == 1 else z

    def explain(self, text: str) -> pl.DataFrame:
        """Each n-gram of ``text`` with its count and contribution (one column per output).

        The contributions plus ``intercept_`` sum exactly to the decision function.
        """
        check_is_fitted(self, "ngram_contributions_")
        counts = count_ngrams([text], self.spec)[0]
        keys = list(counts)  # min_frequency shapes the training vocabulary only
        unseen = [g for g in keys if g not in self.vocabulary_index_]
        per_unit = {
            g: self.ngram_contributions_[self.vocabulary_index_[g]]
            for g in keys
            if g in self.vocabulary_index_
        }
        if unseen:
            vecs = np.asarray(self._embedder().embed(unseen), np.float64) @ self.coef_.T
            per_unit.update(zip(unseen, vecs, strict=True))
        outputs = self._output_names()
        data: dict[str, Any] = {
            "ngram": keys,
            "count": [counts[g] for g in keys],
            "seen_in_training": [g in self.vocabulary_index_ for g in keys],
        }
        for j, name in enumerate(outputs):
            data[name] = [counts[g] * float(per_unit[g][j]) for g in keys]
        return pl.DataFrame(data)

    def output_column(self, output: int = 0) -> str:
        """The :meth:`explain` column holding output ``output``'s contributions (binary
        classifiers have one output, the positive class's logit)."""
        return self._output_names()[output]

    def contributions(self, text: str, output: int = 0) -> list[tuple[str, float]]:
        """Each n-gram of ``text`` with its contribution (count times per-occurrence value) to
        output ``output``, largest magnitude first."""
        table = self.explain(text)
        pairs = zip(table["ngram"], table[self.output_column(output)], strict=True)
        return sorted(pairs, key=lambda r: -abs(r[1]))

    def token_scores(self, text: str, output: int = 0) -> tuple[list[str], list[float]]:
        """Word tokens of ``text`` with each n-gram's contribution shared equally by its words.

        The scores sum to the decision function minus the intercept (for ``output``).
        """
        table = self.explain(text)
        col = self.output_column(output)
        per_unit = {
            g: v / n for g, n, v in zip(table["ngram"], table["count"], table[col], strict=True)
        }
        tokens = tokenize(text)
        scores = [0.0] * len(tokens)
        spec = self.spec
        orders = range(1, spec.order + 1) if spec.mode == "all" else (spec.order,)
        for n in orders:
            for i in range(len(tokens) - n + 1):
                value = per_unit.get(" ".join(tokens[i : i + n]))
                if value is not None:
                    for j in range(i, i + n):
                        scores[j] += value / n
        return tokens, scores

    def top_ngrams(self, k: int = 20, output: int = 0) -> pl.DataFrame:
        """The training n-grams with the largest and smallest contribution per occurrence."""
        check_is_fitted(self, "ngram_contributions_")
        col = self.ngram_contributions_[:, output]
        order = np.argsort(col)
        idx = np.concatenate([order[::-1][:k], order[:k]])
        return pl.DataFrame(
            {
                "ngram": [self.vocabulary_[i] for i in idx],
                "contribution": col[idx],
                "direction": ["positive"] * min(k, len(col)) + ["negative"] * min(k, len(col)),
            }
        )

    def _output_names(self) -> list[str]:
        return ["contribution"]


class EmbGAMClassifier(ClassifierMixin, _EmbGAM):
    """Emb-GAM with (multinomial) logistic regression; ``C`` chosen from ``Cs``."""

    _task = "classification"

    def _make(self, c: float) -> LogisticRegression:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=c, max_iter=self.max_iter, class_weight=self.class_weight)

    def _make_cv(self) -> LogisticRegressionCV:
        from sklearn.linear_model import LogisticRegressionCV

        return LogisticRegressionCV(
            Cs=list(self.Cs), cv=5, max_iter=self.max_iter, class_weight=self.class_weight
        )

    def _output_names(self) -> list[str]:
        if len(self.classes_) == 2:
            return [f"contribution_{self.classes_[1]}"]
        return [f"contribution_{c}" for c in self.classes_]

    def decision_function(self, X: Sequence[str]) -> np.ndarray:  # noqa: N803
        """Logits from the n-gram decomposition (shape (n,) for two classes)."""
        z = self._raw(list(X))
        return z[:, 0] if z.shape[1] == 1 else z

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:  # noqa: N803
        """Class probabilities, intercept included."""
        z = self.decision_function(X)
        if z.ndim == 1:
            p = expit(z)
            return np.column_stack([1 - p, p])
        return softmax(z, axis=1)

    def predict(self, X: Sequence[str]) -> np.ndarray:  # noqa: N803
        """Most probable class."""
        check_is_fitted(self, "classes_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class EmbGAMRegressor(RegressorMixin, _EmbGAM):
    """Emb-GAM (Singh & Gao 2022) with ridge regression, for a real-valued target.

    ``Cs`` keeps the classifier's meaning, an *inverse* strength: ridge ``alpha = 1/C``, so a
    larger C means less regularisation in both and one grid serves both. C is chosen on
    validation RMSE (lowest wins; a tie goes to the first C of the grid) or, without a
    validation split, by efficient leave-one-out (``RidgeCV``). ``class_weight`` must be None.
    The one output's contributions plus ``intercept_`` sum exactly to the prediction."""

    _task = "regression"

    def _make(self, c: float) -> Ridge:
        from sklearn.linear_model import Ridge

        return Ridge(alpha=ridge_alpha(c))

    def _make_cv(self) -> RidgeCV:
        from sklearn.linear_model import RidgeCV

        return RidgeCV(alphas=[ridge_alpha(c) for c in self.Cs])

    def _cv_choice(self, model: Any) -> float:
        return 1.0 / float(model.alpha_)

    def _valid_score(self, model: Any, x: np.ndarray, y: np.ndarray) -> float:
        # -RMSE (highest wins), written out: importing glassworks.train here would make every
        # stage that loads an Emb-GAM (explain) depend on it in dvc.yaml
        return -float(np.sqrt(np.mean((model.predict(x) - y) ** 2)))

    def _check_params(self) -> None:
        self._check_residuals()
        if self.class_weight is not None:
            raise ValueError("class_weight is for classifiers; EmbGAMRegressor needs None")
        for c in self.Cs:
            ridge_alpha(c)

    @property
    def alpha_(self) -> float:
        """The chosen ridge penalty, ``1 / C_``."""
        check_is_fitted(self, "C_")
        return 1.0 / self.C_

    def decision_function(self, X: Sequence[str]) -> np.ndarray:  # noqa: N803
        """The prediction (the model's one linear output), as :meth:`predict`; named like the
        classifier's so code explaining either reads ``decision_function``."""
        return self.predict(X)

    def predict(self, X: Sequence[str]) -> np.ndarray:  # noqa: N803
        """Predicted value from the n-gram decomposition."""
        return self._raw(list(X))[:, 0]
