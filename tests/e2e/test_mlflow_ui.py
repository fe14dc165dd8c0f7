"""Review in the MLflow UI, in a real browser: a run's explanation HTML artifact shows the
highlighted tokens. Headless Debian ``chromium`` driven by Playwright (``make test`` installs
both; without them the test is skipped with the reason)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from flows.server import free_port
from glassworks import tracking
from glassworks.explain.text import explain_texts
from glassworks.models.text_classifier import TextClassifier
from glassworks.report.html import Highlighted, highlight_page

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TEXTS = ["a charming and funny film", "dull , flat and lifeless"]


def _explanation_page(tmp_path: Path) -> Path:
    """A real explanation: IG token scores of a small trained LSTM, rendered by the library."""
    model = TextClassifier(backbone="lstm", tokenizer="word", vocab_size=50, d_model=8, epochs=3,
                           lr=0.01, device="cpu").fit(TEXTS * 4, [1, 0] * 4)  # fmt: skip
    exp = explain_texts(model.module_, model.tokenizer_, TEXTS, n_steps=16)
    items = [
        Highlighted(tokens, scores.tolist(), text)
        for tokens, scores, text in zip(exp.tokens, exp.scores, TEXTS, strict=True)
    ]
    page = tmp_path / "highlights.html"
    page.write_text(highlight_page("explain_text@tiny", items), encoding="utf-8")
    return page


@pytest.mark.slow
def test_explanation_artifact_in_the_mlflow_ui(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("no chromium (make test installs Debian's chromium when run as root)")
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    page_file = _explanation_page(tmp_path)
    with tracking.stage_run("explain_text", "tiny") as run:
        run.log_artifact(page_file, "explanations")
        run.log_metrics({"ig_completeness": 1e-6})
    with _mlflow_ui(tmp_path) as base:
        shot = tmp_path / "mlflow-ui-explanation.png"
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
            )
            tab = browser.new_page(viewport={"width": 1280, "height": 800})
            tab.goto(f"{base}/#/experiments/{run.experiment_id}/runs/{run.run_id}/artifacts")
            tab.get_by_text("explanations", exact=True).first.click()
            tab.get_by_text("highlights.html", exact=True).first.click()
            frame = _frame_with(tab, "charming")
            html = frame.content()
            tab.screenshot(path=str(shot))
            browser.close()
        # every token of both texts is there, each in a coloured span
        for token in ("charming", "funny", "lifeless"):
            assert token in html
        assert html.count("background:rgba(") >= 8
        assert shot.stat().st_size > 10_000
        print(f"screenshot: {shot}")  # noqa: T201 - the closing note cites it


@contextlib.contextmanager
def _mlflow_ui(tmp_path: Path) -> Iterator[str]:
    """``mlflow ui`` on this test's store and a free port: its base URL, stopped after."""
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlflow"), "ui", "--backend-store-uri",
         os.environ["MLFLOW_TRACKING_URI"], "--host", "127.0.0.1", "--port", str(port)],
        stdout=(tmp_path / "ui.log").open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, server, tmp_path / "ui.log")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=20)


def _wait_healthy(base: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"mlflow ui did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.5)


def _frame_with(tab, text: str, timeout: float = 30):  # noqa: ANN001, ANN202
    """The frame (the artifact viewer's iframe) whose document contains ``text``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for frame in tab.frames:
            try:
                if text in frame.content():
                    return frame
            except Exception:  # noqa: BLE001, S112 - a frame navigating away
                continue
        tab.wait_for_timeout(250)
    raise AssertionError(f"no frame shows {text!r}; frames: {[f.url for f in tab.frames]}")


@pytest.mark.slow
def test_model_card_in_the_mlflow_ui(tmp_path: Path) -> None:
    """A champion's card logged with its model renders inside the MLflow UI: the Integrated
    Hessians heatmap (an embedded image), the highlights with their legend, and no request
    leaves the page (docs/img/card-in-mlflow-ui.png is this test's screenshot)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("no chromium (make test installs Debian's chromium when run as root)")
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    import numpy as np

    from glassworks.report.card import CardInputs, model_card
    from glassworks.report.plots import matrix_interaction_plot

    heatmap = tmp_path / "interactions_0.png"
    labels = ["a", "charming", "and", "funny", "film"]
    rng = np.random.default_rng(0)
    m = rng.normal(size=(5, 5))
    matrix_interaction_plot((m + m.T) / 2, labels, heatmap, "token x token Integrated Hessians")
    row = {"name": "glassworks-text-tiny", "version": 1, "dataset": "tiny",
           "stage": "train_text", "stage_item": "tiny", "metric": "valid_accuracy",
           "value": 0.9}  # fmt: skip
    inputs = CardInputs(figures=[heatmap], highlights=_explanation_page(tmp_path),
                        tables=[("Faithfulness", ["explainer", "deletion AUC"],
                                 [["ig", "0.080"]])])  # fmt: skip
    card = tmp_path / "glassworks-text-tiny.html"
    card.write_text(model_card(row, inputs), encoding="utf-8")
    with tracking.stage_run("train_text", "tiny") as run:
        run.log_artifact(card, "card")
    shot = tmp_path / "card-in-mlflow-ui.png"
    with _mlflow_ui(tmp_path) as base, playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        tab = browser.new_page(viewport={"width": 1280, "height": 900})
        requests: list[str] = []
        tab.on("request", lambda r: requests.append(r.url))
        tab.goto(f"{base}/#/experiments/{run.experiment_id}/runs/{run.run_id}/artifacts")
        tab.get_by_text("card", exact=True).first.click()
        tab.get_by_text("glassworks-text-tiny.html", exact=True).first.click()
        frame = _frame_with(tab, "Faithfulness")
        widths = frame.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
        legend = _frame_with(tab, "charming").content()
        tab.wait_for_timeout(500)
        tab.screenshot(path=str(shot), full_page=True)
        browser.close()
        assert widths  # the heatmap ...
        assert all(w > 100 for w in widths)  # ... decoded and drawn
        assert "lifeless" in legend
        assert "raises the explained output" in legend  # the colour legend
        outside = [u for u in requests if not u.startswith((base, "data:", "about:", "blob:"))]
        assert outside == []
        assert shot.stat().st_size > 10_000
        print(f"screenshot: {shot}")  # noqa: T201 - the closing note cites it
