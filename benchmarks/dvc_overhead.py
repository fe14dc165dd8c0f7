"""DVC's cost per stage, with and without ``flows.dvc_cli`` (dvc.lock read by DVC's fast reader
when DVC updates it, and written by re-emitting only the changed entry), measured side by side
in one run.

    .venv/bin/python benchmarks/dvc_overhead.py [--repeats 5] [--stage prepare@openml-37]

Two measurements, each the median of ``--repeats`` alternating runs:
- ``lock_update``: the update DVC makes to this project's ``dvc.lock`` after every stage
  (``modify_yaml``: read, change one output hash of one entry, write), in process: plain, with
  the fast reader only (``reader_s``, what the shim did before it re-emitted only changed
  entries) and with reader and writer (``patched_s``); all three write the same bytes (checked);
- ``repro``: ``dvc repro --single-item <stage> --force`` of a stage that itself takes about a
  second (``prepare`` of a small OpenML set), as a subprocess, ``dvc`` vs ``python -m
  flows.dvc_cli``; what is left after subtracting the stage is DVC's overhead.
- ``status``: the check ``make run`` makes before anything else (DVC's index and the status of
  every stage: ``repo.status()``, what ``flows.dvc_project.plan`` calls), in a fresh process
  each time, without and with ``flows.dvc_cli.patch_reads`` (YAML parsed once per text, plain
  parameter keys looked up without ``dpath``); both must report the same stale stages with the
  same reasons.
Both repro variants write the same ``dvc.lock`` (checked, after one warm-up run that records the
stage's current dependencies). Needs ``make run`` first (the lock and the stage's
data). Writes ``benchmarks/results/dvc_overhead.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dvc.utils.serialize import _yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # flows/ is not installed: run from anywhere
from flows import dvc_cli  # noqa: E402

OUT = REPO / "benchmarks" / "results" / "dvc_overhead.json"


def _stage_names() -> list[str]:
    from flows.dvc_project import stage_graph

    return sorted(stage_graph(REPO).upstream)


def lock_update(path: Path) -> float:
    """Seconds of one ``modify_yaml`` of ``path`` that changes one stage's entry (the first
    output hash of the middle stage, as a rerun whose output changed would)."""
    start = time.perf_counter()
    with _yaml.modify_yaml(path) as data:
        names = list(data["stages"])
        entry = data["stages"][names[len(names) // 2]]
        out = entry["outs"][0]
        out["md5"] = "0" * len(out["md5"])
    return time.perf_counter() - start


def repro(cmd: list[str], stage: str) -> float:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env["PYTHONPATH"] = str(REPO)
    start = time.perf_counter()
    subprocess.run(
        [*cmd, "repro", "--single-item", stage, "--force", "-q"],
        cwd=REPO, env=env, check=True, capture_output=True,
    )  # fmt: skip
    return time.perf_counter() - start


def stage_alone(stage: str) -> float:
    name, _, item = stage.partition("@")
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", f"stages.{name}", "--dataset", item],
        cwd=REPO, check=True, capture_output=True,
    )  # fmt: skip
    return time.perf_counter() - start


STATUS_SCRIPT = """
import json, sys, time
sys.path.insert(0, {repo!r})
if {patched}:
    from flows.dvc_cli import patch_reads
    patch_reads()
from dvc.repo import Repo
start = time.perf_counter()
with Repo({repo!r}) as repo:
    report = repo.status()
print(json.dumps({{"seconds": time.perf_counter() - start, "report": report}}, default=str))
"""


def status(patched: bool) -> tuple[float, object]:
    """Seconds of DVC's index load and status of every stage (imports excluded), and the report."""
    code = STATUS_SCRIPT.format(repo=str(REPO), patched=patched)
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, check=True, capture_output=True, text=True
    )
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return out["seconds"], out["report"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=5, choices=range(1, 101), metavar="1..100")
    ap.add_argument("--stage", default="prepare@openml-37")
    args = ap.parse_args()
    lock = REPO / "dvc.lock"
    before = lock.read_bytes()  # the update benchmark works on copies of this
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "dvc.lock"
        plain_update, reader_update, fast_update = [], [], []
        original = _yaml.parse_yaml_for_update, _yaml._dump
        for _ in range(args.repeats):
            shutil.copy(lock, copy)
            _yaml.parse_yaml_for_update, _yaml._dump = original
            plain_update.append(lock_update(copy))
            plain_bytes = copy.read_bytes()
            shutil.copy(lock, copy)
            dvc_cli.patch_lockfile_reader()
            reader_update.append(lock_update(copy))
            assert copy.read_bytes() == plain_bytes, "the fast reader's update wrote other bytes"
            shutil.copy(lock, copy)
            dvc_cli.patch_lockfile_writer()
            fast_update.append(lock_update(copy))
            assert copy.read_bytes() == plain_bytes, "the patched update wrote other bytes"
            assert copy.read_bytes() != lock.read_bytes(), "the update changed nothing"
        _yaml.parse_yaml_for_update, _yaml._dump = original
    plain_status, fast_status = [], []
    for _ in range(args.repeats):
        seconds, plain_report = status(patched=False)
        plain_status.append(seconds)
        seconds, fast_report = status(patched=True)
        fast_status.append(seconds)
        assert fast_report == plain_report, "the patched reads report another status"
    plain_cmd = [str(Path(sys.executable).parent / "dvc")]
    shim_cmd = [sys.executable, "-m", "flows.dvc_cli"]
    repro(plain_cmd, args.stage)  # warm-up; records the stage's current deps in the lock
    settled = lock.read_bytes()
    plain, shim, alone = [], [], []
    for _ in range(args.repeats):
        plain.append(repro(plain_cmd, args.stage))
        shim.append(repro(shim_cmd, args.stage))
        alone.append(stage_alone(args.stage))
    assert lock.read_bytes() == settled, "the runs wrote different locks"
    med = {k: statistics.median(v) for k, v in
           {"plain": plain, "shim": shim, "alone": alone}.items()}  # fmt: skip
    result = {
        "command": " ".join(["python benchmarks/dvc_overhead.py", *sys.argv[1:]]),
        "lock_lines": before.count(b"\n"),
        "repeats": args.repeats,
        "lock_update": {
            "plain_s": statistics.median(plain_update),
            "reader_s": statistics.median(reader_update),
            "patched_s": statistics.median(fast_update),
            "ratio": statistics.median(plain_update) / statistics.median(fast_update),
            "ratio_to_reader": statistics.median(reader_update) / statistics.median(fast_update),
        },
        "status": {
            "stages": len(_stage_names()),
            "stale_stages": len(plain_report),
            "plain_s": statistics.median(plain_status),
            "patched_s": statistics.median(fast_status),
            "ratio": statistics.median(plain_status) / statistics.median(fast_status),
        },
        "repro": {
            "stage": args.stage,
            "dvc_s": med["plain"],
            "dvc_cli_s": med["shim"],
            "stage_alone_s": med["alone"],
            "overhead_dvc_s": med["plain"] - med["alone"],
            "overhead_dvc_cli_s": med["shim"] - med["alone"],
            "overhead_ratio": (med["plain"] - med["alone"]) / (med["shim"] - med["alone"]),
        },
        "cpu_count": os.cpu_count(),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
