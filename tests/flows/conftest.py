"""A tiny real DVC project (git + dvc init, four stages) and Prefect's test harness."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

BIN = Path(sys.executable).parent

WRITE = (
    "import yaml; n = yaml.safe_load(open('params.yaml'))['make']['n'];"
    "open('data.txt', 'w').write('x' * n)"
)
COUNT = "import json; json.dump({'chars': len(open('data.txt').read())}, open('count.json', 'w'))"
UPPER = "open('upper.txt', 'w').write(open('data.txt').read().upper())"
CHECK = (
    "import sys, yaml; p = yaml.safe_load(open('params.yaml'))['check'];"
    "sys.exit(p['message']) if p['fail'] else open('ok.txt', 'w').write('ok')"
)

DVC_YAML = {
    "stages": {
        "make": {"cmd": f'python -c "{WRITE}"', "params": ["make.n"], "outs": ["data.txt"]},
        "count": {
            "cmd": f'python -c "{COUNT}"',
            "deps": ["data.txt"],
            "metrics": [{"count.json": {"cache": False}}],
        },
        "upper": {"cmd": f'python -c "{UPPER}"', "deps": ["data.txt"], "outs": ["upper.txt"]},
        "check": {"cmd": f'python -c "{CHECK}"', "params": ["check"], "outs": ["ok.txt"]},
    }
}


def git(root: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}  # fmt: skip
    out = subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


def dvc(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run([str(BIN / "dvc"), *args], cwd=root, env=env, capture_output=True,
                          text=True)  # fmt: skip


def set_params(root: Path, commit: bool = True, **sections: dict) -> None:
    params = yaml.safe_load((root / "params.yaml").read_text())
    for name, values in sections.items():
        params[name].update(values)
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    if commit:
        git(root, "commit", "-qam", "params")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q")
    assert dvc(root, "init", "-q").returncode == 0
    (root / "dvc.yaml").write_text(yaml.safe_dump(DVC_YAML, sort_keys=False))
    (root / "params.yaml").write_text(
        yaml.safe_dump({"make": {"n": 3}, "check": {"fail": False, "message": "boom"}})
    )
    (root / ".gitignore").write_text("data.txt\nupper.txt\nok.txt\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "init")
    return root
