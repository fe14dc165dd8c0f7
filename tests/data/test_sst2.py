from pathlib import Path

import pytest

from glassworks.data import sst2
from glassworks.errors import DataError


def test_real_files(raw_dir: Path) -> None:
    loaded = sst2.load(raw_dir)
    assert loaded.frame.height == 67_349
    assert loaded.test is not None
    assert loaded.test.height == 872
    assert loaded.frame["label"].sum() == 37_569
    assert loaded.test["label"].sum() == 444
    first = loaded.frame.select("id", "text", "label").row(0, named=True)
    assert first == {
        "id": "train-0",
        "text": "hide new secretions from the parental units",
        "label": 0,
    }
    assert not loaded.frame["text"].str.ends_with(" ").any()
    assert loaded.frame.filter(loaded.frame["text"].str.starts_with("'s a lousy")).height >= 1


def _write(tmp_path: Path, body: bytes) -> Path:
    p = tmp_path / "sst2" / "train.tsv"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(body)
    return p


def test_missing_column(tmp_path: Path) -> None:
    p = _write(tmp_path, b"sentence\tlabels\na b \t1\n")
    with pytest.raises(DataError, match=r"train\.tsv: missing column 'label' \(found: sentence, "):
        sst2.read_split(p, "train")


def test_label_out_of_range_names_line(tmp_path: Path) -> None:
    p = _write(tmp_path, b"sentence\tlabel\na \t1\nb \t0\nc \t7\n")
    with pytest.raises(DataError, match=r"train\.tsv, line 4, field 'label': label 7 out of range"):
        sst2.read_split(p, "train")


def test_non_integer_label(tmp_path: Path) -> None:
    p = _write(tmp_path, b"sentence\tlabel\na \tpositive\n")
    with pytest.raises(DataError, match=r"line 2, field 'label': expected an integer"):
        sst2.read_split(p, "train")


def test_empty_file(tmp_path: Path) -> None:
    p = _write(tmp_path, b"")
    with pytest.raises(DataError, match=r"train\.tsv: file is empty"):
        sst2.read_split(p, "train")


def test_wrong_encoding_names_line(tmp_path: Path) -> None:
    p = _write(tmp_path, "sentence\tlabel\nok \t1\ncaf\u00e9 \t1\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"train\.tsv, line 3: not valid UTF-8"):
        sst2.read_split(p, "train")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"train\.tsv: file not found"):
        sst2.load(tmp_path)


def test_prepared_validation_holds_no_sub_span_of_train(raw_dir: Path) -> None:
    """GLUE's train holds every phrase of every tree: validation is drawn by sentence, so none of
    its phrases is a word span of a training phrase (it was 88% when grouped by identical text)."""
    from glassworks.config import SplitParams, Sst2Dataset
    from glassworks.data.prepare import prepare_dataset
    from glassworks.data.split import span_overlap

    prepared = prepare_dataset(
        "sst2", Sst2Dataset(source="sst2"), SplitParams(seed=0, test_size=0.2, valid_size=0.1),
        raw_dir,
    )  # fmt: skip
    train = prepared.splits["train"]["text"].to_list()
    valid = prepared.splits["valid"]["text"].to_list()
    assert len(valid) > 5000
    assert span_overlap(valid, train) == 0.0
    metrics = prepared.metrics()
    assert metrics["leakage"]["valid_in_train_span_share"] == 0.0
    assert 0.0 < metrics["leakage"]["test_in_train_span_share"] < 0.01  # GLUE dev, fixed
    assert set(prepared.splits["train"].columns) == {"id", "text", "label"}
