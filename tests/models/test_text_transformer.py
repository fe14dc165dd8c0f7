"""The small nlp-lime-ig transformer and its BPE tokenizer."""

import pytest
import torch

from glassworks.models.text_transformer import TextTransformer, train_bpe_tokenizer

TEXTS = [
    "a charming and often affecting journey.",
    "unflinchingly bleak and desperate",
    "the acting , costumes , music , cinematography and sound are all astounding",
    "it 's slow -- very , very slow .",
] * 5


@pytest.fixture(scope="module")
def tok():  # noqa: ANN201
    return train_bpe_tokenizer(TEXTS, vocab_size=200, min_frequency=1)


def test_tokenizer_has_pad_zero_and_leading_cls(tok) -> None:  # noqa: ANN001
    assert tok.pad_token_id == 0
    ids = tok(["Charming JOURNEY"])["input_ids"][0]
    assert ids[0] == tok.cls_token_id
    assert (
        tok.convert_ids_to_tokens(ids)[1:]
        == tok.convert_ids_to_tokens(tok(["charming journey"])["input_ids"][0])[1:]
    )  # lower-cased
    assert tok.mask_token_id is not None


def test_padding_does_not_change_logits(tok) -> None:  # noqa: ANN001
    torch.manual_seed(0)
    model = TextTransformer(len(tok), 3, d_model=16, n_heads=2, d_ff=32, max_length=64).eval()
    batch = tok(TEXTS[:4], padding=True, return_tensors="pt")
    together = model(**batch)
    for i, text in enumerate(TEXTS[:4]):
        alone = model(**tok([text], return_tensors="pt"))
        torch.testing.assert_close(together[i], alone[0], atol=1e-5, rtol=1e-5)
    embeds = model.get_input_embeddings()(batch["input_ids"])
    torch.testing.assert_close(
        model(inputs_embeds=embeds, attention_mask=batch["attention_mask"]), together
    )


def test_ordinal_head_gives_log_probabilities(tok) -> None:  # noqa: ANN001
    model = TextTransformer(len(tok), 4, d_model=16, d_ff=32, ordinal=True).eval()
    batch = tok(TEXTS[:3], padding=True, return_tensors="pt")
    out = model(**batch)
    torch.testing.assert_close(out.exp().sum(1), torch.ones(3), atol=1e-5, rtol=0)
    assert model.cumulative_logits(**batch).shape == (3, 3)
    with pytest.raises(ValueError, match="ordinal head"):
        TextTransformer(len(tok), 4, d_model=16).cumulative_logits(**batch)
