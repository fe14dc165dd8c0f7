"""Contextual decomposition through the CDEP LSTM against a plain-Python port of the reference.

The oracle follows ``cd_text`` / ``cd_batch_text`` of Rieger et al.'s CDEP code
(github.com/laura-rieger/deep-explanation-penalization, ``src/cd.py``, itself from Murdoch, Liu &
Yu, ICLR 2018): one example and one time step at a time, numpy float64, gates split with the
three-way Shapley linearisation ``propagate_three`` and the hidden state with
``propagate_tanh_two``.
Nothing from ``glassworks.explain`` computes an expected value here.

Two documented choices of the library are mirrored, not taken from ``cd_batch_text``:

- the product of the input and cell gates' bias parts goes to the relevant part at every step
  inside the group (``cd_text``'s ``start <= i <= stop``; ``cd_batch_text`` uses ``i < stop`` for
  this one term while its tokens use ``i <= stop``, an inconsistency), generalised from a span to
  a token mask;
- the output layer's bias is split in proportion to ``|W rel|`` and ``|W irrel|``
  (``propagate_conv_linear``, which CDEP applies to every linear layer); ``cd_batch_text`` drops
  the head's bias instead, so it would not sum to the logit.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import nn

from glassworks.explain.cd import contextual_decomposition
from glassworks.models.lstm import LastHiddenLSTM, LSTMTextModule
from glassworks.train.losses import cdep_penalty

VOCAB, EMB, HID, CLASSES = 30, 5, 6, 3


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _propagate_three(
    a: np.ndarray, b: np.ndarray, c: np.ndarray, act: Callable[[np.ndarray], np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shapley split of ``act(a + b + c)`` into the parts of ``a``, ``b`` and ``c`` (bias)."""
    a_part = 0.5 * (act(a + c) - act(c) + act(a + b + c) - act(b + c))
    b_part = 0.5 * (act(b + c) - act(c) + act(a + b + c) - act(a + c))
    return a_part, b_part, act(c)


def _propagate_tanh_two(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shapley split of ``tanh(a + b)``."""
    return (
        0.5 * (np.tanh(a) + (np.tanh(a + b) - np.tanh(b))),
        0.5 * (np.tanh(b) + (np.tanh(a + b) - np.tanh(a))),
    )


def reference_lstm_cd(
    lstm: nn.LSTM, words: np.ndarray, in_group: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """CD of the last hidden state of ``lstm`` over one sequence ``words`` ``(T, E)``.

    ``in_group[t]``: whether step t's token belongs to the relevant group. Returns
    ``(relevant_h, irrelevant_h)``, each ``(H,)``.
    """
    w_ih = lstm.weight_ih_l0.detach().double().numpy()
    w_hh = lstm.weight_hh_l0.detach().double().numpy()
    bias = (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach().double().numpy()
    w_ii, w_if, w_ig, w_io = np.split(w_ih, 4)  # PyTorch's gate order: i, f, g, o
    w_hi, w_hf, w_hg, w_ho = np.split(w_hh, 4)
    b_i, b_f, b_g, b_o = np.split(bias, 4)
    hid = w_hh.shape[1]
    rel_h, irrel_h = np.zeros(hid), np.zeros(hid)
    rel_c, irrel_c = np.zeros(hid), np.zeros(hid)
    for t in range(len(words)):
        x = words[t]
        rel_i, rel_f, rel_g = w_hi @ rel_h, w_hf @ rel_h, w_hg @ rel_h
        irrel_i, irrel_f, irrel_g = w_hi @ irrel_h, w_hf @ irrel_h, w_hg @ irrel_h
        if in_group[t]:
            rel_i, rel_f, rel_g = rel_i + w_ii @ x, rel_f + w_if @ x, rel_g + w_ig @ x
        else:
            irrel_i, irrel_f, irrel_g = irrel_i + w_ii @ x, irrel_f + w_if @ x, irrel_g + w_ig @ x
        rc_i, ic_i, bc_i = _propagate_three(rel_i, irrel_i, b_i, _sigmoid)
        rc_g, ic_g, bc_g = _propagate_three(rel_g, irrel_g, b_g, np.tanh)
        new_rel = rc_i * (rc_g + bc_g) + bc_i * rc_g
        new_irrel = ic_i * (rc_g + ic_g + bc_g) + (rc_i + bc_i) * ic_g
        if in_group[t]:
            new_rel = new_rel + bc_i * bc_g
        else:
            new_irrel = new_irrel + bc_i * bc_g
        if t > 0:
            rc_f, ic_f, bc_f = _propagate_three(rel_f, irrel_f, b_f, _sigmoid)
            new_rel = new_rel + (rc_f + bc_f) * rel_c
            # the forget gate's irrelevant part times the relevant memory is irrelevant
            new_irrel = new_irrel + (rc_f + ic_f + bc_f) * irrel_c + ic_f * rel_c
        o = _sigmoid(w_io @ x + w_ho @ (rel_h + irrel_h) + b_o)
        rel_c, irrel_c = new_rel, new_irrel
        tanh_rel, tanh_irrel = _propagate_tanh_two(rel_c, irrel_c)
        rel_h, irrel_h = o * tanh_rel, o * tanh_irrel
    return rel_h, irrel_h


def reference_linear(
    layer: nn.Linear, rel: np.ndarray, irrel: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """CDEP's ``propagate_conv_linear``: weights on each part, bias split by magnitude."""
    w = layer.weight.detach().double().numpy()
    b = layer.bias.detach().double().numpy()
    r, i = w @ rel, w @ irrel
    share = np.abs(r) / (np.abs(r) + np.abs(i) + 1e-20)
    return r + share * b, i + (1 - share) * b


def _random_model(seed: int) -> LSTMTextModule:
    """A tiny LSTM classifier with weights large enough that every gate is non-linear."""
    model = LSTMTextModule(VOCAB, CLASSES, embedding_dim=EMB, hidden_size=HID, dropout=0.3)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.8)
        model.embedding.weight[0] = 0.0  # the padding row
    return model.double().eval()


