"""Fit and score one tabular method on one prepared dataset (the INN benchmark protocol,
Kadra et al. 2023): encode on train only, fit, test AUROC (classification) or test RMSE
(regression); training and inference are timed, but the seconds are run facts kept apart from the
scores (MLflow only, never a DVC output)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import polars.selectors as cs

from glassworks.data.schema import PreparedDataset
from glassworks.data.split import subsample
from glassworks.errors import DataError
from glassworks.io import write_json, write_pickle
from glassworks.models.tabular import TASKS, TabularEncoder, drop_run_facts, make_tabular_model
from glassworks.train.evaluate import regression_metrics

if TYPE_CHECKING:
    import pandas as pd

    from glassworks.config import TabularRun, TrainTabularParams

SCORES = ("test_auroc", "valid_auroc", "test_accuracy")
"""The scores of one classification seed that are written, logged and summarised over seeds."""

REGRESSION_SCORES = ("test_rmse", "valid_rmse", "test_mae", "test_r2")
"""The scores of one regression seed (in the target's units; R² on test)."""


def scores_for(task: str) -> tuple[str, ...]:
    """:data:`REGRESSION_SCORES` for a regression task, else :data:`SCORES`."""
    return REGRESSION_SCORES if task == "regression" else SCORES


def scores_in(info: Mapping[str, Any]) -> tuple[str, ...]:
    """The score names an ``output_info`` (or its summary over seeds) holds: regression ones when
    it has ``test_rmse``, else the classification ones."""
    return REGRESSION_SCORES if "test_rmse" in info else SCORES


TIMINGS = ("train_time", "inference_time")
"""Wall-clock seconds of one seed's fit and test-set inference: run facts that differ between
machines and runs, so they go to the seed's MLflow run only (``benchmarks/inn_cost.py`` measures
training cost); never in ``output_info.json`` or the DVC metrics."""


@dataclass(frozen=True)
class EncodedSplits:
    """Encoded matrices and targets per split (class indices, or values for regression), the
    fitted encoder and the task."""

    encoder: TabularEncoder
    x: dict[str, np.ndarray]
    y: dict[str, np.ndarray]
    task: str = "binary"


def leaky_columns(
    frame: pl.DataFrame, label: str = "label", *, continuous: bool = False
) -> list[str]:
    """Feature columns that copy the label: a column whose values and the classes map one to one,
    or a 0/1 column that is exactly the indicator of one class (OpenML 1466 ships ten). For a
    ``continuous`` target: :func:`target_copies` (a one-to-one map would flag every continuous
    feature)."""
    if continuous:
        return target_copies(frame, label)
    y = frame.get_column(label)
    classes = y.unique().to_list()
    out = []
    for c in frame.columns:
        if c == label:
            continue
        col = frame.get_column(c)
        if col.null_count() or col.n_unique() > len(classes):
            continue
        pairs = frame.select(c, label).unique()
        if pairs.height == col.n_unique() == len(classes):
            out.append(c)
        elif col.n_unique() == 2 and col.dtype.is_numeric() and set(col.unique()) == {0, 1}:
            ones = (col == 1).to_numpy()
            if any(np.array_equal(ones, (y == k).to_numpy()) for k in classes):
                out.append(c)
    return out


def target_copies(frame: pl.DataFrame, label: str = "label") -> list[str]:
    """Numeric feature columns (no nulls) that copy a continuous target: equal to it up to an
    affine map (|Pearson r| within 1e-9 of 1: the target itself, or in other units)."""
    y = frame.get_column(label).cast(pl.Float64).to_numpy()
    if np.ptp(y) == 0:
        return []
    out = []
    for c in frame.columns:
        col = frame.get_column(c)
        if c == label or not col.dtype.is_numeric() or col.null_count():
            continue
        v = col.cast(pl.Float64).to_numpy()
        if np.isfinite(v).all() and np.ptp(v) > 0 and abs(np.corrcoef(v, y)[0, 1]) > 1 - 1e-9:
            out.append(c)
    return out


def _check_regression_target(prepared: PreparedDataset, where: str) -> None:
    """A numeric, finite target on every split, with at least two distinct values on train."""
    for name, frame in prepared.splits.items():
        y = frame.get_column("label")
        if not y.dtype.is_numeric():
            raise DataError(
                where, f"the {name} split of {prepared.name}: a regression target must be "
                f"numeric, not {y.dtype}",
            )  # fmt: skip
        values = y.cast(pl.Float64)
        bad = values.is_null().sum() + (~values.drop_nulls().is_finite()).sum()
        if bad:
            raise DataError(
                where, f"the {name} split of {prepared.name} has {bad} missing or infinite "
                "target values",
            )  # fmt: skip
    distinct = prepared.splits["train"].get_column("label").n_unique()
    if distinct < 2:
        raise DataError(
            where, f"the train split of {prepared.name} holds a constant target; a regression "
            "needs at least two distinct values",
        )  # fmt: skip


def check_tabular(prepared: PreparedDataset, where: str) -> None:
    """Refuse what the methods cannot learn from: a non-tabular dataset or a task other than
    binary, multiclass or regression; a split without rows; for classification a split with a
    single class, for regression a non-numeric or non-finite target or a constant one on train
    (the message names the split); feature columns that copy the label on the train split
    (target leakage)."""
    if prepared.modality != "tabular":
        raise DataError(where, f"{prepared.name} is a {prepared.modality} dataset, not tabular")
    if prepared.task not in TASKS:
        raise DataError(
            where,
            f"{prepared.name} has a {prepared.task!r} target; the tabular comparison handles "
            f"{', '.join(TASKS)} targets",
        )
    regression = prepared.task == "regression"
    for name, frame in prepared.splits.items():
        if frame.height == 0:
            raise DataError(where, f"the {name} split of {prepared.name} is empty")
        if regression:
            continue
        classes = frame.get_column("label").drop_nulls().unique().to_list()
        if len(classes) < 2:
            raise DataError(
                where,
                f"the {name} split of {prepared.name} holds a single class ({classes}); "
                "AUROC needs two",
            )
    if regression:
        _check_regression_target(prepared, where)
    leaks = leaky_columns(prepared.splits["train"], continuous=regression)
    if leaks:
        raise DataError(
            where,
            f"feature columns {leaks} of {prepared.name} copy the label on the train split "
            "(target leakage); list them in prepare.datasets.<name>.drop_columns",
        )


def encode_splits(
    prepared: PreparedDataset,
    *,
    nominal: str = "onehot",
    max_categories: int | None = 32,
    max_train: int | None = None,
    seed: int = 0,
) -> EncodedSplits:
    """Subsample train to ``max_train`` rows (seeded), fit the encoder on it, encode every split
    (train through ``fit_transform``, so target encoding is cross-fitted)."""
    frames: dict[str, pl.DataFrame] = dict(prepared.splits)
    frames["train"] = subsample(frames["train"], max_train, seed)
    encoder = TabularEncoder(nominal=nominal, max_categories=max_categories)
    x = {"train": encoder.fit_transform(frames["train"])}
    for name in ("valid", "test"):
        x[name] = encoder.transform(frames[name])
    y = {n: f.get_column("label").to_numpy() for n, f in frames.items()}
    if prepared.task == "regression":
        y = {n: v.astype(np.float64) for n, v in y.items()}
    return EncodedSplits(encoder, x, y, prepared.task)


def encode_as_configured(
    prepared: PreparedDataset, params: TrainTabularParams | TabularRun
) -> EncodedSplits:
    """:func:`encode_splits` with ``train_tabular``'s encoding and ``max_train`` (the stage and
    the tabular benchmarks encode alike)."""
    return encode_splits(
        prepared,
        nominal=params.encoding.nominal,
        max_categories=params.encoding.max_categories,
        max_train=params.max_train,
    )


def auroc(y_true: np.ndarray, proba: np.ndarray, n_classes: int) -> float:
    """Binary AUROC, or the macro one-vs-rest AUROC over ``n_classes`` (Hand & Till style)."""
    from sklearn.metrics import roc_auc_score

    if n_classes == 2:
        return float(roc_auc_score(y_true, proba[:, 1]))
    present = np.unique(y_true)
    if len(present) < n_classes:  # classes absent from a split: score the present ones
        cols = proba[:, present] / np.maximum(proba[:, present].sum(1, keepdims=True), 1e-300)
        if len(present) == 2:
            return float(roc_auc_score(y_true == present[1], cols[:, 1]))
        return float(roc_auc_score(y_true, cols, multi_class="ovr", labels=present))
    return float(roc_auc_score(y_true, proba, multi_class="ovr", labels=np.arange(n_classes)))


def _full_proba(model: Any, x: np.ndarray, n_classes: int) -> np.ndarray:
    """``predict_proba`` with one column per class index, even for classes train lacked."""
    proba = np.asarray(model.predict_proba(x), dtype=np.float64)
    out = np.zeros((len(x), n_classes))
    out[:, np.asarray(model.classes_, dtype=int)] = proba
    return out


def fit_and_score(
    method: str,
    params: dict[str, Any],
    seed: int,
    data: EncodedSplits,
    n_classes: int,
) -> tuple[Any, dict[str, Any]]:
    """Fit ``method`` on train and return ``(model, output_info)``: test/valid AUROC and accuracy
    (regression, ``data.task``: test/valid RMSE, test MAE and R²; ``n_classes`` is unused), sizes
    and the hyperparameters (no timings: :func:`fit_score_and_time` gives them too)."""
    model, info, _ = fit_score_and_time(method, params, seed, data, n_classes)
    return model, info


def fit_score_and_time(
    method: str,
    params: dict[str, Any],
    seed: int,
    data: EncodedSplits,
    n_classes: int,
) -> tuple[Any, dict[str, Any], dict[str, float]]:
    """:func:`fit_and_score` and the seconds it took (:data:`TIMINGS`: wall-clock training and
    test-set inference), apart from ``output_info``: for the seed's MLflow run only. The model
    carries no run fact (:func:`~glassworks.models.tabular.drop_run_facts`), so its pickle
    depends on the data, hyperparameters and seed alone."""
    if data.task == "regression":
        return _fit_score_regression(method, params, seed, data)
    from sklearn.metrics import accuracy_score

    model = make_tabular_model(method, seed, params)
    start = time.perf_counter()
    model.fit(data.x["train"], data.y["train"])
    train_time = time.perf_counter() - start
    drop_run_facts(method, model)
    start = time.perf_counter()
    proba = _full_proba(model, data.x["test"], n_classes)
    inference_time = time.perf_counter() - start
    valid_proba = _full_proba(model, data.x["valid"], n_classes)
    info = {
        "method": method,
        "seed": seed,
        "test_auroc": auroc(data.y["test"], proba, n_classes),
        "valid_auroc": auroc(data.y["valid"], valid_proba, n_classes),
        "test_accuracy": float(accuracy_score(data.y["test"], proba.argmax(1))),
        "n_train": len(data.y["train"]),
        "n_test": len(data.y["test"]),
        "n_features": data.x["train"].shape[1],
        "hyperparameters": {k: v for k, v in params.items() if k != "device"},
    }
    return model, info, {"train_time": train_time, "inference_time": inference_time}


def _predict(model: Any, x: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict(x), dtype=np.float64).reshape(len(x))


def _fit_score_regression(
    method: str, params: dict[str, Any], seed: int, data: EncodedSplits
) -> tuple[Any, dict[str, Any], dict[str, float]]:
    """:func:`fit_score_and_time` for a regression target: :data:`REGRESSION_SCORES`."""
    model = make_tabular_model(method, seed, params, task="regression")
    start = time.perf_counter()
    model.fit(data.x["train"], data.y["train"])
    train_time = time.perf_counter() - start
    drop_run_facts(method, model)
    start = time.perf_counter()
    pred = _predict(model, data.x["test"])
    inference_time = time.perf_counter() - start
    test = regression_metrics(data.y["test"], pred)
    valid = regression_metrics(data.y["valid"], _predict(model, data.x["valid"]))
    info = {
        "method": method,
        "seed": seed,
        "test_rmse": test["rmse"],
        "valid_rmse": valid["rmse"],
        "test_mae": test["mae"],
        "test_r2": test["r2"],
        "n_train": len(data.y["train"]),
        "n_test": len(data.y["test"]),
        "n_features": data.x["train"].shape[1],
        "hyperparameters": {k: v for k, v in params.items() if k != "device"},
    }
    return model, info, {"train_time": train_time, "inference_time": inference_time}


def summarize_seeds(infos: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean, std (ddof 1 over seeds; 0 for one seed) and per-seed values of every score
    (:data:`SCORES`, or :data:`REGRESSION_SCORES` for regression seeds)."""
    out: dict[str, Any] = {"seeds": [i["seed"] for i in infos]}
    for key in scores_in(infos[0]):
        vals = np.array([i[key] for i in infos], dtype=np.float64)
        out[key] = {
            "mean": float(vals.mean()),
            "std": float(vals.std(ddof=1)) if len(vals) > 1 else 0.0,
            "per_seed": vals.tolist(),
        }
    return out


def input_example(frame: pl.DataFrame, n: int = 3) -> pd.DataFrame:
    """The first ``n`` rows' raw features (``label`` dropped; categories as plain strings, the
    types MLflow's schemas know): a tabular pyfunc's input example."""
    return (
        frame.drop("label")
        .head(n)
        .with_columns((cs.enum() | cs.categorical()).cast(pl.String))
        .to_pandas()
    )


def save_seed(folder: Path, info: dict[str, Any], bundle: dict[str, Any]) -> None:
    """One seed's outputs: ``output_info.json`` (as the INN benchmark writes it) and
    ``model.pkl`` (the bundle: encoder, model, label names (none for regression), method)."""
    write_json(folder / "output_info.json", info)
    write_pickle(folder / "model.pkl", bundle)
