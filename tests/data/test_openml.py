import json
import sys
import types
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

from glassworks.data import openml
from glassworks.errors import DataError


def test_credit_g_offline(raw_dir: Path) -> None:
    loaded = openml.load(raw_dir, 31)
    assert loaded.frame.shape == (1000, 21)  # 20 features + label
    assert loaded.label_names == ["bad", "good"]
    assert loaded.frame["label"].sum() == 700
    assert loaded.frame.schema["duration"] == pl.Float64
    assert loaded.frame.schema["checking_status"] == pl.Enum(
        ["0<=X<200", "<0", ">=200", "no checking"]
    )
    assert loaded.info["features"]["purpose"]["type"] == "nominal"
    assert loaded.task == "binary"


@pytest.mark.slow
def test_adult_missing_values(raw_dir: Path) -> None:
    loaded = openml.load(raw_dir, 1590)
    assert loaded.frame.height == 48_842
    assert loaded.frame["workclass"].null_count() > 0  # '?' -> null
    assert loaded.label_names == ["<=50K", ">50K"]


def test_multiclass_natural_order(raw_dir: Path) -> None:
    loaded = openml.load(raw_dir, 1466)
    assert loaded.label_names == [str(i) for i in range(1, 11)]
    assert loaded.task == "multiclass"
    assert loaded.frame.shape == (2126, 36)


def test_unknown_id_lists_available(raw_dir: Path) -> None:
    with pytest.raises(DataError, match=r"unknown OpenML id 999.*available offline: 31, 37, 151"):
        openml.load(raw_dir, 999)


def _copy_dataset(raw_dir: Path, tmp_path: Path, stem: str) -> Path:
    folder = tmp_path / "openml"
    folder.mkdir()
    for suffix in (".arff", ".description.json", ".features.json"):
        (folder / f"{stem}{suffix}").write_bytes(
            (raw_dir / "openml" / f"{stem}{suffix}").read_bytes()
        )
    return folder / f"{stem}.arff"


def test_bad_arff_names_line(raw_dir: Path, tmp_path: Path) -> None:
    arff_path = _copy_dataset(raw_dir, tmp_path, "37_diabetes")
    lines = arff_path.read_text().splitlines()
    i = next(k for k, line in enumerate(lines) if line.lower().startswith("@data")) + 3
    lines[i] = "6,148,72,oops,0,33.6,0.627,50,tested_positive"
    arff_path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"37_diabetes\.arff.*bad ARFF"):
        openml.load(tmp_path, 37)


def test_empty_arff_and_bad_metadata(raw_dir: Path, tmp_path: Path) -> None:
    arff_path = _copy_dataset(raw_dir, tmp_path, "37_diabetes")
    desc = arff_path.with_name("37_diabetes.description.json")
    desc.write_text('{"data_set_description": ')
    with pytest.raises(DataError, match=r"description\.json.*invalid JSON"):
        openml.load(tmp_path, 37)
    desc.write_bytes((raw_dir / "openml" / desc.name).read_bytes())
    arff_path.write_text("")
    with pytest.raises(DataError, match=r"37_diabetes\.arff: file is empty"):
        openml.load(tmp_path, 37)


_TINY_ARFF = """@RELATION kc1
@ATTRIBUTE loc NUMERIC
@ATTRIBUTE kind {a,b}
@ATTRIBUTE defects {false,true}
@DATA
1.5,a,false
2,b,true
3,a,true
"""


def _tiny_dataset(
    tmp_path: Path,
    types: dict[str, str] | None = None,
    target: str = "defects",
    stem: str = "1_kc1",
) -> Path:
    """A three-row OpenML dataset (ARFF + metadata JSON) under ``tmp_path/openml``; the ARFF."""
    folder = tmp_path / "openml"
    folder.mkdir(exist_ok=True)
    if types is None:
        types = {"loc": "numeric", "kind": "nominal", "defects": "nominal"}
    desc = {"id": "1", "name": "kc1", "version": "1", "default_target_attribute": target}
    feats = [{"index": str(i), "name": n, "data_type": t} for i, (n, t) in enumerate(types.items())]
    (folder / f"{stem}.description.json").write_text(json.dumps({"data_set_description": desc}))
    (folder / f"{stem}.features.json").write_text(json.dumps({"data_features": {"feature": feats}}))
    arff_path = folder / f"{stem}.arff"
    arff_path.write_text(_TINY_ARFF)
    return arff_path


