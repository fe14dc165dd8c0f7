"""Explanation penalties: their values match hand computations, they are differentiable, and
training with them unlearns a decoy that vanilla training relies on."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from glassworks.experiments.cdep import attribution_mass
from glassworks.explain.cd import contextual_decomposition
from glassworks.explain.paths import expected_gradients
from glassworks.models.lstm import LSTMTextModule
from glassworks.models.text_classifier import TextClassifier
from glassworks.train.losses import (
    cdep_interaction_penalty,
    cdep_penalty,
    cdep_reference_penalty,
    counterfactual_penalty,
    eg_penalty,
    group_interaction_part,
    rrr_penalty,
    without_group,
)


@pytest.fixture
def lstm() -> LSTMTextModule:
    torch.manual_seed(0)
    return LSTMTextModule(20, 2, embedding_dim=6, hidden_size=8, dropout=0.0).double()


def _batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    ids = torch.tensor([[2, 5, 7, 9, 0], [2, 7, 3, 0, 0], [2, 4, 6, 8, 10]])
    mask = (ids != 0).long()
    group = ids == 7
    return ids, mask, group


def test_rrr_penalty_is_the_squared_input_gradient_on_the_group(lstm: LSTMTextModule) -> None:
    ids, mask, group = _batch()
    embeds = lstm.get_input_embeddings()(ids)
    logits = lstm(inputs_embeds=embeds, attention_mask=mask)
    pen = rrr_penalty(logits, embeds, group.double())
    # by hand: one example at a time, leaf inputs
    total = 0.0
    for i in range(3):
        e = embeds[i : i + 1].detach().requires_grad_(True)
        lp = torch.log_softmax(lstm(inputs_embeds=e, attention_mask=mask[i : i + 1]), -1)
        (g,) = torch.autograd.grad(lp.sum(), e)
        total += float((g[0].pow(2).sum(-1) * group[i]).sum())
    assert float(pen.detach()) == pytest.approx(total / 3, rel=1e-10)
    (grad,) = torch.autograd.grad(pen, lstm.head.weight)  # differentiable (double backward)
    assert grad.abs().sum() > 0


def test_eg_penalty_matches_the_engine_and_is_differentiable(lstm: LSTMTextModule) -> None:
    ids, mask, group = _batch()
    embeds = lstm.get_input_embeddings()(ids)
    target = torch.tensor([1, 0, 1])
    pen = eg_penalty(lstm, embeds, mask, group.double(), target, seed=4)

    def log_prob(e: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(lstm(inputs_embeds=e, attention_mask=attention_mask), -1)

    ref = expected_gradients(
        log_prob,
        embeds.detach(),
        embeds.detach(),
        target,
        n_samples=1,
        seed=4,
        forward_kwargs={"attention_mask": mask},
    ).attributions
    expected = float((ref.sum(-1).abs() * group).sum()) / 3
    assert float(pen.detach()) == pytest.approx(expected, rel=1e-8)
    assert float(pen.detach()) > 0
    (grad,) = torch.autograd.grad(pen, lstm.encoder.lstm.weight_ih_l0)
    assert grad.abs().sum() > 0


def test_cdep_penalty_zero_without_group_and_differentiable(lstm: LSTMTextModule) -> None:
    ids, mask, group = _batch()
    zero = cdep_penalty(lstm, ids, mask, torch.zeros_like(group))
    assert float(zero.detach()) == pytest.approx(0.0)
    pen = cdep_penalty(lstm, ids, mask, group)
    assert float(pen.detach()) > 0
    (grad,) = torch.autograd.grad(pen, lstm.embedding.weight)
    assert grad[7].abs().sum() > 0  # the decoy's embedding is pushed


def test_cdep_reference_penalty_is_the_reference_form(lstm: LSTMTextModule) -> None:
    """softplus(rel_y - irrel_y) of the true class over rows with a group token, without the
    output bias, embeddings detached (Rieger et al.'s ``cd_penalty_for_one_decoy_all``)."""
    ids, mask, group = _batch()
    target = torch.tensor([1, 0, 1])
    bias = lstm.head.bias
    pen = cdep_reference_penalty(lstm, ids, mask, group, target)
    assert lstm.head.bias is bias  # restored
    # by hand: a copy of the model whose head has no bias, rows 0 and 1 (row 2 has no token 7)
    import copy

    nobias = copy.deepcopy(lstm)
    with torch.no_grad():
        nobias.head.bias.zero_()
    dec = contextual_decomposition(nobias, ids[:2], group[:2], mask[:2])
    rel = dec.relevant[[0, 1], [1, 0]]
    irrel = dec.irrelevant[[0, 1], [1, 0]]
    expected = torch.nn.functional.softplus(rel - irrel).mean()
    assert float(pen.detach()) == pytest.approx(float(expected.detach()), rel=1e-10)
    # the biased model's decomposition differs: the bias really is left out
    with_bias = contextual_decomposition(lstm, ids[:2], group[:2], mask[:2])
    assert not torch.allclose(with_bias.relevant[[0, 1], [1, 0]], rel)
    # gradients reach the LSTM and the head, never the embedding table
    grads = torch.autograd.grad(
        pen, [lstm.embedding.weight, lstm.encoder.lstm.weight_ih_l0], allow_unused=True
    )
    assert grads[0] is None or float(grads[0].abs().sum()) == 0.0
    assert grads[1].abs().sum() > 0
    none = cdep_reference_penalty(lstm, ids, mask, torch.zeros_like(group), target)
    assert float(none) == 0.0


def test_group_interaction_part_books_interactions_to_the_group(lstm: LSTMTextModule) -> None:
    """The group's part with its interactions: the bias-free output minus the rest of the text on
    its own; 0 on a row without the group, the whole bias-free output when the group is every real
    token, and more than CD's relevant part when the decoy interacts with the rest."""
    ids, mask, group = _batch()
    bias_free = lstm(input_ids=ids, attention_mask=mask) - lstm.head.bias
    dec = group_interaction_part(lstm, ids, mask, group)
    torch.testing.assert_close(dec.total, bias_free, rtol=0, atol=1e-12)
    assert float(dec.irrelevant[2].detach().abs().max()) < 1e-12  # row 2 holds no token 7
    whole = group_interaction_part(lstm, ids, mask, mask.bool())
    torch.testing.assert_close(whole.irrelevant, bias_free, rtol=0, atol=1e-12)
    # by hand: the rest alone is CD's relevant part for the complement, on a bias-free copy
    import copy

    nobias = copy.deepcopy(lstm)
    with torch.no_grad():
        nobias.head.bias.zero_()
    rest = contextual_decomposition(nobias, ids, mask.bool() & ~group, mask).relevant
    torch.testing.assert_close(dec.relevant, rest, rtol=0, atol=1e-12)
    # the decoy's own part (plain CD) misses its interactions: the two differ on rows 0 and 1
    own = contextual_decomposition(nobias, ids, group, mask).relevant
    assert float((dec.irrelevant[:2] - own[:2]).detach().abs().min()) > 1e-4


def test_cdep_interaction_penalty_value_zero_and_gradient(lstm: LSTMTextModule) -> None:
    ids, mask, group = _batch()
    bias = lstm.head.bias
    pen = cdep_interaction_penalty(lstm, ids, mask, group)
    assert lstm.head.bias is bias  # the same parameter restored after
    part = group_interaction_part(lstm, ids, mask, group).irrelevant
    assert float(pen.detach()) == pytest.approx(float(part.abs().sum().detach()) / 3, rel=1e-10)
    none = cdep_interaction_penalty(lstm, ids, mask, torch.zeros_like(group))
    assert float(none) == 0.0
    (grad,) = torch.autograd.grad(pen, lstm.embedding.weight)
    assert grad[7].abs().sum() > 0  # the decoy's embedding is pushed
    assert grad[5].abs().sum() > 0  # and so are the words it interacts with
    assert float(grad[4].abs().sum()) == 0.0  # a word only in the row without the decoy is not


def test_without_group_deletes_the_group_and_keeps_the_order() -> None:
    ids, mask, group = _batch()
    new_ids, new_mask = without_group(ids, mask, group)
    rows = [r[m.bool()].tolist() for r, m in zip(new_ids, new_mask, strict=True)]
    assert rows == [[2, 5, 9], [2, 3], [2, 4, 6, 8, 10]]
    assert new_mask.tolist() == [[1, 1, 1, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 1, 1]]


def test_counterfactual_penalty_is_the_effect_of_deleting_the_group(
    lstm: LSTMTextModule,
) -> None:
    """By hand: each row run with and without its token 7 as a text of its own."""
    ids, mask, group = _batch()
    logits = lstm(input_ids=ids, attention_mask=mask)
    pen = counterfactual_penalty(lstm, ids, mask, group, logits)
    by_hand = 0.0
    for row in range(3):
        real = ids[row][mask[row].bool()]
        kept = real[real != 7]
        full = lstm(input_ids=real[None], attention_mask=torch.ones_like(real)[None])
        cut = lstm(input_ids=kept[None], attention_mask=torch.ones_like(kept)[None])
        by_hand += float((full - cut).abs().sum())
    assert by_hand > 0
    assert float(pen.detach()) == pytest.approx(by_hand / 3, rel=1e-10)
    zero = counterfactual_penalty(lstm, ids, mask, torch.zeros_like(group), logits)
    assert float(zero) == 0.0
    only = counterfactual_penalty(lstm, ids, mask, mask.bool(), logits)  # nothing would be left
    assert float(only) == 0.0
    (grad,) = torch.autograd.grad(pen, lstm.embedding.weight)
    assert grad[7].abs().sum() > 0
    assert float(grad[4].abs().sum()) == 0.0  # only in the row without the group


def test_cd_books_the_output_gate_to_the_rest_and_clp_does_not() -> None:
    """The loophole ``cdep_int`` leaves and ``clp`` closes: a decoy read only by the LSTM's output
    gate (gate biases 0) changes the output, yet CD books all of it to the rest of the text (its
    LSTM rule never splits the output gate), so ``cdep_int`` is 0 and ``clp`` is not."""
    torch.manual_seed(1)
    lstm = LSTMTextModule(20, 2, embedding_dim=6, hidden_size=8, dropout=0.0).double()
    h = 8
    with torch.no_grad():
        lstm.embedding.weight[:, 4:] = 0.0  # dims 4-5: the decoy's alone
        lstm.embedding.weight[7, 4:] = 3.0
        lstm.embedding.weight[7, :4] = 0.0
        w_ih = lstm.encoder.lstm.weight_ih_l0
        w_ih[: 3 * h, 4:] = 0.0  # the i, f, g gates never read them: only the output gate does
        lstm.encoder.lstm.bias_ih_l0.zero_()
        lstm.encoder.lstm.bias_hh_l0.zero_()
    ids, mask, group = _batch()
    logits = lstm(input_ids=ids, attention_mask=mask)
    assert float(cdep_interaction_penalty(lstm, ids, mask, group).detach()) < 1e-12
    assert float(counterfactual_penalty(lstm, ids, mask, group, logits).detach()) > 1e-3


POS, NEG = ["good", "great", "fine", "superb"], ["bad", "awful", "dull", "poor"]
FILL = [f"w{i}" for i in range(12)]


def _decoy_task(n: int, seed: int, decoy: str) -> tuple[list[str], list[int]]:
    """Sentiment word right 75% of the time; the decoy ('text' positive / 'video' negative) is
    right always (``decoy='train'``), never (``'reversed'``) or absent (``'none'``)."""
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(n):
        y = rng.randint(0, 1)
        truthful = rng.random() < (0.9 if decoy == "train" else 1.0)
        word = rng.choice(POS if (y == 1) == truthful else NEG)
        words = [rng.choice(FILL) for _ in range(4)] + [word]
        if decoy != "none":
            words.append({"train": ["video", "text"], "reversed": ["text", "video"]}[decoy][y])
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(y)
    return texts, labels


def _fit(penalty: str, lam: float) -> TextClassifier:
    texts, labels = _decoy_task(600, 0, "train")
    model = TextClassifier(
        backbone="lstm",
        tokenizer="word",
        vocab_size=100,
        d_model=16,
        dropout=0.0,
        lr=0.01,
        epochs=12,
        batch_size=32,
        select_on="last",
        penalty=penalty,
        penalty_weight=lam,
        spurious_words=["text", "video"],
        device="cpu",
    )
    return model.fit(texts, labels)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("penalty", "lam"), [("eg", 3.0), ("cdep", 10.0), ("cdep_int", 10.0), ("clp", 3.0)]
)
def test_penalised_training_unlearns_the_decoy(penalty: str, lam: float) -> None:
    texts, labels = _decoy_task(300, 1, "reversed")  # the decoy now points the wrong way
    vanilla, penalised = _fit("none", 0.0), _fit(penalty, lam)
    acc_vanilla = float(np.mean(vanilla.predict(texts) == np.array(labels)))
    acc_penalised = float(np.mean(penalised.predict(texts) == np.array(labels)))
    assert acc_vanilla < 0.3, acc_vanilla  # vanilla follows the decoy
    assert acc_penalised > acc_vanilla + 0.3, (acc_vanilla, acc_penalised)
    mass_vanilla = attribution_mass(vanilla, texts[:60], n_steps=16)["ig_mass"]
    mass_penalised = attribution_mass(penalised, texts[:60], n_steps=16)["ig_mass"]
    assert mass_penalised < mass_vanilla


