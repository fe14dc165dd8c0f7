"""Which stage outputs a change altered: every stage in the working ``dvc.lock`` compared with
the same stage in ``dvc.lock`` at a git revision (what "behaviour preserved after ``dvc repro``"
is checked with).

    python benchmarks/lock_diff.py --rev HEAD

Prints the stages rerun with identical outputs, and per changed stage the outputs whose hash
differs (for a directory output, the files inside it that differ, when DVC's cache still holds
the old listing).
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]


def _outs(stage: dict[str, Any]) -> dict[str, str]:
    return {o["path"]: o.get("md5") or o.get("hash", "") for o in stage.get("outs", [])}


def _listing(md5: str) -> dict[str, str] | None:
    """Files and hashes of a directory output from DVC's cache (None when not cached)."""
    h = md5.removesuffix(".dir")
    path = REPO / ".dvc" / "cache" / "files" / "md5" / h[:2] / f"{h[2:]}.dir"
    if not path.is_file():
        return None
    return {e["relpath"]: e["md5"] for e in json.loads(path.read_text())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rev", default="HEAD", help="git revision to compare with")
    args = ap.parse_args()
    shown = subprocess.run(
        ["git", "show", f"{args.rev}:dvc.lock"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    old = yaml.safe_load(shown)["stages"]
    new = yaml.safe_load((REPO / "dvc.lock").read_text())["stages"]
    same = []
    for name, stage in new.items():
        before = old.get(name)
        if before is None:
            print(f"{name}: new stage")
            continue
        if stage == before:
            continue  # not rerun
        a, b = _outs(before), _outs(stage)
        changed = [p for p in b if a.get(p) != b[p]]
        if not changed:
            same.append(name)
            continue
        for p in changed:
            la, lb = (
                (_listing(a.get(p, "")), _listing(b[p])) if b[p].endswith(".dir") else (None, None)
            )
            files = sorted(
                k for k in {*(la or {}), *(lb or {})} if (la or {}).get(k) != (lb or {}).get(k)
            )
            inside = f" ({', '.join(files)})" if la is not None and lb is not None else ""
            print(f"{name}: {p} changed{inside}")
    print(f"rerun with identical outputs ({len(same)}): {' '.join(same)}")


if __name__ == "__main__":
    main()
