"""Generic sources (csv/tsv/jsonl/parquet/arff/hf): same frame whatever the format, inference
with overrides, leak-free splits, and one clear error per kind of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from glassworks.config import FileDataset, SplitParams
from glassworks.data import files, openml, prepare_dataset
from glassworks.data.split import DUP_GROUP
from glassworks.errors import DataError

SPLIT = SplitParams(seed=0, test_size=0.2, valid_size=0.1)


def _write(raw: Path, source: str, name: str, content: str | bytes) -> Path:
    path = raw / source / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def diabetes(raw_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """OpenML 37 (the real ARFF from ../shared) as every generic format."""
    raw = tmp_path_factory.mktemp("own")
    arff = raw_dir / "openml" / "37_diabetes.arff"
    _write(raw, "arff", "diabetes.arff", arff.read_bytes())
    frame = files.read_arff_frame(raw / "arff" / "diabetes.arff").with_columns(
        pl.col("class").cast(pl.String)
    )
    (raw / "csv").mkdir()
    frame.write_csv(raw / "csv" / "diabetes.csv")
    (raw / "tsv").mkdir()
    frame.write_csv(raw / "tsv" / "diabetes.tsv", separator="\t")
    (raw / "jsonl").mkdir()
    frame.write_ndjson(raw / "jsonl" / "diabetes.jsonl")
    (raw / "parquet").mkdir()
    frame.write_parquet(raw / "parquet" / "diabetes.parquet")
    return raw


@pytest.mark.parametrize("source", ["csv", "tsv", "jsonl", "parquet"])
def test_every_format_gives_the_arff_frame(diabetes: Path, source: str) -> None:
    ref = prepare_dataset(
        "d", FileDataset(source="arff", path="diabetes.arff", label="class"), SPLIT, diabetes
    )
    ds = prepare_dataset(
        "d", FileDataset(source=source, path=f"diabetes.{source}", label="class"), SPLIT, diabetes
    )
    assert ds.task == ref.task == "binary"
    assert ds.label_names == ref.label_names == ["tested_negative", "tested_positive"]
    for name in ("train", "valid", "test"):
        assert ds.splits[name].equals(ref.splits[name]), name


def test_arff_without_metadata_equals_the_openml_loader(diabetes: Path, raw_dir: Path) -> None:
    """Types from the ARFF header alone give the frame OpenML's metadata gives."""
    generic = files.load(FileDataset(source="arff", path="diabetes.arff", label="class"), diabetes)
    builtin = openml.load(raw_dir, 37)
    frame = generic.frame.drop(DUP_GROUP)
    assert frame.equals(builtin.frame)
    assert generic.label_names == builtin.label_names


def test_nominal_arff_features_are_categorical(raw_dir: Path, tmp_path: Path) -> None:
    arff = raw_dir / "openml" / "31_credit-g.arff"
    _write(tmp_path, "arff", "credit.arff", arff.read_bytes())
    loaded = files.load(FileDataset(source="arff", path="credit.arff", label="class"), tmp_path)
    builtin = openml.load(raw_dir, 31)
    assert loaded.frame.drop(DUP_GROUP).equals(builtin.frame)
    assert loaded.info["inferred"]["features"]["checking_status"]["type"] == "categorical"


