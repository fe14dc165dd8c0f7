"""Audit post-hoc explainers on tabular models.

Agreement with INN's decomposition (Kadra et al. 2023): INN's logit is ``W(x)·x + b(x)``, and its
terms ``W(x) * x`` add up to ``f(x) - b(x)``. They are *not* a ground truth for a post-hoc
explainer of ``f``: Integrated Gradients from 0 (Sundararajan et al. 2017) adds up to
``f(x) - f(0) = f(x) - b(0)``, so even an exact explainer of ``f`` misses ``W(x) * x`` by a total of
``b(x) - b(0)`` (and the hypernetwork's dependence on ``x`` spreads over the features). Two scores:

(a) ``full_model``: IG, EG, LIME and Kernel SHAP on INN's logit ``f``, compared with ``W(x) * x``;
(b) ``frozen_hypernetwork``: the same explainers on the per-example linear model
    ``g(z) = W(x)·z + b(x)`` with the hypernetwork held fixed at ``x``; IG from 0 of ``g`` equals
    ``W(x) * x`` exactly, so an exact explainer scores ~0 error here.

Rank correlation, top-k overlap, sign agreement and relative L1 error per row, with bootstrap
intervals over rows (:mod:`glassworks.stats`).

Without a reference (a black box such as TabResNet): XAI-Bench's faithfulness and monotonicity
(Liu et al. 2021, "Synthetic Benchmarks for Scientific Research in Explainable Machine Learning";
faithfulness after Bhatt et al. 2020, monotonicity after Luss et al. 2019).

Regression (an INN and TabResNet regressor, one output each): the explained output is the
prediction of the standardised target, ``module_``'s own scale, and INN's terms are read on that
scale too (``explain_raw``); every score is scale-free or a ratio, so all of them apply and none
is skipped (:data:`REGRESSION_NOTE`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import polars as pl
import torch

from glassworks.explain.paths import expected_gradients, integrated_gradients
from glassworks.stats import bootstrap_metric_ci

TABULAR_EXPLAINERS: tuple[str, ...] = ("ig", "eg", "lime", "kernel_shap")


def _rowwise(stat: Callable[..., object], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.full(len(a), np.nan)
    for i in range(len(a)):
        if np.ptp(a[i]) > 0 and np.ptp(b[i]) > 0:
            out[i] = float(stat(a[i], b[i])[0])
    return out


AGREEMENT_METRICS = ("spearman", "top_k_overlap", "sign_agreement", "l1_relative")
FULL_MODEL = "full_model"
FROZEN = "frozen_hypernetwork"
REGRESSION_NOTE = (
    "regression: the explained output is INN's (and TabResNet's) prediction of the standardised "
    "target (target = output * sd + mean), and W(x)*x is read on that scale; rank correlation, "
    "top-k overlap, sign agreement, relative L1 error, faithfulness and monotonicity are all "
    "scale-free or ratios, so every metric applies and none is skipped"
)
"""What an audit of regression models states in its metrics (``explained_output``)."""


def agreement_per_row(
    attr: np.ndarray, reference: np.ndarray, top_k: int = 5
) -> dict[str, np.ndarray]:
    """Per-row agreement of attributions ``(n, d)`` with a reference decomposition ``(n, d)``
    (``spearman`` is NaN on a constant row); see :func:`agreement`."""
    from scipy.stats import spearmanr

    k = min(top_k, attr.shape[1])
    top_ref = np.argsort(-np.abs(reference), 1)[:, :k]
    top_attr = np.argsort(-np.abs(attr), 1)[:, :k]
    overlap = [len(set(a) & set(t)) / k for a, t in zip(top_attr, top_ref, strict=True)]
    rows = np.arange(len(reference))[:, None]
    signs = np.sign(attr[rows, top_ref]) == np.sign(reference[rows, top_ref])
    l1 = np.abs(attr - reference).sum(1) / np.maximum(np.abs(reference).sum(1), 1e-12)
    return {
        "spearman": _rowwise(spearmanr, attr, reference),
        "top_k_overlap": np.asarray(overlap, dtype=float),
        "sign_agreement": signs.mean(1).astype(float),
        "l1_relative": l1,
    }


def agreement(attr: np.ndarray, reference: np.ndarray, top_k: int = 5) -> dict[str, float]:
    """How close attributions ``(n, d)`` are to a reference decomposition ``(n, d)``.

    ``spearman``: mean per-row rank correlation of the signed values; ``top_k_overlap``: mean
    fraction of the reference's top-k features (by ``|reference|``) found in the attribution's
    top k; ``l1_relative``: mean ``sum|attr - reference| / sum|reference|``;
    ``sign_agreement``: fraction of the reference's top-k features whose sign the attribution
    gets right.
    """
    rows = agreement_per_row(attr, reference, top_k)
    return {
        "spearman": float(np.nanmean(rows["spearman"])),
        "top_k_overlap": float(np.mean(rows["top_k_overlap"])),
        "sign_agreement": float(np.mean(rows["sign_agreement"])),
        "l1_relative": float(np.mean(rows["l1_relative"])),
    }


def agreement_intervals(
    attr: np.ndarray, reference: np.ndarray, top_k: int = 5, seed: int = 0
) -> dict[str, dict[str, Any]]:
    """Per metric: mean, sd over rows and 95% bootstrap interval of the mean over rows (rows
    where the metric is undefined, e.g. Spearman on a constant row, are left out)."""
    out: dict[str, dict[str, Any]] = {}
    for m, v in agreement_per_row(attr, reference, top_k).items():
        finite = v[np.isfinite(v)]
        out[m] = bootstrap_metric_ci(finite, seed=seed).as_dict() if finite.size else {"n": 0}
    return out


def perturbation_tabular(
    forward: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    baseline: torch.Tensor,
    target: torch.Tensor,
    method: str,
    n_samples: int = 500,
    seed: int = 0,
) -> torch.Tensor:
    """LIME (ridge surrogate, Ribeiro et al. 2016) or Kernel SHAP (Lundberg & Lee 2017) through
    Captum, one feature per column, "off" = the ``baseline`` row; ``(n, d)`` attributions."""
    from captum._utils.models.linear_model import SkLearnRidge
    from captum.attr import KernelShap, Lime

    out = torch.zeros_like(x)
    for i in range(len(x)):
        torch.manual_seed(seed + i)
        explainer = (
            Lime(forward, interpretable_model=SkLearnRidge(alpha=1e-3))
            if method == "lime"
            else KernelShap(forward)
        )
        with torch.no_grad():
            out[i] = explainer.attribute(
                x[i : i + 1],
                baselines=baseline.reshape(1, -1),
                target=int(target[i]),
                n_samples=n_samples,
                perturbations_per_eval=n_samples,
            )[0]
    return out


def tabular_attributions(
    module: torch.nn.Module,
    x: np.ndarray,
    background: np.ndarray,
    target: np.ndarray,
    baseline: np.ndarray,
    *,
    methods: tuple[str, ...] = TABULAR_EXPLAINERS,
    n_steps: int = 64,
    eg_samples: int = 128,
    lime_samples: int = 500,
    kernel_shap_samples: int = 500,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """``{method: (n, d) attributions}`` of output ``target`` per row; IG, LIME and Kernel SHAP
    start from ``baseline`` (one row), EG draws its baselines from ``background``."""
    xt = torch.as_tensor(x, dtype=torch.float64)
    tt = torch.as_tensor(target)
    base = torch.as_tensor(baseline, dtype=torch.float64).reshape(1, -1)
    out: dict[str, np.ndarray] = {}
    for m in methods:
        if m == "ig":
            a = integrated_gradients(module, xt, base, tt, n_steps=n_steps).attributions
        elif m == "eg":
            bg = torch.as_tensor(background, dtype=torch.float64)
            a = expected_gradients(module, xt, bg, tt, n_samples=eg_samples, seed=seed).attributions
        elif m in ("lime", "kernel_shap"):
            samples = lime_samples if m == "lime" else kernel_shap_samples
            a = perturbation_tabular(module, xt, base[0], tt, m, samples, seed)
        else:
            raise ValueError(f"unknown explainer {m!r} (known: {', '.join(TABULAR_EXPLAINERS)})")
        out[m] = a.detach().numpy()
    return out


def frozen_forward(z: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """INN's per-example linear model ``g(z) = W·z + b`` with ``weights`` ``(B or 1, C, d + 1)``
    fixed (the last column is the bias): the hypernetwork held at the explained ``x``."""
    w = weights.expand(z.shape[0], -1, -1) if weights.shape[0] == 1 else weights
    return torch.einsum("bcd,bd->bc", w[..., :-1], z) + w[..., -1]


def frozen_hypernetwork_attributions(
    module: torch.nn.Module,
    x: np.ndarray,
    background: np.ndarray,
    target: np.ndarray,
    baseline: np.ndarray,
    *,
    methods: tuple[str, ...] = TABULAR_EXPLAINERS,
    n_steps: int = 64,
    eg_samples: int = 128,
    lime_samples: int = 500,
    kernel_shap_samples: int = 500,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """``{method: (n, d)}`` attributions of the linear models ``g_i(z) = W(x_i)·z + b(x_i)`` that
    INN (``module.weights``) emits at each row, explained at ``z = x_i``: the hypernetwork is held
    fixed, so IG from 0 returns ``W(x) * x`` and adds up to ``g(x) - g(0) = W(x)·x``."""
    xt = torch.as_tensor(x, dtype=torch.float64)
    tt = torch.as_tensor(target)
    base = torch.as_tensor(baseline, dtype=torch.float64).reshape(1, -1)
    with torch.no_grad():
        weights = module.weights(xt).detach()
    kw = {"weights": weights}
    out: dict[str, np.ndarray] = {}
    for m in methods:
        if m == "ig":
            a = integrated_gradients(frozen_forward, xt, base, tt, n_steps, forward_kwargs=kw)
            out[m] = a.attributions.detach().numpy()
        elif m == "eg":
            bg = torch.as_tensor(background, dtype=torch.float64)
            a = expected_gradients(
                frozen_forward, xt, bg, tt, n_samples=eg_samples, seed=seed, forward_kwargs=kw
            )
            out[m] = a.attributions.detach().numpy()
        elif m in ("lime", "kernel_shap"):
            samples = lime_samples if m == "lime" else kernel_shap_samples
            rows = [
                perturbation_tabular(
                    partial(frozen_forward, weights=weights[i : i + 1]),
                    xt[i : i + 1],
                    base[0],
                    tt[i : i + 1],
                    m,
                    samples,
                    seed + i,  # the seed the full-model run uses for row i
                )
                for i in range(len(xt))
            ]
            out[m] = torch.cat(rows).detach().numpy()
        else:
            raise ValueError(f"unknown explainer {m!r} (known: {', '.join(TABULAR_EXPLAINERS)})")
    return out


def reference_gap(module: torch.nn.Module, x: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per row ``(f(x) - f(0)) - sum_j W_j(x) x_j = b(x) - b(0)`` of the explained output: how
    far IG-from-0 of the full model must add up away from INN's terms (``f(0) = b(0)``)."""
    xt = torch.as_tensor(x, dtype=torch.float64)
    rows = torch.arange(len(x))
    tt = torch.as_tensor(target)
    with torch.no_grad():
        bias = module.weights(xt)[rows, tt, -1]
        bias0 = module.weights(torch.zeros_like(xt))[rows, tt, -1]
    return (bias - bias0).numpy()


