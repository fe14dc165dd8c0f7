"""The nlp-lime-ig text classifier: a small transformer encoder over a BPE vocabulary learnt on the
training texts (embedding 128, feed-forward 512, 2 heads, 2 layers, sinusoidal positions, padding
mask), as in Vaswani et al. 2017 and the seed's classifier.

The module follows the Hugging Face conventions (``input_ids`` / ``attention_mask`` /
``inputs_embeds``, ``get_input_embeddings()``) and the tokenizer is a
``transformers.PreTrainedTokenizerFast`` built on a ``tokenizers`` BPE model, so the embedding-level
explainers in :mod:`glassworks.explain.text` treat it exactly like a pretrained HF model.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from tokenizers.processors import TemplateProcessing
from torch import nn

from glassworks.train.losses import ordinal_log_probs

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

PAD, UNK, CLS, MASK = "[PAD]", "[UNK]", "[CLS]", "[MASK]"


def train_bpe_tokenizer(
    texts: Iterable[str], vocab_size: int = 5000, min_frequency: int = 2
) -> PreTrainedTokenizerFast:
    """A lower-casing byte-level-free BPE tokenizer learnt on ``texts`` ([PAD] has id 0).

    Every sequence starts with [CLS]; [MASK] is a baseline token for attributions.
    """
    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.normalizer = normalizers.Sequence(
        [normalizers.NFKC(), normalizers.Lowercase(), normalizers.StripAccents()]
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.BPEDecoder()
    return _trained(tok, trainers.BpeTrainer, texts, vocab_size, min_frequency)


def train_word_tokenizer(
    texts: Iterable[str], vocab_size: int = 20000, min_frequency: int = 1
) -> PreTrainedTokenizerFast:
    """A word-level tokenizer (lower-cased, split on white space: SST-2 ships tokenised text)
    keeping the ``vocab_size`` most frequent training words; others map to [UNK]."""
    tok = Tokenizer(models.WordLevel(unk_token=UNK))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return _trained(tok, trainers.WordLevelTrainer, texts, vocab_size, min_frequency)


def _trained(
    tok: Tokenizer, trainer: type, texts: Iterable[str], vocab_size: int, min_frequency: int
) -> PreTrainedTokenizerFast:
    """Learn ``tok``'s vocabulary (special tokens first: [PAD] = 0), prepend [CLS] to every
    sequence and wrap it for ``transformers`` (imported here: about half a second)."""
    from transformers import PreTrainedTokenizerFast

    tok.train_from_iterator(
        texts,
        trainer=trainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=[PAD, UNK, CLS, MASK],
            show_progress=False,
        ),
    )
    tok.post_processor = TemplateProcessing(
        single=f"{CLS} $A", special_tokens=[(CLS, tok.token_to_id(CLS))]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token=PAD, unk_token=UNK, cls_token=CLS, mask_token=MASK
    )


def embed_inputs(
    embedding: nn.Embedding, input_ids: torch.Tensor | None, inputs_embeds: torch.Tensor | None
) -> torch.Tensor:
    """``inputs_embeds`` if given, else ``embedding(input_ids)`` (the HF convention)."""
    if inputs_embeds is not None:
        return inputs_embeds
    if input_ids is None:
        raise ValueError("pass input_ids or inputs_embeds")
    return embedding(input_ids)


class SinusoidalPositions(nn.Module):
    """Fixed sine/cosine position encodings (Vaswani et al. 2017), added to the embeddings."""

    def __init__(self, d_model: int, max_length: int) -> None:
        super().__init__()
        pos = torch.arange(max_length).unsqueeze(1)
        div = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        table = torch.zeros(max_length, d_model)
        table[:, 0::2] = torch.sin(pos * div)
        table[:, 1::2] = torch.cos(pos * div[: d_model // 2])
        self.register_buffer("table", table, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x + PE[:seq]``."""
        return x + self.table[: x.shape[1]]


class TextTransformer(nn.Module):
    """Embedding -> positions -> ``n_layers`` encoder layers -> masked mean pool -> linear head.

    ``forward`` returns class logits (``n_classes``). With ``ordinal=True`` the head is a CORAL
    head (Cao et al. 2020): one shared score and ``n_classes - 1`` ordered thresholds; ``forward``
    then returns the class log-probabilities implied by the cumulative logits, and
    :meth:`cumulative_logits` gives those logits for the loss.
    """

    def __init__(
        self,
        vocab_size: int,
        n_classes: int,
        d_model: int = 128,
        n_heads: int = 2,
        d_ff: int = 512,
        n_layers: int = 2,
        dropout: float = 0.1,
        max_length: int = 512,
        ordinal: bool = False,
        pad_id: int = 0,
    ) -> None:
        super().__init__()
        self.n_classes = n_classes
        self.ordinal = ordinal
        self.embedding = nn.Embedding(vocab_size, d_model, padding_idx=pad_id)
        self.positions = SinusoidalPositions(d_model, max_length)
        layer = nn.TransformerEncoderLayer(
            d_model, n_heads, d_ff, dropout, batch_first=True, activation="gelu"
        )
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.dropout = nn.Dropout(dropout)
        if ordinal:
            self.score = nn.Linear(d_model, 1, bias=False)
            self.thresholds = nn.Parameter(torch.linspace(-1.0, 1.0, n_classes - 1))
        else:
            self.head = nn.Linear(d_model, n_classes)

    def get_input_embeddings(self) -> nn.Embedding:
        """The token embedding table (HF convention)."""
        return self.embedding

    def _pooled(
        self,
        input_ids: torch.Tensor | None,
        attention_mask: torch.Tensor | None,
        inputs_embeds: torch.Tensor | None,
    ) -> torch.Tensor:
        inputs_embeds = embed_inputs(self.embedding, input_ids, inputs_embeds)
        if attention_mask is None:
            attention_mask = torch.ones(inputs_embeds.shape[:2], device=inputs_embeds.device)
        keep = attention_mask.to(inputs_embeds.dtype)
        h = self.encoder(self.positions(inputs_embeds), src_key_padding_mask=attention_mask == 0)
        pooled = (h * keep.unsqueeze(-1)).sum(1) / keep.sum(1, keepdim=True).clamp_min(1.0)
        return self.dropout(pooled)

    def cumulative_logits(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """CORAL logits of P(y > k), k = 0..n_classes-2 (ordinal head only)."""
        if not self.ordinal:
            raise ValueError("cumulative_logits needs an ordinal head")
        return self.score(self._pooled(input_ids, attention_mask, inputs_embeds)) - self.thresholds

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Class logits (log-probabilities for the ordinal head), shape ``(batch, n_classes)``."""
        if self.ordinal:
            return ordinal_log_probs(
                self.cumulative_logits(input_ids, attention_mask, inputs_embeds)
            )
        return self.head(self._pooled(input_ids, attention_mask, inputs_embeds))