@pytest.mark.slow
def test_rrr_training_flattens_the_decoy_gradient() -> None:
    """RRR reaches its own objective (the decoy's input gradient shrinks by orders of magnitude);
    on this task, as on SST-2 (README), that alone does not stop the LSTM using the decoy."""
    texts, _ = _decoy_task(200, 1, "train")

    def decoy_gradient(model: TextClassifier) -> float:
        batch = model._collate(model._encode(texts), torch.device("cpu"))
        group = model.group_mask(batch["input_ids"]).float()
        embeds = model.module_.get_input_embeddings()(batch["input_ids"])
        logits = model.module_(inputs_embeds=embeds, attention_mask=batch["attention_mask"])
        return float(rrr_penalty(logits, embeds, group).detach())

    assert decoy_gradient(_fit("rrr", 1000.0)) < 0.01 * decoy_gradient(_fit("none", 0.0))


@pytest.mark.slow
def test_cdep_reference_training_reaches_its_objective_not_the_decoy() -> None:
    """The reference penalty is met (the true class's CD score moves from the decoy to the rest of
    the text), yet on this task the LSTM still follows the decoy (measured: 0.03 accuracy with
    the decoy reversed at lambda 100, vanilla 0.0): it routes the decoy through terms CD counts as
    irrelevant, the finding behind ``docs/results.md``'s CDEP section."""
    texts, labels = _decoy_task(200, 1, "train")

    def penalty(model: TextClassifier) -> float:
        batch = model._collate(model._encode(texts), torch.device("cpu"))
        group = model.group_mask(batch["input_ids"]) & batch["attention_mask"].bool()
        with torch.no_grad():
            return float(
                cdep_reference_penalty(
                    model.module_,
                    batch["input_ids"],
                    batch["attention_mask"],
                    group,
                    torch.as_tensor(labels),
                )
            )

    vanilla, penalised = _fit("none", 0.0), _fit("cdep_ref", 100.0)
    assert penalty(penalised) < 0.1 * penalty(vanilla)
    reversed_texts, reversed_labels = _decoy_task(300, 1, "reversed")
    acc = float(np.mean(penalised.predict(reversed_texts) == np.array(reversed_labels)))
    assert acc < 0.5, acc  # still the decoy