@dataclass(frozen=True)
class BlackBoxScores:
    """XAI-Bench scores for one explainer, means over rows."""

    faithfulness: float
    monotonicity: float
    monotonic_fraction: float


def _outputs(module: torch.nn.Module, rows: np.ndarray, target: int) -> np.ndarray:
    with torch.no_grad():
        return module(torch.as_tensor(rows, dtype=torch.float64))[:, target].numpy()


def xai_bench_scores(
    module: torch.nn.Module,
    x: np.ndarray,
    attr: np.ndarray,
    target: np.ndarray,
    baseline: np.ndarray,
) -> BlackBoxScores:
    """Faithfulness: Pearson correlation between each feature's attribution and the output drop
    when that feature alone is set to the baseline. Monotonicity: add features to the baseline
    in order of increasing ``|attribution|``; the output changes should grow along that order
    (``monotonicity`` = Spearman correlation of step size with step index;
    ``monotonic_fraction`` = rows whose step sizes never shrink, XAI-Bench's binary form)."""
    from scipy.stats import pearsonr, spearmanr

    d = x.shape[1]
    faith, mono, strict = [], [], []
    for i in range(len(x)):
        t = int(target[i])
        single = np.repeat(x[i : i + 1], d, 0)
        single[np.arange(d), np.arange(d)] = baseline[np.arange(d)]
        drops = _outputs(module, x[i : i + 1], t)[0] - _outputs(module, single, t)
        if np.ptp(attr[i]) > 0 and np.ptp(drops) > 0:
            faith.append(pearsonr(attr[i], drops)[0])
        order = np.argsort(np.abs(attr[i]), kind="stable")
        path = np.repeat(baseline.reshape(1, -1), d + 1, 0)
        for step, j in enumerate(order, start=1):
            path[step:, j] = x[i, j]
        steps = np.abs(np.diff(_outputs(module, path, t)))
        if np.ptp(steps) > 0:
            mono.append(spearmanr(np.arange(d), steps)[0])
        strict.append(bool(np.all(np.diff(steps) >= -1e-12)))
    return BlackBoxScores(
        float(np.mean(faith)) if faith else float("nan"),
        float(np.mean(mono)) if mono else float("nan"),
        float(np.mean(strict)),
    )