def test_text_csv_duplicates_and_groups_never_straddle(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = ["id,review,stars,user"]
    for i in range(400):
        text = f"text {i % 300} is {'good' if i % 2 else 'bad'}"  # 100 exact repeats
        rows.append(f"r{i},{text},{int(rng.integers(1, 3))},u{i % 37}")
    _write(tmp_path, "csv", "reviews.csv", "\n".join(rows) + "\n")
    params = FileDataset(
        source="csv", path="reviews.csv", label="stars", text="review", id="id", group="user"
    )
    ds = prepare_dataset("r", params, SPLIT, tmp_path)
    assert ds.modality == "text"
    assert ds.task == "binary"
    assert ds.label_names == ["1", "2"]
    assert set(ds.splits["train"].columns) == {"id", "text", "label"}
    seen: dict[str, str] = {}
    for name, frame in ds.splits.items():
        for text in frame.get_column("text").to_list():
            assert seen.setdefault(text, name) == name, text
    user = {f"r{i}": f"u{i % 37}" for i in range(400)}
    owners = {
        name: {user[i] for i in frame.get_column("id").to_list()}
        for name, frame in ds.splits.items()
    }
    assert not owners["train"] & owners["test"]
    assert not owners["train"] & owners["valid"]
    assert ds.info["duplicate_rows"] == 100
    assert ds.metrics()["leakage"] == {"duplicate_groups_across_splits": 0}


def test_task_inference_and_overrides(tmp_path: Path) -> None:
    n = 300
    rng = np.random.default_rng(1)
    frame = pl.DataFrame(
        {
            "x": rng.normal(size=n),
            "grade": rng.integers(1, 6, n),
            "price": rng.normal(100, 10, n),
            "colour": rng.choice(["red", "green", "blue"], n),
            "code": [str(v) for v in rng.integers(0, 9, n)],  # digits: numeric unless overridden
            "note": [f"free text number {i}" for i in range(n)],
        }
    )
    _write(tmp_path, "parquet", "t.parquet", b"")
    frame.write_parquet(tmp_path / "parquet" / "t.parquet")

    def load(**kw: object) -> files.Loaded:
        return files.load(FileDataset(source="parquet", path="t.parquet", **kw), tmp_path)

    assert load(label="grade").task == "multiclass"
    assert load(label="price").task == "regression"
    assert load(label="price").label_names == []
    ordinal = load(label="grade", task="ordinal", label_names=["1", "2", "3", "4", "5"])
    assert ordinal.task == "ordinal"
    assert load(label="colour").label_names == ["blue", "green", "red"]
    feats = load(label="grade", categorical=["code"]).info["inferred"]["features"]
    assert feats["code"] == {**feats["code"], "type": "categorical", "how": "override"}
    assert load(label="grade").info["inferred"]["features"]["code"]["type"] == "numeric"
    assert feats["colour"]["type"] == "categorical"
    assert feats["note"]["type"] == "text"
    assert "flagged" in feats["note"]
    assert "note" not in load(label="grade").frame.columns
    reg = prepare_dataset("p", FileDataset(source="parquet", path="t.parquet", label="price"),
                          SPLIT, tmp_path)  # fmt: skip
    assert reg.splits["train"].get_column("label").dtype == pl.Float64
    assert "_stratum" not in reg.splits["train"].columns
    assert set(reg.metrics()["target"]) == {"train", "valid", "test"}
    # regression strata: every split spans the target's range (deciles stratified)
    for frame_ in reg.splits.values():
        assert frame_.get_column("label").max() > 105
        assert frame_.get_column("label").min() < 95


def test_given_splits_respected_and_repeats_dropped(tmp_path: Path) -> None:
    lines = ["text,label,part"]
    lines += [f"train text {i},{i % 2},train" for i in range(60)]
    lines += [f"valid text {i},{i % 2},validation" for i in range(20)]
    lines += [f"test text {i},{i % 2},test" for i in range(20)]
    lines += ["train text 3,1,test", "train text 4,0,dev"]  # repeats of train rows
    _write(tmp_path, "csv", "g.csv", "\n".join(lines) + "\n")
    params = FileDataset(source="csv", path="g.csv", label="label", text="text", given_split="part")
    ds = prepare_dataset("g", params, SPLIT, tmp_path)
    sizes = {k: v.height for k, v in ds.splits.items()}
    assert sizes == {"train": 60, "valid": 20, "test": 20}
    assert ds.metrics()["dropped"]["test_repeats_earlier_split"] == 1
    assert ds.metrics()["dropped"]["valid_repeats_earlier_split"] == 1
    assert all(t.startswith("test") for t in ds.splits["test"]["text"].to_list())


def test_hf_saved_dataset_splits_are_given(tmp_path: Path) -> None:
    import datasets

    dd = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict(
                {"sentence": [f"s{i}" for i in range(30)], "label": [i % 2 for i in range(30)]}
            ),
            "test": datasets.Dataset.from_dict(
                {"sentence": [f"t{i}" for i in range(10)], "label": [i % 2 for i in range(10)]}
            ),
        }
    )
    dd.save_to_disk(str(tmp_path / "hf" / "tiny"))
    params = FileDataset(source="hf", path="tiny", label="label", text="sentence")
    ds = prepare_dataset("h", params, SPLIT, tmp_path)
    assert ds.splits["test"].height == 10
    assert ds.splits["train"].height + ds.splits["valid"].height == 30
    assert ds.splits["valid"].height == 4  # round(15 * 0.1) of each class


