"""Text classifiers trained end to end: the small nlp-lime-ig transformer
(:mod:`glassworks.models.text_transformer`), CDEP's LSTM (:mod:`glassworks.models.lstm`) or a
fine-tuned pretrained encoder (the offline MiniLM, or any Hugging Face model), as the fine-tuned
DistilBERT of path_explain (Janizek et al. 2021).

Training: AdamW, linear warm-up then cosine decay, length-bucketed batches padded per batch,
early stopping on a validation metric (the best epoch's weights are kept), and optionally an
explanation penalty on a group of spurious words (CDEP, RRR or Expected Gradients; see
:mod:`glassworks.train.losses`).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from glassworks.device import resolve_device, torch_threads
from glassworks.embed.encoder import default_model_path
from glassworks.errors import DataError
from glassworks.explain.windows import Windows, sliding_windows
from glassworks.io import read_json
from glassworks.models.lstm import GLOVE_DIM, LSTMTextModule, glove_init
from glassworks.models.text_transformer import (
    TextTransformer,
    train_bpe_tokenizer,
    train_word_tokenizer,
)
from glassworks.train.evaluate import classification_metrics
from glassworks.train.losses import (
    CD_PENALTIES,
    PENALTIES,
    LossName,
    OrdinalLoss,
    PenaltyName,
    cdep_interaction_penalty,
    cdep_penalty,
    cdep_reference_penalty,
    counterfactual_penalty,
    eg_penalty,
    make_loss,
    ordinal_log_probs,
    rrr_penalty,
)

log = logging.getLogger(__name__)

SMALL = "small"
LSTM = "lstm"
OWN_BACKBONES = (SMALL, LSTM)
SelectOn = Literal["macro_f1", "accuracy", "qwk", "loss", "last"]


def resolve_backbone(name: str) -> str:
    """``default`` -> the offline all-MiniLM-L6-v2 folder; anything else is an HF name or path."""
    return default_model_path() if name == "default" else name


def _logits(out: Any) -> torch.Tensor:
    return out.logits if hasattr(out, "logits") else out


class TextClassifier(ClassifierMixin, BaseEstimator):
    """A transformer text classifier with a scikit-learn API over lists of strings.

    ``backbone="small"`` trains the nlp-lime-ig transformer, ``"lstm"`` CDEP's LSTM (hidden size
    ``d_model``; ``embeddings="glove"`` starts from GloVe 50-d vectors), each with a tokenizer
    learnt on the training texts (``tokenizer``: BPE or words, ``vocab_size``); any other value
    (``"default"`` = offline MiniLM, an HF name or a folder) fine-tunes that pretrained model with
    a fresh classification head. Labels are class indices ``0..n_classes-1``.

    ``penalty`` (``cdep``, ``cdep_ref``, ``cdep_int``, ``clp``, ``rrr``, ``eg``; see
    :mod:`glassworks.train.losses`) adds ``penalty_weight`` times an explanation penalty on
    the tokens of ``spurious_words`` (words that are not one vocabulary token are warned about and
    counted in ``n_spurious_missing_``). ``select_on="last"`` keeps the last epoch.

    ``window_stride`` (tokens) reads texts longer than ``max_length`` whole, as overlapping
    windows of ``max_length`` tokens starting every ``window_stride`` tokens
    (:func:`glassworks.explain.windows.sliding_windows`). A text's logits are the ``window_pool``
    (``mean`` or ``sum``; a sum grows with the text's length) of its windows' logits (of their
    cumulative logits for the ordinal head), and training fits that pooled output, a batch of
    texts with all their windows at a time. Pooling is linear, so token attributions stitch
    exactly (:func:`glassworks.explain.windows.explain_windows`). ``None`` cuts texts to their
    first ``max_length`` tokens (``n_truncated_`` counts them).

    Fitted: ``tokenizer_``, ``module_``, ``classes_``, ``label_names_``, ``history_``,
    ``best_epoch_``, ``n_truncated_``, ``n_windows_`` (training windows; one per text without
    ``window_stride``), ``spurious_ids_``, ``n_spurious_missing_``.
    """

    def __init__(
        self,
        backbone: str = SMALL,
        vocab_size: int = 5000,
        max_length: int = 256,
        d_model: int = 128,
        n_heads: int = 2,
        d_ff: int = 512,
        n_layers: int = 2,
        dropout: float = 0.1,
        loss: LossName = "ce",
        lr: float = 5e-4,
        weight_decay: float = 0.01,
        epochs: int = 10,
        batch_size: int = 32,
        warmup: float = 0.1,
        patience: int = 3,
        select_on: SelectOn = "macro_f1",
        seed: int = 0,
        device: str = "auto",
        threads: int | None = None,
        tokenizer: Literal["bpe", "word"] = "bpe",
        embeddings: Literal["random", "glove"] = "random",
        penalty: PenaltyName = "none",
        penalty_weight: float = 0.0,
        spurious_words: Sequence[str] | None = None,
        window_stride: int | None = None,
        window_pool: Literal["mean", "sum"] = "mean",
    ) -> None:
        self.backbone = backbone
        self.vocab_size = vocab_size
        self.max_length = max_length
        self.d_model = d_model
        self.n_heads = n_heads
        self.d_ff = d_ff
        self.n_layers = n_layers
        self.dropout = dropout
        self.loss = loss
        self.lr = lr
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.warmup = warmup
        self.patience = patience
        self.select_on = select_on
        self.seed = seed
        self.device = device
        self.threads = threads
        self.tokenizer = tokenizer
        self.embeddings = embeddings
        self.penalty = penalty
        self.penalty_weight = penalty_weight
        self.spurious_words = spurious_words
        self.window_stride = window_stride
        self.window_pool = window_pool

    # ------------------------------------------------------------------ building

    def _check_penalty(self) -> None:
        if self.penalty not in PENALTIES:
            raise ValueError(
                f"penalty: unknown {self.penalty!r}; use one of {', '.join(PENALTIES)}"
            )
        if self.penalty_weight < 0:
            raise ValueError(f"penalty_weight (lambda) must be >= 0, got {self.penalty_weight}")
        if self.penalty != "none" and not self.spurious_words:
            raise ValueError(f"penalty {self.penalty!r} needs spurious_words (the group is empty)")
        if self.penalty != "none" and self.backbone not in OWN_BACKBONES:
            raise ValueError(f"penalty {self.penalty!r} needs backbone 'small' or 'lstm'")
        if self.penalty != "none" and self.loss == "ordinal":
            raise ValueError("explanation penalties need a class-logit head, not loss='ordinal'")
        if self.penalty != "none" and self.window_stride is not None:
            raise ValueError("explanation penalties read one window per text: drop window_stride")
        if self.window_pool not in ("mean", "sum"):
            raise ValueError(f"window_pool: unknown {self.window_pool!r}; use mean or sum")

    def _build(self, texts: Sequence[str], n_classes: int) -> None:
        if self.backbone in OWN_BACKBONES:
            if self.tokenizer == "word":
                self.tokenizer_ = train_word_tokenizer(texts, self.vocab_size)
            else:
                self.tokenizer_ = train_bpe_tokenizer(texts, self.vocab_size)
            self.module_ = self._own_module(len(self.tokenizer_), n_classes)
            if self.embeddings == "glove":
                glove_init(
                    self.module_.get_input_embeddings(), self.tokenizer_.get_vocab(), seed=self.seed
                )
            return
        if self.loss == "ordinal":
            raise ValueError("loss='ordinal' needs backbone='small' (a CORAL head)")
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        path = resolve_backbone(self.backbone)
        self.tokenizer_ = AutoTokenizer.from_pretrained(path)
        self.module_ = AutoModelForSequenceClassification.from_pretrained(
            path, num_labels=n_classes
        )

    def _own_module(self, vocab_size: int, n_classes: int) -> nn.Module:
        if self.backbone == LSTM:
            if self.loss == "ordinal":
                raise ValueError("loss='ordinal' needs backbone='small' (a CORAL head)")
            return LSTMTextModule(
                vocab_size,
                n_classes,
                embedding_dim=GLOVE_DIM if self.embeddings == "glove" else self.d_model,
                hidden_size=self.d_model,
                dropout=self.dropout,
                pad_id=self.tokenizer_.pad_token_id,
            )
        if self.embeddings == "glove" and self.d_model != GLOVE_DIM:
            raise ValueError(f"embeddings='glove' needs d_model={GLOVE_DIM} for the transformer")
        return TextTransformer(
            vocab_size=vocab_size,
            n_classes=n_classes,
            d_model=self.d_model,
            n_heads=self.n_heads,
            d_ff=self.d_ff,
            n_layers=self.n_layers,
            dropout=self.dropout,
            max_length=self.max_length,
            ordinal=self.loss == "ordinal",
            pad_id=self.tokenizer_.pad_token_id,
        )

    def _spurious_ids(self) -> list[int]:
        """Vocabulary ids of ``spurious_words`` that are one token; warns about the others."""
        ids, missing = [], []
        unk = self.tokenizer_.unk_token_id
        for word in self.spurious_words or ():
            pieces = self.tokenizer_(word, add_special_tokens=False)["input_ids"]
            if len(pieces) == 1 and pieces[0] != unk:
                ids.append(pieces[0])
            else:
                missing.append(word)
        if missing:
            log.warning(
                "%d of %d spurious words are not one vocabulary token and cannot be penalised: %s",
                len(missing),
                len(self.spurious_words or ()),
                ", ".join(missing[:20]),
            )
        self.n_spurious_missing_ = len(missing)
        if self.penalty != "none" and not ids:
            raise ValueError(
                f"none of the spurious words {list(self.spurious_words or ())[:10]} is in the "
                "vocabulary: the penalised group is empty"
            )
        return sorted(set(ids))

    def group_mask(self, input_ids: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` True at tokens of the spurious words."""
        check_is_fitted(self, "spurious_ids_")
        ids = torch.as_tensor(self.spurious_ids_, dtype=input_ids.dtype, device=input_ids.device)
        return torch.isin(input_ids, ids)

    def _encode(self, texts: Sequence[str]) -> list[list[int]]:
        ids = self.tokenizer_(
            list(texts), truncation=True, max_length=self.max_length, padding=False
        )["input_ids"]
        return list(ids)

    def _windows(self, texts: Sequence[str]) -> Windows:
        """The model's inputs for ``texts``: sliding windows with ``window_stride``, else each
        text cut to ``max_length`` tokens (one window per text)."""
        if getattr(self, "window_stride", None) is None:
            n = len(texts)
            return Windows(self._encode(texts), np.arange(n), np.zeros(n, dtype=np.int64))
        return sliding_windows(self.tokenizer_, texts, self.max_length, self.window_stride)

    def _collate(self, rows: list[list[int]], device: torch.device) -> dict[str, torch.Tensor]:
        width = max(len(r) for r in rows)
        pad = self.tokenizer_.pad_token_id
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.as_tensor(r)
            mask[i, : len(r)] = 1
        return {"input_ids": ids.to(device), "attention_mask": mask.to(device)}

    def _batches(self, lengths: Sequence[int], gen: torch.Generator) -> list[np.ndarray]:
        """Shuffled batches of texts of similar length (sorted within pools of 50 batches)."""
        order = torch.randperm(len(lengths), generator=gen).numpy()
        pool = self.batch_size * 50
        batches: list[np.ndarray] = []
        for start in range(0, len(order), pool):
            chunk = order[start : start + pool]
            chunk = chunk[np.argsort([lengths[i] for i in chunk], kind="stable")]
            batches += [
                chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size)
            ]
        perm = torch.randperm(len(batches), generator=gen).tolist()
        return [batches[i] for i in perm]

    # ------------------------------------------------------------------ training

    def fit(
        self,
        texts: Sequence[str],
        y: Sequence[int],
        texts_valid: Sequence[str] | None = None,
        y_valid: Sequence[int] | None = None,
        n_classes: int | None = None,
        on_step: Callable[[int], None] | None = None,
        label_names: Sequence[str] | None = None,
    ) -> TextClassifier:
        """Train with ``threads`` torch threads (:func:`~glassworks.device.torch_threads`); with a
        validation split, keep the epoch with the best ``select_on`` score.

        ``on_step(n)`` is called after each batch with the texts it held (for progress bars).
        """
        with torch_threads(self.threads):
            torch.manual_seed(self.seed)
            y_arr = np.asarray(y, dtype=np.int64)
            if len(texts) != len(y_arr) or len(texts) == 0:
                raise ValueError(f"fit: {len(texts)} texts and {len(y_arr)} labels")
            k = int(n_classes if n_classes is not None else y_arr.max() + 1)
            self.classes_ = np.arange(k)
            self.label_names_ = list(label_names) if label_names else [str(c) for c in range(k)]
            if len(self.label_names_) != k:
                raise ValueError(f"fit: {len(self.label_names_)} label names for {k} classes")
            self._check_penalty()
            self._build(texts, k)
            self.spurious_ids_ = self._spurious_ids()
            if self.penalty in CD_PENALTIES:  # imported here: training without CD needs no CD code
                from glassworks.explain.cd import check_supported

                check_supported(self.module_)  # attention: a clear error before any training
            device = torch.device(resolve_device(self.device))
            self.module_.to(device)
            loss_fn = make_loss(self.loss, y_arr, k).to(device)
            windows = self._windows(texts)
            encoded = windows.input_ids
            self.n_windows_ = len(encoded)
            self.n_truncated_ = (
                sum(len(r) >= self.max_length for r in encoded) if self.window_stride is None else 0
            )
            rows_of = np.split(np.arange(len(encoded)), np.flatnonzero(np.diff(windows.owner)) + 1)
            lengths = [sum(len(encoded[r]) for r in rows) for rows in rows_of]
            steps = self.epochs * math.ceil(len(texts) / self.batch_size)
            opt = torch.optim.AdamW(
                self.module_.parameters(), lr=self.lr, weight_decay=self.weight_decay
            )
            from transformers import get_cosine_schedule_with_warmup

            sched = get_cosine_schedule_with_warmup(opt, int(self.warmup * steps), max(steps, 1))
            gen = torch.Generator().manual_seed(self.seed)
            has_valid = texts_valid is not None and y_valid is not None and len(texts_valid) > 0
            best, best_state, waited, best_epoch = -math.inf, None, 0, self.epochs
            self.history_: list[dict[str, float]] = []
            step = 0
            for epoch in range(self.epochs):
                self.module_.train()
                total, seen, pen_total = 0.0, 0, 0.0
                for idx in self._batches(lengths, gen):
                    target = torch.as_tensor(y_arr[idx], device=device)
                    if self.window_stride is None:
                        batch = self._collate([encoded[i] for i in idx], device)
                        loss, pen = self._loss(loss_fn, batch, target, step)
                    else:
                        loss, pen = self._text_loss(loss_fn, encoded, rows_of, idx, target), 0.0
                    step += 1
                    pen_total += pen * len(idx)
                    opt.zero_grad()
                    loss.backward()
                    nn.utils.clip_grad_norm_(self.module_.parameters(), 1.0)
                    opt.step()
                    sched.step()
                    total += float(loss.detach()) * len(idx)
                    seen += len(idx)
                    if on_step is not None:
                        on_step(len(idx))
                row = {"epoch": epoch + 1, "train_loss": total / seen}
                if self.penalty != "none":
                    row["train_penalty"] = pen_total / seen
                if has_valid:
                    row.update(self.score_split(texts_valid, y_valid, loss_fn))
                if has_valid and self.select_on != "last":
                    score = (
                        -row["valid_loss"]
                        if self.select_on == "loss"
                        else row[f"valid_{self.select_on}"]
                    )
                    if score > best + 1e-6:
                        best, waited, best_epoch = score, 0, epoch + 1
                        best_state = {
                            n: t.detach().clone() for n, t in self.module_.state_dict().items()
                        }
                    else:
                        waited += 1
                self.history_.append(row)
                log.info("epoch %d: %s", epoch + 1, {k: round(v, 4) for k, v in row.items()})
                if has_valid and self.select_on != "last" and waited >= self.patience:
                    break
            if best_state is not None:
                self.module_.load_state_dict(best_state)
            selected = has_valid and self.select_on != "last"
            self.best_epoch_ = best_epoch if selected else len(self.history_)
            self.module_.eval()
            return self

    def _window_outputs(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """What windows pool: class logits, or cumulative logits for the ordinal head."""
        if getattr(self.module_, "ordinal", False):
            return self.module_.cumulative_logits(**batch)
        return _logits(self.module_(**batch))

    def _pool(self, out: torch.Tensor, owner: torch.Tensor, n_texts: int) -> torch.Tensor:
        """Per-text ``window_pool`` of window outputs ``out`` (``owner``: text of each row). An
        ordinal head's summed cumulative logits keep its thresholds once: the windows' scores
        add up, the thresholds do not."""
        pooled = torch.zeros((n_texts, out.shape[1]), dtype=out.dtype, device=out.device)
        pooled = pooled.index_add(0, owner, out)
        counts = torch.bincount(owner, minlength=n_texts).to(out.dtype).unsqueeze(1)
        if getattr(self, "window_pool", "mean") == "mean":
            return pooled / counts
        if getattr(self.module_, "ordinal", False):
            theta = self.module_.thresholds.to(out.device, out.dtype)
            return pooled + (counts - 1) * theta
        return pooled

    def _text_loss(
        self,
        loss_fn: nn.Module,
        encoded: list[list[int]],
        rows_of: list[np.ndarray],
        idx: np.ndarray,
        target: torch.Tensor,
    ) -> torch.Tensor:
        """The loss of the pooled outputs of texts ``idx``, all their windows in one batch."""
        rows = np.concatenate([rows_of[i] for i in idx])
        device = target.device
        owner = torch.repeat_interleave(
            torch.arange(len(idx), device=device),
            torch.as_tensor([len(rows_of[i]) for i in idx], device=device),
        )
        batch = self._collate([encoded[r] for r in rows], device)
        return loss_fn(self._pool(self._window_outputs(batch), owner, len(idx)), target)

    def _loss(
        self,
        loss_fn: nn.Module,
        batch: dict[str, torch.Tensor],
        target: torch.Tensor,
        step: int = 0,
    ) -> tuple[torch.Tensor, float]:
        """The training loss of a batch and its explanation penalty's value (0 without one)."""
        if isinstance(loss_fn, OrdinalLoss):
            return loss_fn(self.module_.cumulative_logits(**batch), target), 0.0
        if self.penalty == "none" or self.penalty_weight == 0:
            return loss_fn(_logits(self.module_(**batch)), target), 0.0
        group = self.group_mask(batch["input_ids"]) & batch["attention_mask"].bool()
        if self.penalty == "cdep":
            logits = _logits(self.module_(**batch))
            pen = cdep_penalty(self.module_, batch["input_ids"], batch["attention_mask"], group)
        elif self.penalty == "cdep_int":
            logits = _logits(self.module_(**batch))
            pen = cdep_interaction_penalty(
                self.module_, batch["input_ids"], batch["attention_mask"], group
            )
        elif self.penalty == "clp":
            logits = _logits(self.module_(**batch))
            pen = counterfactual_penalty(
                self.module_, batch["input_ids"], batch["attention_mask"], group, logits
            )
        elif self.penalty == "cdep_ref":
            logits = _logits(self.module_(**batch))
            pen = cdep_reference_penalty(
                self.module_, batch["input_ids"], batch["attention_mask"], group, target
            )
        else:
            with sdpa_kernel(SDPBackend.MATH):  # double backward through attention
                embeds = self.module_.get_input_embeddings()(batch["input_ids"])
                logits = _logits(
                    self.module_(inputs_embeds=embeds, attention_mask=batch["attention_mask"])
                )
                if self.penalty == "rrr":
                    pen = rrr_penalty(logits, embeds, group.to(embeds.dtype))
                else:
                    pen = eg_penalty(
                        self.module_,
                        embeds,
                        batch["attention_mask"],
                        group.to(embeds.dtype),
                        target,
                        self.seed * 1_000_003 + step,
                    )
        return loss_fn(logits, target) + self.penalty_weight * pen, float(pen.detach())

    def score_split(
        self, texts: Sequence[str], y: Sequence[int], loss_fn: nn.Module | None = None
    ) -> dict[str, float]:
        """Validation metrics: loss (if ``loss_fn``), accuracy, macro-F1 and QWK."""
        y_arr = np.asarray(y, dtype=np.int64)
        logits = self.decision_function(texts)
        pred = logits.argmax(1)
        scores = classification_metrics(y_arr, pred, "ordinal", self.label_names_)
        out = {f"valid_{k}": scores[k] for k in ("accuracy", "macro_f1", "qwk")}
        if loss_fn is not None:
            t_logits, t_y = torch.from_numpy(logits), torch.from_numpy(y_arr.copy())
            if isinstance(loss_fn, OrdinalLoss):  # logits are log-probabilities
                out["valid_loss"] = float(nn.functional.nll_loss(t_logits, t_y))
            else:
                weight = getattr(loss_fn, "weight", None)
                weight = None if weight is None else weight.cpu()
                out["valid_loss"] = float(nn.functional.cross_entropy(t_logits, t_y, weight=weight))
        return out

    # ------------------------------------------------------------------ predicting

    def decision_function(self, texts: Sequence[str], batch_size: int = 128) -> np.ndarray:
        """Class logits (log-probabilities for an ordinal head), shape ``(n, n_classes)``; with
        ``window_stride``, pooled over each text's windows."""
        check_is_fitted(self, "module_")
        if isinstance(texts, str):
            raise TypeError("pass a list of texts, not one string")
        windows = self._windows(texts)
        encoded = windows.input_ids
        whole = getattr(self, "window_stride", None) is not None
        order = np.argsort([len(r) for r in encoded], kind="stable")
        device = next(self.module_.parameters()).device
        width = len(self.classes_) - (1 if whole and getattr(self.module_, "ordinal", False) else 0)
        out = torch.zeros((len(encoded), width), dtype=torch.float32)
        was_training = self.module_.training
        self.module_.eval()
        with torch.no_grad(), torch_threads(getattr(self, "threads", None)):
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                batch = self._collate([encoded[i] for i in idx], device)
                rows = self._window_outputs(batch) if whole else _logits(self.module_(**batch))
                out[torch.as_tensor(idx)] = rows.float().cpu()
            if whole:
                out = self._pool(out, torch.as_tensor(windows.owner), len(texts))
                if getattr(self.module_, "ordinal", False):
                    out = ordinal_log_probs(out)
        self.module_.train(was_training)
        return out.numpy()

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities."""
        return torch.softmax(torch.as_tensor(self.decision_function(texts)), -1).numpy()

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """Most probable class index."""
        return self.decision_function(texts).argmax(1)

    # ------------------------------------------------------------------ persistence

    def save(self, path: str | Path) -> None:
        """Write the model to a folder: ``glassworks.json``, ``tokenizer/`` and the weights
        (``model/`` in Hugging Face format for a pretrained backbone, so an encoder can load
        the fine-tuned checkpoint; ``model.pt`` for the small transformer)."""
        check_is_fitted(self, "module_")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        meta = {
            "params": self.get_params(),
            "n_classes": len(self.classes_),
            "label_names": self.label_names_,
            "history": self.history_,
            "best_epoch": self.best_epoch_,
            "n_truncated": self.n_truncated_,
            "n_windows": self.n_windows_,
            "vocab_size": len(self.tokenizer_),
            "spurious_ids": getattr(self, "spurious_ids_", []),
            "n_spurious_missing": getattr(self, "n_spurious_missing_", 0),
        }
        (path / "glassworks.json").write_text(json.dumps(meta, indent=2))
        self.tokenizer_.save_pretrained(path / "tokenizer")
        if self.backbone in OWN_BACKBONES:
            state = {k: v.cpu() for k, v in self.module_.state_dict().items()}
            torch.save(state, path / "model.pt")
        else:  # a complete HF folder (weights + tokenizer): embed.encoder.model can load it
            self.module_.save_pretrained(path / "model")
            self.tokenizer_.save_pretrained(path / "model")

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> TextClassifier:
        """Read a folder written by :meth:`save`; a damaged one raises :class:`DataError` naming
        it (weights load with ``weights_only=True``: a file that would run code is refused)."""
        path = Path(path)
        meta_path = path / "glassworks.json"
        if not meta_path.is_file():
            raise FileNotFoundError(f"{path}: not a glassworks text model (no glassworks.json)")
        try:
            return cls._load(path, read_json(meta_path), device)
        except DataError:
            raise
        except Exception as exc:  # noqa: BLE001 - any damage (meta, tokenizer, weights) -> one error
            raise DataError(path, f"damaged model folder ({type(exc).__name__}: {exc})") from exc

    @classmethod
    def _load(cls, path: Path, meta: Any, device: str) -> TextClassifier:
        from transformers import (
            AutoModelForSequenceClassification,
            AutoTokenizer,
            PreTrainedTokenizerFast,
        )

        model = cls(**{**meta["params"], "device": device})
        k = int(meta["n_classes"])
        model.classes_ = np.arange(k)
        model.label_names_ = meta["label_names"]
        model.history_ = meta["history"]
        model.best_epoch_ = meta["best_epoch"]
        model.n_truncated_ = meta["n_truncated"]
        model.n_windows_ = meta.get("n_windows")  # None: saved before windows were counted
        model.spurious_ids_ = list(meta.get("spurious_ids", []))
        model.n_spurious_missing_ = int(meta.get("n_spurious_missing", 0))
        if model.backbone in OWN_BACKBONES:
            model.tokenizer_ = PreTrainedTokenizerFast.from_pretrained(path / "tokenizer")
            model.module_ = model._own_module(int(meta["vocab_size"]), k)
            state = torch.load(path / "model.pt", map_location="cpu", weights_only=True)
            model.module_.load_state_dict(state)
        else:
            model.tokenizer_ = AutoTokenizer.from_pretrained(path / "tokenizer")
            model.module_ = AutoModelForSequenceClassification.from_pretrained(path / "model")
        model.module_.to(resolve_device(device)).eval()
        return model
