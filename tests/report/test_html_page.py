"""The highlight page without a browser: colour scale and legend, hidden special tokens,
prediction and completeness, escaping, and the CSS that keeps tokens isolated and wrapping."""

from __future__ import annotations

import math
import re

import pytest

from glassworks.report.html import (
    MAX_ALPHA,
    NEGATIVE_RGB,
    POSITIVE_RGB,
    SPECIAL_TOKENS,
    ColourScale,
    Completeness,
    Highlighted,
    highlight_page,
    text_plot,
)

SPAN = re.compile(r"<span class='tok' style='background:([^']*)' title='([^']*)'>(.*?)</span>")


def spans(page: str) -> list[tuple[str, str, str]]:
    """(colour, title, escaped text) of every token span, in order."""
    return SPAN.findall(page)


def test_scale_and_legend_ignore_hidden_tokens() -> None:
    item = Highlighted(["[CLS]", "good", "bad", "[SEP]"], [9.0, 0.25, -0.5, 9.0], "c")
    scale = ColourScale.of([item])
    assert (scale.limit, scale.low, scale.high) == (0.5, -0.5, 0.25)
    assert scale.color(0.5) == f"rgba({POSITIVE_RGB},{MAX_ALPHA:.3f})"
    assert scale.color(-0.25) == f"rgba({NEGATIVE_RGB},{MAX_ALPHA / 2:.3f})"
    assert scale.color(-3.0) == f"rgba({NEGATIVE_RGB},{MAX_ALPHA:.3f})"  # saturates
    page = highlight_page("t", [item])
    assert "<div class='bar' title='colour scale'></div>" in page
    assert "<span>-0.5</span><span>0</span><span>+0.5</span>" in page
    assert "scores shown range from -0.5 to +0.25" in page
    assert "colour saturates at |score| = 0.5" in page
    assert "green: the token raises the explained output" in page
    assert "red: it lowers it" in page
    assert "2 special tokens" in page


def test_every_page_has_a_legend() -> None:
    for page in (
        highlight_page("empty", []),
        text_plot(["a"], [0.0], "zero"),
        highlight_page("nan", [Highlighted(["a", "b"], [math.nan, 1.0], "c")]),
    ):
        assert page.count("class='legend'") == 1
        assert "<span>0</span>" in page
    nan_page = highlight_page("nan", [Highlighted(["a", "b"], [math.nan, 1.0], "c")])
    assert [s[0] for s in spans(nan_page)] == [
        "rgba(0,0,0,0)",
        f"rgba({POSITIVE_RGB},{MAX_ALPHA:.3f})",
    ]


@pytest.mark.parametrize("special", sorted(SPECIAL_TOKENS))
def test_special_tokens_are_hidden(special: str) -> None:
    page = highlight_page("t", [Highlighted([special, "word", special], [0.0, 1.0, 0.0], "c")])
    assert [s[2] for s in spans(page)] == ["word"]


def test_hidden_flags_override_the_names() -> None:
    item = Highlighted(
        ["[CLS]", "<|endoftext|>", "[UNK]", "x"],
        [0, 0, 1, 2],
        "c",
        hidden=[False, True, False, False],
    )
    assert [t for t, _ in item.shown()] == ["[CLS]", "[UNK]", "x"]
    assert [s[2] for s in spans(highlight_page("t", [item]))] == ["[CLS]", "[UNK]", "x"]
    with pytest.raises(ValueError, match="hidden has 1 flags for 4 tokens"):
        Highlighted(["a", "b", "c", "d"], [0, 0, 0, 0], "c", hidden=[True]).shown()


def test_prediction_and_completeness_are_shown() -> None:
    item = Highlighted(
        ["[CLS]", "fine", "film"],
        [0.0, 0.7, 0.3],
        "caption",
        prediction=("positive", 0.9123),
        completeness=Completeness(1.0, 1.001),
    )
    page = highlight_page("t", [item])
    assert "prediction: <span class='label'>positive</span>" in page
    assert "(p = 0.912)" in page
    assert "Σ attributions = +1.0000" in page
    assert "f(x) − f(baseline) = +1.0010" in page
    assert "gap -1.00e-03, relative 1.0e-03" in page
    assert Completeness(1.0, 1.001).gap == pytest.approx(-0.001)
    plain = highlight_page("t", [Highlighted(["a"], [1.0], "c")])
    assert "prediction:" not in plain
    assert "completeness:" not in plain


