"""Stage start-up benchmark: seconds from process start to a stage's first line of work.

    .venv/bin/python benchmarks/startup.py [--repeats 5]

For every stage module ``stages/<name>.py`` it times ``python -m stages.<name> --help`` as a fresh
process (the interpreter, every module the stage imports at module level, building its argument
parser), median of ``--repeats`` runs, all stages interleaved so machine load hits them alike.
Heavy libraries a stage's work needs are imported at module level by the library modules it
calls (torch for the trainers), so they count here; the ones it needs only at the end (mlflow,
behind ``glassworks.tracking``) are imported on first use and do not. Also records which heavy
libraries each stage loaded. Goals (issue 18): <= 1.0 s for ``prepare``, ``report`` and
``compare_*``; <= 2.5 s for the stages that need torch. Writes ``benchmarks/results/startup.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "startup.json"
HEAVY = ("torch", "transformers", "mlflow", "sklearn", "pandas", "catboost", "interpret")
FAST = ("prepare", "report", "compare_tabular", "compare_cdep")
"""Stages with the 1.0 s goal; the others have the 2.5 s goal of stages that need torch."""


def stages() -> list[str]:
    """Every stage module (``stages/common.py`` is their shared context, not a stage)."""
    names = [p.stem for p in (ROOT / "stages").glob("*.py")]
    return sorted(n for n in names if n not in {"__init__", "common"})


def loaded(stage: str) -> list[str]:
    """The heavy libraries importing ``stages.<stage>`` loads."""
    code = f"import sys, stages.{stage}; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return [m for m in out.stdout.strip().split(",") if m]


def once(stage: str) -> float:
    """Wall seconds of one ``python -m stages.<stage> --help``."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", f"stages.{stage}", "--help"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    names = stages()
    for name in names:
        once(name)  # warm the page cache and .pyc files
    times: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(args.repeats):
        for name in names:
            times[name].append(once(name))
    rows = []
    for name in names:
        libs = loaded(name)
        goal = 1.0 if name in FAST else 2.5
        median = statistics.median(times[name])
        rows.append(
            {
                "stage": name,
                "median_s": round(median, 3),
                "goal_s": goal,
                "met": median <= goal,
                "loads": libs,
            }
        )
    baseline = statistics.median([_python_only() for _ in range(args.repeats)])
    result = {
        "repeats": args.repeats,
        "python_alone_s": round(baseline, 3),
        "cpu_count": os.cpu_count(),
        "stages": rows,
    }
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    width = max(len(r["stage"]) for r in rows)
    for r in rows:
        flag = "ok" if r["met"] else "SLOW"
        print(
            f"{r['stage']:<{width}}  {r['median_s']:5.2f} s  (goal {r['goal_s']} s) {flag}  "
            f"{' '.join(r['loads'])}"
        )
    print(f"python alone: {baseline:.2f} s -> {OUT.relative_to(ROOT)}")


def _python_only() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
