"""A fresh copy of the working tree with ../shared beside it (as CI has), and a runner for
real commands in it (dvc, glassworks) on this venv."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run_in(args: list[str], cwd: Path, *, stdout_only: bool = False, check: bool = True) -> str:
    """Run a command in ``cwd`` with this venv's tools first on PATH; output (stdout+stderr)."""
    env = {
        **os.environ,
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(cwd / "src"),
    }
    out = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    if check:
        assert out.returncode == 0, f"{' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout if stdout_only else out.stdout + out.stderr


def make_clone(base: Path) -> Path:
    """Copy the tracked and new files of the repo to ``base/main`` (a fresh git repo) with
    ``base/shared`` linking to ../shared."""
    (base / "shared").symlink_to(REPO.parent / "shared")
    dest = base / "main"
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for rel in files:
        if (REPO / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, dest / rel)
    for cmd in (
        ["git", "init", "-q"],
        ["git", "add", "-A"],
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"],
    ):
        subprocess.run(cmd, cwd=dest, check=True, capture_output=True)
    return dest


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the working tree (tracked + new files) with ../shared beside it, as CI has."""
    return make_clone(tmp_path_factory.mktemp("clone"))
