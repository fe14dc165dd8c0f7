"""Every loader of raw and prepared data under hypothesis: random bytes, wrong encodings, huge
lines, NaN/inf, unknown labels. Each input either loads or raises one ``DataError`` that names the
file; nothing else escapes from inside a library."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from glassworks.data import amazon, essays, openml, sst2
from glassworks.data.prepare import read_prepared
from glassworks.data.variants import read_variant
from glassworks.embed.index import read_index
from glassworks.errors import DataError
from tests.fuzz.conftest import tried

FUZZ = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
ENCODINGS = ["utf-8", "latin-1", "utf-16", "cp1252"]
WEIRD = ["nan", "NaN", "inf", "-inf", "1e999", "", "?", "-1", "2", "3.5", "label", "\x00", "é"]


def _loads_or_names_file(load: Callable[[Path], Any], path: Path, target: str) -> Any:
    """``load(path)`` returns, or raises a DataError naming ``path``; anything else fails."""
    tried(target)
    try:
        return load(path)
    except DataError as exc:
        assert str(path) in str(exc) or path.name in str(exc), exc  # noqa: PT017
        return None


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# ---- raw files: random bytes, wrong encodings --------------------------------------------------

tsv_cells = st.one_of(st.sampled_from(WEIRD), st.text(max_size=20))


def _tsv(header: list[str], rows: list[list[str]], encoding: str) -> bytes:
    lines = ["\t".join(header), *("\t".join(r) for r in rows)]
    return ("\n".join(lines) + "\n").encode(encoding, errors="replace")


@FUZZ
@given(data=st.binary(max_size=400))
def test_sst2_random_bytes(tmp_path: Path, data: bytes) -> None:
    _loads_or_names_file(
        lambda p: sst2.read_split(p, "x"), _write(tmp_path / "t.tsv", data), "sst2.read_split"
    )


@FUZZ
@given(
    rows=st.lists(st.lists(tsv_cells, min_size=2, max_size=2), max_size=6),
    encoding=st.sampled_from(ENCODINGS),
)
def test_sst2_rows(tmp_path: Path, rows: list[list[str]], encoding: str) -> None:
    path = _write(tmp_path / "t.tsv", _tsv(["sentence", "label"], rows, encoding))
    frame = _loads_or_names_file(lambda p: sst2.read_split(p, "x"), path, "sst2.read_split")
    if frame is not None:  # what loads is clean: labels 0/1 only
        assert set(frame.get_column("label").to_list()) <= {0, 1}


@FUZZ
@given(data=st.binary(max_size=400))
def test_essays_random_bytes(tmp_path: Path, data: bytes) -> None:
    _loads_or_names_file(essays.read_essays, _write(tmp_path / "e.tsv", data), "essays.read_essays")


@FUZZ
@given(
    rows=st.lists(st.lists(tsv_cells, min_size=4, max_size=4), max_size=5),
    encoding=st.sampled_from(ENCODINGS),
)
def test_essays_rows(tmp_path: Path, rows: list[list[str]], encoding: str) -> None:
    header = ["essay_id", "essay_set", "essay", "domain1_score"]
    path = _write(tmp_path / "e.tsv", _tsv(header, rows, encoding))
    frame = _loads_or_names_file(essays.read_essays, path, "essays.read_essays")
    if frame is not None:
        assert frame.get_column("score").is_finite().all()


json_values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.floats(allow_nan=False), st.integers(), st.text(max_size=10)
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
SPECIAL = [1.0, 5.0, 0.0, 6.0, 2.5, -1.0, float("nan"), float("inf"), -float("inf"), 1e300, "5"]
review_fields = st.fixed_dictionaries(
    {
        "overall": st.one_of(st.sampled_from(SPECIAL), json_values),
        "reviewerID": st.one_of(st.text(max_size=10), json_values),
        "asin": st.one_of(st.text(max_size=10), json_values),
        "unixReviewTime": st.one_of(st.sampled_from(SPECIAL), st.integers(), json_values),
    },
    optional={
        "reviewText": st.one_of(st.text(max_size=30), json_values),
        "summary": st.one_of(st.text(max_size=10), json_values),
        "verified": json_values,
    },
)


@FUZZ
@given(data=st.binary(max_size=400), gz=st.booleans())
def test_amazon_random_bytes(tmp_path: Path, data: bytes, gz: bool) -> None:
    path = tmp_path / ("r.json.gz" if gz else "r.json")
    _loads_or_names_file(amazon.read_reviews, _write(path, data), "amazon.read_reviews")


VALID = {"overall": 5.0, "reviewerID": "r", "asin": "a", "unixReviewTime": 1}


@FUZZ
@given(objs=st.lists(st.one_of(review_fields, json_values), max_size=5), gz=st.booleans())
@example(objs=[VALID | {"unixReviewTime": float("inf")}], gz=False)
@example(objs=[VALID | {"unixReviewTime": 1e300}], gz=False)
@example(objs=[VALID | {"reviewerID": {"a": 1}}], gz=True)
@example(objs=[VALID | {"reviewText": ["x"]}], gz=False)
def test_amazon_json_lines(tmp_path: Path, objs: list[Any], gz: bool) -> None:
    text = "\n".join(json.dumps(o) for o in objs).encode()  # NaN/Infinity as JSON allows
    path = tmp_path / ("r.json.gz" if gz else "r.json")
    _write(path, gzip.compress(text) if gz else text)
    rows = _loads_or_names_file(amazon.read_reviews, path, "amazon.read_reviews")
    for row in rows or []:
        assert row["stars"] in {1, 2, 3, 4, 5}
        assert all(isinstance(row[k], str) for k in ("reviewer_id", "asin", "summary"))
        assert row["review_text"] is None or isinstance(row["review_text"], str)


@FUZZ
@given(data=st.binary(max_size=400))
def test_openml_arff_random_bytes(tmp_path: Path, data: bytes) -> None:
    _loads_or_names_file(openml.read_arff, _write(tmp_path / "d.arff", data), "openml.read_arff")


@FUZZ
@given(
    values=st.lists(
        st.lists(st.sampled_from(WEIRD + ["0.5", "1", "a", "b"]), min_size=3, max_size=3),
        max_size=6,
    )
)
def test_openml_frame_nan_inf(tmp_path: Path, values: list[list[str]]) -> None:
    """NaN/inf and junk in numeric ARFF columns: a clear error, or missing values the encoder
    imputes; never an infinite value in the frame."""
    arff = (
        "@RELATION r\n@ATTRIBUTE x NUMERIC\n@ATTRIBUTE y NUMERIC\n@ATTRIBUTE class {a,b}\n@DATA\n"
    )
    arff += "".join(",".join(v) + "\n" for v in values)
    path = _write(tmp_path / "d.arff", arff.encode())
    types = {"x": "numeric", "y": "numeric", "class": "nominal"}
    meta = openml.OpenMLMeta(dataset_id=1, name="d", version=1, target="class", ignore=(),
                             row_id=None, types=types)  # fmt: skip

    def load(p: Path) -> pl.DataFrame:
        names, rows = openml.read_arff(p)
        columns = {n: [r[i] for r in rows] for i, n in enumerate(names)}
        return openml.build_frame(columns, meta, str(p))[0]

    frame = _loads_or_names_file(load, path, "openml.read_arff+build_frame")
    if frame is not None:
        for col in ("x", "y"):
            values_ = frame.get_column(col).drop_nulls().cast(pl.Float64)
            assert values_.is_finite().all(), frame


@FUZZ
@given(data=st.binary(max_size=300), which=st.sampled_from(["description", "features"]))
def test_openml_metadata_random_bytes(tmp_path: Path, data: bytes, which: str) -> None:
    good = {
        "data_set_description": {
            "id": 1,
            "name": "d",
            "version": 1,
            "default_target_attribute": "c",
        }
    }
    feats = {"data_features": {"feature": [{"name": "c", "data_type": "nominal"}]}}
    desc = _write(
        tmp_path / "desc.json", data if which == "description" else json.dumps(good).encode()
    )
    fpath = _write(
        tmp_path / "feat.json", data if which == "features" else json.dumps(feats).encode()
    )
    target = desc if which == "description" else fpath
    tried("openml.meta_from_json")
    try:
        openml.meta_from_json(desc, fpath)
    except DataError as exc:
        assert target.name in str(exc), exc  # noqa: PT017


# ---- huge lines ---------------------------------------------------------------------------------

BIG = 10 * 1024 * 1024 + 17


@pytest.mark.slow
def test_ten_megabyte_lines(tmp_path: Path) -> None:
    """One ≥ 10 MB line in every text format: read as data (a long text) or refused clearly."""
    text = "great product " * (BIG // 14)
    review = {
        "overall": 5.0,
        "reviewText": text,
        "asin": "a",
        "reviewerID": "r",
        "unixReviewTime": 1,
    }
    rows = amazon.read_reviews(_write(tmp_path / "r.json", json.dumps(review).encode() + b"\n"))
    assert len(rows[0]["review_text"]) >= BIG - 20
    frame = sst2.read_split(
        _write(tmp_path / "s.tsv", f"sentence\tlabel\n{text}\t1\n".encode()), "x"
    )
    assert frame.height == 1
    junk = _write(tmp_path / "junk.tsv", b"sentence\tlabel\n" + b"\xff" * BIG + b"\t1\n")
    with pytest.raises(DataError, match="junk.tsv"):
        sst2.read_split(junk, "x")
    for target in ("amazon.read_reviews", "sst2.read_split"):
        tried(target + " (10 MB line)")


# ---- prepared data and embeddings (stage outputs) ----------------------------------------------


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from glassworks.data.prepare import write_prepared
    from glassworks.data.schema import PreparedDataset

    folder = tmp_path_factory.mktemp("prepared") / "d"
    frame = pl.DataFrame({"id": ["a", "b"], "text": ["x y", "z"], "label": [0, 1]})
    ds = PreparedDataset(
        name="d", source="test", modality="text", task="binary", label_names=["n", "p"],
        splits={"train": frame, "valid": frame, "test": frame}, columns={"text": "t"},
        info={"spurious_words": ["x"]},
    )  # fmt: skip
    write_prepared(ds, folder)
    return folder


@FUZZ
@given(
    victim=st.sampled_from(["schema.json", "train.parquet", "valid.parquet", "test.parquet"]),
    data=st.binary(max_size=300),
    reader=st.sampled_from(["prepared", "variant"]),
)
def test_prepared_damaged(
    tmp_path: Path, prepared: Path, victim: str, data: bytes, reader: str
) -> None:
    folder = tmp_path / "d"
    if not folder.exists():
        folder.mkdir()
    for f in prepared.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    (folder / victim).write_bytes(data)
    load = read_prepared if reader == "prepared" else read_variant
    _loads_or_names_file(load, folder, f"read_{reader} (damaged {victim.split('.')[-1]})")


@FUZZ
@given(
    victim=st.sampled_from(["embed.json", "ngrams.parquet", "embeddings.npy", "texts.parquet"]),
    data=st.binary(max_size=300),
)
def test_embedding_index_damaged(tmp_path: Path, victim: str, data: bytes) -> None:
    from glassworks.embed.index import write_index

    folder = tmp_path / "e"
    table = pl.DataFrame({"ngram": ["a", "b"], "count": [1, 2]})
    write_index(
        folder,
        table,
        np.ones((2, 3), np.float32),
        pl.DataFrame({"id": ["t"], "split": ["train"]}),
        {},
    )
    (folder / victim).write_bytes(data)
    _loads_or_names_file(read_index, folder, "read_index (damaged file)")
