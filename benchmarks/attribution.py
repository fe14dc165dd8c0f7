"""Attribution benchmark: glassworks vs path_explain (interactions) and Captum (IG).

    .venv/bin/python benchmarks/attribution.py [--repeats 5]

Captum is asked for its convergence delta too, since every glassworks call returns one.
MLP on 30 features (2 x 64 hidden, softplus), 100 inputs, 2 threads, float32 timings; errors are
max |estimate - reference| / max |reference| against a float64 log-weight Gauss rule with 48 nodes
(IH) or Gauss-Legendre with 256 steps (IG). Medians of the repeats. Prints a table and writes
benchmarks/results/attribution.json.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from glassworks.explain.hessians import integrated_hessians
from glassworks.explain.paths import integrated_gradients

OUT = Path(__file__).resolve().parent / "results" / "attribution.json"


def path_explainer():  # noqa: ANN201
    spec = importlib.util.find_spec("path_explain")
    path = Path(spec.origin).parent / "explainers" / "path_explainer_torch.py"
    mod_spec = importlib.util.spec_from_file_location("path_explainer_torch", path)
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    return module.PathExplainerTorch


def timed(fn: Callable[[], torch.Tensor], repeats: int) -> tuple[float, torch.Tensor]:
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def rel_error(est: torch.Tensor, ref: torch.Tensor) -> float:
    return float((est.detach().double() - ref).abs().max() / ref.abs().max())


class TinyTransformer(nn.Module):
    """The nlp-lime-ig architecture on embeddings: 128-dim, 2 heads, 2 layers, ff 512 (gelu)."""

    def __init__(self, d: int = 128) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(
            d, 2, 512, dropout=0.0, activation="gelu", batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(d, 2)

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(e).mean(1))


def transformer_rows(repeats: int, pe_cls: type, scale: int) -> list[tuple[str, float, float]]:
    """Per-example time and error: IG at seq 64 (vs Captum, path_explain) and token x token IH
    at seq 16 (vs path_explain's full interactions on the flattened embeddings)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    from glassworks.explain.hessians import grouped_integrated_hessians

    torch.manual_seed(0)
    model = TinyTransformer().double().eval()
    rows: list[tuple[str, float, float]] = []
    n, seq = 8, 64
    e = torch.randn(n, seq, 128, dtype=torch.float64) * 0.5
    # a fixed "pad" sequence as baseline: from all-zero embeddings LayerNorm makes the path
    # integrand a spike at t ~ 0 that no rule handles (text models start from pad embeddings)
    base = torch.randn(1, seq, 128, dtype=torch.float64) * 0.5
    target = torch.zeros(n, dtype=torch.long)
    with sdpa_kernel(SDPBackend.MATH):
        ref = integrated_gradients(model, e, base, target=target, n_steps=256).attributions
        m32 = copy.deepcopy(model).float()
        e32, b32 = e.float(), base.float()
        for steps in (16, 32):
            t, out = timed(
                lambda s=steps: (
                    integrated_gradients(m32, e32, b32, target=target, n_steps=s).attributions
                ),
                max(1, repeats // 2),
            )
            rows.append(
                (
                    f"TF seq64 IG glassworks gauss_legendre {steps}",
                    t * scale / n,
                    rel_error(out, ref),
                )
            )
        from captum.attr import IntegratedGradients

        cap = IntegratedGradients(m32)
        t, out = timed(
            lambda: cap.attribute(
                e32,
                b32,
                target=target,
                n_steps=32,
                method="gausslegendre",
                return_convergence_delta=True,  # equal work: ours always returns the delta
            )[0],
            max(1, repeats // 2),
        )
        rows.append(("TF seq64 IG Captum gausslegendre 32", t * scale / n, rel_error(out, ref)))
        pe = pe_cls(lambda z: m32(z.reshape(-1, seq, 128)))
        t, out = timed(
            lambda: pe.attributions(
                e32.reshape(n, -1).clone().requires_grad_(True),
                b32.reshape(1, -1),
                num_samples=128,
                use_expectation=False,
                output_indices=target,
            ).reshape(n, seq, 128),
            1,
        )
        rows.append(("TF seq64 IG path_explain 128", t * scale / n, rel_error(out, ref)))

        seq, n = 16, 2
        e = torch.randn(n, seq, 128, dtype=torch.float64) * 0.5
        base = torch.randn(1, seq, 128, dtype=torch.float64) * 0.5
        target = torch.zeros(n, dtype=torch.long)
        groups = torch.arange(seq).view(seq, 1).expand(seq, 128)
        ih_ref = grouped_integrated_hessians(
            model, e, groups, seq, base, target=target, n_steps=32
        ).interactions
        e32, b32 = e.float(), base.float()
        t, out = timed(
            lambda: (
                grouped_integrated_hessians(
                    m32, e32, groups, seq, b32, target=target, n_steps=8
                ).interactions
            ),
            max(1, repeats // 2),
        )
        rows.append(("TF seq16 token IH glassworks 8 nodes", t * scale / n, rel_error(out, ih_ref)))
        pe = pe_cls(lambda z: m32(z.reshape(-1, seq, 128)))

        def run_pe() -> torch.Tensor:
            full = pe.interactions(
                e32.reshape(n, -1).clone().requires_grad_(True),
                b32.reshape(1, -1),
                num_samples=16,
                use_expectation=False,
                output_indices=target,
                verbose=False,
            )
            return full.reshape(n, seq, 128, seq, 128).sum((2, 4))

        t, out = timed(run_pe, 1)
        rows.append(
            ("TF seq16 token IH path_explain 16 samples", t * scale / n, rel_error(out, ih_ref))
        )
    return rows


def memory_probe(batch_size: int) -> None:
    """Child process: IG on the seq-64 transformer, 16 examples x 128 steps; prints the peak RSS
    growth in MB over the process before the call (``VmHWM``: ``ru_maxrss`` survives exec, so a
    child would inherit the parent's peak)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    def peak_kb() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return 0

    torch.set_num_threads(2)
    torch.manual_seed(0)
    model = TinyTransformer().eval()
    e = torch.randn(16, 64, 128) * 0.5
    base = torch.randn(1, 64, 128) * 0.5
    with sdpa_kernel(SDPBackend.MATH):
        integrated_gradients(model, e[:1], base, target=0, n_steps=2)  # warm up
        before = peak_kb()
        if batch_size > 0:
            integrated_gradients(model, e, base, target=0, n_steps=128, batch_size=batch_size)
        else:  # a negative value is a memory budget in MB
            integrated_gradients(
                model, e, base, target=0, n_steps=128, memory_budget_mb=-batch_size
            )
        after = peak_kb()
    print((after - before) / 1024)


def memory_rows() -> dict[str, float]:
    """Peak memory growth of IG vs rows per pass (``batch_size``), each in a fresh process."""
    import subprocess
    import sys

    out = {}
    for bs in (128, 512, 2048, -300, -1000):
        res = subprocess.run(
            [sys.executable, __file__, "--memory-probe", str(bs)],
            capture_output=True,
            text=True,
            check=True,
        )
        what = f"batch_size {bs}" if bs > 0 else f"memory_budget_mb {-bs}"
        out[f"IG seq64 transformer, 16 ex x 128 steps, {what}: peak +MB"] = float(
            res.stdout.strip().splitlines()[-1]
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--skip-transformer", action="store_true")
    ap.add_argument("--memory-probe", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_probe:
        memory_probe(args.memory_probe)
        return
    torch.set_num_threads(2)
    torch.manual_seed(0)
    d = 30
    model64 = (
        nn.Sequential(
            nn.Linear(d, 64), nn.Softplus(), nn.Linear(64, 64), nn.Softplus(), nn.Linear(64, 2)
        )
        .double()
        .eval()
    )
    model32 = copy.deepcopy(model64).float()
    x64 = torch.randn(args.n, d, dtype=torch.float64)
    x32 = x64.float()
    target = torch.randint(0, 2, (args.n,))
    rows = []

    ih_ref = integrated_hessians(model64, x64, target=target, n_steps=48).interactions
    pe = path_explainer()(model32)
    base32 = torch.zeros(1, d)

    def run_pe() -> torch.Tensor:
        return pe.interactions(
            x32.clone().requires_grad_(True),
            base32,
            num_samples=20,
            use_expectation=False,
            output_indices=target,
            verbose=False,
        )

    t_pe, out_pe = timed(run_pe, max(1, args.repeats // 2))
    rows.append(("IH path_explain interactions, 20 samples", t_pe, rel_error(out_pe, ih_ref)))
    for samples in (400, 1600):
        t, out = timed(
            lambda s=samples: pe.interactions(
                x32.clone().requires_grad_(True),
                base32,
                num_samples=s,
                use_expectation=False,
                output_indices=target,
                verbose=False,
            ),
            1,
        )
        rows.append((f"IH path_explain interactions, {samples} samples", t, rel_error(out, ih_ref)))
    for n in (8, 16):
        t, out = timed(
            lambda n=n: integrated_hessians(model32, x32, target=target, n_steps=n).interactions,
            args.repeats,
        )
        rows.append((f"IH glassworks log-weight Gauss, {n} nodes", t, rel_error(out, ih_ref)))
    t, out = timed(
        lambda: (
            integrated_hessians(
                model32, x32, target=target, n_steps=20, method="path_explain_grid"
            ).interactions
        ),
        args.repeats,
    )
    rows.append(("IH glassworks on path_explain's grid, 20", t, rel_error(out, ih_ref)))

    from captum.attr import IntegratedGradients

    ig_ref = integrated_gradients(model64, x64, target=target, n_steps=256).attributions
    cap = IntegratedGradients(model32)
    for steps in (16, 50):
        t, out = timed(
            lambda s=steps: cap.attribute(
                x32,
                target=target,
                n_steps=s,
                method="gausslegendre",
                return_convergence_delta=True,  # equal work: ours always returns the delta
            )[0],
            args.repeats,
        )
        rows.append((f"IG Captum gausslegendre, {steps} steps", t, rel_error(out, ig_ref)))
        t, out = timed(
            lambda s=steps: (
                integrated_gradients(model32, x32, target=target, n_steps=s).attributions
            ),
            args.repeats,
        )
        rows.append((f"IG glassworks gauss_legendre, {steps} steps", t, rel_error(out, ig_ref)))
    t, out = timed(
        lambda: integrated_gradients(model32, x32, target=target, n_steps=8).attributions,
        args.repeats,
    )
    rows.append(("IG glassworks gauss_legendre, 8 steps", t, rel_error(out, ig_ref)))

    if not args.skip_transformer:
        # rows hold seconds per args.n examples; transformer rows are rescaled to match
        rows += transformer_rows(args.repeats, pe_cls=path_explainer(), scale=args.n)

    print(f"{'method':46s} {'ms/example':>11s} {'rel. error':>11s}")
    table = []
    for name, seconds, err in rows:
        ms = 1000 * seconds / args.n
        print(f"{name:46s} {ms:>11.4f} {err:>11.2e}")
        table.append({"method": name, "ms_per_example": ms, "relative_error": err})
    by = {r["method"]: r for r in table}
    ratios = {
        "IH speedup vs path_explain 20 samples (ours 8 nodes, lower error)": by[
            "IH path_explain interactions, 20 samples"
        ]["ms_per_example"]
        / by["IH glassworks log-weight Gauss, 8 nodes"]["ms_per_example"],
        "IH speedup vs path_explain 1600 samples (its most accurate run; ours 8 nodes)": by[
            "IH path_explain interactions, 1600 samples"
        ]["ms_per_example"]
        / by["IH glassworks log-weight Gauss, 8 nodes"]["ms_per_example"],
        "IG time vs Captum, equal steps (50, gauss-legendre)": by[
            "IG glassworks gauss_legendre, 50 steps"
        ]["ms_per_example"]
        / by["IG Captum gausslegendre, 50 steps"]["ms_per_example"],
        "IG time vs Captum default (50 steps) at equal or better error (ours 16 steps)": by[
            "IG glassworks gauss_legendre, 16 steps"
        ]["ms_per_example"]
        / by["IG Captum gausslegendre, 50 steps"]["ms_per_example"],
    }
    if "TF seq64 IG Captum gausslegendre 32" in by:
        ratios["TF seq64 IG time vs Captum, equal steps (32, gauss-legendre)"] = (
            by["TF seq64 IG glassworks gauss_legendre 32"]["ms_per_example"]
            / by["TF seq64 IG Captum gausslegendre 32"]["ms_per_example"]
        )
        ratios["TF seq64 IG time vs Captum 32 steps at equal error (ours 16 steps)"] = (
            by["TF seq64 IG glassworks gauss_legendre 16"]["ms_per_example"]
            / by["TF seq64 IG Captum gausslegendre 32"]["ms_per_example"]
        )
        ratios["TF seq16 token IH speedup vs path_explain 16 samples (ours 8 nodes)"] = (
            by["TF seq16 token IH path_explain 16 samples"]["ms_per_example"]
            / by["TF seq16 token IH glassworks 8 nodes"]["ms_per_example"]
        )
    for k, v in ratios.items():
        print(f"{k}: {v:.3f}")
    memory = {} if args.skip_transformer else memory_rows()
    for k, v in memory.items():
        print(f"{k}: {v:.0f}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps({"rows": table, "ratios": ratios, "n_examples": args.n, "threads": 2}, indent=2)
        + "\n"
    )


if __name__ == "__main__":
    main()
