"""``reconcile_text`` end to end on tiny models: a text model's explain_text word scores (IG,
random) against an Emb-GAM's exact contributions, MLflow in a temp store; the card and report
pick the results up."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml

from glassworks.embed.cache import CachedEmbedder
from glassworks.experiments.reconcile import exact_word_scores, posthoc_word_scores
from glassworks.explain.summary import compare_text_explainers
from glassworks.io import write_parquet, write_pickle
from glassworks.models.emb_gam import EmbGAMClassifier
from glassworks.report.card import card_inputs, model_card
from glassworks.report.reconcile import reconciliation_section
from glassworks.report.text_study import WORD_SCORES, word_score_table
from stages import reconcile_text
from stages.common import run_main
from tests.fakes import REVIEWS, HashEncoder, tiny_lstm

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def embgam(tmp_path: Path) -> EmbGAMClassifier:
    rng = np.random.default_rng(0)
    words = ["charming", "funny", "dull", "lifeless", "best", "mess", "warm", "boring", "film"]
    texts = [" ".join(rng.choice(words, 4)) for _ in range(80)]
    labels = [int(any(w in t for w in ("charming", "funny", "best", "warm"))) for t in texts]
    model = EmbGAMClassifier(CachedEmbedder(HashEncoder(dim=16), tmp_path / "cache"), Cs=(1.0,))
    return model.fit(texts + REVIEWS, labels + [1, 0, 1, 0, 1, 0, 1, 0])


def test_exact_word_scores_add_up_to_the_explained_class_log_odds(
    embgam: EmbGAMClassifier,
) -> None:
    texts = ["a charming , funny film", "dull and lifeless"]
    logit = embgam.decision_function(texts) - float(np.ravel(embgam.intercept_)[0])
    for target in (0, 1):
        scores = exact_word_scores(embgam, texts, [target, target])
        sign = 1.0 if target == 1 else -1.0
        assert [w for w, _ in scores[0]] == ["a", "charming", "funny", "film"]
        for i, per_text in enumerate(scores):
            assert sum(s for _, s in per_text) == pytest.approx(sign * logit[i])


def test_reconcile_stage(tmp_path: Path, embgam: EmbGAMClassifier) -> None:
    texts = REVIEWS * 2
    model = tiny_lstm()
    comp = compare_text_explainers(
        model.module_, model.tokenizer_, texts, methods=("ig", "random"), n_steps=8, ks=(0.5,)
    )
    table = word_score_table(comp, texts, model.tokenizer_)
    back_texts, targets, methods = posthoc_word_scores(table)
    assert back_texts == texts
    assert targets == comp.target.tolist()
    assert set(methods) == {"ig", "random"}
    ig_sum = sum(s for w, s in methods["ig"][0])
    assert ig_sum == pytest.approx(float(comp.scores["ig"][0].sum()), abs=1e-6)  # no [CLS] mass

    write_parquet(tmp_path / "expl/text/tiny" / WORD_SCORES, table)
    write_pickle(tmp_path / "models/embgam/reviews/model.pkl", embgam)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["train_text"]["runs"] = {
        "tiny": {"dataset": "reviews", "model": next(iter(params["train_text"]["models"]))}
    }
    params["reconcile_text"].update(min_count=2, n_boot=20)
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump(params))
    argv = ["--run", "tiny", "--params", str(p), "--root", str(REPO),
            "--explanations-dir", str(tmp_path / "expl/text"),
            "--embgam-dir", str(tmp_path / "models/embgam"),
            "--out-dir", str(tmp_path / "root/data/explanations/reconcile"),
            "--metrics-dir", str(tmp_path / "root/metrics/reconcile_text")]  # fmt: skip
    assert run_main(reconcile_text.main, argv) == 0

    out = tmp_path / "root/data/explanations/reconcile/tiny"
    assert {f.name for f in out.iterdir()} == {
        "reconciliation.csv",
        "global_ngrams.csv",
        "disagreements.csv",
        "reconciliation.png",
    }
    metrics = json.loads((tmp_path / "root/metrics/reconcile_text/tiny.json").read_text())
    assert set(metrics) == {"ig", "random"}
    assert metrics["ig"]["n_texts"] == len(texts)
    assert metrics["ig"]["ngrams_compared"] > 0
    summary = pl.read_csv(out / "reconciliation.csv")
    assert summary["explainer"].to_list() == ["ig", "random"]
    ngrams = pl.read_csv(out / "global_ngrams.csv")
    assert ngrams.columns == ["ngram", "embgam", "ig", "random"]
    assert ngrams.height == metrics["ig"]["ngrams_compared"]

    section = "\n".join(reconciliation_section(tmp_path / "root/metrics"))
    assert "## Global explanations reconciled with Emb-GAM" in section
    assert "| tiny | ig |" in section
    champion = {"stage": "train_text", "stage_item": "tiny", "name": "reviews", "version": 1}
    inputs = card_inputs(champion, tmp_path / "root")
    titles = [t for t, _, _ in inputs.tables]
    assert "Global explanations against Emb-GAM's exact contributions" in titles
    assert any(t.startswith("Global n-gram importances") for t in titles)
    assert out / "reconciliation.png" in inputs.figures
    assert "Spearman vs Emb-GAM" in model_card(champion, inputs)


def test_reconcile_stage_names_a_missing_run(tmp_path: Path) -> None:
    argv = ["--run", "nope", "--params", str(REPO / "params.yaml"), "--root", str(REPO)]
    assert run_main(reconcile_text.main, argv) != 0
