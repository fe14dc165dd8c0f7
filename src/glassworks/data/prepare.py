"""Load any configured dataset, split it and return a :class:`PreparedDataset`."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from glassworks.config import (
    AmazonDataset,
    DatasetParams,
    EssaysDataset,
    FileDataset,
    OpenMLDataset,
    SplitParams,
    Sst2Dataset,
)
from glassworks.data import amazon, essays, files, openml, sst2
from glassworks.data.schema import SPLITS, Loaded, PreparedDataset
from glassworks.data.split import (
    DUP_GROUP,
    drop_duplicate_groups,
    drop_straddling,
    stratified_split,
    undersample,
    with_duplicate_groups,
)
from glassworks.errors import DataError
from glassworks.io import DAMAGED, atomic_dir, read_json, read_parquet, write_json


def load_source(params: DatasetParams, raw_dir: Path) -> Loaded:
    """Read one dataset's raw files (under ``raw_dir/<source>/``)."""
    match params:
        case Sst2Dataset():
            return sst2.load(raw_dir)
        case AmazonDataset():
            return amazon.load(raw_dir, params.category)
        case EssaysDataset():
            return essays.load(
                raw_dir, n_bins=params.n_bins, binning=params.binning, essay_sets=params.essay_sets
            )
        case OpenMLDataset():
            return openml.load(
                raw_dir, params.openml_id, online=params.online, drop_columns=params.drop_columns
            )
        case FileDataset():
            return files.load(params, raw_dir)
    raise TypeError(f"unknown dataset parameters {type(params).__name__}")


def prepare_dataset(
    name: str, params: DatasetParams, split: SplitParams, raw_dir: Path
) -> PreparedDataset:
    """Load, split (stratified, seeded: test, then validation out of train) and undersample."""
    loaded = load_source(params, Path(raw_dir))
    if params.undersample and loaded.task == "regression":
        raise DataError(name, "undersample needs classes; this target is a regression one")
    n_dup = loaded.info.get("duplicate_rows")
    if loaded.modality == "tabular" and loaded.group is None:
        # exact-duplicate feature rows must not straddle splits
        frame, n_dup = with_duplicate_groups(loaded.frame)
        loaded = replace(loaded, frame=frame, group=DUP_GROUP)
    if loaded.test is None:
        rest, test = stratified_split(
            loaded.frame,
            loaded.stratify,
            split.test_size,
            split.seed,
            group=loaded.group,
            within=loaded.within,
        )
    else:
        rest, test = loaded.frame, loaded.test
    if loaded.valid is None:
        train, valid = stratified_split(
            rest,
            loaded.stratify,
            split.valid_size,
            split.seed + 1,
            group=loaded.group,
            within=loaded.within,
        )
    else:
        train, valid = rest, loaded.valid
    splits = {"train": train, "valid": valid, "test": test}
    info = dict(loaded.info)
    if loaded.group == DUP_GROUP:
        if loaded.test is not None or loaded.valid is not None:
            # given splits cannot be redrawn: a later split's rows that repeat an earlier one's
            # (same text / features, or same group) are dropped and counted
            splits, removed = drop_straddling(splits, DUP_GROUP)
            info["dropped"] = {**info.get("dropped", {}), **removed}
            emptied = [k for k, v in splits.items() if v.height == 0]
            if emptied:
                raise DataError(
                    name,
                    f"the given {' and '.join(emptied)} split(s) hold only repeats of earlier "
                    "splits' rows (same text or features, or the same group): nothing is left "
                    "to evaluate on; check the group column or the given splits",
                )
        splits, extra = drop_duplicate_groups(splits)
        info.update(extra)
        if "duplicate_rows" not in info:  # a built-in tabular source (files.py counts its own)
            info["duplicate_feature_rows"] = n_dup
    if loaded.finalize is not None:
        splits, extra = loaded.finalize(splits)
        info.update(extra)
    if params.undersample:
        before = splits["train"].height
        splits["train"] = undersample(splits["train"], "label", split.seed + 2)
        info["dropped"] = {
            **info.get("dropped", {}),
            "undersampled_train": before - splits["train"].height,
        }
    info["split"] = {
        **split.model_dump(),
        "stratify": loaded.stratify,
        "group": loaded.group,
        "within": loaded.within,
        "undersample_train": params.undersample,
    }
    return PreparedDataset(
        name=name,
        source=params.source,
        modality=loaded.modality,
        task=loaded.task,
        label_names=loaded.label_names,
        splits=splits,
        columns=loaded.columns,
        info=info,
    )


def write_prepared(dataset: PreparedDataset, out_dir: Path) -> None:
    """Write ``{train,valid,test}.parquet`` and ``schema.json`` into ``out_dir`` atomically."""
    with atomic_dir(out_dir) as tmp:
        for split_name, frame in dataset.splits.items():
            frame.write_parquet(tmp / f"{split_name}.parquet")
        write_json(tmp / "schema.json", dataset.schema())


def read_prepared(folder: Path) -> PreparedDataset:
    """Read what :func:`write_prepared` wrote (a ``prepare`` stage output)."""
    folder = Path(folder)
    schema_path = folder / "schema.json"
    if not schema_path.is_file():
        raise DataError(folder, "no schema.json: run the prepare stage first (dvc repro prepare)")
    schema = read_json(schema_path)
    need = ("name", "source", "modality", "task", "label_names", "columns")
    if not isinstance(schema, dict) or any(k not in schema for k in need):
        raise DataError(schema_path, f"not a prepared-data schema (needs {need}); {DAMAGED}")
    splits = {name: read_parquet(folder / f"{name}.parquet") for name in SPLITS}
    known = {
        "name",
        "source",
        "modality",
        "task",
        "label",
        "label_names",
        "n_classes",
        "columns",
        "splits",
    }
    try:
        columns = {k: v["description"] for k, v in schema["columns"].items()}
    except (AttributeError, KeyError, TypeError):
        raise DataError(schema_path, f"'columns' is not a column table; {DAMAGED}") from None
    return PreparedDataset(
        name=schema["name"],
        source=schema["source"],
        modality=schema["modality"],
        task=schema["task"],
        label_names=schema["label_names"],
        splits=splits,
        columns=columns,
        info={k: v for k, v in schema.items() if k not in known},
    )
