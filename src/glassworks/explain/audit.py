"""Audit post-hoc explainers on tabular models.

Against a known truth: INN's exact per-example contributions ``W(x) * x`` (Kadra et al. 2023) are
ground truth for INN's own logit, so IG, EG, LIME and Kernel SHAP run on that logit can be scored by
rank correlation, top-k overlap and relative L1 error.

Without a truth (a black box such as TabResNet): XAI-Bench's faithfulness and monotonicity
(Liu et al. 2021, "Synthetic Benchmarks for Scientific Research in Explainable Machine Learning";
faithfulness after Bhatt et al. 2020, monotonicity after Luss et al. 2019).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from captum._utils.models.linear_model import SkLearnRidge
from captum.attr import KernelShap, Lime
from scipy.stats import pearsonr, spearmanr

from glassworks.explain.paths import expected_gradients, integrated_gradients

TABULAR_EXPLAINERS: tuple[str, ...] = ("ig", "eg", "lime", "kernel_shap")


def _rowwise(stat: Callable[..., object], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.full(len(a), np.nan)
    for i in range(len(a)):
        if np.ptp(a[i]) > 0 and np.ptp(b[i]) > 0:
            out[i] = float(stat(a[i], b[i])[0])
    return out


def agreement(attr: np.ndarray, truth: np.ndarray, top_k: int = 5) -> dict[str, float]:
    """How close attributions ``(n, d)`` are to the true contributions ``(n, d)``.

    ``spearman``: mean per-row rank correlation of the signed values; ``top_k_overlap``: mean
    fraction of the true top-k features (by ``|truth|``) found in the attribution's top k;
    ``l1_relative``: mean ``sum|attr - truth| / sum|truth|``; ``sign_agreement``: fraction of the
    true top-k features whose sign the attribution gets right.
    """
    k = min(top_k, attr.shape[1])
    top_true = np.argsort(-np.abs(truth), 1)[:, :k]
    top_attr = np.argsort(-np.abs(attr), 1)[:, :k]
    overlap = [len(set(a) & set(t)) / k for a, t in zip(top_attr, top_true, strict=True)]
    rows = np.arange(len(truth))[:, None]
    signs = np.sign(attr[rows, top_true]) == np.sign(truth[rows, top_true])
    l1 = np.abs(attr - truth).sum(1) / np.maximum(np.abs(truth).sum(1), 1e-12)
    return {
        "spearman": float(np.nanmean(_rowwise(spearmanr, attr, truth))),
        "top_k_overlap": float(np.mean(overlap)),
        "sign_agreement": float(signs.mean()),
        "l1_relative": float(np.mean(l1)),
    }


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
    """Explainers scored against INN's exact contributions and, on a black box, by XAI-Bench."""

    names: list[str]
    x: np.ndarray
    exact: np.ndarray
    """INN's exact contributions to its explained output, ``(n, d)``."""
    inn_attributions: dict[str, np.ndarray]
    inn_scores: dict[str, dict[str, float]]
    black_box_attributions: dict[str, np.ndarray]
    black_box_scores: dict[str, dict[str, float]]
    seconds: dict[str, float]

    @property
    def best_inn_explainer(self) -> str:
        """The explainer with the highest mean rank correlation to the exact contributions."""
        return max(self.inn_scores, key=lambda m: self.inn_scores[m]["spearman"])


def explained_output(scores: np.ndarray) -> np.ndarray:
    """Which output to explain per row: the only one (binary log-odds) or the predicted class."""
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
    """Run every explainer on ``inn``'s explained logit (baseline 0: the point its exact
    contributions ``W(x) * x`` are measured from; EG over ``background``) and score it against
    the truth; run them on ``black_box`` (baseline = background mean) and score faithfulness and
    monotonicity. Both models are fitted INN / TabResNet estimators (``module_`` = logits)."""
    import time

    contrib = inn.explain(x)
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
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    inn_attr = tabular_attributions(inn.module_, x, background, target, np.zeros(x.shape[1]), **kw)
    seconds["inn"] = time.perf_counter() - start
    inn_scores = {m: agreement(a, exact, top_k) for m, a in inn_attr.items()}
    bb_target = explained_output(black_box.decision_function(x))
    base = background.mean(0)
    start = time.perf_counter()
    bb_attr = tabular_attributions(black_box.module_, x, background, bb_target, base, **kw)
    seconds["black_box"] = time.perf_counter() - start
    bb_scores = {
        m: vars(xai_bench_scores(black_box.module_, x, a, bb_target, base))
        for m, a in bb_attr.items()
    }
    return Audit(list(names), x, exact, inn_attr, inn_scores, bb_attr, bb_scores, seconds)


def explain_rows(
    model: Any, x: np.ndarray, n_samples: int = 300, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, str]:
    """Attributions for new rows of any ``train_tabular`` model, for its predicted class:
    INN's exact contributions ``W(x) * x`` (Kadra et al. 2023), else Kernel SHAP (Lundberg & Lee
    2017) on ``predict_proba`` from the all-zero encoded row (numeric features at their training
    mean). Returns ``(attributions (n, d), predicted class (n,), method)``."""
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
