from pathlib import Path

import numpy as np
import pytest

from glassworks.embed.encoder import Encoder
from glassworks.errors import ConfigError


def test_missing_model_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"embed.model: .*nope does not exist"):
        Encoder(model=str(tmp_path / "nope")).encode(["a"])


def test_folder_that_is_not_a_model(tmp_path: Path) -> None:
    (tmp_path / "weights.txt").write_text("hello")
    with pytest.raises(ConfigError, match="no config.json"):
        Encoder(model=str(tmp_path)).encode(["a"])


def test_layer_out_of_range(tiny_bert: Path) -> None:
    with pytest.raises(ConfigError, match="layer: 2 is out of range .* 1 layers"):
        Encoder(model=str(tiny_bert), layer=2).encode(["a"])


def test_bad_params() -> None:
    with pytest.raises(ConfigError, match="pooling"):
        Encoder(pooling="max")  # type: ignore[arg-type]


@pytest.mark.slow
def test_real_minilm_matches_manual_mean_pooling() -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer

    enc = Encoder(batch_size=2, max_length=8)
    texts = ["good movie", "a", "the worst film i have seen in years , truly awful", "fun"]
    out = enc.encode(texts)
    assert out.shape == (4, 384)
    assert enc.n_truncated == 1
    tok = AutoTokenizer.from_pretrained(enc.path)
    model = AutoModel.from_pretrained(enc.path).eval()
    with torch.inference_mode():
        for i, t in enumerate(texts):
            batch = tok([t], return_tensors="pt", truncation=True, max_length=8)
            hidden = model(**batch).last_hidden_state[0]
            np.testing.assert_allclose(out[i], hidden.mean(0).numpy(), atol=2e-5)
    # order and batching do not change a text's vector
    np.testing.assert_allclose(enc.encode(texts[::-1])[::-1], out, atol=2e-5)
    assert enc.identity == Encoder(max_length=8).identity
    assert enc.identity != Encoder(max_length=8, pooling="cls").identity
    cls = Encoder(pooling="cls", layer=3).encode(["good movie"])
    assert cls.shape == (1, 384)
    assert not np.allclose(cls[0], out[0])


def test_fine_tuned_classifier_checkpoint_works_unchanged(tmp_path: Path, tiny_bert: Path) -> None:
    """A BertForSequenceClassification folder (a fine-tuned encoder) loads as the encoder."""
    import shutil

    import torch
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig.from_pretrained(tiny_bert)
    config.num_labels = 2
    torch.manual_seed(1)
    clf = BertForSequenceClassification(config).eval()
    clf.save_pretrained(tmp_path)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt"):
        if (tiny_bert / name).exists():
            shutil.copy(tiny_bert / name, tmp_path / name)
    enc = Encoder(model=str(tmp_path), pooling="cls")
    out = enc.encode(["good movie", "bad"])
    assert out.shape == (2, 16)
    with torch.inference_mode():
        ids = enc._loaded[0](["good movie"], return_tensors="pt")
        ref = clf.bert(**ids).last_hidden_state[0, 0].numpy()
    np.testing.assert_allclose(out[0], ref, atol=1e-5)
    assert enc.identity != Encoder(model=str(tiny_bert), pooling="cls").identity


def test_vectors_do_not_depend_on_companions_order_or_cache(tmp_path: Path) -> None:
    """Same text, same bytes: cold, warm, reordered, embedded beside other texts or alone."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from glassworks.embed.cache import CachedEmbedder

    texts = ["good movie", "a", "the worst film i have seen", "fun", "not bad at all", "dull"]
    enc = Encoder(layer=2, batch_size=4, max_length=16)
    cold = CachedEmbedder(enc, tmp_path / "c1").embed(texts)
    alone = np.stack([enc.encode([t])[0] for t in texts])
    np.testing.assert_array_equal(cold, alone)
    reordered = CachedEmbedder(enc, tmp_path / "c2").embed(texts[::-1])[::-1]
    np.testing.assert_array_equal(cold, reordered)
    partly_warm = CachedEmbedder(enc, tmp_path / "c3")
    partly_warm.embed(texts[:2] + ["something else entirely"])
    np.testing.assert_array_equal(partly_warm.embed(texts), cold)
    assert cold.tobytes() == CachedEmbedder(enc, tmp_path / "c1").embed(texts).tobytes()
    # the encoder keeps only the blocks layer 2 needs; the full model's hidden state 2 agrees
    tok = AutoTokenizer.from_pretrained(enc.path)
    full = AutoModel.from_pretrained(enc.path).eval()
    with torch.inference_mode():
        batch = tok(["good movie"], return_tensors="pt")
        hidden = full(**batch, output_hidden_states=True).hidden_states[2][0]
    np.testing.assert_allclose(cold[0], hidden.mean(0).numpy(), atol=1e-5)
    assert len(enc._loaded[1].encoder.layer) == 2
