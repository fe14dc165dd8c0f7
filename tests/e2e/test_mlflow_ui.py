"""Review in the MLflow UI, in a real browser: a run's explanation HTML artifact shows the
highlighted tokens. Headless Debian ``chromium`` driven by Playwright (``make test`` installs
both; without them the test is skipped with the reason)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
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
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlflow"), "ui", "--backend-store-uri",
         os.environ["MLFLOW_TRACKING_URI"], "--host", "127.0.0.1", "--port", str(port)],
        stdout=(tmp_path / "ui.log").open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, server, tmp_path / "ui.log")
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