def _batch(seed: int) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """Right-padded token ids (pad 0), attention mask and each row's length."""
    gen = torch.Generator().manual_seed(100 + seed)
    lengths = [9, 6, 1, 4, 9, 2]
    ids = torch.randint(1, VOCAB, (len(lengths), max(lengths)), generator=gen)
    mask = torch.zeros_like(ids)
    for row, n in enumerate(lengths):
        ids[row, n:] = 0
        mask[row, :n] = 1
    return ids, mask, lengths


def _groups(ids: torch.Tensor, mask: torch.Tensor, seed: int) -> dict[str, torch.Tensor]:
    """Several token groups: a span, scattered tokens, one word type, all, none."""
    gen = torch.Generator().manual_seed(200 + seed)
    span = torch.zeros_like(ids, dtype=torch.bool)
    span[:, 1:4] = True
    return {
        "span": span & mask.bool(),
        "scattered": (torch.rand(ids.shape, generator=gen) < 0.4) & mask.bool(),
        "word_type": ids == int(ids[0, 2]),
        "first_token": torch.zeros_like(span).index_fill_(1, torch.tensor([0]), True),
        "everything": mask.bool(),
        "nothing": torch.zeros_like(span),
    }


def _oracle_hidden(
    model: LSTMTextModule, ids: torch.Tensor, group: torch.Tensor, lengths: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Reference CD of each row's last real hidden state; padding is never fed in."""
    emb = model.embedding.weight.detach().double().numpy()
    rels, irrels = [], []
    for row, n in enumerate(lengths):
        words = emb[ids[row, :n].numpy()]
        r, i = reference_lstm_cd(model.encoder.lstm, words, group[row, :n].numpy())
        rels.append(r)
        irrels.append(i)
    return np.stack(rels), np.stack(irrels)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(
    "kind", ["span", "scattered", "word_type", "first_token", "everything", "nothing"]
)
def test_lstm_hidden_state_matches_the_reference_recurrence(seed: int, kind: str) -> None:
    """The LSTM layer's relevant and irrelevant hidden parts equal the reference's, per row."""
    model = _random_model(seed)
    ids, mask, lengths = _batch(seed)
    group = _groups(ids, mask, seed)[kind]
    encoder = nn.Sequential(model.embedding, model.encoder)
    got = contextual_decomposition(encoder, ids, group, attention_mask=mask)
    rel, irrel = _oracle_hidden(model, ids, group, lengths)
    np.testing.assert_allclose(got.relevant.detach().numpy(), rel, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got.irrelevant.detach().numpy(), irrel, rtol=1e-9, atol=1e-12)
    if kind not in ("everything", "nothing"):  # the split is not trivial
        assert np.abs(rel).max() > 1e-3
        assert np.abs(irrel).max() > 1e-3


@pytest.mark.parametrize("seed", [0, 1])
def test_lstm_classifier_logits_match_the_reference(seed: int) -> None:
    """Through the whole classifier (embedding, LSTM, eval dropout, linear head)."""
    model = _random_model(seed)
    ids, mask, lengths = _batch(seed)
    group = _groups(ids, mask, seed)["scattered"]
    got = contextual_decomposition(model, ids, group, attention_mask=mask)
    rel_h, irrel_h = _oracle_hidden(model, ids, group, lengths)
    expected = [reference_linear(model.head, r, i) for r, i in zip(rel_h, irrel_h, strict=True)]
    rel = np.stack([e[0] for e in expected])
    irrel = np.stack([e[1] for e in expected])
    np.testing.assert_allclose(got.relevant.detach().numpy(), rel, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got.irrelevant.detach().numpy(), irrel, rtol=1e-9, atol=1e-12)
    logits = model(input_ids=ids, attention_mask=mask).detach().numpy()
    np.testing.assert_allclose(rel + irrel, logits, rtol=1e-9, atol=1e-12)


def test_lstm_over_float_sequences_matches_the_reference() -> None:
    """Float inputs ``(B, T, E)`` with a per-step group mask take the same recurrence."""
    torch.manual_seed(3)
    lstm = LastHiddenLSTM(EMB, HID).double()
    with torch.no_grad():
        for p in lstm.parameters():
            p.mul_(3.0)
    x = torch.randn(3, 7, EMB, dtype=torch.float64)
    steps = torch.tensor([[1, 0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 0, 0, 1], [1, 1, 1, 0, 1, 1, 0]])
    group = steps.bool().unsqueeze(-1)
    got = contextual_decomposition(nn.Sequential(lstm), x, group)
    for row in range(3):
        rel, irrel = reference_lstm_cd(lstm.lstm, x[row].numpy(), steps[row].bool().numpy())
        np.testing.assert_allclose(got.relevant[row].detach().numpy(), rel, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(
            got.irrelevant[row].detach().numpy(), irrel, rtol=1e-9, atol=1e-12
        )


def test_cdep_penalty_is_the_l1_of_the_reference_relevant_logits() -> None:
    """CDEP's penalty (zero target, L1 form): ``mean_b sum_c |relevant_c|``."""
    model = _random_model(4)
    ids, mask, lengths = _batch(4)
    group = _groups(ids, mask, 4)["word_type"] | _groups(ids, mask, 4)["first_token"]
    rel_h, irrel_h = _oracle_hidden(model, ids, group, lengths)
    rel = np.stack(
        [reference_linear(model.head, r, i)[0] for r, i in zip(rel_h, irrel_h, strict=True)]
    )
    expected = np.abs(rel).sum(1).mean()
    got = cdep_penalty(model, ids, mask, group)
    assert float(got.detach()) == pytest.approx(expected, rel=1e-9)


def test_mlp_matches_the_reference_layer_rules() -> None:
    """Linear (bias split by magnitude) and element-wise activations (``propagate_relu``:
    ``rel' = act(rel)``, ``irrel' = act(rel + irrel) - act(rel)``) over a feature group."""
    torch.manual_seed(5)
    model = nn.Sequential(
        nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 7), nn.Tanh(), nn.Linear(7, 2)
    ).double()
    x = torch.randn(4, 6, dtype=torch.float64)
    group = torch.tensor([True, False, False, True, True, False])
    got = contextual_decomposition(model, x, group)
    rel = (x * group).numpy()
    irrel = (x * ~group).numpy()
    expected_rel, expected_irrel = [], []
    for r, i in zip(rel, irrel, strict=True):
        for layer in model:
            if isinstance(layer, nn.Linear):
                r, i = reference_linear(layer, r, i)
            else:
                act = {nn.ReLU: lambda v: np.maximum(v, 0.0), nn.Tanh: np.tanh}[type(layer)]
                r, i = act(r), act(r + i) - act(r)
        expected_rel.append(r)
        expected_irrel.append(i)
    np.testing.assert_allclose(got.relevant.detach().numpy(), expected_rel, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        got.irrelevant.detach().numpy(), expected_irrel, rtol=1e-10, atol=1e-12
    )
