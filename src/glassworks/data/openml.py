"""OpenML tabular datasets (Vanschoren et al. 2013), as in the INN paper's CC18 benchmark.

Two paths give the same frame: *offline* from the DVC-tracked ARFF plus OpenML's own metadata JSON
(``<id>_<name>.{arff,description.json,features.json}``), *online* through
``openml.datasets.get_dataset(id)``. Both read the target, ignored and row-id attributes and the
feature types from OpenML's metadata, and hand raw column values to one builder
(:func:`build_frame`). Nominal categories and class indices follow :func:`natural_order`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import arff
import polars as pl

from glassworks.data.read import decode_utf8
from glassworks.data.schema import Loaded, natural_order
from glassworks.errors import DataError


@dataclass(frozen=True)
class OpenMLMeta:
    """What OpenML's metadata says about a dataset."""

    dataset_id: int
    name: str
    version: int
    target: str
    ignore: tuple[str, ...]
    row_id: str | None
    types: dict[str, str]
    """Feature name -> OpenML data type (``numeric``, ``nominal``, ``string``, ``date``)."""
    licence: str = ""
    citation: str = ""


_ARFF_HINT = (
    "for an ARFF without OpenML metadata use the generic source instead "
    "(source: arff in params.yaml, with label: <column>)"
)
_OPENML_ARFF = re.compile(r"^(\d+)_.*\.arff$")

_TYPES = {
    "numeric": "numeric",
    "real": "numeric",
    "integer": "numeric",
    "nominal": "nominal",
    "string": "string",
    "date": "date",
}
"""OpenML / ARFF data type (any case) -> the type :func:`build_frame` understands."""


def feature_type(data_type: Any, source: str | Path, name: str) -> str:
    """Normalise an OpenML data type (``NUMERIC``, ``real``, ``Nominal``...); others are errors."""
    kind = _TYPES.get(str(data_type).strip().lower()) if data_type is not None else None
    if kind is None:
        raise DataError(
            source,
            f"unknown data_type {data_type!r}; accepted (any case): {', '.join(_TYPES)}",
            field=name,
        )
    return kind


