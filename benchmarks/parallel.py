"""Parallel-run benchmark: one slice of the pipeline reproduced four ways, each in its own fresh
clone of the committed HEAD (``../shared`` beside it, raw data from the DVC remote):

1. ``dvc repro <slice>`` pinned to 1 core (``taskset -c 0``), and on 2 cores: the old
   ``make run``;
2. ``python -m flows.run <slice>`` (what ``make run`` runs) pinned to 1 core;
3. the same on 2 cores (``taskset -c 0,1``);
4. the same on a Dask ``LocalCluster`` of 2 worker processes (``--dask local``), 2 cores.

Reports wall times, the 1-core / 2-core ratio of the flow and the serial / flow ratio, and
whether every stage output's hash in ``dvc.lock`` equals the serial run's (stages run side by
side must give the same bytes). Run it on a quiet machine from a clean, committed tree:

    .venv/bin/python benchmarks/parallel.py [STAGE ...]

Writes ``benchmarks/results/parallel.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "parallel.json"
BIN = Path(sys.executable).parent
SLICE = [
    "train_tabular@openml-31-logistic_regression",
    "train_tabular@openml-31-random_forest",
    "train_tabular@openml-31-inn",
    "train_tabular@openml-37-inn",
    "train_tabular@openml-37-tabresnet",
    "train_mlp@openml-31",
    "train_text@amazon-appliances-small",
    "train_text@amazon-fashion-small",
]
"""Default slice: trainers of every kind (scikit-learn, INN/TabResNet, MLP, text transformer)
and the ``prepare`` stages they need; a few minutes on one core."""


def clone(where: Path) -> Path:
    """A fresh clone of HEAD at ``where/main`` with ``../shared`` and the raw data pulled."""
    where.mkdir(parents=True)
    (where / "shared").symlink_to((ROOT.parent / "shared").resolve())
    subprocess.run(["git", "clone", "-q", str(ROOT), str(where / "main")], check=True)
    repo = where / "main"
    raw = sorted(str(p.relative_to(repo)) for p in (repo / "data" / "raw").glob("*.dvc"))
    subprocess.run([str(BIN / "dvc"), "pull", "-q", *raw], cwd=repo, check=True)
    return repo


def run(repo: Path, cmd: list[str], cores: str) -> float:
    """Wall seconds of ``cmd`` in ``repo`` pinned to ``cores``; fails loudly on error."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "HF_HUB_OFFLINE": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)  # each clone's own store under its mlruns/
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env.pop(var, None)
    start = time.perf_counter()
    proc = subprocess.run(
        ["taskset", "-c", cores, *cmd], cwd=repo, env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed in {repo}:\n{proc.stdout[-3000:]}\n"
                           f"{proc.stderr[-3000:]}")  # fmt: skip
    return seconds


def lock_hashes(repo: Path) -> dict[str, str]:
    """``stage:path -> md5`` for every output recorded in ``dvc.lock``."""
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    return {
        f"{stage}:{out['path']}": out.get("md5", "")
        for stage, body in lock.get("stages", {}).items()
        for out in body.get("outs", [])
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("stages", nargs="*", default=SLICE)
    args = p.parse_args()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "src", "stages", "flows", "params.yaml", "dvc.yaml"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    if dirty.strip():
        sys.exit(
            f"commit first: the clones run HEAD, the library runs from the working tree\n{dirty}"
        )
    flow = [str(BIN / "python"), "-m", "flows.run"]
    ways: dict[str, tuple[list[str], str]] = {
        "serial_dvc_repro_1core": ([str(BIN / "dvc"), "repro", *args.stages], "0"),
        "serial_dvc_repro_2cores": ([str(BIN / "dvc"), "repro", *args.stages], "0,1"),
        "flow_1core": ([*flow, *args.stages], "0"),
        "flow_2cores": ([*flow, *args.stages], "0,1"),
        "flow_dask_local_2cores": ([*flow, "--dask", "local", *args.stages], "0,1"),
    }
    results: dict[str, Any] = {}
    hashes: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="glassworks-parallel-") as tmp:
        for name, (cmd, cores) in ways.items():
            repo = clone(Path(tmp) / name)
            seconds = run(repo, cmd, cores)
            hashes[name] = lock_hashes(repo)
            results[name] = {"seconds": round(seconds, 1), "cores": len(cores.split(","))}
            print(f"{name}: {seconds:.0f} s", flush=True)
    reference = hashes["serial_dvc_repro_1core"]
    for name, h in hashes.items():
        differ = sorted(k for k in reference.keys() | h.keys() if reference.get(k) != h.get(k))
        results[name]["outputs"] = len(h)
        results[name]["hashes_equal_serial"] = not differ
        results[name]["differing_outputs"] = differ
    t = {k: v["seconds"] for k, v in results.items()}
    summary = {
        "stages": args.stages,
        "cpu_count": os.cpu_count(),
        "runs": results,
        "ratio_flow_1core_over_2cores": round(t["flow_1core"] / t["flow_2cores"], 2),
        "ratio_serial_1core_over_flow_2cores": round(
            t["serial_dvc_repro_1core"] / t["flow_2cores"], 2
        ),
        "ratio_serial_2cores_over_flow_2cores": round(
            t["serial_dvc_repro_2cores"] / t["flow_2cores"], 2
        ),
        "ratio_serial_1core_over_flow_1core": round(
            t["serial_dvc_repro_1core"] / t["flow_1core"], 2
        ),
    }
    OUT.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k.startswith("ratio")}, indent=2))


if __name__ == "__main__":
    main()
