import numpy as np
import polars as pl
import torch
from torch import nn

from glassworks.embed.cache import CachedEmbedder
from glassworks.explain.summary import encoded_sample, explain_embgam, explain_tabular
from glassworks.models.emb_gam import EmbGAMClassifier
from tests.fakes import HashEncoder


def test_explain_tabular_certificates() -> None:
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(5, 16), nn.Softplus(), nn.Linear(16, 3)).double().eval()
    rng = np.random.default_rng(0)
    res = explain_tabular(
        module,
        rng.normal(size=(6, 5)),
        rng.normal(size=(30, 5)),
        list("abcde"),
        n_steps=32,
        ih_steps=16,
        eg_samples=256,
    )
    assert res.ig.shape == (6, 5)
    assert res.ih.shape == (6, 5, 5)
    assert res.stats["ig_completeness_relative"]["max"] < 1e-4
    assert res.stats["ih_total_relative"]["max"] < 1e-4
    assert res.stats["ih_rows_vs_ig_relative"]["max"] < 1e-4
    np.testing.assert_allclose(res.ih.sum(2), res.ig, atol=1e-6)
    pairs = res.stats["pair_deletion"]
    assert pairs["n_examples"] == 6
    assert set(pairs["methods"]) == {"ih_pairs", "ig_units", "random_pairs"}


def test_pair_deletion_of_a_one_output_model_reads_class_one() -> None:
    """A binary model with one output (its log-odds, as TabResNet and INN): IG explains the
    log-odds, so removing the top IG feature must lower p(class 1), a positive drop."""
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(5, 1)).double().eval()
    rng = np.random.default_rng(0)
    res = explain_tabular(module, rng.normal(size=(8, 5)), rng.normal(size=(40, 5)), list("abcde"))
    assert res.stats["pair_deletion"]["methods"]["ig_units"]["k=1"]["mean"] > 0


def test_engine_reproduces_embgam_decomposition(tmp_path) -> None:  # noqa: ANN001
    rng = np.random.default_rng(1)
    words = ["good", "bad", "film", "plot", "great", "awful", "the", "a"]
    texts = [" ".join(rng.choice(words, 5)) for _ in range(120)]
    labels = [int(("good" in t) or ("great" in t)) for t in texts]
    model = EmbGAMClassifier(CachedEmbedder(HashEncoder(dim=16), tmp_path), Cs=(1.0,))
    model.fit(texts, labels)
    res = explain_embgam(model, texts[:10] + ["an unseen phrase"])
    stats = res.stats
    table = res.table()
    assert table.get_column("example").n_unique() == 11  # Emb-GAM embeds unseen n-grams too
    for (ex,), part in table.group_by("example"):  # each example's rows: model.explain's, exactly
        want = model.explain(([*texts[:10], "an unseen phrase"])[ex])
        assert sorted(part["ngram"]) == sorted(want["ngram"])
        col = [c for c in want.columns if c.startswith("contribution")][part["target"][0]]
        exact = dict(zip(want["ngram"], want[col], strict=True))
        np.testing.assert_allclose(part["contribution"], [exact[g] for g in part["ngram"]])
        np.testing.assert_allclose(part["ig"], part["contribution"], atol=1e-10)
    assert stats["ig_vs_exact_max_abs"] < 1e-10
    assert stats["ig_completeness_max_abs"] < 1e-10
    assert stats["ih_off_diagonal_max_abs"] < 1e-10
    assert stats["ih_diagonal_vs_ig_max_abs"] < 1e-10
    assert stats["decomposition_vs_model_max_abs"] < 1e-9


class _RecordingEncoder:
    def __init__(self) -> None:
        self.seen: list[list[int]] = []

    def transform(self, frame: pl.DataFrame) -> np.ndarray:
        self.seen.append(frame["i"].to_list())
        return frame.select("i").to_numpy().astype(float)


def test_encoded_sample_draws_seeded_rows_in_order() -> None:
    splits = {
        "train": pl.DataFrame({"i": list(range(100, 150))}),
        "test": pl.DataFrame({"i": list(range(20))}),
    }
    enc = _RecordingEncoder()
    x, background = encoded_sample(enc, splits, n_examples=5, n_background=8, seed=3)
    assert x.shape == (5, 1)
    assert background.shape == (8, 1)
    test_rows, train_rows = enc.seen
    assert test_rows == sorted(test_rows)
    assert set(test_rows) <= set(range(20))
    assert set(train_rows) <= set(range(100, 150))
    x2, _ = encoded_sample(_RecordingEncoder(), splits, 5, 8, seed=3)
    np.testing.assert_array_equal(x, x2)
    x3, _ = encoded_sample(_RecordingEncoder(), splits, 5, 8, seed=4)
    assert not np.array_equal(x, x3)
    whole, _ = encoded_sample(_RecordingEncoder(), splits, 100, 8, seed=0)
    assert whole[:, 0].tolist() == list(range(20))


def test_explained_arrays_are_what_the_npz_holds() -> None:
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(3, 4), nn.Softplus(), nn.Linear(4, 2)).double().eval()
    rng = np.random.default_rng(0)
    res = explain_tabular(module, rng.normal(size=(4, 3)), rng.normal(size=(10, 3)), list("abc"),
                          n_steps=8, ih_steps=4, eg_samples=8)  # fmt: skip
    arrays = res.arrays()
    assert list(arrays) == ["ig", "eg", "ih", "values", "target", "names"]
    assert arrays["names"].tolist() == ["a", "b", "c"]
    assert arrays["ih"].shape == (4, 3, 3)
    np.testing.assert_array_equal(arrays["values"], res.values)
