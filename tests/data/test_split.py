import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glassworks.data.split import (
    at_least_words,
    rows_used,
    span_containers,
    span_overlap,
    stratified_cap,
    stratified_split,
    texts_used,
    undersample,
)


def _frame(labels: list[int], texts: list[str] | None = None) -> pl.DataFrame:
    n = len(labels)
    return pl.DataFrame(
        {
            "id": [str(i) for i in range(n)],
            "label": labels,
            "text": texts or [f"t{i}" for i in range(n)],
        }
    )


@settings(max_examples=60, deadline=None)
@given(
    labels=st.lists(st.integers(0, 4), min_size=1, max_size=300),
    fraction=st.floats(0.05, 0.95),
    seed=st.integers(0, 2**16),
)
def test_partition_stratified_deterministic(labels: list[int], fraction: float, seed: int) -> None:
    frame = _frame(labels)
    kept, held = stratified_split(frame, "label", fraction, seed)
    again = stratified_split(frame, "label", fraction, seed)
    assert kept.equals(again[0])
    assert held.equals(again[1])
    assert sorted(kept["id"].to_list() + held["id"].to_list(), key=int) == frame["id"].to_list()
    assert set(kept["id"]).isdisjoint(held["id"])
    for c in set(labels):
        n_c = labels.count(c)
        assert (held["label"] == c).sum() == round(n_c * fraction)


def test_seed_changes_split() -> None:
    frame = _frame([0, 1] * 100)
    a = stratified_split(frame, "label", 0.2, 0)[1]["id"].to_list()
    b = stratified_split(frame, "label", 0.2, 1)[1]["id"].to_list()
    assert a != b


def test_groups_never_straddle() -> None:
    rng = np.random.default_rng(0)
    texts = [f"s{int(i)}" for i in rng.integers(0, 60, size=400)]
    labels = [int(t[1:]) % 2 for t in texts]
    kept, held = stratified_split(_frame(labels, texts), "label", 0.3, 5, group="text")
    assert set(kept["text"]).isdisjoint(held["text"])
    assert kept.height + held.height == 400


def test_bad_fraction() -> None:
    with pytest.raises(ValueError, match="fraction"):
        stratified_split(_frame([0, 1]), "label", 1.0, 0)


def test_undersample_balances() -> None:
    frame = _frame([0] * 50 + [1] * 7 + [2] * 20)
    out = undersample(frame, "label", 3)
    assert out["label"].value_counts().sort("label")["count"].to_list() == [7, 7, 7]
    assert set(out["id"]) <= set(frame["id"])
    assert out.equals(undersample(frame, "label", 3))


def test_subsample_keeps_order_and_is_seeded() -> None:
    from glassworks.data.split import subsample

    frame = _frame(list(range(100)))
    a = subsample(frame, 10, 0)
    assert a.height == 10
    assert a["label"].is_sorted()
    assert a.equals(subsample(frame, 10, 0))
    assert subsample(frame, None, 0).equals(frame)
    assert subsample(frame, 1000, 0).equals(frame)


def test_span_containers_maximal_and_shared() -> None:
    texts = ["a b c d", "b c", "c", "x c y", "a b c d", "zz", "b c d"]
    got = span_containers(texts)
    assert got[0] == ["a b c d"]
    assert got[4] == ["a b c d"]
    assert got[1] == ["a b c d"]
    assert got[2] == ["a b c d", "x c y"]  # shared by two sentences
    assert got[3] == ["x c y"]
    assert got[5] == ["zz"]
    assert got[6] == ["a b c d"]
    # word spans, not character substrings: "c" is not inside "cc"
    assert span_containers(["cc", "c"]) == [["cc"], ["c"]]


