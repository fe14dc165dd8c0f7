"""Turn a prepared tabular frame into a float matrix: nominal -> one-hot, numeric -> imputed and
standardised. Fitted on train only; keeps the feature names for explanations."""

from __future__ import annotations

import numpy as np
import polars as pl
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted


class TabularEncoder(TransformerMixin, BaseEstimator):
    """One-hot for ``Enum``/string columns, median-impute + standardise for numeric ones."""

    def __init__(self, label: str = "label") -> None:
        self.label = label

    def fit(self, frame: pl.DataFrame, y: object = None) -> TabularEncoder:
        """Learn categories, medians, means and scales from ``frame`` (the train split)."""
        features = [c for c in frame.columns if c != self.label]
        self.nominal_ = [
            c
            for c in features
            if frame.schema[c] in (pl.String, pl.Categorical)
            or isinstance(frame.schema[c], pl.Enum)
        ]
        self.numeric_ = [c for c in features if c not in self.nominal_]
        self.transformer_ = ColumnTransformer(
            [
                (
                    "num",
                    make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                    self.numeric_,
                ),
                ("nom", OneHotEncoder(handle_unknown="ignore", sparse_output=False), self.nominal_),
            ]
        ).fit(self._pandas(frame))
        self.feature_names_ = [
            n.split("__", 1)[1] for n in self.transformer_.get_feature_names_out()
        ]
        return self

    def _pandas(self, frame: pl.DataFrame):  # noqa: ANN202 - sklearn wants pandas here
        cols = [*self.numeric_, *self.nominal_] if hasattr(self, "numeric_") else frame.columns
        pdf = frame.select(cols).to_pandas()
        for c in getattr(self, "nominal_", []):
            pdf[c] = pdf[c].astype(object).where(pdf[c].notna(), "<missing>")
        return pdf

    def transform(self, frame: pl.DataFrame) -> np.ndarray:
        """Float64 matrix with one column per ``feature_names_`` entry."""
        check_is_fitted(self, "transformer_")
        return np.asarray(self.transformer_.transform(self._pandas(frame)), dtype=np.float64)