def test_tiny_dataset_loads(tmp_path: Path) -> None:
    _tiny_dataset(tmp_path)
    loaded = openml.load(tmp_path, 1)
    assert loaded.frame.columns == ["loc", "kind", "label"]
    assert loaded.label_names == ["false", "true"]
    assert loaded.frame["label"].to_list() == [0, 1, 1]


def test_unknown_id_ignores_arff_without_openml_id(tmp_path: Path) -> None:
    _tiny_dataset(tmp_path)
    (tmp_path / "openml" / "kc1.arff").write_text(_TINY_ARFF)
    (tmp_path / "openml" / "12x_kc1.arff").write_text(_TINY_ARFF)
    with pytest.raises(DataError) as err:
        openml.load(tmp_path, 999)
    msg = str(err.value)
    assert "unknown OpenML id 999" in msg
    assert "available offline: 1;" in msg
    assert "without an OpenML id: 12x_kc1.arff, kc1.arff" in msg
    assert "source: arff" in msg
    assert "label: <column>" in msg


@pytest.mark.parametrize(
    ("suffix", "answer", "url"),
    [
        ("description", "data_set_description", "https://www.openml.org/api/v1/json/data/1"),
        ("features", "data_features", "https://www.openml.org/api/v1/json/data/features/1"),
    ],
)
def test_missing_metadata_names_the_file(
    tmp_path: Path, suffix: str, answer: str, url: str
) -> None:
    arff_path = _tiny_dataset(tmp_path)
    arff_path.with_name(f"1_kc1.{suffix}.json").unlink()
    with pytest.raises(DataError) as err:
        openml.load(tmp_path, 1)
    msg = str(err.value)
    assert msg.startswith(str(arff_path.with_name(f"1_kc1.{suffix}.json")))
    assert "OpenML metadata file missing" in msg
    assert answer in msg
    assert url in msg
    assert "source: arff" in msg


@pytest.mark.parametrize("spelling", ["NUMERIC", "Numeric", "REAL", "integer"])
def test_data_type_any_case(tmp_path: Path, spelling: str) -> None:
    _tiny_dataset(tmp_path, {"loc": spelling, "kind": "NOMINAL", "defects": "Nominal"})
    loaded = openml.load(tmp_path, 1)
    assert loaded.frame.schema["loc"] == pl.Float64
    assert loaded.frame.schema["kind"] == pl.Enum(["a", "b"])
    assert loaded.info["features"]["loc"] == {"type": "numeric"}
    assert loaded.label_names == ["false", "true"]


def test_unknown_data_type_names_file_and_feature(tmp_path: Path) -> None:
    _tiny_dataset(tmp_path, {"loc": "float", "kind": "nominal", "defects": "nominal"})
    with pytest.raises(
        DataError,
        match=r"1_kc1\.features\.json, field 'loc': unknown data_type 'float'; "
        r"accepted \(any case\): numeric, real, integer, nominal, string, date",
    ):
        openml.load(tmp_path, 1)


def test_target_missing_from_features(tmp_path: Path) -> None:
    _tiny_dataset(tmp_path, {"loc": "numeric", "kind": "nominal"})
    with pytest.raises(
        DataError,
        match=r"1_kc1\.features\.json, field 'defects': target 'defects' "
        r"\(default_target_attribute in 1_kc1\.description\.json\) "
        r"is not listed in 1_kc1\.features\.json",
    ):
        openml.load(tmp_path, 1)