def test_hub_id_without_network_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    params = FileDataset(source="hf", hub="glassworks-test/no-such-dataset", label="label")
    with pytest.raises(DataError, match=r"hf:glassworks-test/no-such-dataset: could not load"):
        files.load(params, tmp_path)


BAD = [
    ("missing column", "a,b\n1,2\n3,4\n", {}, r"no label column 'label' \(found: a, b\)"),
    ("one class", "a,label\n1,x\n2,x\n", {}, r"label has one class \('x' in all 2 rows\)"),
    (
        "mixed types",
        "a,label\n" + "".join(f"{i},{i % 2}\n" for i in range(30)) + "oops,1\n",
        {},
        r"line 32, field 'a': mixed types: 'oops' in data row 31",
    ),
    ("empty", "", {}, r"file is empty"),
    ("wrong delimiter", "a;b;label\n1;2;0\n3;4;1\n", {}, r"separated by ';' \(set delimiter"),
    (
        "bad split",
        "t,label,s\nx,0,train\ny,1,holdout\n",
        {"text": "t", "given_split": "s"},
        r"line 3, field 's': unknown split 'holdout'",
    ),  # fmt: skip
    (
        "duplicate id",
        "i,label\na,0\na,1\n",
        {"id": "i"},
        r"line 3, field 'i': id 'a' is not unique",
    ),
]


@pytest.mark.parametrize(("case", "content", "extra", "match"), BAD, ids=[b[0] for b in BAD])
def test_bad_csv_is_one_error_naming_file_column_row(
    tmp_path: Path, case: str, content: str, extra: dict[str, str], match: str
) -> None:
    del case
    path = _write(tmp_path, "csv", "bad.csv", content)
    params = FileDataset(source="csv", path="bad.csv", label="label", **extra)
    with pytest.raises(DataError, match=match) as err:
        files.load(params, tmp_path)
    assert str(err.value).startswith(str(path))


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    _write(tmp_path, "csv", "latin.csv", "t,label\nok,0\ncaf\xe9,1\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin.csv, line 3: not valid UTF-8"):
        files.load(FileDataset(source="csv", path="latin.csv", label="label"), tmp_path)


def test_bad_jsonl_line(tmp_path: Path) -> None:
    _write(tmp_path, "jsonl", "b.jsonl", json.dumps({"label": 1}) + "\n{broken\n")
    with pytest.raises(DataError, match=r"b.jsonl, line 2: invalid JSON"):
        files.load(FileDataset(source="jsonl", path="b.jsonl", label="label"), tmp_path)


