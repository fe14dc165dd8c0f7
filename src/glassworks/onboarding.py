"""``glassworks add-dataset``: bring your own file into the pipeline with one command.

An edge beside :mod:`glassworks.cli` (it writes ``params.yaml`` and runs ``dvc add``); the
inference itself is the library's (:mod:`glassworks.data.files`). Steps, nothing written until
the file has been read and typed without error:

1. read the file where it lies, as the ``prepare`` stage will (source from the suffix), and
   print what was inferred: rows, modality, task, label distribution, column types, missing
   values, flagged free-text columns, exact duplicates;
2. copy it to ``data/raw/<source>/`` and track that folder with DVC (``dvc add``);
3. write the dataset's entry in ``prepare.datasets`` and wire it into every stage that applies:
   text -> ``embed.datasets`` (Emb-GAM follows), ``explain.models`` (IG against Emb-GAM's exact
   contributions) and, for classes, a ``train_text.runs`` entry
   (the small transformer; explanations and the report follow); tabular ->
   ``train_tabular.datasets`` and ``audit_tabular.datasets`` (INN, baselines, audit, report).

``dvc repro`` (or ``make run``) then runs everything for it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from glassworks.config import FILE_SOURCES, FileDataset, read_yaml
from glassworks.data.schema import Loaded
from glassworks.errors import ConfigError, DataError

SUFFIXES = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".arff": "arff",
}
IMBALANCED = 0.6
"""A majority class above this share gets a class-weighted loss in its text run."""


@dataclass(frozen=True)
class Request:
    """What ``glassworks add-dataset`` was asked (its options)."""

    path: str
    label: str
    text: str | None = None
    task: str | None = None
    name: str | None = None
    source: str | None = None
    id: str | None = None
    group: str | None = None
    given_split: str | None = None
    hub_split: str | None = None
    categorical: Sequence[str] = field(default_factory=tuple)
    numeric: Sequence[str] = field(default_factory=tuple)
    drop_columns: Sequence[str] = field(default_factory=tuple)
    header: bool = True
    delimiter: str | None = None


def guess_source(path: Path, source: str | None = None) -> str:
    """The generic source of ``path``: ``source`` if given, ``hf`` for a folder saved by
    ``datasets``, else from the file suffix."""
    if source is not None:
        if source not in FILE_SOURCES:
            raise ConfigError(f"--source {source!r}: use one of {', '.join(FILE_SOURCES)}")
        return source
    if path.is_dir():
        if (path / "dataset_info.json").is_file() or (path / "dataset_dict.json").is_file():
            return "hf"
        raise DataError(path, "a folder, but not one saved by datasets' save_to_disk")
    suffixes = [s.lower() for s in path.suffixes]
    for suffix in reversed(suffixes):
        if suffix in SUFFIXES:
            return SUFFIXES[suffix]
    known = ", ".join(SUFFIXES)
    raise DataError(path, f"unknown file type {path.suffix!r} (known: {known}); give --source")


def dataset_name(path: Path) -> str:
    """A params/folder-friendly name from a file name: ``My Tickets.csv`` -> ``my-tickets``."""
    stem = path.name.split(".")[0] if not path.is_dir() else path.name
    name = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")
    return name or "dataset"


def make_entry(req: Request, source: str, rel_path: str) -> dict[str, Any]:
    """The ``prepare.datasets`` entry (only keys that differ from the defaults)."""
    entry: dict[str, Any] = {"source": source, "path": rel_path, "label": req.label}
    optional = {
        "text": req.text,
        "task": req.task,
        "id": req.id,
        "group": req.group,
        "given_split": req.given_split,
        "hub_split": req.hub_split,
        "delimiter": req.delimiter,
    }
    entry.update({k: v for k, v in optional.items() if v is not None})
    for key in ("categorical", "numeric", "drop_columns"):
        if getattr(req, key):
            entry[key] = list(getattr(req, key))
    if not req.header:
        entry["header"] = False
    return entry


def inspect(entry: dict[str, Any], path: Path) -> Loaded:
    """Read ``path`` with ``entry`` exactly as the ``prepare`` stage will, writing nothing (the
    file is linked into a throw-away ``raw`` folder)."""
    from glassworks.data import files

    try:
        params = FileDataset.model_validate(entry)
    except Exception as exc:  # pydantic's ValidationError: one line per bad option
        raise ConfigError(f"add-dataset: {exc}") from None
    with tempfile.TemporaryDirectory(prefix="glassworks-add-") as tmp:
        link = Path(tmp) / params.source / str(params.path)
        link.parent.mkdir(parents=True)
        link.symlink_to(path.resolve(), target_is_directory=path.is_dir())
        return files.load(params, Path(tmp))


def describe(loaded: Loaded, console: Console) -> None:
    """Print what was inferred: rows, task, label distribution, column types, duplicates."""
    info = loaded.info
    inferred = info["inferred"]
    frame = loaded.frame if loaded.test is None else None
    n_rows = sum(f.height for f in (loaded.frame, loaded.valid, loaded.test) if f is not None)
    dropped = {k: v for k, v in info.get("dropped", {}).items() if v}
    console.print(
        f"[bold]{info['files'][0]}[/]: {info['source_rows']} rows read, {n_rows} usable"
        + (f" (dropped: {dropped})" if dropped else "")
    )
    console.print(
        f"modality [bold]{loaded.modality}[/], task [bold]{loaded.task}[/] "
        f"({inferred['task_how']}), label column {inferred['label_column']!r}"
    )
    parts = [f for f in (frame, loaded.valid, loaded.test) if f is not None] or [loaded.frame]
    import polars as pl

    labels = pl.concat([p.select("label") for p in parts]).get_column("label")
    if loaded.task == "regression":
        t = info["target"]
        console.print(
            f"target: mean {t['mean']:.4g}, sd {t['std']:.4g}, min {t['min']:.4g}, "
            f"max {t['max']:.4g}"
        )
    else:
        counts = labels.value_counts().sort("label")
        table = Table("class", "rows", "share", title="label distribution")
        for idx, count in counts.iter_rows():
            table.add_row(loaded.label_names[idx], str(count), f"{count / labels.len():.1%}")
        console.print(table)
    if loaded.modality == "tabular":
        table = Table("column", "type", "how", "missing", "distinct", "note", title="features")
        for name, spec in inferred["features"].items():
            table.add_row(
                name,
                spec["type"],
                spec["how"],
                str(spec["missing"]),
                str(spec["distinct"]),
                spec.get("flagged", ""),
            )
        console.print(table)
    else:
        console.print(f"text column {inferred['text_column']!r}")
    console.print(
        f"exact duplicates: {info['duplicate_rows']} rows repeat an earlier row's "
        + ("text" if loaded.modality == "text" else "features")
        + " (kept in one split with it)"
        + (f"; groups from column {inferred['group_column']!r}" if inferred["group_column"] else "")
    )
    if inferred["given_split_column"]:
        console.print(f"splits given by {inferred['given_split_column']!r}")


def wiring(name: str, loaded: Loaded) -> dict[str, Any]:
    """What to add to which params section for ``name`` (dotted section -> entry or list item)."""
    out: dict[str, Any] = {}
    if loaded.modality == "text":
        out["embed.datasets"] = {name: {"ngram_order": 2}}
        out["explain.models"] = {  # IG against Emb-GAM's exact n-gram contributions
            f"embgam-{name}": {
                "kind": "embgam",
                "model": f"data/models/embgam/{name}",
                "dataset": name,
            }
        }
        if loaded.task != "regression":
            run: dict[str, Any] = {"dataset": name, "model": "small"}
            labels = loaded.frame.get_column("label")
            share = labels.value_counts().get_column("count").max() / max(labels.len(), 1)
            if loaded.task == "ordinal":
                run.update(loss="ordinal", select_on="qwk")
            elif share > IMBALANCED:  # type: ignore[operator]
                run["loss"] = "weighted_ce"
            out["train_text.runs"] = {f"{name}-small": run}
    else:
        out["train_tabular.datasets"] = [name]
        out["audit_tabular.datasets"] = [name]
    return out


def edited_params(
    params_path: Path, name: str, entry: dict[str, Any], extra: dict[str, Any]
) -> str:
    """``params.yaml`` with the entry and its wiring added (comments kept), checked to be a valid
    params file before anything is written; a missing section is a :class:`ConfigError`."""
    import io

    from ruamel.yaml import YAML

    from glassworks.config import Params

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 100  # the file's own line length (wrapped flow lists stay wrapped)
    yaml.representer.add_representer(  # keep `null` spelt out, not an empty value
        type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    doc = yaml.load(params_path.read_text(encoding="utf-8"))
    for dotted in ("prepare.datasets", *extra):
        section, key = dotted.split(".")
        if not isinstance(doc.get(section), dict):
            raise ConfigError(f"{params_path}: no {section!r} section to add {name!r} to")
        if doc[section].get(key) is None:  # e.g. `datasets:` left empty
            doc[section][key] = [] if isinstance(extra.get(dotted), list) else {}
    doc["prepare"]["datasets"][name] = entry
    for dotted, value in extra.items():
        section, key = dotted.split(".")
        node = doc[section][key]
        if isinstance(value, dict):
            node.update(value)
        else:
            node.extend(v for v in value if v not in node)
    out = io.StringIO()
    yaml.dump(doc, out)
    try:
        Params.model_validate(_yaml_load(out.getvalue()))
    except Exception as exc:  # pydantic's ValidationError: the entry does not fit the schema
        raise ConfigError(f"{params_path}: the new entry would not validate: {exc}") from None
    return out.getvalue()


def _yaml_load(text: str) -> Any:
    """Plain YAML parse (what the stages read)."""
    import yaml

    return yaml.safe_load(text)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _dvc_add(root: Path, target: str) -> None:
    """``dvc add target``; on failure its pointer file is put back as it was."""
    pointer = root / f"{target}.dvc"
    before = pointer.read_bytes() if pointer.is_file() else None
    out = subprocess.run(
        [sys.executable, "-m", "dvc", "add", "-q", target],
        cwd=root,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        if before is not None:
            pointer.write_bytes(before)
        else:
            pointer.unlink(missing_ok=True)
        raise DataError(target, f"dvc add failed: {out.stderr.strip() or out.stdout.strip()}")


def _copy_in(path: Path, dest: Path) -> bool:
    """Copy the file (or saved dataset folder) to ``dest``; False if it already lies there."""
    if dest.exists():
        if path.resolve() == dest.resolve():
            return False
        raise DataError(dest, "already exists (another dataset's file): rename yours or use --name")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    if path.is_dir():
        shutil.copytree(path, tmp)
    else:
        shutil.copy2(path, tmp)
    os.replace(tmp, dest)
    return True


def add_dataset(req: Request, root: Path, console: Console, *, dvc: bool = True) -> int:
    """Inspect, copy, track and wire one dataset (see the module docstring). 0 on success."""
    if req.path.startswith("hf:"):  # a hub dataset: saved once, then versioned by DVC
        from glassworks.data.files import save_hub

        hub, _, config = req.path[3:].partition(":")
        name = req.name or dataset_name(Path(hub.replace("/", "-")))
        with tempfile.TemporaryDirectory(prefix="glassworks-hub-") as tmp:
            save_hub(hub, config or None, Path(tmp) / name)
            return add_dataset(
                replace(req, path=str(Path(tmp) / name), name=name, source="hf"), root, console,
                dvc=dvc,
            )  # fmt: skip
    path = Path(req.path)
    if not path.exists():
        raise DataError(path, "file not found")
    source = guess_source(path, req.source)
    name = req.name or dataset_name(path)
    params_path = root / "params.yaml"
    current = read_yaml(params_path)
    if name in current.get("prepare", {}).get("datasets", {}):
        raise ConfigError(f"prepare.datasets: {name!r} exists already; choose another --name")
    rel = name if source == "hf" else path.name
    entry = make_entry(req, source, rel)
    loaded = inspect(entry, path)
    describe(loaded, console)
    extra = wiring(name, loaded)
    new_params = edited_params(params_path, name, entry, extra)  # checked before any write
    dest = root / "data" / "raw" / source / rel
    copied = _copy_in(path, dest)
    try:
        if dvc:
            _dvc_add(root, f"data/raw/{source}")
        _write_atomic(params_path, new_params)
    except BaseException:  # nothing half-done: the copy goes again
        if copied:
            shutil.rmtree(dest) if dest.is_dir() else dest.unlink(missing_ok=True)
        raise
    console.print(
        f"added [bold]{name}[/]: data/raw/{source}/{rel}"
        + (f" (tracked by data/raw/{source}.dvc)" if dvc else "")
        + "; params.yaml: prepare.datasets."
        + name
        + "".join(f", {k}" for k in extra)
    )
    if loaded.modality == "text" and loaded.task == "regression":
        console.print("text regression: Emb-GAM only (the text classifiers need classes)")
    console.print(
        f"next: [bold]dvc repro[/] (or make run); commit params.yaml and data/raw/{source}.dvc, "
        "and `dvc push` to share the data"
    )
    return 0
