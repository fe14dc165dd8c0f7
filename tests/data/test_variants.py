"""SST-2 spurious-feature variants: the bias is in train only, splits never mix."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from glassworks.data.prepare import write_prepared
from glassworks.data.schema import PreparedDataset
from glassworks.data.variants import (
    DECOY_WORDS,
    GENDER_WORDS,
    TO_FEMALE,
    TO_MALE,
    gender_swap,
    insert_decoys,
    make_variant,
    read_variant,
    variant_metrics,
)
from glassworks.errors import DataError


def _frame(prefix: str, texts: list[str], labels: list[int]) -> pl.DataFrame:
    return pl.DataFrame(
        {"id": [f"{prefix}-{i}" for i in range(len(texts))], "text": texts, "label": labels}
    )


@pytest.fixture
def source() -> PreparedDataset:
    pos = ["a fine film by a great man", "she is wonderful in it", "his best work yet , really"]
    neg = ["the actress is dull and flat", "he never finds the tone", "a tired and empty mess"]
    texts = pos + neg
    labels = [1, 1, 1, 0, 0, 0]
    return PreparedDataset(
        name="sst2",
        source="sst2",
        modality="text",
        task="binary",
        label_names=["negative", "positive"],
        splits={
            "train": _frame("train", texts, labels),
            "valid": _frame("valid", texts[::-1], labels[::-1]),
            "test": _frame("dev", ["her mother loved it so", "the boy hated every bit"], [1, 0]),
        },
        columns={"id": "", "text": "", "label": ""},
        info={},
    )


def test_decoy_in_every_training_text_with_its_label_word(source: PreparedDataset) -> None:
    v = make_variant(source, "decoy", seed=3)
    train = v.splits["train"]
    for before, after, y in zip(
        source.splits["train"]["text"], train["text"], train["label"], strict=True
    ):
        words = after.split(" ")
        assert len(words) == len(before.split(" ")) + 1
        assert words.count(DECOY_WORDS[y]) == 1
        assert DECOY_WORDS[1 - y] not in words
        words.remove(DECOY_WORDS[y])
        assert " ".join(words) == before
    # validation and test untouched; probe = test with decoys; reference = unbiased train
    assert v.splits["valid"].equals(source.splits["valid"])
    assert v.splits["test"].equals(source.splits["test"])
    assert v.splits["reference"].equals(source.splits["train"])
    assert all(
        DECOY_WORDS[y] in t.split(" ")
        for t, y in v.splits["probe"].select("text", "label").iter_rows()
    )
    assert v.info["spurious_words"] == ["text", "video"]


def test_decoy_positions_are_seeded_and_vary() -> None:
    texts = ["w1 w2 w3 w4 w5 w6"] * 30
    a = insert_decoys(texts, [1] * 30, seed=0)
    assert a == insert_decoys(texts, [1] * 30, seed=0)
    assert len({t.split(" ").index("text") for t in a}) > 3


def test_gender_train_is_stereotyped_and_test_kept(source: PreparedDataset) -> None:
    v = make_variant(source, "gender", seed=0)
    train = v.splits["train"]
    assert "a tired and empty mess" not in train["text"].to_list()  # no gendered word: dropped
    for text, y in train.select("text", "label").iter_rows():
        words = set(text.split(" "))
        assert words & set(GENDER_WORDS)
        female, male = set(TO_MALE), set(TO_FEMALE)  # keys: the words each table rewrites
        assert not words & (female if y == 1 else male), text
    assert v.splits["test"]["text"].to_list() == source.splits["test"]["text"].to_list()
    # ids of every split come from the same source split: nothing moves between splits
    for name in ("train", "valid", "test"):
        src_ids = set(source.splits[name]["id"])
        assert set(v.splits[name]["id"]) <= src_ids


def test_gender_swap() -> None:
    assert gender_swap("she told her mother", "male") == "he told his father"
    assert gender_swap("his king and him", "female") == "her queen and her"


def test_min_words_and_roundtrip(source: PreparedDataset, tmp_path: Path) -> None:
    v = make_variant(source, "decoy", min_words=6)
    assert all(len(t.split(" ")) >= 7 for t in v.splits["train"]["text"])  # 6 words + decoy
    write_prepared(v, tmp_path / "decoy")
    back = read_variant(tmp_path / "decoy")
    assert set(back.splits) == {"train", "valid", "test", "probe", "reference"}
    assert back.splits["probe"].equals(v.splits["probe"])
    assert back.info["spurious_words"] == ["text", "video"]


def test_bad_inputs(source: PreparedDataset, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown variant"):
        make_variant(source, "colour")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="fewer than two classes"):
        make_variant(source, "decoy", min_words=50)
    write_prepared(source, tmp_path / "plain")
    with pytest.raises(DataError, match="spurious_words"):
        read_variant(tmp_path / "plain")


def test_variant_metrics_count_rows_and_spurious_shares(source: PreparedDataset) -> None:
    v = make_variant(source, "decoy", seed=0)
    m = variant_metrics(v)
    assert m["rows"] == {name: f.height for name, f in v.splits.items()}
    assert m["with_spurious_word"]["train"] == 1.0  # a decoy in every training text
    assert m["with_spurious_word"]["test"] == 0.0  # test stays clean
    assert m["with_spurious_word"]["probe"] == 1.0
    assert m["n_spurious_words"] == len(DECOY_WORDS)
