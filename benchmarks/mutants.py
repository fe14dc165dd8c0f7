"""Mutation check of the attribution maths: does a plausible wrong implementation fail a test?

Each mutant replaces one exact snippet of ``src/`` with a wrong but runnable variant. The script
copies the repository (without ``.venv``, ``.git``, data and caches) to a temp dir, checks that
the copy's ``glassworks`` is the one imported there, runs the unmutated targeted tests once
(they must pass), then for each mutant patches the copy, runs the mutant's tests with a timeout
and restores the file. A mutant is *killed* when a test fails, *survived* when all pass, and
*not applicable* when its snippet is no longer in the source (the source changed: update it).

    .venv/bin/python benchmarks/mutants.py            # all mutants, writes docs/mutation.md
    .venv/bin/python benchmarks/mutants.py --only cd_forget_cross_term --no-write
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXCLUDE = {".venv", ".git", "data", "mlruns", ".cache", ".dvc", "__pycache__", ".pytest_cache"}
EXCLUDE |= {".ruff_cache", ".hypothesis", "mlflow.db"}
TIMEOUT_S = 240

CD = "src/glassworks/explain/cd.py"
PATHS = "src/glassworks/explain/paths.py"
QUAD = "src/glassworks/explain/quadrature.py"
HESS = "src/glassworks/explain/hessians.py"
METRICS = "src/glassworks/explain/metrics.py"
INN = "src/glassworks/models/inn.py"
EMBGAM = "src/glassworks/models/emb_gam.py"
LOSSES = "src/glassworks/train/losses.py"

T_CD = "tests/explain/test_oracle_cd.py"
T_EG = "tests/explain/test_oracle_eg.py"
T_IH = "tests/explain/test_oracle_ih.py"
T_METRICS = "tests/explain/test_oracle_metrics.py"
T_INN = "tests/models/test_oracle_inn.py"
T_EMBGAM = "tests/models/test_oracle_emb_gam.py"
T_PEN = "tests/train/test_penalties.py"


@dataclass(frozen=True)
class Mutant:
    """One wrong variant: ``original`` (exact, once in ``file``) becomes ``replacement``."""

    name: str
    file: str
    original: str
    replacement: str
    description: str
    tests: tuple[str, ...]


MUTANTS: tuple[Mutant, ...] = (
    # ------------------------------------------------------------------ contextual decomposition
    Mutant(
        "cd_forget_cross_term",
        CD,
        "d01.addcmul_(sl.rf[k], d01_prev, value=0.5)",
        "d01.addcmul_(sl.rf[k][1:], d01_prev, value=0.5)",
        "LSTM: forget gate's irrelevant part x relevant memory moved to the relevant part",
        (T_CD,),
    ),
    Mutant(
        "cd_bias_product_never_relevant",
        CD,
        "torch.mul(ng[lo:hi], nbc, out=nb[:n, 0])",
        "nb[:n, 0].copy_(nbc.expand(n, bsz, h))",
        "LSTM: input x cell gate bias product always irrelevant, also at group steps",
        (T_CD,),
    ),
    Mutant(
        "cd_gate_one_sided_split",
        CD,
        "        self.r0[k].sub_(self.bc[i])\n",
        "        self.r0[k].sub_(self.tot3u[i][0]).add_(self.at[i][0])"
        ".add_(kst[1, 0] - kst[0, 0])\n",
        "LSTM gates: one-sided f(a+c)-f(c) instead of the Shapley average of both orders",
        (T_CD,),
    ),
    Mutant(
        "cd_hidden_tanh_not_shapley",
        CD,
        "        self.u0.sub_(self.e2)\n",
        "        self.u0.add_(self.e01[0]).sub_(self.e1u[0]).sub_(0.5)\n",
        "LSTM hidden state: tanh(c_rel) instead of the two-way Shapley split of tanh",
        (T_CD,),
    ),
    Mutant(
        "cd_bias_split_missing",
        CD,
        "return rel + share * bias, irrel + (1 - share) * bias",
        "return rel, irrel + bias",
        "affine layers: whole bias to the irrelevant part (no split by magnitude)",
        (T_CD,),
    ),
    Mutant(
        "cd_activation_wrong_order",
        CD,
        "    rel_out = module(rel)\n    return rel_out, module(rel + irrel) - rel_out\n",
        "    rel_out = module(rel + irrel) - module(irrel)\n"
        "    return rel_out, module(rel + irrel) - rel_out\n",
        "activations: irrelevant part linearised first (act(irrel)), relevant gets the rest",
        (T_CD,),
    ),
    # ------------------------------------------------------------------ IG / EG
    Mutant(
        "eg_alpha_fixed_one",
        PATHS,
        "        alphas.reshape(-1, 1),\n",
        "        torch.ones_like(alphas).reshape(-1, 1),\n",
        "Expected Gradients: path point alpha fixed to 1 (gradient at x)",
        (T_EG,),
    ),
    Mutant(
        "eg_alpha_fixed_zero",
        PATHS,
        "        alphas.reshape(-1, 1),\n",
        "        torch.zeros_like(alphas).reshape(-1, 1),\n",
        "Expected Gradients: path point alpha fixed to 0 (gradient at the baseline)",
        (T_EG,),
    ),
    Mutant(
        "eg_drop_baseline_difference",
        PATHS,
        "per_sample = (flat_in - flat_base) * grads",
        "per_sample = flat_in * grads",
        "Expected Gradients: x * grad instead of (x - x') * grad",
        (T_EG,),
    ),
    Mutant(
        "eg_last_background_row_never_drawn",
        PATHS,
        "idx = torch.randint(m, (b, n_samples), generator=gen)",
        "idx = torch.randint(max(m - 1, 1), (b, n_samples), generator=gen)",
        "Expected Gradients: off-by-one in the baseline draw (last background row never used)",
        (T_EG,),
    ),
    Mutant(
        "ig_drop_baseline_difference",
        PATHS,
        "attr = (inputs - base) * grads",
        "attr = inputs * grads",
        "Integrated Gradients: x * grad instead of (x - x') * grad",
        (T_EG,),
    ),
    Mutant(
        "ig_path_reversed",
        PATHS,
        "x = starts[ex] + a * (ends[ex] - starts[ex])",
        "x = ends[ex] - a * (ends[ex] - starts[ex])",
        "path points walked from x to x' (alpha -> 1 - alpha)",
        (T_EG,),
    ),
    # ------------------------------------------------------------------ quadrature
    Mutant(
        "quad_trapezoid_off_by_one",
        QUAD,
        "a = k / (n - 1)",
        "a = k / n",
        "trapezoid nodes k/n instead of k/(n-1) (last node misses 1)",
        (T_EG,),
    ),
    Mutant(
        "quad_right_is_left",
        QUAD,
        "a, w = (k + 1) / n, np.full(n, 1.0 / n)",
        "a, w = k / n, np.full(n, 1.0 / n)",
        "riemann_right nodes off by one cell (same as riemann_left)",
        (T_EG,),
    ),
    Mutant(
        "quad_gauss_legendre_n_plus_one",
        QUAD,
        "x, wx = np.polynomial.legendre.leggauss(n)",
        "x, wx = np.polynomial.legendre.leggauss(n + 1)",
        "Gauss-Legendre with n + 1 nodes for n_steps = n (off-by-one node count)",
        (T_EG,),
    ),
    Mutant(
        "quad_log_weight_moments",
        QUAD,
        "mom = [mp.mpf(1) / (k + 1) ** 2 for k in range(2 * n + 1)]",
        "mom = [mp.mpf(1) / (k + 1) for k in range(2 * n + 1)]",
        "IH rule: moments of weight 1 instead of -ln t (wrong log weight)",
        (T_IH,),
    ),
    # ------------------------------------------------------------------ Integrated Hessians
    Mutant(
        "ih_drop_alpha_beta_factor",
        HESS,
        "second = (c.w * c.t).unsqueeze(2) * c.dx.unsqueeze(2) * hv.permute(1, 2, 0)",
        "second = c.w.unsqueeze(2) * c.dx.unsqueeze(2) * hv.permute(1, 2, 0)",
        "IH: Hessian term without its alpha*beta factor",
        (T_IH,),
    ),
    Mutant(
        "ih_main_term_no_dx",
        HESS,
        "main = c.w * c.dx * c.g.detach()  # diagonal term, (R, d)",
        "main = c.w * c.g.detach()  # diagonal term, (R, d)",
        "IH diagonal: main-effect term without (x_i - x'_i)",
        (T_IH,),
    ),
    Mutant(
        "ih_grouped_drop_alpha_beta_factor",
        HESS,
        "by_group((c.w * c.t) * c.dx * hv.detach(), c.ex)",
        "by_group(c.w * c.dx * hv.detach(), c.ex)",
        "grouped IH: Hessian term without its alpha*beta factor",
        (T_IH,),
    ),
    # ------------------------------------------------------------------ faithfulness metrics
    Mutant(
        "metrics_comprehensiveness_sign",
        METRICS,
        "comp = full - probs[2 * m : 2 * m + len(top)]",
        "comp = probs[2 * m : 2 * m + len(top)] - full",
        "comprehensiveness sign flipped",
        (T_METRICS,),
    ),
    Mutant(
        "metrics_rank_ascending",
        METRICS,
        "order = cand[np.lexsort((cand, -s))]",
        "order = cand[np.lexsort((cand, s))]",
        "tokens removed lowest score first (sign flip in the ranking)",
        (T_METRICS,),
    ),
    Mutant(
        "metrics_ties_last_position_first",
        METRICS,
        "order = cand[np.lexsort((cand, -s))]",
        "order = cand[np.lexsort((-cand, -s))]",
        "ties broken by the last position instead of the first",
        (T_METRICS,),
    ),
    Mutant(
        "metrics_insertion_auc_of_deletion",
        METRICS,
        "return float(np.trapezoid(self.insertion, self.fractions))",
        "return float(np.trapezoid(self.deletion, self.fractions))",
        "insertion AUC integrates the deletion curve",
        (T_METRICS,),
    ),
    # ------------------------------------------------------------------ INN
    Mutant(
        "inn_no_l1_penalty",
        INN,
        "return out, self.weight_norm * w.abs().mean()",
        "return out, 0.0 * w.abs().mean()",
        "INN: L1 penalty on |W(x)| deleted (weight_norm ignored)",
        (T_INN,),
    ),
    Mutant(
        "inn_l2_penalty",
        INN,
        "return out, self.weight_norm * w.abs().mean()",
        "return out, self.weight_norm * w.pow(2).mean()",
        "INN: L2 instead of L1 penalty on W(x)",
        (T_INN,),
    ),
    Mutant(
        "inn_penalty_sum",
        INN,
        "return out, self.weight_norm * w.abs().mean()",
        "return out, self.weight_norm * w.abs().sum()",
        "INN: penalty summed instead of averaged (wrong reduction)",
        (T_INN,),
    ),
    # ------------------------------------------------------------------ Emb-GAM
    Mutant(
        "embgam_intercept_not_folded",
        EMBGAM,
        "self.intercept_ = np.atleast_1d(model.intercept_) - self.coef_ @ mu",
        "self.intercept_ = np.atleast_1d(model.intercept_)",
        "Emb-GAM: standardisation's mean not folded into the intercept",
        (T_EMBGAM,),
    ),
    Mutant(
        "embgam_coef_not_scaled",
        EMBGAM,
        "self.coef_ = w / sigma",
        "self.coef_ = w",
        "Emb-GAM: standardisation's scale not folded into the coefficients",
        (T_EMBGAM,),
    ),
    Mutant(
        "embgam_std_ddof1",
        EMBGAM,
        "sigma = summed.std(axis=0)",
        "sigma = summed.std(axis=0, ddof=1)",
        "Emb-GAM: sample std (ddof=1) instead of StandardScaler's population std",
        (T_EMBGAM,),
    ),
    # ------------------------------------------------------------------ penalties
    Mutant(
        "cdep_abs_after_sum",
        LOSSES,
        "return rel.abs().sum(-1).mean()",
        "return rel.sum(-1).abs().mean()",
        "CDEP penalty: |sum_c rel_c| instead of sum_c |rel_c| (wrong reduction)",
        (T_CD,),
    ),
    Mutant(
        "cdep_irrelevant_part",
        LOSSES,
        "attention_mask).relevant",
        "attention_mask).irrelevant",
        "CDEP penalty on the irrelevant part",
        (T_CD,),
    ),
    Mutant(
        "rrr_wrong_tokens",
        LOSSES,
        "return (grad.pow(2).sum(-1) * group).sum() / len(logits)",
        "return (grad.pow(2).sum(-1) * (1 - group)).sum() / len(logits)",
        "RRR penalty summed over the tokens outside the group",
        (f"{T_PEN}::test_rrr_penalty_is_the_squared_input_gradient_on_the_group",),
    ),
    Mutant(
        "eg_penalty_abs_before_sum",
        LOSSES,
        "return (attr.sum(-1).abs() * group).sum() / len(embeds)",
        "return (attr.abs().sum(-1) * group).sum() / len(embeds)",
        "EG penalty: sum_e |EG_te| instead of |sum_e EG_te| per token (wrong reduction)",
        (f"{T_PEN}::test_eg_penalty_matches_the_engine_and_is_differentiable",),
    ),
    Mutant(
        "cdep_int_keeps_output_bias",
        LOSSES,
        """    with _without_output_bias(module):
        return contextual_decomposition(module, input_ids, rest, attention_mask)""",
        """    return contextual_decomposition(module, input_ids, rest, attention_mask)""",
        "interaction-aware CDEP: the output bias left in (CD splits it onto the decoy's part)",
        (f"{T_PEN}::test_group_interaction_part_books_interactions_to_the_group",),
    ),
    Mutant(
        "cdep_int_group_as_relevant",
        LOSSES,
        "    rest = attention_mask.bool() & ~group.bool()",
        "    rest = group.bool()",
        "interaction-aware CDEP: plain CD of the group (the rest not made the relevant set)",
        (f"{T_PEN}::test_group_interaction_part_books_interactions_to_the_group",),
    ),
    Mutant(
        "clp_counterfactual_keeps_the_group",
        LOSSES,
        "    keep = attention_mask.bool() & ~group.bool()",
        "    keep = attention_mask.bool()",
        "clp: the counterfactual still holds the decoy (nothing deleted)",
        (
            f"{T_PEN}::test_without_group_deletes_the_group_and_keeps_the_order",
            f"{T_PEN}::test_counterfactual_penalty_is_the_effect_of_deleting_the_group",
        ),
    ),
    Mutant(
        "clp_deleted_tokens_left_in_place",
        LOSSES,
        "    order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)",
        "    order = torch.arange(keep.shape[1], device=keep.device).expand_as(keep)",
        "clp: the decoy masked where it stands instead of deleted (a gap mid-sequence)",
        (
            f"{T_PEN}::test_without_group_deletes_the_group_and_keeps_the_order",
            f"{T_PEN}::test_counterfactual_penalty_is_the_effect_of_deleting_the_group",
        ),
    ),
)


# ---------------------------------------------------------------------------------- running


def copy_repo(dest: Path) -> Path:
    """Copy the repository to ``dest/repo`` without the virtualenv, git, data and caches."""
    target = dest / "repo"
    shutil.copytree(REPO, target, ignore=lambda _d, names: [n for n in names if n in EXCLUDE])
    return target


def env_for(copy: Path) -> dict[str, str]:
    """Environment that imports the copy's ``src`` before the editable install of the repo."""
    env = dict(os.environ)
    env["PYTHONPATH"] = f"{copy / 'src'}{os.pathsep}{copy}"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def check_import(copy: Path) -> str:
    """The ``glassworks`` file Python imports in the copy; must lie inside the copy."""
    out = subprocess.run(
        [sys.executable, "-c", "import glassworks.explain.cd as m; print(m.__file__)"],
        cwd=copy,
        env=env_for(copy),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not Path(out).resolve().is_relative_to(copy.resolve()):
        raise RuntimeError(f"the copy is not what gets imported: {out}")
    return out


def run_tests(copy: Path, tests: tuple[str, ...], timeout: int) -> tuple[str, str, float]:
    """``(outcome, detail, seconds)``: outcome is passed, failed, timeout or error."""
    cmd = [sys.executable, "-m", "pytest", *tests, "-q", "-x", "-p", "no:cacheprovider"]
    cmd += ["--rootdir", str(copy), "-W", "ignore::UserWarning"]
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, cwd=copy, env=env_for(copy), capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return "timeout", f"> {timeout} s", time.perf_counter() - start
    seconds = time.perf_counter() - start
    text = proc.stdout + proc.stderr
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", text, flags=re.MULTILINE)
    if proc.returncode == 0:
        return "passed", "", seconds
    if proc.returncode == 1:
        return "failed", failed[0] if failed else "", seconds
    return "error", f"pytest exit {proc.returncode}: {text.strip()[-300:]}", seconds


def mutate(mutant: Mutant, copy: Path, timeout: int) -> tuple[str, str, float]:
    """Apply ``mutant`` to the copy, run its tests, restore the file."""
    path = copy / mutant.file
    source = path.read_text()
    if source.count(mutant.original) != 1:
        return "not applicable (source changed)", "", 0.0
    path.write_text(source.replace(mutant.original, mutant.replacement))
    try:
        outcome, detail, seconds = run_tests(copy, mutant.tests, timeout)
    finally:
        path.write_text(source)
    result = {"failed": "killed", "timeout": "killed (timeout)", "passed": "SURVIVED"}
    return result.get(outcome, f"error: {detail}"), detail, seconds


def table(rows: list[tuple[Mutant, str, str, float]]) -> str:
    """Markdown table of the results."""
    lines = [
        "| mutant | file | description | killing tests | result | s |",
        "|---|---|---|---|---|---|",
    ]
    for m, result, detail, seconds in rows:
        tests = "<br>".join(f"`{t}`" for t in m.tests)
        killer = f"<br>first failure: `{detail}`" if result.startswith("killed") and detail else ""
        file = m.file.removeprefix("src/glassworks/")
        description = m.description.replace("|", "\\|")
        lines.append(
            f"| `{m.name}` | `{file}` | {description} | {tests}{killer} | {result} | "
            f"{seconds:.0f} |"
        )
    return "\n".join(lines)


DOC_HEAD = """# Mutation check of the attribution maths

Each mutant below is a plausible wrong implementation of one formula in `src/` (a sign flip, an
off-by-one, a dropped factor, a wrong reduction, a term put in the wrong part). The tests that
should notice it are the independent oracles of `tests/**/test_oracle_*.py` (reference ports,
closed forms, brute force; see DESIGN.md, "Evaluation protocol") and two existing penalty tests.
A mutant is *killed* when one of its tests fails. Regenerate with

    .venv/bin/python benchmarks/mutants.py

(serial, one pytest process per mutant on a copy of the repository; `--only NAME` runs one
mutant, `--no-write` leaves this file alone). A mutant whose snippet is no longer in the source
is reported as "not applicable (source changed)": update its snippet in `benchmarks/mutants.py`.

"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="mutant names to run (default: all)")
    parser.add_argument("--timeout", type=int, default=TIMEOUT_S, help="seconds per mutant")
    parser.add_argument("--no-write", action="store_true", help="do not write docs/mutation.md")
    args = parser.parse_args()
    chosen = [m for m in MUTANTS if not args.only or m.name in args.only]
    names = [m.name for m in MUTANTS]
    if len(set(names)) != len(names):
        raise SystemExit("duplicate mutant names")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="glassworks-mutants-") as tmp:
        copy = copy_repo(Path(tmp))
        imported = check_import(copy)
        print(f"copy: {copy} (imports {imported})", flush=True)
        tests = tuple(dict.fromkeys(t for m in chosen for t in m.tests))
        outcome, detail, seconds = run_tests(copy, tests, args.timeout * 2)
        print(f"baseline (unmutated) {outcome} in {seconds:.0f} s {detail}", flush=True)
        if outcome != "passed":
            raise SystemExit("the targeted tests fail without a mutant: fix them first")
        rows = []
        for m in chosen:
            result, detail, seconds = mutate(m, copy, args.timeout)
            print(f"{m.name:40s} {result:32s} {seconds:5.1f} s {detail}", flush=True)
            rows.append((m, result, detail, seconds))
    md = table(rows)
    killed = sum(r[1].startswith("killed") for r in rows)
    total_s = time.perf_counter() - started
    summary = f"{killed} of {len(rows)} mutants killed ({total_s:.0f} s in all)."
    print(f"\n{md}\n\n{summary}")
    if not args.no_write:
        doc = REPO / "docs" / "mutation.md"
        doc.write_text(f"{DOC_HEAD}{md}\n\n{summary}\n")
    return 0 if killed == len(rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
