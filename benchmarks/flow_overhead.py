"""Overhead of the ``pipeline`` flow on an up-to-date project, against what it wraps: a no-op
``dvc repro`` plus Prefect's own start-up (a trivial flow run in a fresh process). Each timing is
a fresh process (imports, a temporary Prefect server, DVC's index), interleaved, median of
``--repeats``.

    .venv/bin/python benchmarks/flow_overhead.py [--root PROJECT] [--stages 40] [--repeats 3]

Without ``--root`` it builds a synthetic DVC project (a chain and a fan of ``--stages`` tiny
stages) in a temp dir and reproduces it once first; with ``--root`` the project must be up to date
(``dvc status`` clean). Goal (issue 8): flow / (no-op repro + Prefect start-up) <= 1.5.
Writes ``benchmarks/results/flow_overhead.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "flow_overhead.json"
BIN = Path(sys.executable).parent
TRIVIAL = "from prefect import flow\n@flow\ndef noop() -> int:\n    return 0\nnoop()\n"


def _env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(ROOT)}


def _seconds(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return time.perf_counter() - start


def synthetic_project(folder: Path, n: int) -> Path:
    """``n`` stages: s0 writes a file; the others read s0's (a fan) or the previous (a chain)."""
    subprocess.run(["git", "init", "-q"], cwd=folder, check=True)
    subprocess.run([str(BIN / "dvc"), "init", "-q"], cwd=folder, check=True, env=_env())
    stages = {"s0": {"cmd": "python -c \"open('o0.txt','w').write('0')\"", "outs": ["o0.txt"]}}
    for i in range(1, n):
        src = f"o{i - 1}.txt" if i % 2 else "o0.txt"
        stages[f"s{i}"] = {
            "cmd": f"python -c \"open('o{i}.txt','w').write(open('{src}').read() + '{i}')\"",
            "deps": [src],
            "outs": [f"o{i}.txt"],
        }
    (folder / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
    (folder / "params.yaml").write_text("x: 1\n")
    subprocess.run([str(BIN / "dvc"), "repro", "-q"], cwd=folder, check=True, env=_env())
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"}  # fmt: skip
    subprocess.run(["git", "add", "-A"], cwd=folder, check=True)
    subprocess.run(["git", "commit", "-qm", "init"], cwd=folder, check=True, env=env)
    return folder


def measure(project: Path, repeats: int) -> dict:
    """Interleaved fresh-process timings; the ratio of medians."""
    status = subprocess.run([str(BIN / "dvc"), "status", "--json"], cwd=project, env=_env(),
                            capture_output=True, text=True)  # fmt: skip
    if json.loads(status.stdout or "{}"):
        raise SystemExit(f"{project}: not up to date (dvc status); run `dvc repro` first")
    trivial = project / ".noop_flow.py"
    trivial.write_text(TRIVIAL)
    flow_cmd = [sys.executable, "-m", "flows.pipeline", "--root", str(project)]
    times: dict[str, list[float]] = {"flow": [], "dvc_repro": [], "prefect_startup": []}
    try:
        for _ in range(repeats):
            times["dvc_repro"].append(_seconds([str(BIN / "dvc"), "repro"], project))
            times["prefect_startup"].append(_seconds([sys.executable, str(trivial)], project))
            times["flow"].append(_seconds(flow_cmd, project))
    finally:
        trivial.unlink()
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "median_s": med,
        "runs_s": times,
        "ratio": med["flow"] / (med["dvc_repro"] + med["prefect_startup"]),
    }


def main() -> None:
    """Run and write the JSON."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--root", type=Path, default=None)
    p.add_argument("--stages", type=int, default=40)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    if args.root is None:
        with tempfile.TemporaryDirectory() as tmp:
            result = measure(synthetic_project(Path(tmp), args.stages), args.repeats)
        result["project"] = f"synthetic, {args.stages} stages"
    else:
        result = measure(args.root.resolve(), args.repeats)
        result["project"] = str(args.root)
    result["goal"] = "flow <= 1.5 x (no-op dvc repro + Prefect start-up)"
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    m = result["median_s"]
    print(  # noqa: T201
        f"{result['project']}: flow {m['flow']:.1f} s, dvc repro {m['dvc_repro']:.1f} s, "
        f"Prefect start-up {m['prefect_startup']:.1f} s -> ratio {result['ratio']:.2f}"
    )


if __name__ == "__main__":
    main()
