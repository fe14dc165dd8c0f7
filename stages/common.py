"""What every stage shares: arguments, logging, error reporting, provenance for MLflow tags.

Stages are the edge of the system: they may read argv, params.yaml, dvc.yaml and git; the library
(``src/glassworks``) may not. A stage body opens its context with :func:`start` (parse the
arguments, read its typed params) and its MLflow runs with :meth:`Stage.run` (tagged with
provenance), then only calls library functions and writes through ``glassworks.io``::

    def main(argv=None):
        st = start(STAGE, __doc__, argv, load_config, {"--out-dir": "data/x"})
        with st.run(st.config.model_dump()) as run:
            ...

    if __name__ == "__main__":
        exit_with(run_main(main, None))
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import functools
import hashlib
import itertools
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import yaml
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from glassworks import tracking
from glassworks.config import load_tracking, plain_name
from glassworks.errors import GlassworksError, Terminated

log = logging.getLogger("glassworks.stages")
C = TypeVar("C")
_VAR = re.compile(r"\$\{\s*([^}]+?)\s*\}")


def _item_name(name: str) -> str:
    try:
        return plain_name(name)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


ITEM_HELP = {
    "dataset": "dataset name (a prepare.datasets key)",
    "run": "text model run (a train_text.runs key)",
    "model": "model to explain (an explain.models key)",
    "variant": "SST-2 variant (a prepare_sst_variants.variants key)",
}
"""What a stage's item can be: each stage runs per one of these (its ``--<item>`` flag, its MLflow
``glassworks.item_kind`` tag), or once over everything."""


def parser(stage: str, doc: str | None, item: str | None = "dataset") -> argparse.ArgumentParser:
    """An argument parser with the options every stage takes: ``--<item>`` (what one run of the
    stage is for, a :data:`ITEM_HELP` key; none when the stage runs once over everything)."""
    p = argparse.ArgumentParser(prog=f"python -m stages.{stage}", description=doc)
    if item:
        p.add_argument(f"--{item}", required=True, type=_item_name, help=ITEM_HELP[item])
    p.add_argument("--params", type=Path, default=Path("params.yaml"), help="params file")
    p.add_argument("--root", type=Path, default=Path("."), help="repository root")
    return p


def setup_logging() -> None:
    """Rich log lines on stderr (no-op if logging is already set up)."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO,
            format="%(message)s",
            datefmt="[%X]",
            handlers=[RichHandler(show_path=False, rich_tracebacks=True)],
        )
    # interpret: InterpretML logs every EBM boosting round at INFO (megabytes per fit)
    for noisy in ("alembic", "mlflow.store", "urllib3", "interpret"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def best_effort(params: Path) -> bool:
    """``tracking.best_effort`` of the params file: may the stage finish without MLflow?"""
    return load_tracking(params).best_effort


def stage_run(
    args: argparse.Namespace, stage: str, item: str, **kwargs: Any
) -> contextlib.AbstractContextManager[tracking.StageRun]:
    """:func:`glassworks.tracking.stage_run` under ``--root``, best-effort when the params file's
    ``tracking`` section says so."""
    return tracking.stage_run(
        stage, item, root=args.root, best_effort=best_effort(args.params), **kwargs
    )


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated(signum)


def run_main(main: Callable[[Sequence[str] | None], None], argv: Sequence[str] | None) -> int:
    """Run a stage body: bad input ends in one clear error line and exit status 1; Ctrl-C and
    SIGTERM unwind the stage (temp outputs removed, its MLflow run KILLED) and end in one line,
    ``interrupted: <stage> (no half-written output; ...)``, with exit status 130 and 143."""
    setup_logging()
    name = os.environ.get("DVC_STAGE") or main.__module__.rpartition(".")[2]
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        main(argv)
    except GlassworksError as exc:
        log.error("%s", exc)
        return 1
    except (KeyboardInterrupt, Terminated) as exc:
        log.error("interrupted: %s (no half-written output; dvc repro reruns it)", name)
        return 143 if isinstance(exc, Terminated) else 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0


# ---------------------------------------------------------------------------- stage context

Option = str | Mapping[str, Any]
"""A stage option: a default path (``"data/prepared"``) or ``add_argument`` keywords."""


@dataclass
class Stage(Generic[C]):
    """One stage invocation: its parsed arguments, the typed config ``load_config`` read from the
    params file, and the MLflow runs it opens (tagged with provenance, computed once, when the
    first run opens)."""

    name: str
    args: argparse.Namespace
    config: C
    address: str
    item: str
    """What this run of the stage is for: its DVC item (``sst2``, ``sst2-minilm``,
    ``openml-31-inn``), the part of ``address`` after ``@`` (``all`` for a whole-pipeline stage)."""
    item_kind: str
    """What kind of thing ``item`` is: ``dataset``, ``run``, ``model``, ``variant``, with the
    matrix's other flags appended (``dataset-method``, ``variant-arm``)."""

    doc: str | None = None
    """The stage module's docstring: its first paragraph describes the MLflow experiment."""

    @functools.cached_property
    def tags(self) -> dict[str, str]:
        """:func:`provenance` of this stage run (git commit, every dep's DVC hash)."""
        return provenance(self.args.root, self.address)

    @functools.cached_property
    def inputs(self) -> list[tracking.DatasetInput]:
        """:func:`dataset_inputs` of this stage run (its prepared splits, for MLflow)."""
        return dataset_inputs(self.args.root, self.address)

    @property
    def description(self) -> str | None:
        """What the stage does (its docstring's first paragraph) and where its outputs are."""
        if not self.doc:
            return None
        first = " ".join(self.doc.strip().split("\n\n", 1)[0].split())
        return f"{first} DVC address of a run: tag `dvc.stage`; its outputs: `dvc.yaml`."

    def run(
        self,
        params: Mapping[str, Any],
        *,
        run_name: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> contextlib.AbstractContextManager[tracking.StageRun]:
        """An MLflow run of this stage on ``item`` (``run_name`` default ``<stage>@<item>``),
        logging ``params`` and tagged with provenance plus ``tags``."""
        return stage_run(
            self.args,
            self.name,
            self.item,
            item_kind=self.item_kind,
            params=params,
            tags={**self.tags, **(tags or {})},
            run_name=run_name,
            description=self.description,
            inputs=self.inputs,
        )


def start(
    stage: str,
    doc: str | None,
    argv: Sequence[str] | None,
    load_config: Callable[[Path, str], C],
    options: Mapping[str, Option] | None = None,
    *,
    item: str | None = "dataset",
    matrix: Sequence[str] = (),
) -> Stage[C]:
    """Parse ``argv`` (``--<item>``, the common options and ``options``, e.g.
    ``{"--out-dir": "data/x"}``), then read the stage's config with ``load_config(params, key)``.

    The key names the stage run in params.yaml and DVC: the ``--<item>`` value, joined with ``-``
    to the ``matrix`` flags' values for a DVC matrix stage (``--dataset openml-31 --method inn``
    is ``openml-31-inn``). A stage run once over everything (``item=None``) reads
    ``load_config(params, "")`` and logs as item ``all``."""
    p = parser(stage, doc, item)
    for flag in matrix:
        p.add_argument(f"--{flag}", required=True, type=_item_name, help=f"{flag} (matrix axis)")
    for flag, spec in (options or {}).items():
        if isinstance(spec, str):
            p.add_argument(flag, type=Path, default=Path(spec))
        else:
            p.add_argument(flag, **spec)
    args = p.parse_args(argv)
    if item is None:
        return Stage(stage, args, load_config(args.params, ""), stage, "all", "all", doc)
    key = "-".join(str(getattr(args, f)) for f in (item, *matrix))
    kind = "-".join((item, *matrix))
    address = stage_address(stage, key)
    return Stage(stage, args, load_config(args.params, key), address, key, kind, doc)


def log_files(
    run: tracking.StageRun, folder: Path, artifact_folder: str, suffixes: Sequence[str] = ()
) -> None:
    """Log the files of ``folder`` (sorted by name; only those ending in ``suffixes`` if given)
    as artifacts under ``artifact_folder``."""
    for path in sorted(folder.iterdir()):
        if not suffixes or path.suffix in suffixes:
            run.log_artifact(path, artifact_folder)


# ---------------------------------------------------------------------------- provenance


def file_md5(path: Path) -> str:
    """MD5 of a file's bytes (DVC 3's ``md5`` hash); a file unchanged since it was last hashed
    in this process (same size and mtime) is not read again (provenance tags and the MLflow
    dataset inputs hash the same prepared splits)."""
    stat = path.stat()
    return _md5_of(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=4096)
def _md5_of(path: str, size: int, mtime_ns: int) -> str:
    del size, mtime_ns  # the cache key: a rewritten file is hashed again
    h = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _ignored(rel: Path) -> bool:
    return any(part == "__pycache__" for part in rel.parts) or rel.suffix == ".pyc"


def dvc_md5(path: Path) -> str:
    """The hash DVC records in ``dvc.lock`` for a file, or ``<md5>.dir`` for a directory.

    A directory's hash is the MD5 of the JSON list of ``{"md5", "relpath"}`` sorted by path (what
    ``dvc_data`` computes); ``__pycache__`` is skipped as ``.dvcignore`` tells DVC to.
    """
    if path.is_file():
        return file_md5(path)
    if not path.is_dir():
        return "missing"
    entries = []
    for root, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            full = Path(root) / name
            rel = full.relative_to(path)
            if not _ignored(rel):
                entries.append({"md5": file_md5(full), "relpath": rel.as_posix()})
    entries.sort(key=lambda e: e["relpath"])
    return hashlib.md5(json.dumps(entries, sort_keys=True).encode()).hexdigest() + ".dir"


def _lookup(expr: str, context: Mapping[str, Any]) -> Any:
    value: Any = context
    for part in expr.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        else:
            raise KeyError(expr)
    return value


def _interpolate(obj: Any, context: Mapping[str, Any]) -> Any:
    if isinstance(obj, str):
        whole = _VAR.fullmatch(obj)
        if whole:
            return _lookup(whole.group(1), context)
        return _VAR.sub(lambda m: str(_lookup(m.group(1), context)), obj)
    if isinstance(obj, list):
        return [_interpolate(v, context) for v in obj]
    if isinstance(obj, dict):
        return {_interpolate(k, context): _interpolate(v, context) for k, v in obj.items()}
    return obj


def resolve_stage(root: Path, address: str) -> dict[str, Any]:
    """The ``dvc.yaml`` definition of ``stage`` or ``stage@key``, with ``${...}`` filled in
    from params.yaml and the foreach/matrix item (the subset of DVC templating we use)."""
    dvc_yaml = yaml.safe_load((root / "dvc.yaml").read_text())
    params_path = root / "params.yaml"
    params = yaml.safe_load(params_path.read_text()) if params_path.exists() else {}
    name, _, key = address.partition("@")
    spec = dvc_yaml["stages"][name]
    if "foreach" in spec:
        items = _interpolate(spec["foreach"], params)
        item = items[key] if isinstance(items, Mapping) else key
        return _interpolate(spec["do"], {**params, "key": key, "item": item})
    if "matrix" in spec:
        axes = _interpolate(spec["matrix"], params)
        combos = [
            dict(zip(axes, values, strict=True)) for values in itertools.product(*axes.values())
        ]
        # DVC names a matrix entry by its values joined with "-" (values may hold "-" too)
        named = {"-".join(str(v) for v in c.values()): c for c in combos}
        item = named[key]
        body = {k: v for k, v in spec.items() if k != "matrix"}
        return _interpolate(body, {**params, "item": item})
    return _interpolate(spec, params)


def _git(root: Path, *args: str, strip: bool = True) -> str:
    try:
        out = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, check=True, timeout=20
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if strip else out.stdout


def provenance(root: Path, address: str) -> dict[str, str]:
    """MLflow tags tying a run to its code and inputs: git commit and every dep's DVC hash."""
    tags = {"dvc.stage": address}
    commit = _git(root, "rev-parse", "HEAD")
    if commit:
        tags["git.commit"] = commit
        # pipeline outputs git tracks (dvc.lock, metrics, plots, reports) change during
        # `dvc repro`: "dirty" means code or params differ from the commit; outputs are counted
        status = _git(root, "status", "--porcelain", "--untracked-files=no", "-z", strip=False)
        changed = [entry[3:] for entry in status.split("\0") if len(entry) > 3]
        patterns = output_patterns(root)
        outputs = [p for p in changed if is_output(p, patterns)]
        code = [p for p in changed if p not in outputs]
        tags["git.dirty"] = str(bool(code))
        tags["git.changed_outputs"] = str(len(outputs))
        if code:
            tags["git.changed_code"] = ", ".join(code[:20]) + (" ..." if len(code) > 20 else "")
    try:
        spec = resolve_stage(root, address)
    except (FileNotFoundError, KeyError, TypeError, ValueError) as exc:
        log.warning("no dvc.yaml entry for %s (%s): input hashes not tagged", address, exc)
        return tags
    for dep in spec.get("deps", []):
        tags[f"dvc.dep.{dep}"] = dvc_md5(root / dep)
    return tags


def output_patterns(root: Path) -> list[str]:
    """Every path ``dvc.yaml`` declares as a stage output (outs, metrics, plots; ``${...}`` as
    ``*``) plus ``dvc.lock``: what ``dvc repro`` may rewrite."""
    try:
        spec = yaml.safe_load((root / "dvc.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return ["dvc.lock"]
    found = ["dvc.lock"]
    for body in (spec.get("stages") or {}).values():
        body = body.get("do", body) if isinstance(body, dict) else {}
        for key in ("outs", "metrics", "plots"):
            for entry in body.get(key) or []:
                path = next(iter(entry)) if isinstance(entry, dict) else entry
                found.append(re.sub(r"\$\{[^}]+\}", "*", str(path)))
    for entry in spec.get("plots") or []:  # top-level plots name files under y
        if isinstance(entry, dict):
            for plot in entry.values():
                ys = plot.get("y") if isinstance(plot, dict) else None
                found.extend(ys if isinstance(ys, dict) else [])
    return found


def is_output(path: str, patterns: Sequence[str]) -> bool:
    """Whether a repository path is (under) one of the output ``patterns``."""
    return any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(path, f"{p}/*") for p in patterns)


def dataset_inputs(root: Path, address: str) -> list[tracking.DatasetInput]:
    """The prepared splits a stage run reads (its ``data/prepared/<dataset>`` deps): name
    ``<dataset>/<split>``, the split file's DVC hash, its path and ``schema.json``'s columns."""
    try:
        deps = resolve_stage(root, address).get("deps", [])
    except (FileNotFoundError, KeyError, TypeError, ValueError):
        return []
    out = []
    for dep in deps:
        folder = Path(root) / str(dep)
        if not str(dep).startswith("data/prepared/") or not (folder / "schema.json").is_file():
            continue
        try:
            schema = json.loads((folder / "schema.json").read_text())
            columns = {k: str(v.get("dtype", "")) for k, v in schema["columns"].items()}
        except (OSError, ValueError, KeyError, AttributeError):
            continue
        for split in ("train", "valid", "test"):
            file = folder / f"{split}.parquet"
            if file.is_file():
                out.append(
                    tracking.DatasetInput(
                        name=f"{folder.name}/{split}",
                        digest=dvc_md5(file),
                        source=f"{dep}/{split}.parquet",
                        columns=columns,
                        context=split,
                    )  # fmt: skip
                )
    return out


def stage_address(stage: str, dataset: str) -> str:
    """DVC's address of this stage run (``DVC_STAGE`` when DVC runs us, else ``stage@dataset``)."""
    return os.environ.get("DVC_STAGE") or f"{stage}@{dataset}"


def exit_with(code: int) -> None:
    """``sys.exit`` for ``if __name__ == "__main__"`` blocks."""
    sys.exit(code)


@contextlib.contextmanager
def progress_bar(total: int, description: str) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr; yields ``advance(n)`` for library callbacks."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=False) as progress:
        task = progress.add_task(description, total=total, rate="")
        start = time.perf_counter()

        def advance(n: int) -> None:
            progress.advance(task, n)
            done = progress.tasks[0].completed
            rate = done / max(time.perf_counter() - start, 1e-9)
            progress.update(task, rate=f"{rate:,.0f}/s")

        yield advance