@dataclass
class Audit:
    """Explainers' agreement with INN's decomposition (full model and hypernetwork frozen) and,
    on a black box, XAI-Bench scores."""

    names: list[str]
    x: np.ndarray
    exact: np.ndarray
    """INN's decomposition ``W(x) * x`` of its explained output, ``(n, d)``."""
    inn_attributions: dict[str, np.ndarray]
    """(a) attributions of INN's full logit ``f``."""
    inn_scores: dict[str, dict[str, float]]
    """(a) agreement of each explainer of ``f`` with ``W(x) * x`` (means over rows)."""
    black_box_attributions: dict[str, np.ndarray]
    black_box_scores: dict[str, dict[str, float]]
    seconds: dict[str, float]
    frozen_attributions: dict[str, np.ndarray] = field(default_factory=dict)
    """(b) attributions of the per-example linear model, hypernetwork held fixed."""
    frozen_scores: dict[str, dict[str, float]] = field(default_factory=dict)
    """(b) agreement of each explainer of the frozen linear model with ``W(x) * x``."""
    intervals: dict[str, dict[str, dict[str, dict[str, Any]]]] = field(default_factory=dict)
    """``{full_model|frozen_hypernetwork: {explainer: {metric: {mean, sd, ci95, n}}}}``."""
    gap: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Per row ``b(x) - b(0)``: what IG-from-0 of ``f`` adds up to beyond INN's terms."""
    ig_sum_gap: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Per row ``sum(IG of f) - sum(W(x) * x)`` (equals ``gap`` up to IG's quadrature error)."""
    regression: bool = False
    """The models are regressors: the explained output is the standardised target."""

    @property
    def best_explainer_of_inn_decomposition(self) -> str:
        """(a): the explainer of ``f`` with the highest mean rank correlation to ``W(x) * x``."""
        return max(self.inn_scores, key=lambda m: self.inn_scores[m]["spearman"])

    @property
    def best_inn_explainer(self) -> str:
        """Old name of :attr:`best_explainer_of_inn_decomposition` (kept for consumers)."""
        return self.best_explainer_of_inn_decomposition

    def decomposition_gap(self) -> dict[str, float]:
        """How far (a) must miss even for an exact explainer: ``|b(x) - b(0)|`` against the
        size of INN's terms, and how well IG's sum tracks it."""
        if not self.gap.size:
            return {}
        terms = np.abs(self.exact.sum(1))
        out = {
            "bias_gap_abs_mean": float(np.mean(np.abs(self.gap))),
            "bias_gap_abs_max": float(np.max(np.abs(self.gap))),
            "bias_gap_rel_median": float(np.median(np.abs(self.gap) / np.maximum(terms, 1e-12))),
        }
        if self.ig_sum_gap.size:
            out["ig_sum_minus_terms_vs_bias_gap_abs_max"] = float(
                np.max(np.abs(self.ig_sum_gap - self.gap))
            )
        return out

    def agreement_summary(self) -> dict[str, Any]:
        """JSON-ready "agreement with INN's decomposition": (a) and (b), means and intervals."""
        return {
            FULL_MODEL: {
                "what": "explainers of INN's logit f vs W(x)*x; an exact IG from 0 still misses "
                "by b(x) - b(0) in total",
                "means": self.inn_scores,
                "intervals": self.intervals.get(FULL_MODEL, {}),
                "best_explainer": self.best_explainer_of_inn_decomposition,
            },
            FROZEN: {
                "what": "explainers of g(z) = W(x)·z + b(x) with the hypernetwork held at x vs "
                "W(x)*x; an exact IG from 0 scores ~0 error",
                "means": self.frozen_scores,
                "intervals": self.intervals.get(FROZEN, {}),
                "best_explainer": max(
                    self.frozen_scores, key=lambda m: self.frozen_scores[m]["spearman"]
                )
                if self.frozen_scores
                else None,
            },
            "decomposition_gap": self.decomposition_gap(),
        }

    def tables(self) -> dict[str, pl.DataFrame]:
        """One row per explainer: ``audit`` (a), ``audit_frozen`` (b), ``black_box``."""
        return {
            "audit": score_table(self.inn_scores),
            "audit_frozen": score_table(self.frozen_scores),
            "black_box": score_table(self.black_box_scores),
        }

    def arrays(self) -> dict[str, np.ndarray]:
        """What ``attributions.npz`` holds: the rows, INN's decomposition, the feature names, the
        bias gap and every explainer's attributions (``inn_``, ``inn_frozen_``, ``tabresnet_``)."""
        return {
            "x": self.x,
            "exact": self.exact,
            "names": np.array(self.names),
            "bias_gap": self.gap,
            **{f"inn_{m}": a for m, a in self.inn_attributions.items()},
            **{f"inn_frozen_{m}": a for m, a in self.frozen_attributions.items()},
            **{f"tabresnet_{m}": a for m, a in self.black_box_attributions.items()},
        }

    def metrics(self) -> dict[str, Any]:
        """The ``audit_tabular`` metrics: sizes, the agreement summary, the best explainer,
        the black box's scores, and (a) again under its old names ``inn``/``best_inn_explainer``.
        Timings (``seconds``) are machine state, left out. Regression audits add ``task`` and
        ``explained_output`` (:data:`REGRESSION_NOTE`)."""
        task = (
            {"task": "regression", "explained_output": REGRESSION_NOTE} if self.regression else {}
        )
        return {
            **task,
            "n_examples": len(self.x),
            "n_features": len(self.names),
            "agreement_with_inn_decomposition": self.agreement_summary(),
            "best_explainer_of_inn_decomposition": self.best_explainer_of_inn_decomposition,
            "tabresnet": self.black_box_scores,
            # old names of agreement_with_inn_decomposition.full_model (kept for consumers)
            "inn": self.inn_scores,
            "best_inn_explainer": self.best_inn_explainer,
        }


def score_table(scores: dict[str, dict[str, float]]) -> pl.DataFrame:
    """``{explainer: {metric: value}}`` as a frame, one row per explainer."""
    return pl.DataFrame([{"explainer": m, **s} for m, s in scores.items()])


def is_regressor(model: object) -> bool:
    """Whether ``model`` is a regressor (scikit-learn's tags; for an object without them, its
    ``_estimator_type``)."""
    from sklearn.base import is_regressor as sklearn_is_regressor

    try:
        return bool(sklearn_is_regressor(model))
    except AttributeError:  # not a scikit-learn estimator
        return getattr(model, "_estimator_type", None) == "regressor"


def explained_output(scores: np.ndarray) -> np.ndarray:
    """Which output to explain per row: the only one (binary log-odds, regression) or the
    predicted class."""
    return np.zeros(len(scores), dtype=int) if scores.shape[1] == 1 else scores.argmax(1)


def audit_tabular(
    inn: object,
    black_box: object,
    x: np.ndarray,
    background: np.ndarray,
    names: list[str],
    *,
    methods: tuple[str, ...] = TABULAR_EXPLAINERS,
    n_steps: int = 64,
    eg_samples: int = 128,
    lime_samples: int = 500,
    kernel_shap_samples: int = 500,
    top_k: int = 5,
    seed: int = 0,
) -> Audit:
    """Agreement with INN's decomposition: run every explainer (a) on ``inn``'s explained logit
    (baseline 0; EG over ``background``) and (b) on its per-example linear model with the
    hypernetwork frozen, and score both against ``W(x) * x``; run them on ``black_box`` (baseline
    = background mean) and score faithfulness and monotonicity. Both models are fitted INN /
    TabResNet estimators (``module_`` = logits), both classifiers or both regressors (then the
    explained output is the standardised target, :data:`REGRESSION_NOTE`)."""
    import time

    regression = is_regressor(inn)
    if is_regressor(black_box) != regression:
        raise ValueError("audit_tabular: INN and the black box must both be classifiers or both "
                         "regressors (trained on the same dataset)")  # fmt: skip
    contrib = inn.explain_raw(x)
    target = explained_output(contrib.output)
    exact = contrib.for_output(target)
    kw = {
        "methods": methods,
        "n_steps": n_steps,
        "eg_samples": eg_samples,
        "lime_samples": lime_samples,
        "kernel_shap_samples": kernel_shap_samples,
        "seed": seed,
    }
    zero = np.zeros(x.shape[1])
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    inn_attr = tabular_attributions(inn.module_, x, background, target, zero, **kw)
    seconds["inn"] = time.perf_counter() - start
    start = time.perf_counter()
    frozen_attr = frozen_hypernetwork_attributions(inn.module_, x, background, target, zero, **kw)
    seconds["inn_frozen"] = time.perf_counter() - start
    inn_scores = {m: agreement(a, exact, top_k) for m, a in inn_attr.items()}
    frozen_scores = {m: agreement(a, exact, top_k) for m, a in frozen_attr.items()}
    intervals = {
        FULL_MODEL: {m: agreement_intervals(a, exact, top_k, seed) for m, a in inn_attr.items()},
        FROZEN: {m: agreement_intervals(a, exact, top_k, seed) for m, a in frozen_attr.items()},
    }
    gap = reference_gap(inn.module_, x, target)
    ig_sum_gap = inn_attr["ig"].sum(1) - exact.sum(1) if "ig" in inn_attr else np.zeros(0)
    bb_target = explained_output(black_box.decision_function(x))
    base = background.mean(0)
    start = time.perf_counter()
    bb_attr = tabular_attributions(black_box.module_, x, background, bb_target, base, **kw)
    seconds["black_box"] = time.perf_counter() - start
    bb_scores = {
        m: vars(xai_bench_scores(black_box.module_, x, a, bb_target, base))
        for m, a in bb_attr.items()
    }
    return Audit(
        list(names),
        x,
        exact,
        inn_attr,
        inn_scores,
        bb_attr,
        bb_scores,
        seconds,
        frozen_attr,
        frozen_scores,
        intervals,
        gap,
        ig_sum_gap,
        regression,
    )


def explain_rows(
    model: Any, x: np.ndarray, n_samples: int = 300, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, str]:
    """Attributions for new rows of any ``train_tabular`` model, for its predicted class:
    INN's own decomposition ``W(x) * x`` (Kadra et al. 2023; it adds up to ``f(x) - b(x)``),
    else Kernel SHAP (Lundberg & Lee 2017) on ``predict_proba`` from the all-zero encoded row
    (numeric features at their training mean). Returns ``(attributions (n, d), predicted class
    (n,), method)``. A regressor: attributions of its prediction (INN's in the target's units)
    and the predicted values ``(n,)`` in place of the classes."""
    if is_regressor(model):
        return _explain_regression_rows(model, x, n_samples, seed)
    proba = np.asarray(model.predict_proba(x))
    target = proba.argmax(1)
    if hasattr(model, "explain"):
        # binary INN: one log-odds output (positive = towards the second class)
        outputs = explained_output(np.asarray(model.decision_function(x)).reshape(len(x), -1))
        return model.explain(x).for_output(outputs), target, "inn_exact"

    def forward(t: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(np.asarray(model.predict_proba(t.detach().numpy())))

    xt = torch.as_tensor(x, dtype=torch.float64)
    attr = perturbation_tabular(
        forward, xt, torch.zeros(x.shape[1], dtype=torch.float64), torch.as_tensor(target),
        "kernel_shap", n_samples, seed,
    )  # fmt: skip
    return attr.numpy(), target, "kernel_shap"


def _explain_regression_rows(
    model: Any, x: np.ndarray, n_samples: int, seed: int
) -> tuple[np.ndarray, np.ndarray, str]:
    """:func:`explain_rows` for a regressor: ``(attributions, predicted values, method)``."""
    pred = np.asarray(model.predict(x), dtype=np.float64).reshape(len(x))
    if hasattr(model, "explain"):
        return model.explain(x).for_output(0), pred, "inn_exact"

    def forward(t: torch.Tensor) -> torch.Tensor:
        out = np.asarray(model.predict(t.detach().numpy()), dtype=np.float64)
        return torch.as_tensor(out.reshape(-1, 1))

    xt = torch.as_tensor(x, dtype=torch.float64)
    attr = perturbation_tabular(
        forward, xt, torch.zeros(x.shape[1], dtype=torch.float64),
        torch.zeros(len(x), dtype=torch.long), "kernel_shap", n_samples, seed,
    )  # fmt: skip
    return attr.numpy(), pred, "kernel_shap"
