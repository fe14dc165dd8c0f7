"""Faithfulness under several replacements (pad, mask, random, remove), per-text bootstrap
intervals and the "who wins" comparison (Petsiuk et al. 2018; DeYoung et al. 2020)."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from glassworks.explain.metrics import (
    compare_explainers,
    faithfulness,
    faithfulness_by_replacement,
    padding_invariant,
    removed_batch,
    replacement_embeddings,
    replacement_token_ids,
)
from glassworks.explain.text import encode_texts, integrated_gradients_tokens
from glassworks.stats import NO_DIFFERENCE
from tests.fakes import TOKEN_TEXTS as TEXTS
from tests.fakes import AdditiveTextModel as Additive
from tests.fakes import additive_token_setup


class PaddingSensitive(Additive):
    """Counts padded positions too: its output changes with right padding."""

    def forward(self, input_ids=None, attention_mask=None, inputs_embeds=None):  # noqa: ANN001, ANN201
        e = self.embedding(input_ids) if inputs_embeds is None else inputs_embeds
        s = (e @ self.w) + 0.1 * (1 - attention_mask.to(e.dtype))
        return torch.stack([torch.zeros_like(s[:, 0]), s.sum(1)], 1)


@pytest.fixture(scope="module")
def setup():  # noqa: ANN201
    return additive_token_setup()


def _p1(logit: torch.Tensor) -> float:
    return float(torch.sigmoid(logit.detach().double()))


def test_pad_replacement_gives_ig_from_pad_an_exact_deletion_endpoint(setup) -> None:  # noqa: ANN001
    model, tok, enc, target = setup
    ig, _ = integrated_gradients_tokens(enc, target, n_steps=8)
    pad = replacement_embeddings(model, tok, enc.input_ids, enc.embeds, enc.candidates, "pad")
    mask = replacement_embeddings(model, tok, enc.input_ids, enc.embeds, enc.candidates, "mask")
    torch.testing.assert_close(pad, enc.baseline)  # the metric's pad = IG's baseline
    logits = enc.logits()[:, 1]
    for i in range(len(TEXTS)):
        args = (enc.embeds[i], pad[i], enc.attention_mask[i], ig[i], enc.candidates[i], 1)
        f = faithfulness(model_forward(enc), *args)
        # everything deleted = IG's baseline, whose logit is f(x) - sum(IG) by completeness
        expected = _p1(logits[i] - ig[i].sum())
        assert f.deletion[-1] == pytest.approx(expected, abs=1e-6)
        assert f.insertion[0] == pytest.approx(expected, abs=1e-6)
        m = faithfulness(model_forward(enc), enc.embeds[i], mask[i], *args[2:])
        assert m.deletion[-1] != pytest.approx(expected, abs=1e-3)  # another endpoint
        mask_logit = (mask[i] @ model.w * enc.attention_mask[i]).sum()
        assert m.deletion[-1] == pytest.approx(_p1(mask_logit), abs=1e-6)


def model_forward(enc):  # noqa: ANN001, ANN201
    return enc.forward


def test_mask_uses_mask_token_else_unk() -> None:
    ids = torch.zeros(2, 3, dtype=torch.long)
    with_mask = SimpleNamespace(mask_token_id=7, unk_token_id=3, pad_token_id=0)
    no_mask = SimpleNamespace(mask_token_id=None, unk_token_id=3, pad_token_id=0)
    neither = SimpleNamespace(mask_token_id=None, unk_token_id=None, pad_token_id=0)
    assert replacement_token_ids(with_mask, ids, "mask").unique().tolist() == [7]
    assert replacement_token_ids(no_mask, ids, "mask").unique().tolist() == [3]
    with pytest.raises(ValueError, match="neither a mask nor an unk"):
        replacement_token_ids(neither, ids, "mask")
    with pytest.raises(ValueError, match="no token ids"):
        replacement_token_ids(with_mask, ids, "remove")  # type: ignore[arg-type]


def test_random_replacement_is_seeded_and_never_special(setup) -> None:  # noqa: ANN001
    _, tok, _, _ = setup
    ids = torch.zeros(64, 256, dtype=torch.long)
    a = replacement_token_ids(tok, ids, "random", seed=3)
    assert torch.equal(a, replacement_token_ids(tok, ids, "random", seed=3))
    assert not torch.equal(a, replacement_token_ids(tok, ids, "random", seed=4))
    special = set(tok.all_special_ids)
    drawn = set(a.unique().tolist())
    assert not drawn & special
    assert drawn == set(range(len(tok))) - special  # uniform over the rest: all of it is drawn


def test_remove_shortens_the_sequence() -> None:
    embeds = torch.arange(5.0).view(5, 1).expand(5, 2)
    mask = torch.tensor([1, 1, 1, 1, 0])
    keep = torch.tensor([[True, False, True, True, True], [True, False, False, True, False]])
    batch, m = removed_batch(embeds, mask, keep)
    assert m.sum(1).tolist() == [3, 2]  # the padded 5th token never counts
    assert batch.shape == (2, 3, 2)
    assert batch[0, :, 0].tolist() == [0.0, 2.0, 3.0]  # kept tokens shift left
    assert batch[1, :2, 0].tolist() == [0.0, 3.0]


def test_remove_on_a_bert_classifier_matches_retokenised_ids(tiny_bert: Path) -> None:
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tok = AutoTokenizer.from_pretrained(tiny_bert)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tok),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        num_labels=2,
    )
    model = BertForSequenceClassification(config).eval()
    enc = encode_texts(model, tok, TEXTS[:2], "pad", 32)
    assert padding_invariant(enc.forward, enc.embeds[1], enc.attention_mask[1])
    i = 1  # the shorter text is padded in the batch
    n = enc.lengths[i]
    scores = torch.linspace(1.0, 0.0, enc.input_ids.shape[1])
    f = faithfulness(
        enc.forward, enc.embeds[i], "remove", enc.attention_mask[i], scores, enc.candidates[i], 1
    )
    ids = enc.input_ids[i, :n]
    cand = enc.candidates[i, :n].nonzero().squeeze(1).tolist()
    k = len(cand)
    for j, frac in enumerate(f.fractions):
        gone = set(cand[: int(round(frac * k))])  # scores fall with position: delete from the left
        kept = torch.tensor([t for p, t in enumerate(ids.tolist()) if p not in gone])
        with torch.no_grad():
            p = torch.softmax(model(input_ids=kept[None]).logits.double(), -1)[0, 1]
        assert f.deletion[j] == pytest.approx(float(p), abs=1e-5)


def test_study_skips_remove_for_a_padding_sensitive_model(setup) -> None:  # noqa: ANN001
    _, tok, _, target = setup
    model = PaddingSensitive(len(tok)).eval()
    enc = encode_texts(model, tok, TEXTS, "pad", 64)
    scores = {"a": enc.embeds @ model.w.detach(), "b": -(enc.embeds @ model.w.detach())}
    study = faithfulness_by_replacement(model, tok, enc, scores, target, ["pad", "remove"])
    assert list(study.results) == ["pad"]
    assert "right padding" in study.skipped["remove"]
    with pytest.raises(ValueError, match="unknown replacement"):
        faithfulness_by_replacement(model, tok, enc, scores, target, ["zeros"])


def test_study_summary_has_intervals_and_a_verdict(setup) -> None:  # noqa: ANN001
    model, tok, enc, target = setup
    exact = ((enc.embeds - enc.baseline) @ model.w).detach()
    gen = torch.Generator().manual_seed(0)
    scores = {"exact": exact, "reversed": -exact, "random": torch.rand(exact.shape, generator=gen)}
    study = faithfulness_by_replacement(
        model, tok, enc, scores, target, ["pad", "mask", "random", "remove"], seed=1
    )
    s = study.summary()
    assert s["replacements"] == ["pad", "mask", "random", "remove"]
    assert s["skipped"] == {}
    assert s["n_texts"] == len(TEXTS)
    ci = s["scores"]["pad"]["exact"]["deletion_auc"]
    assert ci["n"] == len(TEXTS)
    assert ci["ci95"][0] <= ci["mean"] <= ci["ci95"][1]
    # exact scores beat reversed ones on deletion AUC under pad (the ranking is correct)
    row = s["comparison"]["pad"]["deletion_auc"]
    assert row["better"] == "lower"
    assert row["ranking"][0] == "exact"
    assert row["result"] in ("exact wins", NO_DIFFERENCE)
    assert {r["replacement"] for r in study.table()} == {"pad", "mask", "random", "remove"}
    # results computed against the explainers' pad baseline are the pad replacement's results
    reused = faithfulness_by_replacement(
        model, tok, enc, scores, target, ["pad"], seed=1, known={"pad": study.results["pad"]}
    )
    fresh = faithfulness_by_replacement(model, tok, enc, scores, target, ["pad"], seed=1)
    assert reused.summary()["scores"] == fresh.summary()["scores"]
    assert reused.tokens["pad"] == fresh.tokens["pad"] == "[PAD]"


def test_compare_explainers_needs_a_paired_interval_that_excludes_zero() -> None:
    rng = np.random.default_rng(0)
    base = rng.uniform(0.2, 0.8, 200)
    clear = {
        "good": {"deletion_auc": base - 0.1, "insertion_auc": base + 0.1},
        "bad": {"deletion_auc": base, "insertion_auc": base},
    }
    c = compare_explainers(clear)
    assert c["deletion_auc"]["result"] == "good wins"
    assert c["insertion_auc"]["result"] == "good wins"
    assert c["deletion_auc"]["difference"]["difference"]["ci95"][1] < 0
    noise = rng.normal(0, 0.05, 200)
    tie = {
        "a": {"deletion_auc": base + noise},
        "b": {"deletion_auc": base - noise},
    }
    t = compare_explainers(tie)
    assert t["deletion_auc"]["result"] == NO_DIFFERENCE
    assert t["deletion_auc"]["winner"] is None
    # sufficiency: lower is better too
    suff = compare_explainers({"a": {"sufficiency_10": base}, "b": {"sufficiency_10": base + 0.2}})
    assert suff["sufficiency_10"]["winner"] == "a"
