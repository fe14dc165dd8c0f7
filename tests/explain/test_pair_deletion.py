"""Pair deletion: the top Integrated Hessians pairs (Janizek et al. 2021) against as many top IG
units and random pairs, on tiny models whose answer is known."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from glassworks.explain.hessians import integrated_hessians
from glassworks.explain.pair_deletion import (
    METHODS,
    PairDeletion,
    pair_deletion,
    pair_deletion_table,
    summarize_pair_deletion,
    tabular_pair_deletion,
)
from glassworks.stats import NO_DIFFERENCE

pytestmark = pytest.mark.usefixtures("float64")


def on_units(model):  # noqa: ANN001, ANN201
    """An embedding-layer forward ``(R, L, 1), (R, L) -> logits`` over a tabular ``model``."""
    return lambda embeds, mask: model(embeds.squeeze(-1))


def interaction_and_redundant_decoys(x: torch.Tensor) -> torch.Tensor:
    """Class 1: ``3 x0 x1`` (an AND of units 0 and 1) plus ``6 OR(x2, x3, x4)``: at ``x = 1`` IG
    gives each decoy 2 and each of units 0, 1 only 1.5, yet removing any two decoys changes
    nothing (the third keeps the OR on) while removing the pair (0, 1) drops the logit by 3."""
    decoy = 1 - (1 - x[:, 2]) * (1 - x[:, 3]) * (1 - x[:, 4])
    z = 3 * x[:, 0] * x[:, 1] + 6 * decoy
    return torch.stack([torch.full_like(z, 7.0), z], 1)


def linear(weights: list[float]):  # noqa: ANN201
    """Class 1 logit ``sum_i w_i x_i`` (class 0: 0)."""
    w = torch.tensor(weights)

    def model(x: torch.Tensor) -> torch.Tensor:
        z = x @ w
        return torch.stack([torch.zeros_like(z), z], 1)

    return model


def run(model, interactions, attributions, candidates=None, **kw) -> PairDeletion:  # noqa: ANN001
    n = interactions.shape[0]
    cand = torch.ones(n, dtype=torch.bool) if candidates is None else candidates
    return pair_deletion(
        on_units(model),
        torch.ones(n, 1),
        torch.zeros(n, 1),
        torch.ones(n, dtype=torch.long),
        interactions,
        attributions,
        cand,
        1,
        **kw,
    )


def test_real_ih_pair_beats_ig_units_and_random_pairs() -> None:
    x = torch.ones(1, 5)
    ih = integrated_hessians(interaction_and_redundant_decoys, x, 0.0, target=1)
    assert float(ih.total_error[0]) < 1e-10
    assert ih.ig[0, 2:].min() > ih.ig[0, :2].max()  # IG ranks the decoys first (2 > 1.5)
    res = run(interaction_and_redundant_decoys, ih.interactions[0], ih.ig[0], ks=(1,))
    assert res.pairs == ((0, 1),)
    assert res.removed.tolist() == [2]
    sig = torch.sigmoid
    np.testing.assert_allclose(
        res.drops["ih_pairs"], [float(sig(torch.tensor(2.0)) - sig(torch.tensor(-1.0)))]
    )
    np.testing.assert_allclose(res.drops["ig_units"], [0.0], atol=1e-12)  # two decoys: OR stays on
    assert res.drops["ih_pairs"][0] > res.drops["random_pairs"][0] > res.drops["ig_units"][0]


def test_removed_count_is_the_union_of_overlapping_pairs_and_k_is_capped() -> None:
    gamma = torch.zeros(6, 6)
    gamma[0, 1] = gamma[1, 0] = 5.0
    gamma[1, 2] = gamma[2, 1] = 4.0
    gamma[0, 2] = gamma[2, 0] = 3.0
    gamma[4, 5], gamma[5, 4] = 10.0, -10.0  # large but antisymmetric: symmetrised 0
    gamma[5, 5] = 100.0  # the diagonal is a main effect, never a pair
    weights = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]
    model = linear([w / 16 for w in weights])
    res = run(model, gamma, torch.ones(6), ks=(1, 2, 3, 4))
    assert res.pairs == ((0, 1), (1, 2), (0, 2), (0, 3))  # the zero ties go by (i, j)
    assert res.removed.tolist() == [2, 3, 3, 4]
    full = torch.softmax(model(torch.ones(1, 6)), -1)[0, 1]
    gone = torch.tensor([[0.0, 0.0, 0.0, 1.0, 1.0, 1.0]])
    np.testing.assert_allclose(
        res.drops["ih_pairs"][1], float(full - torch.softmax(model(gone), -1)[0, 1])
    )
    # equal IG everywhere: ties by position remove units 0, 1, ... — the same sets here
    np.testing.assert_allclose(res.drops["ig_units"], res.drops["ih_pairs"])

    three = torch.tensor([True, True, True, False, False, False])
    capped = run(model, gamma, torch.ones(6), three, ks=(1, 3, 5))
    assert capped.removed.tolist() == [2, 3, 3]
    one = run(model, gamma, torch.ones(6), torch.tensor([True] + [False] * 5), ks=(1, 2))
    assert one.removed.tolist() == [0, 0]
    assert one.pairs == ()
    for m in METHODS:
        np.testing.assert_array_equal(one.drops[m], [0.0, 0.0])


def test_non_candidates_are_never_removed() -> None:
    model = linear([5.0, 0.0, 0.0, 0.0, 0.0])  # only unit 0 moves the output
    gamma = torch.zeros(5, 5)
    gamma[0, 1:] = gamma[1:, 0] = 1e6
    attributions = torch.tensor([1e6, 0.1, 0.2, 0.3, 0.4])
    cand = torch.tensor([False, True, True, True, True])  # unit 0: a special token
    res = run(model, gamma, attributions, cand, ks=(1, 2, 3), n_random=30)
    assert all(0 not in p for p in res.pairs)
    assert (res.removed > 0).all()
    for m in METHODS:
        np.testing.assert_array_equal(res.drops[m], np.zeros(3))
    # ... and the same model does notice unit 0 when it is a candidate
    assert run(model, gamma, attributions, ks=(1,)).drops["ih_pairs"][0] > 0.1


def test_random_pairs_are_seeded() -> None:
    model = linear([0.3, -0.2, 0.5, 0.1, -0.4, 0.7, 0.2, -0.1])
    gen = torch.Generator().manual_seed(0)
    gamma = torch.randn(8, 8, generator=gen)
    attributions = torch.randn(8, generator=gen)
    a = run(model, gamma, attributions, n_random=5, seed=0)
    b = run(model, gamma, attributions, n_random=5, seed=0)
    c = run(model, gamma, attributions, n_random=5, seed=1)
    np.testing.assert_array_equal(a.drops["random_pairs"], b.drops["random_pairs"])
    assert not np.allclose(a.drops["random_pairs"], c.drops["random_pairs"])
    for m in ("ih_pairs", "ig_units"):  # the rankings do not depend on the seed
        np.testing.assert_array_equal(a.drops[m], c.drops[m])


def synthetic(ih: np.ndarray, ig: np.ndarray, rnd: np.ndarray) -> list[PairDeletion]:
    ks = (1, 2)
    return [
        PairDeletion(
            ks,
            {"ih_pairs": np.full(2, a), "ig_units": np.full(2, b), "random_pairs": np.full(2, c)},
            np.array([2, 3]),
        )
        for a, b, c in zip(ih, ig, rnd, strict=True)
    ]


def test_summary_names_a_winner_only_when_the_interval_excludes_zero() -> None:
    rng = np.random.default_rng(0)
    ih = 0.5 + 0.05 * rng.standard_normal(30)
    clear = summarize_pair_deletion(
        synthetic(ih, ih - 0.3, ih - 0.2 + 0.01 * rng.standard_normal(30))
    )
    json.dumps(clear)
    assert clear["ks"] == [1, 2]
    assert clear["n_examples"] == 30
    assert clear["removed"]["k=2"] == 3.0
    assert set(clear["methods"]) == set(METHODS)
    assert (
        clear["methods"]["ih_pairs"]["k=1"]["ci95"][0]
        <= float(ih.mean())
        <= clear["methods"]["ih_pairs"]["k=1"]["ci95"][1]
    )
    for name, other in (
        ("ih_pairs-ig_units", "ig_units"),
        ("ih_pairs-random_pairs", "random_pairs"),
    ):
        d = clear["differences"][name]["k=1"]
        assert d["difference"]["ci95"][0] > 0
        assert d["verdict"] == f"ih_pairs beats {other}"
        assert d["winner"] == "ih_pairs"

    same = summarize_pair_deletion(synthetic(ih, ih.copy(), ih + 0.05 * rng.standard_normal(30)))
    assert same["differences"]["ih_pairs-ig_units"]["k=2"]["verdict"] == NO_DIFFERENCE
    assert same["differences"]["ih_pairs-ig_units"]["k=2"]["winner"] is None

    rows = pair_deletion_table(clear)
    assert len(rows) == (3 + 2) * 2
    assert {r["method"] for r in rows} == {*METHODS, "ih_pairs-ig_units", "ih_pairs-random_pairs"}
    assert all(r["lo"] <= r["mean"] <= r["hi"] for r in rows)


def test_tabular_pair_deletion_on_a_small_mlp() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).double().eval()
    x = torch.randn(5, 4)
    target = model(x).argmax(1)
    ih = integrated_hessians(model, x, 0.0, target=target, n_steps=8)
    results = tabular_pair_deletion(
        model, x, torch.zeros(4), ih.interactions, ih.ig, target, ks=(1, 2), n_random=4
    )
    assert len(results) == 5
    for r in results:
        assert r.removed.tolist() == [2, len({u for p in r.pairs[:2] for u in p})]
        assert all(np.isfinite(v).all() and v.shape == (2,) for v in r.drops.values())

    # one log-odds output: class 0 has probability 1 - sigmoid, so its drops are the negation
    binary = nn.Linear(4, 1).double()
    args = (binary, x, torch.zeros(4), ih.interactions, ih.ig)
    ones = tabular_pair_deletion(*args, torch.ones(5, dtype=torch.long), n_random=3)
    zeros = tabular_pair_deletion(*args, 0, n_random=3)
    for a, b in zip(ones, zeros, strict=True):
        for m in METHODS:
            np.testing.assert_allclose(a.drops[m], -b.drops[m], atol=1e-12)
