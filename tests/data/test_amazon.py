import gzip
import json
from pathlib import Path

import pytest

from glassworks.data import amazon
from glassworks.errors import DataError


@pytest.mark.parametrize(
    ("category", "read", "no_text", "kept"),
    [
        ("All_Beauty", 5269, 5, 1378),
        ("AMAZON_FASHION", 3176, 16, 445),
        ("Appliances", 2277, 0, 156),
    ],
)
def test_real_files_dedup(raw_dir: Path, category: str, read: int, no_text: int, kept: int) -> None:
    loaded = amazon.load(raw_dir, category)
    info = loaded.info
    assert info["rows_read"] == read
    assert info["dropped"]["no_text"] == no_text
    assert loaded.frame.height == kept
    assert info["dropped"]["duplicates"] == read - no_text - kept
    frame = loaded.frame
    assert frame["id"].n_unique() == frame.height
    assert frame.select(["reviewer_id", "unix_time", "review_text"]).is_duplicated().sum() == 0
    assert frame["label"].min() >= 0
    assert frame["label"].max() <= 4
    assert (frame["label"] == frame["stars"] - 1).all()
    assert frame["text"].str.contains(frame["review_text"], literal=True).all()


def _gz(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path


def _review(**kw: object) -> str:
    base = {
        "overall": 5.0,
        "reviewerID": "R1",
        "asin": "A1",
        "unixReviewTime": 1,
        "reviewText": "great",
        "summary": "Five stars",
    }
    base.update(kw)
    return json.dumps({k: v for k, v in base.items() if v is not None})


def test_dedup_key_and_text(tmp_path: Path) -> None:
    _gz(
        tmp_path / "amazon" / "All_Beauty_5.json.gz",
        [
            _review(asin="A1"),
            _review(asin="A2"),  # same review, two variants
            _review(unixReviewTime=2),  # same text, other time: kept
            _review(reviewerID="R2", reviewText=None),  # no text: dropped
            _review(reviewerID="R3", summary=None, overall=2.0),
        ],
    )
    loaded = amazon.load(tmp_path, "All_Beauty")
    assert loaded.frame.height == 3
    assert loaded.info["dropped"] == {"no_text": 1, "duplicates": 1}
    assert loaded.frame["text"].to_list() == ["Five stars\ngreat", "Five stars\ngreat", "great"]
    assert loaded.frame["label"].to_list() == [4, 4, 1]


def test_truncated_gzip(tmp_path: Path, raw_dir: Path) -> None:
    data = (raw_dir / "amazon" / "Appliances_5.json.gz").read_bytes()
    p = tmp_path / "amazon" / "Appliances_5.json.gz"
    p.parent.mkdir()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"Appliances_5\.json\.gz: truncated or corrupt gzip"):
        amazon.load(tmp_path, "Appliances")


def test_bad_json_line(tmp_path: Path) -> None:
    _gz(tmp_path / "amazon" / "Appliances_5.json.gz", [_review(), "{not json"])
    with pytest.raises(DataError, match=r"line 2: invalid JSON"):
        amazon.load(tmp_path, "Appliances")


def test_rating_out_of_range(tmp_path: Path) -> None:
    _gz(tmp_path / "amazon" / "Appliances_5.json.gz", [_review(), _review(overall=6.0)])
    with pytest.raises(DataError, match=r"line 2, field 'overall': star rating 6.0 out of range"):
        amazon.load(tmp_path, "Appliances")


def test_missing_field(tmp_path: Path) -> None:
    _gz(tmp_path / "amazon" / "Appliances_5.json.gz", [_review(reviewerID=None)])
    with pytest.raises(DataError, match=r"line 1, field 'reviewerID': missing field"):
        amazon.load(tmp_path, "Appliances")


def test_empty_and_wrong_encoding(tmp_path: Path) -> None:
    p = tmp_path / "amazon" / "Appliances_5.json.gz"
    _gz(p, [])
    with pytest.raises(DataError, match="file is empty"):
        amazon.load(tmp_path, "Appliances")
    with gzip.open(p, "wb") as f:
        f.write(
            _review().encode()
            + b"\n"
            + _review(reviewText="caf\xe9").encode("utf-8").replace(b"\\u00e9", b"\xe9")
            + b"\n"
        )
    with pytest.raises(DataError, match=r"line 2: not valid UTF-8"):
        amazon.load(tmp_path, "Appliances")
