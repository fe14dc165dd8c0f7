"""Every HTML page the project writes renders any text as text: no element or attribute comes from
the data (property-based, hypothesis)."""

from __future__ import annotations

from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st

from glassworks.report.html import Highlighted, highlight_page, text_plot

ALLOWED = {"html", "head", "meta", "title", "style", "body", "h1", "p", "div", "span", "table",
           "tr", "td", "th"}  # fmt: skip
ATTACKS = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "' onmouseover='x",
           '" onload="y', "</span><script>", "&lt;b&gt;", "javascript:alert(1)"]  # fmt: skip
texts = st.one_of(st.sampled_from(ATTACKS), st.text(max_size=60))
TRIED = {"highlight_page": 0, "text_plot": 0}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [name for name, _ in attrs]


def _check(page: str) -> None:
    parser = _Tags()
    parser.feed(page)
    assert set(parser.tags) <= ALLOWED, set(parser.tags) - ALLOWED
    assert set(parser.attrs) <= {"charset", "class", "style", "title"}, parser.attrs
    assert "<script" not in page.lower()


@settings(max_examples=300, deadline=None)
@given(
    title=texts,
    note=texts,
    items=st.lists(
        st.tuples(
            st.lists(texts, min_size=1, max_size=5),
            texts,
            st.lists(st.tuples(texts, st.floats(-5, 5)), max_size=3),
        ),
        max_size=3,
    ),
)
def test_highlight_page_escapes_everything(title: str, note: str, items: list) -> None:
    TRIED["highlight_page"] += 1
    built = [
        Highlighted(tokens, [0.5 - i for i in range(len(tokens))], caption, details)
        for tokens, caption, details in items
    ]
    _check(highlight_page(title, built, note))


@settings(max_examples=200, deadline=None)
@given(tokens=st.lists(texts, min_size=1, max_size=6), title=texts, caption=texts)
def test_text_plot_escapes_everything(tokens: list[str], title: str, caption: str) -> None:
    TRIED["text_plot"] += 1
    _check(text_plot(tokens, [1.0] * len(tokens), title, caption))


def test_inputs_tried() -> None:
    """Runs after the properties (file order): each tried its full budget."""
    assert TRIED["highlight_page"] >= 300
    assert TRIED["text_plot"] >= 200
