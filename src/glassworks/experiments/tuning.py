"""One hyperparameter search with the same budget for every tabular method, on validation.

Optuna's TPE sampler (Akiba et al. 2019, "Optuna: a next-generation hyperparameter optimization
framework"; Bergstra et al. 2011 for TPE), seeded, ``n_trials`` trials per method: the budget is
a number of fits, equal for INN and each baseline, so neither side wins by being tuned longer
(the INN authors' successor, Kadra et al. 2023, tunes every method the same way). Each trial fits
the method on train with the given seed and scores validation AUROC; test is never read here.
The search spaces (:data:`SEARCH_SPACES`) lie around each library's defaults and the CPU
profile's settings; what they do not search (epochs, ensemble sizes, device) comes from
``params``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from glassworks.experiments.tabular import EncodedSplits, fit_and_score

log = logging.getLogger(__name__)

Space = Callable[[Any], dict[str, Any]]
"""``trial -> constructor arguments`` (``trial``: an ``optuna.Trial``)."""


def _inn_like(trial: Any) -> dict[str, Any]:
    return {
        "lr": trial.suggest_float("lr", 3e-4, 1e-2, log=True),
        "hidden_size": trial.suggest_categorical("hidden_size", [64, 128, 256]),
        "nr_blocks": trial.suggest_int("nr_blocks", 1, 3),
        "dropout": trial.suggest_float("dropout", 0.0, 0.4),
        "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-3, log=True),
    }


def _inn(trial: Any) -> dict[str, Any]:
    # weight_norm: the L1 penalty on |W(x)|, INN's sparsity regulariser; smoothness: how fast
    # W(x) may change with x (benchmarks/inn_smoothness.py; 0.1 already halves dW/dx there)
    # numeric_bins: the hypernetwork also reads a piecewise-linear encoding of the numeric
    # columns (benchmarks/inn_smoothness.py --param numeric_bins: electricity +0.040 test AUROC at
    # 16 bins, the three small sets lose); TabResNet's space does not have it (not searched there)
    norm = trial.suggest_float("weight_norm", 1e-3, 1.0, log=True)
    smooth = trial.suggest_float("smoothness", 1e-2, 1e2, log=True)
    bins = trial.suggest_categorical("numeric_bins", [0, 8, 16, 32])
    return {**_inn_like(trial), "weight_norm": norm, "smoothness": smooth, "numeric_bins": bins}


SEARCH_SPACES: dict[str, Space] = {
    "inn": _inn,
    "tabresnet": _inn_like,
    "logistic_regression": lambda t: {"C": t.suggest_float("C", 1e-3, 1e2, log=True)},
    "decision_tree": lambda t: {
        "max_depth": t.suggest_int("max_depth", 2, 16),
        "min_samples_leaf": t.suggest_int("min_samples_leaf", 1, 64, log=True),
    },
    "random_forest": lambda t: {
        "max_features": t.suggest_categorical("max_features", ["sqrt", 0.5, 1.0]),
        "min_samples_leaf": t.suggest_int("min_samples_leaf", 1, 32, log=True),
    },
    "catboost": lambda t: {
        "depth": t.suggest_int("depth", 3, 8),
        "learning_rate": t.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "l2_leaf_reg": t.suggest_float("l2_leaf_reg", 1.0, 30.0, log=True),
    },
    "ebm": lambda t: {
        "learning_rate": t.suggest_float("learning_rate", 0.005, 0.1, log=True),
        "max_leaves": t.suggest_int("max_leaves", 2, 4),
        "min_samples_leaf": t.suggest_int("min_samples_leaf", 2, 32, log=True),
        "interactions": t.suggest_categorical("interactions", [0, 5, 10]),
    },
}
"""What the search varies per method (constructor arguments, as in ``train_tabular``)."""


@dataclass(frozen=True)
class Tuning:
    """The search's result: the winning constructor arguments (``params`` updated by the best
    trial), its validation AUROC and every trial (``number``, ``params``, ``valid_auroc``)."""

    method: str
    params: dict[str, Any]
    valid_auroc: float
    trials: list[dict[str, Any]] = field(default_factory=list)


def tune(
    method: str,
    params: dict[str, Any],
    data: EncodedSplits,
    n_classes: int,
    n_trials: int,
    seed: int = 0,
    on_trial: Callable[[int], None] | None = None,
) -> Tuning:
    """Search :data:`SEARCH_SPACES[method] <SEARCH_SPACES>` on top of ``params`` with ``n_trials``
    fits, each scored by validation AUROC: trial 0 fits ``params`` exactly as configured (its
    ``params`` row is empty: nothing overridden), the other ``n_trials - 1`` come from TPE
    seeded by ``seed``. The best trial wins, so the result never scores below the configured
    setting on validation. ``on_trial(i)`` after each trial."""
    import optuna

    if method not in SEARCH_SPACES:
        known = ", ".join(SEARCH_SPACES)
        raise ValueError(f"no search space for tabular method {method!r} (known: {known})")
    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1, got {n_trials}")
    if data.task == "regression":
        raise ValueError("tune: validation AUROC needs a classification task")
    space = SEARCH_SPACES[method]
    trials: list[dict[str, Any]] = []

    def score(overrides: dict[str, Any]) -> float:
        _, info = fit_and_score(method, {**params, **overrides}, seed, data, n_classes)
        trials.append(
            {"number": len(trials), "params": overrides, "valid_auroc": info["valid_auroc"]}
        )
        if on_trial is not None:
            on_trial(len(trials) - 1)
        return float(info["valid_auroc"])

    score({})  # the configured setting
    if n_trials > 1:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = optuna.samplers.TPESampler(seed=seed)
        study = optuna.create_study(direction="maximize", sampler=sampler)
        study.optimize(lambda trial: score(space(trial)), n_trials=n_trials - 1)
    # first of the best on ties: the configured setting wins a tie
    best = max(trials, key=lambda t: (t["valid_auroc"], -t["number"]))
    log.info("%s: best valid AUROC %.4f (trial %d of %d)", method, best["valid_auroc"],
             best["number"], n_trials)  # fmt: skip
    return Tuning(method, {**params, **best["params"]}, float(best["valid_auroc"]), trials)
