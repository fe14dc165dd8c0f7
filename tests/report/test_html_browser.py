"""The highlight page in a real browser (headless Debian ``chromium`` driven by Playwright, as in
``tests/e2e/test_mlflow_ui.py``; skipped without them): an unclosed U+202E in one token cannot
reverse the tokens after it, a 10,000-character token cannot widen the page, and nothing is
fetched."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from glassworks.report.html import Highlighted, highlight_page

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
VIEWPORT = {"width": 1280, "height": 800}
AFTER = ["alpha", "bravo", "charlie", "delta", "echo"]
SPOOF = "evil\u202eroot"  # U+202E RIGHT-TO-LEFT OVERRIDE, never closed
LONG = "w" * 10_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("no chromium (make test installs Debian's chromium when run as root)")
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


def _render(browser: Any, page_html: str) -> tuple[Any, list[str]]:
    tab = browser.new_page(viewport=VIEWPORT)
    requests: list[str] = []
    tab.on("request", lambda r: requests.append(r.url))
    tab.set_content(page_html, wait_until="load")
    return tab, requests


def _boxes(tab: Any) -> dict[str, dict[str, float]]:
    """Bounding box of each shown token's span, by its text."""
    spans = tab.locator(".tok")
    return {spans.nth(i).inner_text(): spans.nth(i).bounding_box() for i in range(spans.count())}


def _reading_order(boxes: list[dict[str, float]]) -> bool:
    """Each box starts right of the one before on its line, or on a later line."""
    return all(
        b["y"] > a["y"] + 1 or (abs(b["y"] - a["y"]) <= 1 and b["x"] > a["x"])
        for a, b in zip(boxes, boxes[1:], strict=False)
    )


def test_unclosed_override_keeps_later_tokens_in_order(browser: Any) -> None:
    tokens = ["[CLS]", "start", SPOOF, *AFTER, "[SEP]", "[PAD]"]
    item = Highlighted(tokens, [0.1 * (i % 3) - 0.1 for i in range(len(tokens))], "spoof")
    tab, requests = _render(browser, highlight_page("bidi", [item]))
    boxes = _boxes(tab)
    assert "[CLS]" not in boxes  # special tokens are not shown
    assert "[SEP]" not in boxes
    xs = [boxes[t]["x"] for t in ["start", *AFTER]]
    ys = [boxes[t]["y"] for t in ["start", *AFTER]]
    assert max(ys) - min(ys) < 1, ys  # one line, so x order is reading order
    assert xs == sorted(xs), dict(zip(["start", *AFTER], xs, strict=True))
    assert boxes[SPOOF]["x"] < boxes[AFTER[0]]["x"]
    assert requests == []  # self-contained: nothing fetched
    tab.close()


def test_a_10k_character_token_wraps_inside_the_page(browser: Any) -> None:
    tokens = ["before", LONG, "after", *AFTER]
    item = Highlighted(tokens, [0.5, -1.0, 0.2, 0.0, 0.1, 0.1, 0.1, 0.1], "long")
    tab, requests = _render(browser, highlight_page("long token", [item]))
    width = tab.evaluate("document.documentElement.scrollWidth")
    body_width = tab.evaluate("document.body.scrollWidth")
    assert width <= 1.5 * VIEWPORT["width"], width
    assert body_width <= 1.5 * VIEWPORT["width"], body_width
    boxes = _boxes(tab)
    assert boxes[LONG]["width"] <= VIEWPORT["width"]
    assert boxes[LONG]["height"] > 10 * boxes["before"]["height"]  # wrapped over many lines
    assert _reading_order([boxes[t] for t in ["before", LONG, "after", *AFTER]])
    assert tab.locator(".legend").is_visible()  # the colour scale is on the page
    assert requests == []
    tab.close()


def test_the_explainer_toggle_shows_one_explainer_at_a_time(browser: Any) -> None:
    items = [
        Highlighted(["igword"], [0.5], "text 0 · IG", group="IG"),
        Highlighted(["limeword"], [0.4], "text 0 · LIME", group="LIME"),
    ]
    tab, requests = _render(browser, highlight_page("toggle", items))
    assert tab.get_by_text("igword").is_visible()
    assert not tab.get_by_text("limeword").is_visible()  # IG by default
    tab.get_by_text("LIME", exact=True).click()
    assert tab.get_by_text("limeword").is_visible()
    assert not tab.get_by_text("igword").is_visible()
    tab.get_by_text("all", exact=True).click()
    assert tab.get_by_text("igword").is_visible()
    assert tab.get_by_text("limeword").is_visible()
    assert all(r.startswith(("about:", "data:")) for r in requests)
    tab.close()