def _as_list(value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def _load_json(path: Path, key: str) -> dict[str, Any]:
    try:
        data = json.loads(decode_utf8(path.read_bytes(), path))
        return data[key]
    except FileNotFoundError:
        raise DataError(path, "metadata file not found") from None
    except json.JSONDecodeError as exc:
        raise DataError(path, f"invalid JSON: {exc.msg}", line=exc.lineno) from None
    except (KeyError, TypeError):
        raise DataError(path, f"not an OpenML answer (no {key!r})") from None


def meta_from_json(description_path: Path, features_path: Path) -> OpenMLMeta:
    """Read OpenML's ``data_set_description`` and ``data_features`` answers."""
    desc = _load_json(description_path, "data_set_description")
    feats = _load_json(features_path, "data_features")
    feats = feats.get("feature", []) if isinstance(feats, dict) else None
    if not isinstance(desc, dict):
        raise DataError(description_path, "data_set_description is not an object")
    if not isinstance(feats, list):
        raise DataError(features_path, "data_features has no 'feature' list")
    target = desc.get("default_target_attribute")
    if not target:
        raise DataError(
            description_path, "no default_target_attribute", field="default_target_attribute"
        )
    types: dict[str, str] = {}
    for i, feat in enumerate(feats):
        if not isinstance(feat, dict) or not feat.get("name"):
            raise DataError(features_path, f"feature {i} has no name", field="feature")
        name = str(feat["name"])
        types[name] = feature_type(feat.get("data_type"), features_path, name)
    if str(target) not in types:
        raise DataError(
            features_path,
            f"target {str(target)!r} (default_target_attribute in {description_path.name}) "
            f"is not listed in {features_path.name}",
            field=str(target),
        )
    return OpenMLMeta(
        dataset_id=int(desc["id"]),
        name=str(desc["name"]),
        version=int(desc.get("version", 1)),
        target=str(target),
        ignore=_as_list(desc.get("ignore_attribute")),
        row_id=desc.get("row_id_attribute") or None,
        types=types,
        licence=str(desc.get("licence", "")),
        citation=str(desc.get("citation", "")),
    )


def find_files(folder: Path, dataset_id: int) -> tuple[Path, Path, Path]:
    """The ARFF, description and features files of ``dataset_id`` under ``folder``."""
    arffs = sorted(folder.glob(f"{dataset_id}_*.arff"))
    if not arffs:
        names = sorted(p.name for p in folder.glob("*.arff"))
        known = sorted({int(m[1]) for n in names if (m := _OPENML_ARFF.match(n))})
        other = [n for n in names if not _OPENML_ARFF.match(n)]
        others = f"; ARFF files here without an OpenML id: {', '.join(other)}" if other else ""
        raise DataError(
            folder,
            f"unknown OpenML id {dataset_id}: no '{dataset_id}_*.arff' here "
            f"(available offline: {', '.join(map(str, known)) or 'none'}{others}); "
            f"set online: true to download it, or {_ARFF_HINT}",
        )
    stem = arffs[0].name[: -len(".arff")]
    desc = folder / f"{stem}.description.json"
    feats = folder / f"{stem}.features.json"
    api = "https://www.openml.org/api/v1/json/data"
    for path, what, url in (
        (desc, "data_set_description", f"{api}/{dataset_id}"),
        (feats, "data_features", f"{api}/features/{dataset_id}"),
    ):
        if not path.is_file():
            raise DataError(
                path,
                f"OpenML metadata file missing: {arffs[0].name} needs OpenML's {what} answer "
                f"for id {dataset_id} next to it, saved as {path.name} from {url}; {_ARFF_HINT}",
            )
    return arffs[0], desc, feats


def read_arff(path: Path) -> tuple[list[str], list[list[Any]]]:
    """Parse an ARFF file into attribute names and rows; errors name the line."""
    if not path.is_file():
        raise DataError(path, "file not found")
    text = decode_utf8(path.read_bytes(), path)
    if not text.strip():
        raise DataError(path, "file is empty")
    try:
        parsed = arff.loads(text)
    except arff.ArffException as exc:
        raise DataError(path, f"bad ARFF: {exc}", line=getattr(exc, "line", None)) from None
    names = [name for name, _ in parsed["attributes"]]
    return names, parsed["data"]


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def build_frame(
    columns: dict[str, Sequence[Any]], meta: OpenMLMeta, source: str
) -> tuple[pl.DataFrame, list[str], dict[str, Any]]:
    """Turn raw column values into the tabular schema: typed features plus ``label``.

    Rows whose target is missing are dropped (counted in the returned info).
    """
    for name in meta.types:
        if name not in columns:
            raise DataError(source, "attribute listed in OpenML's metadata is missing", field=name)
    target_kind = meta.types.get(meta.target)
    if target_kind is None:
        raise DataError(
            source, f"target {meta.target!r} is not in OpenML's feature list", field=meta.target
        )
    if target_kind != "nominal":
        raise DataError(
            source,
            f"target {meta.target!r} is {target_kind} in OpenML's metadata; only nominal "
            "(classification) targets are supported here",
            field=meta.target,
        )
    drop = {meta.target, *meta.ignore, *([meta.row_id] if meta.row_id else [])}
    target_raw = list(columns[meta.target])
    keep_rows = [i for i, v in enumerate(target_raw) if not _is_missing(v)]
    out: dict[str, pl.Series] = {}
    feature_info: dict[str, Any] = {}
    for name, kind in meta.types.items():
        if name in drop:
            continue
        if name == "label":
            raise DataError(
                source, "feature named 'label' clashes with the label column", field=name
            )
        values = [columns[name][i] for i in keep_rows]
        if kind == "numeric":
            try:
                series = pl.Series(
                    name, [None if _is_missing(v) else float(v) for v in values], dtype=pl.Float64
                )
            except (TypeError, ValueError) as exc:
                raise DataError(
                    source, f"non-numeric value in a numeric feature: {exc}", field=name
                ) from None
            infinite = series.is_infinite()
            if infinite.any():  # NaN is a missing value (imputed); infinity has no meaning here
                row = keep_rows[int(infinite.arg_max())]
                raise DataError(source, f"infinite value in data row {row + 1}", field=name)
            feature_info[name] = {"type": "numeric"}
        elif kind == "nominal":
            strings = [None if _is_missing(v) else str(v) for v in values]
            categories = natural_order(v for v in strings if v is not None)
            series = pl.Series(name, strings, dtype=pl.Enum(categories))
            feature_info[name] = {"type": "nominal", "categories": categories}
        else:
            series = pl.Series(
                name, [None if _is_missing(v) else str(v) for v in values], dtype=pl.String
            )
            feature_info[name] = {"type": kind}
        out[name] = series
    targets = [target_raw[i] for i in keep_rows]
    label_names = natural_order(str(v) for v in targets)
    index = {name: i for i, name in enumerate(label_names)}
    out["label"] = pl.Series("label", [index[str(v)] for v in targets], dtype=pl.Int64)
    info = {
        "openml_id": meta.dataset_id,
        "openml_name": meta.name,
        "openml_version": meta.version,
        "target": meta.target,
        "features": feature_info,
        "dropped": {"missing_target": len(target_raw) - len(keep_rows)},
        "licence": meta.licence,
        "citation": meta.citation,
    }
    return pl.DataFrame(out), label_names, info


def load_offline(folder: Path, dataset_id: int) -> tuple[pl.DataFrame, list[str], dict[str, Any]]:
    """Read ``dataset_id`` from the DVC-tracked ARFF and metadata in ``folder``."""
    arff_path, desc_path, feat_path = find_files(Path(folder), dataset_id)
    meta = meta_from_json(desc_path, feat_path)
    names, rows = read_arff(arff_path)
    for name in meta.types:
        if name not in names:
            raise DataError(
                arff_path, "attribute in OpenML's metadata is not in the ARFF header", field=name
            )
    columns = {name: [row[j] for row in rows] for j, name in enumerate(names)}
    frame, labels, info = build_frame(columns, meta, str(arff_path))
    info["files"] = [f"openml/{p.name}" for p in (arff_path, desc_path, feat_path)]
    return frame, labels, info


def load_online(dataset_id: int) -> tuple[pl.DataFrame, list[str], dict[str, Any]]:
    """Download ``dataset_id`` through openml-python (needs a network)."""
    import openml  # imported lazily: slow, and only real users with a network need it

    try:
        ds = openml.datasets.get_dataset(
            dataset_id,
            download_data=True,
            download_qualities=False,
            download_features_meta_data=True,
        )
    except Exception as exc:  # openml raises server, network and cache errors alike
        raise DataError(f"openml:{dataset_id}", f"could not fetch OpenML dataset: {exc}") from None
    meta = OpenMLMeta(
        dataset_id=int(ds.dataset_id),
        name=str(ds.name),
        version=int(ds.version),
        target=str(ds.default_target_attribute),
        ignore=_as_list(ds.ignore_attribute),
        row_id=ds.row_id_attribute or None,
        types={
            f.name: feature_type(f.data_type, f"openml:{dataset_id}", f.name)
            for f in ds.features.values()
        },
        licence=str(ds.licence or ""),
        citation=str(ds.citation or ""),
    )
    df, *_ = ds.get_data(dataset_format="dataframe")
    columns = {
        name: df[name].astype(object).where(df[name].notna(), None).tolist() for name in df.columns
    }
    frame, labels, info = build_frame(columns, meta, f"openml:{dataset_id}")
    info["files"] = [f"https://www.openml.org/d/{dataset_id}"]
    return frame, labels, info


def load(
    raw_dir: Path, dataset_id: int, *, online: bool = False, drop_columns: Sequence[str] = ()
) -> Loaded:
    """Load an OpenML dataset, offline from ``raw_dir/openml`` unless ``online``; the feature
    columns named in ``drop_columns`` are removed (and listed in the schema's info)."""
    if online:
        frame, labels, info = load_online(dataset_id)
    else:
        frame, labels, info = load_offline(Path(raw_dir) / "openml", dataset_id)
    unknown = [c for c in drop_columns if c not in frame.columns or c == "label"]
    if unknown:
        raise DataError(
            f"OpenML dataset {dataset_id}",
            f"drop_columns names {unknown}, which are not feature columns",
            field="drop_columns",
        )
    if drop_columns:
        frame = frame.drop(list(drop_columns))
        info = {**info, "dropped_columns": list(drop_columns)}
    columns = {
        name: f"OpenML {spec['type']} feature"
        for name, spec in info["features"].items()
        if name not in drop_columns
    }
    columns["label"] = f"class index of {info['target']!r} (label_names gives the order)"
    return Loaded(
        frame=frame,
        modality="tabular",
        task="binary" if len(labels) == 2 else "multiclass",
        label_names=labels,
        columns=columns,
        info=info,
    )