def _sentences(rng: np.random.Generator, n: int) -> list[str]:
    """Random sentences over a tiny vocabulary plus random sub-spans of them (SST-2's shape)."""
    vocab = [f"w{i}" for i in range(12)]
    out: list[str] = []
    for _ in range(n):
        words = list(rng.choice(vocab, size=int(rng.integers(3, 9))))
        out.append(" ".join(words))
        for _ in range(4):
            i = int(rng.integers(0, len(words)))
            j = int(rng.integers(i + 1, len(words) + 1))
            out.append(" ".join(words[i:j]))
    return out


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), fraction=st.floats(0.1, 0.5))
def test_nested_split_never_leaks_sub_spans(seed: int, fraction: float) -> None:
    rng = np.random.default_rng(seed)
    texts = _sentences(rng, 40)
    containers = span_containers(texts)
    frame = _frame([int(rng.integers(0, 2)) for _ in texts], texts).with_columns(
        pl.Series("g", [c[0] for c in containers]),
        pl.Series("w", containers, dtype=pl.List(pl.String)),
    )
    kept, held = stratified_split(frame, "label", fraction, seed, group="g", within="w")
    assert kept.height + held.height == frame.height
    held_texts = held["text"].to_list()
    kept_texts = kept["text"].to_list()
    # independent brute force: no held text is a contiguous word span of any kept text
    for h in held_texts:
        hw = h.split(" ")
        for k in kept_texts:
            kw = k.split(" ")
            spans = {tuple(kw[i : i + len(hw)]) for i in range(len(kw) - len(hw) + 1)}
            assert tuple(hw) not in spans, (h, k)
    assert span_overlap(held_texts, kept_texts) == 0.0
    # without `within` (grouping by identical text only) the same data leaks
    if held.height:
        _, naive = stratified_split(frame, "label", fraction, seed, group="text")
        assert span_overlap(naive["text"].to_list(), kept_texts + held_texts) > 0.0


def test_span_overlap_counts_shares() -> None:
    assert span_overlap(["a b", "q", "b c d"], ["x a b y", "b c"]) == pytest.approx(1 / 3)
    assert span_overlap([], ["a"]) == 0.0


def test_at_least_words_keeps_long_enough_texts_only() -> None:
    frame = _frame([0, 1, 0, 1], ["a", "a b", "a b c", "a  b"])  # "a  b": 3 words on " "
    assert at_least_words(frame, 2)["text"].to_list() == ["a b", "a b c", "a  b"]
    assert at_least_words(frame, 3)["id"].to_list() == ["2", "3"]
    assert at_least_words(frame, 0).equals(frame)
    assert at_least_words(frame, 4).height == 0


def test_stratified_cap_keeps_class_proportions_and_is_seeded() -> None:
    labels = [0] * 600 + [1] * 300 + [2] * 100
    frame = _frame(labels)
    capped = stratified_cap(frame, 100, seed=3)
    counts = dict(zip(*np.unique(capped["label"].to_numpy(), return_counts=True), strict=True))
    assert counts == {0: 60, 1: 30, 2: 10}
    assert capped.equals(stratified_cap(frame, 100, seed=3))
    assert not capped.equals(stratified_cap(frame, 100, seed=4))
    ids = capped["id"].cast(pl.Int64).to_list()
    assert ids == sorted(ids)  # the frame's order
    assert capped.equals(stratified_split(frame, "label", 0.1, 3)[1])


def test_stratified_cap_leaves_small_frames_whole() -> None:
    frame = _frame([0, 1, 0, 1])
    assert stratified_cap(frame, None, 0).equals(frame)
    assert stratified_cap(frame, 4, 0).equals(frame)
    assert stratified_cap(frame, 10, 0).equals(frame)


def test_texts_used_subsamples_train_only_and_rows_used_inverts_it() -> None:
    splits = {
        "train": _frame([0, 1] * 10),
        "valid": _frame([0, 1, 1]).with_columns(pl.col("id") + "v"),
        "test": _frame([1, 0]).with_columns(pl.col("id") + "t"),
    }
    used = texts_used(splits, 5, seed=0)
    assert used.columns == ["id", "split", "text"]
    per_split = dict(used.group_by("split").len().iter_rows())
    assert per_split == {"train": 5, "valid": 3, "test": 2}
    assert texts_used(splits, None, 0).height == 25
    back = rows_used(splits, used.select("id", "split"))
    assert back["train"].height == 5
    assert back["valid"].equals(splits["valid"])
    assert back["test"].equals(splits["test"])
    assert set(back["train"]["id"]) == set(used.filter(pl.col("split") == "train")["id"])
    # an id listed for another split does not select a row
    assert rows_used(splits, pl.DataFrame({"id": ["0"], "split": ["valid"]}))["train"].height == 0
