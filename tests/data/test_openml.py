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
