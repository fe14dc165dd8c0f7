"""Tabular preprocessing and model zoo: a prepared frame -> a float matrix (nominal -> one-hot or
target encoding, numeric -> imputed and standardised; fitted on train only, feature names kept for
explanations), and one factory for every tabular method the comparison trains."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from glassworks.config import TABULAR_METHODS
from glassworks.errors import DataError

if TYPE_CHECKING:
    from sklearn.compose import ColumnTransformer


class TabularEncoder(TransformerMixin, BaseEstimator):
    """Numeric columns: median-impute + standardise. Nominal (``Enum``/string) columns: one-hot
    (``nominal="onehot"``, categories rarer than the ``max_categories``-th grouped as infrequent)
    or target encoding (``nominal="target"``, Micci-Barreca 2001, cross-fitted on train by
    :meth:`fit_transform`). Missing nominal values are a category of their own; columns constant
    on train (or all missing) are dropped and listed in ``dropped_``.
    """

    def __init__(
        self, label: str = "label", nominal: str = "onehot", max_categories: int | None = 32
    ) -> None:
        self.label = label
        self.nominal = nominal
        self.max_categories = max_categories

    def _make(self, frame: pl.DataFrame) -> ColumnTransformer:
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler, TargetEncoder

        if self.nominal not in ("onehot", "target"):
            raise ValueError(f"nominal: {self.nominal!r} is not 'onehot' or 'target'")
        if self.label not in frame.columns:
            raise ValueError(f"the frame has no label column {self.label!r}")
        features = [c for c in frame.columns if c != self.label]
        self.dropped_ = [c for c in features if frame.get_column(c).drop_nulls().n_unique() <= 1]
        kept = [c for c in features if c not in self.dropped_]
        if not kept:
            raise ValueError("every feature column is constant on the training split")
        self.nominal_ = [
            c
            for c in kept
            if frame.schema[c] in (pl.String, pl.Categorical)
            or isinstance(frame.schema[c], pl.Enum)
        ]
        self.numeric_ = [c for c in kept if c not in self.nominal_]
        if self.nominal == "onehot":
            nominal: Any = OneHotEncoder(
                handle_unknown="infrequent_if_exist",
                max_categories=self.max_categories,
                sparse_output=False,
            )
        else:
            nominal = make_pipeline(TargetEncoder(random_state=0), StandardScaler())
        return ColumnTransformer(
            [
                (
                    "num",
                    make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                    self.numeric_,
                ),
                ("nom", nominal, self.nominal_),
            ]
        )

    def _names(self) -> None:
        self.feature_names_ = [
            n.split("__", 1)[1] for n in self.transformer_.get_feature_names_out()
        ]

    def fit(self, frame: pl.DataFrame, y: object = None) -> TabularEncoder:
        """Learn categories, medians, means and scales from ``frame`` (the train split)."""
        self.transformer_ = self._make(frame)
        self.transformer_.fit(self._pandas(frame), self._target(frame))
        self._names()
        return self

    def fit_transform(self, frame: pl.DataFrame, y: object = None) -> np.ndarray:
        """Fit on ``frame`` and encode it; target encoding is cross-fitted (no label leakage)."""
        self.transformer_ = self._make(frame)
        out = self.transformer_.fit_transform(self._pandas(frame), self._target(frame))
        self._names()
        return np.asarray(out, dtype=np.float64)

    def _target(self, frame: pl.DataFrame) -> np.ndarray:
        return frame.get_column(self.label).to_numpy()

    def _pandas(self, frame: pl.DataFrame):  # noqa: ANN202 - sklearn wants pandas here
        cols = [*self.numeric_, *self.nominal_]
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise ValueError(f"the frame lacks feature columns {missing}")
        pdf = frame.select(cols).to_pandas()
        for c in self.nominal_:
            pdf[c] = pdf[c].astype(object).where(pdf[c].notna(), "<missing>")
        return pdf

    def transform(self, frame: pl.DataFrame) -> np.ndarray:
        """Float64 matrix with one column per ``feature_names_`` entry."""
        check_is_fitted(self, "transformer_")
        return np.asarray(self.transformer_.transform(self._pandas(frame)), dtype=np.float64)

    def transform_rows(self, rows: Sequence[Any], source: str = "rows") -> np.ndarray:
        """Encode raw rows given from outside (dicts of feature -> value), checking each.

        Numeric features: a number or numeric string; ``None``/NaN/empty is missing (imputed like
        training's); infinity or text is a :class:`DataError` naming the row and feature. Nominal
        features: any value is compared as text; ``None`` is missing; a category never seen in
        training encodes like training's rare ones (one-hot: the infrequent column, or all zeros).
        Keys that are not features (e.g. the label) are ignored; a missing feature is an error."""
        check_is_fitted(self, "transformer_")
        if not rows:
            raise DataError(source, "no rows given")
        numeric: dict[str, list[float | None]] = {c: [] for c in self.numeric_}
        nominal: dict[str, list[str | None]] = {c: [] for c in self.nominal_}
        for i, row in enumerate(rows):
            if not isinstance(row, Mapping):
                raise DataError(source, f"row {i} is a {type(row).__name__}, not a mapping")
            for c in [*self.numeric_, *self.nominal_]:
                if c not in row:
                    raise DataError(source, f"row {i} lacks the feature", field=c)
            for c in self.numeric_:
                numeric[c].append(_number(row[c], source, i, c))
            for c in self.nominal_:
                v = row[c]
                missing = v is None or (isinstance(v, float) and math.isnan(v))
                nominal[c].append(None if missing else str(v))
        frame = pl.DataFrame(
            {**{c: pl.Series(c, v, dtype=pl.Float64) for c, v in numeric.items()},
             **{c: pl.Series(c, v, dtype=pl.String) for c, v in nominal.items()}}
        )  # fmt: skip
        return self.transform(frame)


def _number(value: Any, source: str, row: int, column: str) -> float | None:
    """One numeric feature value from outside: None/NaN/"" -> missing; inf or text -> error."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str | np.number):
        raise DataError(source, f"row {row}: {value!r} is not a number", field=column)
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise DataError(source, f"row {row}: {value!r} is not a number", field=column) from None
    if math.isnan(number):
        return None
    if math.isinf(number):
        raise DataError(source, f"row {row}: infinite value", field=column)
    return number


TASKS = ("binary", "multiclass", "regression")
"""The prediction tasks the tabular methods handle (a prepared dataset's ``task``)."""

CLASSIFICATION_ONLY: dict[str, tuple[str, ...]] = {
    "logistic_regression": ("penalty", "l1_ratio", "class_weight", "solver", "dual",
                            "intercept_scaling", "multi_class", "warm_start", "n_jobs",
                            "verbose"),
    "decision_tree": ("class_weight", "criterion"),
    "random_forest": ("class_weight", "criterion"),
    "catboost": ("class_weights", "auto_class_weights", "class_names", "classes_count",
                 "scale_pos_weight", "custom_loss", "loss_function", "eval_metric"),
}  # fmt: skip
"""Per method, hyperparameters that only mean something for a classifier: ``train_tabular``
shares one set of hyperparameters per method over every dataset, so a regression dataset's
regressor ignores these keys (and uses its own default, e.g. squared error) instead of failing."""


def make_tabular_model(
    method: str, seed: int, params: dict[str, Any] | None = None, *, task: str = "binary"
) -> Any:
    """A fresh estimator for ``method`` (one of :data:`TABULAR_METHODS`) with ``params``.

    INN and TabResNet (Kadra et al. 2023), scikit-learn's logistic regression, decision tree and
    random forest, CatBoost (Prokhorenkova et al. 2018) and the Explainable Boosting Machine
    (InterpretML, Nori et al. 2019). For ``task`` ``binary``/``multiclass`` a classifier
    (``fit(X, y)``, ``predict_proba(X)``); for ``regression`` the method's regressor
    (``fit(X, y)``, ``predict(X)`` values): :func:`make_tabular_regressor`.
    """
    if task not in TASKS:
        raise ValueError(f"task {task!r}: the tabular methods handle {', '.join(TASKS)}")
    if task == "regression":
        return make_tabular_regressor(method, seed, params)
    params = dict(params or {})
    if method == "inn":
        from glassworks.models.inn import INNClassifier

        return INNClassifier(seed=seed, **params)
    if method == "tabresnet":
        from glassworks.models.tabresnet import TabResNetClassifier

        return TabResNetClassifier(seed=seed, **params)
    if method == "logistic_regression":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(random_state=seed, **{"max_iter": 2000, **params})
    if method == "decision_tree":
        from sklearn.tree import DecisionTreeClassifier

        return DecisionTreeClassifier(random_state=seed, **params)
    if method == "random_forest":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(random_state=seed, **{"n_jobs": -1, **params})
    if method == "catboost":
        from catboost import CatBoostClassifier

        return CatBoostClassifier(
            random_seed=seed, **{"verbose": False, "allow_writing_files": False, **params}
        )
    if method == "ebm":
        from interpret.glassbox import ExplainableBoostingClassifier

        return ExplainableBoostingClassifier(random_state=seed, **params)
    raise ValueError(f"unknown tabular method {method!r} (known: {', '.join(TABULAR_METHODS)})")


def make_tabular_regressor(method: str, seed: int, params: dict[str, Any] | None = None) -> Any:
    """A fresh regressor for ``method``, taking the same hyperparameter keys as its classifier.

    INN / TabResNet: :class:`~glassworks.models.inn.INNRegressor` /
    :class:`~glassworks.models.tabresnet.TabResNetRegressor` (trained on the standardised target).
    ``logistic_regression``: ridge regression, the squared-loss twin of L2-penalised logistic
    regression; ``C`` keeps its meaning (inverse penalty strength) as ``alpha = 1 / C``, so both
    minimise ``C * sum(loss_i) + ||w||^2 / 2`` (ridge's loss ``(y - y_hat)^2 / 2``). Decision
    tree, random forest, CatBoost and EBM: their regressors (squared error). Keys in
    :data:`CLASSIFICATION_ONLY` are ignored; any other key goes to the regressor as it is.
    """
    params = {
        k: v for k, v in (params or {}).items() if k not in CLASSIFICATION_ONLY.get(method, ())
    }
    if method == "inn":
        from glassworks.models.inn import INNRegressor

        return INNRegressor(seed=seed, **params)
    if method == "tabresnet":
        from glassworks.models.tabresnet import TabResNetRegressor

        return TabResNetRegressor(seed=seed, **params)
    if method == "logistic_regression":
        from sklearn.linear_model import Ridge

        c = float(params.pop("C", 1.0))
        if c <= 0:
            raise ValueError(f"logistic_regression: C must be > 0 (ridge alpha = 1/C), got {c}")
        return Ridge(alpha=1.0 / c, random_state=seed, **params)
    if method == "decision_tree":
        from sklearn.tree import DecisionTreeRegressor

        return DecisionTreeRegressor(random_state=seed, **params)
    if method == "random_forest":
        from sklearn.ensemble import RandomForestRegressor

        return RandomForestRegressor(random_state=seed, **{"n_jobs": -1, **params})
    if method == "catboost":
        from catboost import CatBoostRegressor

        return CatBoostRegressor(
            random_seed=seed, **{"verbose": False, "allow_writing_files": False, **params}
        )
    if method == "ebm":
        from interpret.glassbox import ExplainableBoostingRegressor

        return ExplainableBoostingRegressor(random_state=seed, **params)
    raise ValueError(f"unknown tabular method {method!r} (known: {', '.join(TABULAR_METHODS)})")


RUN_FACTS = {"catboost": ("train_finish_time", "model_guid")}
"""Per method, what a fitted model stores that is a run fact, not model state: CatBoost's
metadata holds the wall-clock time training finished and a random model id, so two fits with
the same seed and data would pickle differently (and a DVC output would hash differently)."""


def drop_run_facts(method: str, model: Any) -> Any:
    """``model`` (fitted ``method``) without the :data:`RUN_FACTS` it stores: what it pickles is
    then a function of its data, parameters and seed alone. Returns ``model``."""
    keys = RUN_FACTS.get(method, ())
    if keys:
        metadata = model.get_metadata()
        for key in keys:
            if key in metadata:
                del metadata[key]
    return model