def test_numeric_target_is_a_clear_error(tmp_path: Path) -> None:
    """Regression targets are not supported by this loader; the error names file and column."""
    _tiny_dataset(tmp_path, {"loc": "numeric", "kind": "nominal", "defects": "nominal"}, "loc")
    with pytest.raises(
        DataError,
        match=r"1_kc1\.arff, field 'loc': target 'loc' is numeric .*only nominal "
        r"\(classification\) targets",
    ):
        openml.load(tmp_path, 1)
    _tiny_dataset(tmp_path, {"loc": "REAL", "kind": "nominal", "defects": "nominal"}, "loc")
    with pytest.raises(DataError, match=r"field 'loc': target 'loc' is numeric"):
        openml.load(tmp_path, 1)


def test_online_path_gives_the_same_frame(raw_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The online branch (openml-python) and the offline ARFF branch build identical frames.

    openml-python needs a network, so a tiny stand-in serves OpenML's own files for id 31 the
    way ``get_dataset`` does: metadata objects and a pandas frame with ARFF-ordered categoricals.
    """
    folder = raw_dir / "openml"
    arff_path, desc_path, feat_path = openml.find_files(folder, 31)
    meta = openml.meta_from_json(desc_path, feat_path)
    names, rows = openml.read_arff(arff_path)
    df = pd.DataFrame(rows, columns=names)
    for name, kind in meta.types.items():
        if kind == "nominal":
            df[name] = df[name].astype("category")

    feature = types.SimpleNamespace
    fake_ds = types.SimpleNamespace(
        dataset_id=31,
        name=meta.name,
        version=meta.version,
        default_target_attribute=meta.target,
        ignore_attribute=None,
        row_id_attribute=None,
        features={i: feature(name=n, data_type=t) for i, (n, t) in enumerate(meta.types.items())},
        licence=meta.licence,
        citation=meta.citation,
        get_data=lambda dataset_format: (df, None, None, None),
    )
    fake = types.ModuleType("openml")
    fake.datasets = types.SimpleNamespace(get_dataset=lambda *a, **k: fake_ds)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "openml", fake)

    online = openml.load(Path("/nonexistent"), 31, online=True)
    offline = openml.load(raw_dir, 31)
    assert online.frame.equals(offline.frame)
    assert online.label_names == offline.label_names


def test_drop_columns_removes_label_copies(raw_dir: Path) -> None:
    from glassworks.experiments.tabular import leaky_columns

    leaks = [f"V{i}" for i in range(26, 36)]
    full = openml.load(raw_dir, 1466)
    assert sorted(leaky_columns(full.frame), key=lambda c: int(c[1:])) == leaks
    clean = openml.load(raw_dir, 1466, drop_columns=leaks)
    assert not set(leaks) & set(clean.frame.columns)
    assert not set(leaks) & set(clean.columns)
    assert clean.info["dropped_columns"] == leaks
    assert leaky_columns(clean.frame) == []
    with pytest.raises(DataError, match=r"drop_columns names \['V99'\]"):
        openml.load(raw_dir, 1466, drop_columns=["V99"])


def test_duplicate_feature_rows_never_straddle_splits() -> None:
    import polars as pl

    from glassworks.data.split import drop_duplicate_groups, stratified_split, with_duplicate_groups

    frame = pl.DataFrame(
        {"a": [1.0, 1.0, 2.0, None, None, 3.0] * 20, "b": ["x", "x", "y", "z", "z", "y"] * 20,
         "label": [0, 1, 0, 1, 1, 0] * 20}
    )  # fmt: skip
    grouped, n_dup = with_duplicate_groups(frame)
    assert n_dup == 120 - 4  # four distinct feature rows (labels ignored, nulls equal)
    kept, held = stratified_split(grouped, "label", 0.3, 0, group="_duplicate_group")
    splits, info = drop_duplicate_groups({"train": kept, "test": held})
    assert info["leakage"]["duplicate_groups_across_splits"] == 0
    assert splits["train"].columns == ["a", "b", "label"]
    assert set(map(tuple, splits["train"].rows())).isdisjoint({r[:2] + (None,) for r in []})
    kept_feats = {r[:2] for r in splits["train"].rows()}
    held_feats = {r[:2] for r in splits["test"].rows()}
    assert kept_feats.isdisjoint(held_feats)