def test_everything_from_the_data_is_escaped() -> None:
    evil = "<img src=x onerror=alert(1)>'\""
    item = Highlighted(
        [evil, "ok"],
        [1.0, -1.0],
        evil,
        details=[(evil, 0.5)],
        prediction=(evil, 0.5),
        completeness=Completeness(1.0, 1.0, reference=evil),
    )
    page = highlight_page(evil, [item], note=evil)
    assert "<img" not in page
    assert "onerror=alert(1)&gt;&#x27;&quot;" in page
    # <title>, <h1>, note, caption, label, reference, token and n-gram row: all as text
    assert page.count("&lt;img src=x onerror=alert(1)&gt;&#x27;&quot;") == 8


def test_the_page_isolates_tokens_and_fetches_nothing() -> None:
    page = highlight_page("t", [Highlighted(["a\u202eb", "c"], [1.0, 0.0], "c")])
    tok_rule = re.search(r"\.tok\{([^}]*)\}", page)
    assert tok_rule is not None
    for prop in ("unicode-bidi:isolate", "overflow-wrap:anywhere", "max-width:100%"):
        assert prop in tok_rule.group(1)
    text_rule = re.search(r"\.text\{([^}]*)\}", page)
    assert text_rule is not None
    assert "direction:ltr" in text_rule.group(1)
    assert "unicode-bidi:isolate" in text_rule.group(1)
    lowered = page.lower()
    for external in ("http:", "https:", "src=", "url(", "@import", "<script", "<link"):
        assert external not in lowered
    assert [s[2] for s in spans(page)] == ["a\u202eb", "c"]  # the text itself is kept


def test_word_pieces_are_merged_into_words_scores_summed() -> None:
    """WordPiece ``##`` pieces join their word; with word ids (BPE), pieces of one word join;
    special tokens stay hidden and the shown scores keep the total."""
    tokens = ["[CLS]", "what", "a", "thrill", "##s", "!", "[SEP]"]
    scores = [0.5, 0.1, 0.0, 0.3, 0.2, -0.1, 0.4]
    item = Highlighted(tokens, scores, "x")
    assert item.shown() == [("what", 0.1), ("a", 0.0), ("thrills", 0.5), ("!", -0.1)]
    assert item.n_hidden == 2
    page = highlight_page("t", [item])
    assert ">thrills</span>" in page
    assert "##" not in page
    # BPE pieces without markers: the tokenizer's word ids decide
    bpe = Highlighted(["[CLS]", "un", "believ", "able", "film"], [0.0, 1.0, 2.0, 3.0, 4.0], "y",
                      words=[None, 0, 0, 0, 1])  # fmt: skip
    assert bpe.shown() == [("unbelievable", 6.0), ("film", 4.0)]
    assert math.isclose(sum(s for _, s in bpe.shown()), sum(bpe.scores[1:]))


def test_word_ids_from_a_real_fast_tokenizer(tiny_bert: object) -> None:
    """MiniLM's tokenizer: ``encode_texts`` carries word ids that merge pieces into words."""
    import transformers

    from glassworks.explain.text import encode_texts

    tok = transformers.AutoTokenizer.from_pretrained(tiny_bert)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(tiny_bert)
    enc = encode_texts(model, tok, ["unbelievably thrilling"], max_length=16)
    words = enc.word_ids[0]
    assert enc.tokens[0][:3] == ["[CLS]", "un", "##bel"]  # pieces to merge
    assert len(words) == len(enc.tokens[0])
    item = Highlighted(enc.tokens[0], [1.0] * len(words), "z", words=words)
    assert [w for w, _ in item.shown()] == ["unbelievably", "thrilling"]


def test_several_explainers_get_a_toggle_and_one_shows_at_a_time() -> None:
    from glassworks.report.html import Highlighted, highlight_page

    items = [
        Highlighted(["good", "film"], [0.5, 0.1], "text 0 · IG", group="IG"),
        Highlighted(["good", "film"], [0.4, 0.2], "text 0 · LIME", group="LIME"),
        Highlighted(["bad"], [-0.3], "text 1 · IG", group="IG"),
        Highlighted(["bad"], [-0.1], "text 1 · <b>x</b>", group="<script>x</script>"),
    ]
    page = highlight_page("toggle", items)
    assert page.count("type='radio'") == 4  # three explainers and "all"
    assert "id='show-0' checked" in page
    assert "id='show-1'>" in page
    assert "<script>" not in page  # names are escaped; ids are indices
    assert page.count("class='ex g-0'") == 2
    assert page.count("class='ex g-1'") == 1
    assert "div.ex[class*=' g-']{display:none}" in page
    assert "#show-0:checked~div.ex.g-0{display:block}" in page
    single = highlight_page("one", [Highlighted(["a"], [0.1], "c", group="IG")])
    assert "type='radio'" not in single
    assert "class='ex'" in single
