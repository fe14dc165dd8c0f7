import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glassworks.data.split import stratified_split, undersample


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
