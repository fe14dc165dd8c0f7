"""TextClassifier on a few dozen real SST-2 sentences: training, persistence, fine-tuning an HF
checkpoint that the Emb-GAM encoder can then load."""

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from glassworks.models.text_classifier import TextClassifier


@pytest.fixture(scope="module")
def sst2(shared_data: Path) -> tuple[list[str], np.ndarray]:
    frame = pl.read_csv(shared_data / "sst2" / "dev.tsv", separator="\t", quote_char=None)
    frame = frame.head(48)
    return [s.strip() for s in frame["sentence"]], frame["label"].to_numpy()


def _small(**kw) -> TextClassifier:  # noqa: ANN003
    base = dict(
        vocab_size=300,
        max_length=48,
        d_model=32,
        d_ff=64,
        epochs=25,
        lr=3e-3,
        batch_size=8,
        dropout=0.0,
        device="cpu",
    )
    return TextClassifier(**{**base, **kw})


def test_small_transformer_fits_and_round_trips(sst2, tmp_path: Path) -> None:  # noqa: ANN001
    texts, y = sst2
    steps: list[int] = []
    model = _small().fit(texts, y, texts[:16], y[:16], n_classes=2, on_step=steps.append)
    assert (model.predict(texts) == y).mean() >= 0.9  # memorises 48 sentences
    assert sum(steps) == len(texts) * len(model.history_)
    assert 1 <= model.best_epoch_ <= len(model.history_)
    proba = model.predict_proba(texts)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)
    model.save(tmp_path / "m")
    loaded = TextClassifier.load(tmp_path / "m")
    np.testing.assert_allclose(
        loaded.decision_function(texts), model.decision_function(texts), atol=1e-5
    )
    assert loaded.get_params() == {**model.get_params(), "device": "cpu"}


def test_ordinal_head_trains(sst2) -> None:  # noqa: ANN001
    texts, y = sst2
    y3 = (y * 2 + (np.arange(len(y)) % 2)).clip(0, 2)  # three ordered classes
    model = _small(loss="ordinal", select_on="qwk", epochs=3).fit(
        texts, y3, texts[:16], y3[:16], n_classes=3
    )
    assert model.decision_function(texts).shape == (len(texts), 3)
    np.testing.assert_allclose(np.exp(model.decision_function(texts)).sum(1), 1.0, rtol=1e-4)
    assert {"valid_qwk", "valid_loss"} <= set(model.history_[0])


def test_bad_input(sst2) -> None:  # noqa: ANN001
    texts, y = sst2
    with pytest.raises(ValueError, match="3 texts and 2 labels"):
        _small().fit(texts[:3], y[:2])
    model = _small(epochs=1).fit(texts, y)
    with pytest.raises(TypeError, match="list of texts"):
        model.predict("one string")
    # empty, punctuation-only and unknown characters still get a prediction
    assert model.predict(["", "!!!", "日本語 ☃"]).shape == (3,)
    with pytest.raises(FileNotFoundError, match="not a glassworks text model"):
        TextClassifier.load(Path("/nonexistent"))


def test_fine_tuned_checkpoint_loads_as_an_encoder(sst2, tiny_bert: Path, tmp_path: Path) -> None:  # noqa: ANN001
    from glassworks.embed.encoder import Encoder

    texts, y = sst2
    model = TextClassifier(
        backbone=str(tiny_bert), max_length=32, epochs=1, lr=1e-3, device="cpu"
    ).fit(texts, y, n_classes=2)
    with pytest.raises(ValueError, match="ordinal"):
        TextClassifier(backbone=str(tiny_bert), loss="ordinal").fit(texts, y)
    model.save(tmp_path / "ft")
    loaded = TextClassifier.load(tmp_path / "ft")
    np.testing.assert_allclose(
        loaded.decision_function(texts), model.decision_function(texts), atol=1e-5
    )
    enc = Encoder(model=str(tmp_path / "ft" / "model"), layer=-1, device="cpu")
    vectors = enc.encode(["charming", "bleak"])
    assert vectors.shape == (2, 16)
    assert not np.allclose(vectors[0], vectors[1])  # real vocabulary, not every word [UNK]
    import shutil

    shutil.copytree(tmp_path / "ft" / "model", tmp_path / "weights-only")
    for f in (tmp_path / "weights-only").iterdir():
        if "token" in f.name or f.name in ("vocab.txt", "special_tokens_map.json"):
            f.unlink()
    from glassworks.errors import ConfigError

    with pytest.raises(ConfigError, match="no tokenizer files"):
        Encoder(model=str(tmp_path / "weights-only"), device="cpu").encode(["x"])


def test_lstm_with_glove_round_trips(sst2, tmp_path: Path) -> None:  # noqa: ANN001
    """The CDEP LSTM over a word vocabulary, GloVe-initialised: GloVe rows really are copied,
    and a saved model predicts the same after loading."""
    texts, y = sst2
    model = _small(backbone="lstm", tokenizer="word", embeddings="glove", epochs=1, lr=0.0)
    model.fit(texts, y, n_classes=2, label_names=["negative", "positive"])
    vocab = model.tokenizer_.get_vocab()
    assert "film" in vocab
    from glassworks.models.lstm import glove_folder

    words = pl.read_parquet(glove_folder() / "glove_6B_index.parquet")["index"].to_list()
    table = np.load(glove_folder() / "glove_6B_50d_emb.npy", mmap_mode="r")
    emb = model.module_.embedding.weight.detach().numpy()
    np.testing.assert_allclose(emb[vocab["film"]], table[words.index("film")], rtol=1e-6)
    model.save(tmp_path / "lstm")
    back = TextClassifier.load(tmp_path / "lstm")
    np.testing.assert_allclose(back.decision_function(texts), model.decision_function(texts))


def test_penalty_inputs(sst2, caplog: pytest.LogCaptureFixture) -> None:  # noqa: ANN001
    texts, y = sst2
    kw = dict(backbone="lstm", tokenizer="word", epochs=1, penalty="cdep", penalty_weight=1.0)
    with pytest.raises(ValueError, match="lambda"):
        _small(**{**kw, "penalty_weight": -1.0}).fit(texts, y)
    with pytest.raises(ValueError, match="group is empty"):
        _small(**kw, spurious_words=[]).fit(texts, y)
    with pytest.raises(ValueError, match="none of the spurious words"):
        _small(**kw, spurious_words=["zyzzyva"]).fit(texts, y)
    with pytest.raises(ValueError, match="unknown 'lasso'"):
        _small(**{**kw, "penalty": "lasso"}, spurious_words=["film"]).fit(texts, y)
    # words absent from the vocabulary are warned about and counted; the rest is penalised
    model = _small(**kw, spurious_words=["film", "zyzzyva", "qwertyuiop"]).fit(texts, y)
    assert model.n_spurious_missing_ == 2
    assert "2 of 3 spurious words" in caplog.text
    assert "train_penalty" in model.history_[-1]
    # CD on attention: one clear error naming the layer, before any training
    from glassworks.explain.cd import UnsupportedLayerError

    with pytest.raises(UnsupportedLayerError, match="attention"):
        _small(penalty="cdep", penalty_weight=1.0, spurious_words=["film"]).fit(texts, y)