def test_headerless_csv_gets_numbered_columns(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    rows = [",".join(f"{v:.3f}" for v in rng.normal(size=3)) + f",{i % 3}" for i in range(90)]
    _write(tmp_path, "csv", "h.csv", "\n".join(rows) + "\n")
    params = FileDataset(source="csv", path="h.csv", label="column_4", header=False)
    loaded = files.load(params, tmp_path)
    assert loaded.frame.columns[:3] == ["column_1", "column_2", "column_3"]
    assert loaded.task == "multiclass"
    assert loaded.frame.height == 90


def test_path_must_stay_under_raw() -> None:
    with pytest.raises(ValueError, match="must lie under data/raw/csv/"):
        FileDataset(source="csv", path="../../etc/passwd", label="x")


def test_review_cases_hf_classlabel_tsv_quotes_chunks_and_labels(tmp_path: Path) -> None:
    """A ClassLabel's names and -1 (no label); a stray quote in a TSV; a column whose type changes
    after the first chunk; labels with stray spaces; ARFF nominal labels that look numeric."""
    import datasets

    feats = datasets.Features(
        {"t": datasets.Value("string"), "y": datasets.ClassLabel(names=["neg", "pos"])}
    )
    dd = datasets.DatasetDict({
        "train": datasets.Dataset.from_dict(
            {"t": [f"a{i}" for i in range(20)], "y": [i % 2 for i in range(20)]}, features=feats),
        "test": datasets.Dataset.from_dict({"t": ["b0", "b1"], "y": [-1, -1]}, features=feats),
    })  # fmt: skip
    dd.save_to_disk(str(tmp_path / "hf" / "glue"))
    loaded = files.load(FileDataset(source="hf", path="glue", label="y", text="t"), tmp_path)
    assert loaded.task == "binary"
    assert loaded.label_names == ["neg", "pos"]
    assert loaded.info["dropped"]["missing_label"] == 2  # GLUE-style unlabelled test rows
    assert loaded.test is None

    lines = ["t\tlabel", '"unclosed quote here\t0'] + [f"text {i}\t{i % 2}" for i in range(30)]
    _write(tmp_path, "tsv", "q.tsv", "\n".join(lines) + "\n")
    tsv = files.load(FileDataset(source="tsv", path="q.tsv", label="label", text="t"), tmp_path)
    assert tsv.frame.height == 31
    assert tsv.frame.get_column("text")[0] == '"unclosed quote here'

    rows = ["a,label"] + [f"{i},{i % 2}" for i in range(10_050)] + ["1.5,1"]
    _write(tmp_path, "csv", "chunks.csv", "\n".join(rows) + "\n")
    big = files.load(FileDataset(source="csv", path="chunks.csv", label="label"), tmp_path)
    assert big.frame.height == 10_051
    assert big.frame.get_column("a").dtype == pl.Float64

    _write(tmp_path, "csv", "sp.csv", "x,y\n" + "".join(f"{i},{' yes' if i % 3 else 'no'}\n"
                                                        for i in range(30)))  # fmt: skip
    spaced = files.load(FileDataset(source="csv", path="sp.csv", label="y"), tmp_path)
    assert spaced.task == "binary"
    assert spaced.label_names == ["no", "yes"]

    attrs = "@relation r\n@attribute x numeric\n@attribute c {1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25}\n@data\n"  # noqa: E501
    _write(tmp_path, "arff", "n.arff", attrs + "".join(f"{i},{i % 25 + 1}\n" for i in range(100)))
    nominal = files.load(FileDataset(source="arff", path="n.arff", label="c"), tmp_path)
    assert nominal.task == "multiclass"
    assert len(nominal.label_names) == 25


def test_given_splits_emptied_by_groups_is_an_error(tmp_path: Path) -> None:
    lines = ["t,label,part,user"]
    lines += [f"x{i},{i % 2},{('train', 'valid', 'test')[i % 3]},u{i % 4}" for i in range(60)]
    _write(tmp_path, "csv", "g.csv", "\n".join(lines) + "\n")
    params = FileDataset(source="csv", path="g.csv", label="label", text="t", group="user",
                         given_split="part")  # fmt: skip
    with pytest.raises(DataError, match=r"the given valid and test split\(s\) hold only repeats"):
        prepare_dataset("g", params, SPLIT, tmp_path)
