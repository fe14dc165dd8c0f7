"""Tiny stand-ins for the language model (unit tests only)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence

import numpy as np
import torch


class HashEncoder:
    """Deterministic pseudo-embeddings: a function of the text alone, with a word structure
    (sum of per-word vectors plus a small per-text term) so linear models can learn from it."""

    def __init__(self, dim: int = 16, name: str = "hash") -> None:
        self.dim = dim
        self.name = name
        self.calls = 0
        self.encoded = 0

    @property
    def identity(self) -> str:
        return json.dumps({"model": self.name, "dim": self.dim})

    def _vec(self, key: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little")
        return np.random.default_rng(seed).standard_normal(self.dim)

    def encode(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        self.calls += 1
        self.encoded += len(texts)
        out = (
            np.stack(
                [sum(self._vec(w) for w in t.split()) + 0.1 * self._vec("#" + t) for t in texts]
            )
            if texts
            else np.zeros((0, self.dim))
        )
        if progress is not None:
            progress(len(texts))
        return out.astype(np.float32)


REVIEWS = ["a charming , funny film", "dull and lifeless", "the best of the year", "a mess",
           "warm and wise", "tedious , flat , empty", "i loved it", "boring"]  # fmt: skip
"""Eight short movie-review phrases, alternately positive and negative."""


def tiny_lstm():  # noqa: ANN201 - a fitted TextClassifier (imported lazily: torch)
    """A 2-epoch word-level LSTM classifier fitted on :data:`REVIEWS`."""
    from glassworks.models.text_classifier import TextClassifier

    return TextClassifier(
        backbone="lstm", tokenizer="word", vocab_size=100, d_model=8, epochs=2, device="cpu"
    ).fit(REVIEWS * 3, [1, 0, 1, 0, 1, 0, 1, 0] * 3, label_names=["negative", "positive"])


def toy_tabular(n: int):  # noqa: ANN201 - a polars frame
    """``n`` rows of a numeric ``age``, a nominal ``colour`` (Enum) and a random binary label."""
    import polars as pl

    rng = np.random.default_rng(0)
    return pl.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "colour": rng.choice(["red", "blue"], n),
            "label": (rng.normal(size=n) > 0).astype(np.int64),
        }
    ).with_columns(pl.col("colour").cast(pl.Enum(["blue", "red"])))


def last_run_metrics(experiment: str, tracking_uri: str | None = None) -> dict[str, float]:
    """Metrics of the newest MLflow run of ``experiment`` (machine-state counters such as the
    embedding cache's hits live there, not in the DVC metrics files)."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri or mlflow.get_tracking_uri())
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, f"no MLflow experiment {experiment!r}"
    runs = client.search_runs(
        [exp.experiment_id], order_by=["attributes.start_time DESC"], max_results=1
    )
    return dict(runs[0].data.metrics)


TOKEN_TEXTS = [
    "a charming and often affecting journey .",
    "unflinchingly bleak and desperate",
    "the acting , costumes , music and sound are all astounding but the plot is thin",
    "it 's slow -- very , very slow .",
]


class AdditiveTextModel(torch.nn.Module):
    """Class-1 logit = sum_t mask_t * (w . e_t); class-0 logit = 0 (ignores right padding)."""

    def __init__(self, vocab: int, dim: int = 8) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embedding = torch.nn.Embedding(vocab, dim, padding_idx=0)
        self.w = torch.nn.Parameter(torch.randn(dim))

    def get_input_embeddings(self) -> torch.nn.Embedding:
        return self.embedding

    def forward(self, input_ids=None, attention_mask=None, inputs_embeds=None):  # noqa: ANN001, ANN201
        e = self.embedding(input_ids) if inputs_embeds is None else inputs_embeds
        s = (e @ self.w) * attention_mask.to(e.dtype)
        return torch.stack([torch.zeros_like(s[:, 0]), s.sum(1)], 1)


def additive_token_setup(model_cls: type[torch.nn.Module] = AdditiveTextModel):  # noqa: ANN201
    """A BPE tokenizer learnt on :data:`TOKEN_TEXTS`, ``model_cls`` over it, the encoded texts
    (pad baseline, 64 tokens) and target class 1 for every text."""
    from glassworks.explain.text import encode_texts
    from glassworks.models.text_transformer import train_bpe_tokenizer

    tok = train_bpe_tokenizer(TOKEN_TEXTS * 3, vocab_size=120, min_frequency=1)
    model = model_cls(len(tok)).eval()
    enc = encode_texts(model, tok, TOKEN_TEXTS, "pad", 64)
    return model, tok, enc, torch.ones(len(TOKEN_TEXTS), dtype=torch.long)
