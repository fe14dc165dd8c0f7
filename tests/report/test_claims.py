import json
from pathlib import Path

import pytest
from rich.console import Console

from glassworks import cli
from glassworks.errors import DataError
from glassworks.report.champions import summary_markdown, write_summary
from glassworks.report.claims import (
    NOT_REACHED,
    NOT_RUN,
    NOT_SEPARATED,
    REACHED,
    claims_markdown,
    embgam_finetuned_full_claim,
    paper_claims,
    text_run_datasets,
    verdict,
)


def s(mean: float, lo: float, hi: float, n: int = 3) -> dict:
    return {"mean": mean, "ci95": [lo, hi], "n": n, "sd": 0.01}


def write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def embgam(diff: tuple[float, float, float], majority: float = 0.5, f1: float = 0.7) -> dict:
    return {
        "majority": {"accuracy": majority},
        "embgam": {"macro_f1": f1},
        "test_intervals": {
            "accuracy": {"embgam": s(0.8, 0.78, 0.82, 872), "bag_of_ngrams": s(0.79, 0.77, 0.81)},
            "differences": [
                {"a": "embgam", "b": "bag_of_ngrams", "difference": s(*diff, n=872)},
            ],
        },
    }


def arm(test: float, valid: float, lam: float = 1.0) -> dict:
    return {
        "test_accuracy": s(test, test - 0.02, test + 0.02),
        "valid_accuracy": s(valid, valid - 0.01, valid + 0.01),
        "lambda": lam,
    }


@pytest.fixture
def metrics(tmp_path: Path) -> Path:
    m = tmp_path / "metrics"
    write(m / "train_embgam" / "sst2.json", embgam((0.012, 0.004, 0.02)))
    write(m / "train_embgam" / "reviews.json", embgam((0, -1, 1), majority=0.8, f1=0.3))
    # the reference penalty has the better validation accuracy: it is the one reported, even
    # though L1's test accuracy is higher (test is never read to choose)
    lstm = {
        "none": arm(0.53, 0.53),
        "clean": arm(0.76, 0.78),
        "cdep": arm(0.79, 0.70),
        "cdep_ref": arm(0.75, 0.72, 300),
    }
    write(
        m / "compare_cdep.json",
        {"decoy.lstm": lstm, "gender.lstm": {"cdep": arm(0.80, 0.79, 3)}, "selection": {}},
    )
    write(
        m / "compare_tabular.json",
        {
            "n_datasets": 6,
            "mean_auroc": {"inn": 0.85, "catboost": 0.86, "decision_tree": 0.70},
            "inn_vs": {
                "catboost": {"difference": s(-0.008, -0.015, -0.001, 18)},
                "decision_tree": {"difference": s(0.15, 0.1, 0.2, 18)},
            },
        },
    )
    for method, valid in (("inn", 0.84), ("catboost", 0.88), ("decision_tree", 0.7)):
        # catboost: the best rival on validation (test is never read to choose it)
        write(m / "train_tabular" / method / "openml-31.json", {"valid_auroc": {"mean": valid}})
    write(
        m / "train_text" / "reviews-small.json",
        {
            "test_accuracy": s(0.83, 0.81, 0.85),
            "choice": {"select_on": "macro_f1", "chosen": {"loss": "ce"}},
        },
    )
    write(m / "train_text" / "sst2-minilm.json", {"test_accuracy": s(0.91, 0.905, 0.92)})
    return m


RUNS = {"reviews-small": "reviews", "sst2-small": "sst2", "sst2-minilm": "sst2"}


def test_verdict_bounds() -> None:
    assert verdict([0.5, 0.6], 0.5) == REACHED  # the whole interval at the bar
    assert verdict([0.49, 0.6], 0.5) == NOT_SEPARATED
    assert verdict([0.3, 0.4999], 0.5) == NOT_REACHED
    assert verdict(None, 0.5) == NOT_RUN


def test_claims_from_metrics(metrics: Path) -> None:
    claims = paper_claims(metrics, RUNS)
    by = {(c.paper, c.claim.split(" ")[0]): c for c in claims}
    assert [c.paper for c in claims] == [
        "Emb-GAM",
        "CDEP",
        "CDEP",
        "INN",
        "nlp-lime-ig",
        "path_explain",
    ]  # fmt: skip  (sst2 runs are not judged against the majority class)
    assert claims[0].verdict == REACHED
    assert "+0.012 [+0.004, +0.020]" in claims[0].ours
    decoy, gender = claims[1], claims[2]
    assert "cdep_ref, lambda 300" in decoy.ours
    assert decoy.ours.startswith("0.750")
    assert decoy.verdict == NOT_REACHED  # [0.73, 0.77]: wholly below the 0.78 bar
    assert "cdep 0.790" in decoy.note
    assert "clean 0.760" in decoy.note
    assert gender.verdict == REACHED
    assert "cdep, lambda 3" in gender.ours
    inn = claims[3]
    assert "catboost" in inn.ours
    assert inn.verdict == NOT_SEPARATED
    text = by[("nlp-lime-ig", "reviews-small:")]
    assert text.verdict == REACHED
    assert "majority 0.800" in text.ours
    assert "chosen on validation macro_f1: loss ce" in text.note
    assert claims[-1].verdict == REACHED


def test_beating_needs_the_whole_interval_above(metrics: Path) -> None:
    assert verdict([0.8, 0.8], 0.8, strict=True) == NOT_SEPARATED  # always the majority class
    assert verdict([0.0, 0.02], 0.0, strict=True) == NOT_SEPARATED  # a difference touching 0
    assert verdict([0.8, 0.8], 0.8) == REACHED  # reaching a figure: at it is enough
    # the same score computed by two routes: float noise is a tie, not a win or a loss
    assert verdict([0.1 + 0.2, 0.1 + 0.2], 0.3, strict=True) == NOT_SEPARATED
    assert verdict([0.3, 0.3], 0.1 + 0.2) == REACHED
    assert verdict([0.3001, 0.31], 0.3, strict=True) == REACHED
    write(metrics / "train_text" / "reviews-small.json", {"test_accuracy": s(0.8, 0.8, 0.8)})
    text = next(c for c in paper_claims(metrics, RUNS) if c.claim.startswith("reviews-small"))
    assert text.verdict == NOT_SEPARATED


def test_the_text_claim_names_the_majority_floor_of_the_choice(metrics: Path) -> None:
    cands = [
        {"loss": "weighted_ce", "valid_accuracy": 0.79, "valid_macro_f1": 0.5},
        {"loss": "ce", "valid_accuracy": 0.85, "valid_macro_f1": 0.4},
    ]
    choice = {
        "select_on": "macro_f1",
        "candidates": cands,
        "chosen": {"loss": "ce"},
        "floor": {"majority_valid_accuracy": 0.809},
    }
    path = metrics / "train_text" / "reviews-small.json"
    write(path, {"test_accuracy": s(0.82, 0.81, 0.83), "choice": choice})
    text = next(c for c in paper_claims(metrics, RUNS) if c.claim.startswith("reviews-small"))
    assert "macro_f1 among candidates above the majority's valid accuracy 0.809: loss ce" in (
        text.note
    )
    # no candidate above the floor (0.85 is not above 0.85): the most accurate was kept
    choice["floor"] = {"majority_valid_accuracy": 0.85}
    write(path, {"test_accuracy": s(0.82, 0.81, 0.83), "choice": choice})
    text = next(c for c in paper_claims(metrics, RUNS) if c.claim.startswith("reviews-small"))
    assert "no candidate above the majority's valid accuracy 0.850, so the most accurate" in (
        text.note
    )
    assert "among candidates above" not in text.note


def test_the_inn_rival_is_chosen_on_validation_and_the_budget_is_said(metrics: Path) -> None:
    # ebm has the best test AUROC, catboost the best validation AUROC: catboost is the rival
    data = json.loads((metrics / "compare_tabular.json").read_text())
    data["mean_auroc"]["ebm"] = 0.9
    data["inn_vs"]["ebm"] = {"difference": s(-0.05, -0.06, -0.04, 18)}
    write(metrics / "compare_tabular.json", data)
    write(metrics / "train_tabular" / "ebm" / "openml-31.json", {"valid_auroc": {"mean": 0.8}})
    inn = paper_claims(metrics, RUNS)[3]
    assert "INN - catboost" in inn.ours
    assert "catboost has the best mean validation AUROC" in inn.note
    assert "configured hyperparameters (no search)" in inn.note
    for method in ("inn", "catboost", "decision_tree", "ebm"):
        f = metrics / "train_tabular" / method / "openml-31.json"
        write(f, {**json.loads(f.read_text()), "tuning": {"n_trials": 30}})
    assert "searched with 30 trials" in paper_claims(metrics, RUNS)[3].note


def test_missing_metrics_are_not_run(tmp_path: Path) -> None:
    claims = paper_claims(tmp_path / "metrics", RUNS)
    assert {c.verdict for c in claims} == {NOT_RUN}
    assert all("missing" in c.note for c in claims)


def test_a_malformed_file_names_itself(metrics: Path) -> None:
    (metrics / "compare_tabular.json").write_text("{not json")
    with pytest.raises(DataError, match="compare_tabular.json"):
        paper_claims(metrics, RUNS)
    # a file of another version: that claim is not run and says what its file lacks
    write(metrics / "compare_tabular.json", {"mean_auroc": {"inn": 0.8, "catboost": 0.9}})
    inn = paper_claims(metrics, RUNS)[3]
    assert inn.verdict == NOT_RUN
    assert "compare_tabular.json" in inn.note
    assert "inn_vs.catboost.difference" in inn.note
    # a value of the wrong type is a claim not run too, never a crash of the report
    write(metrics / "train_text" / "sst2-minilm.json", {"test_accuracy": {"mean": 0.9}})
    minilm = paper_claims(metrics, RUNS)[-1]
    assert minilm.verdict == NOT_RUN
    assert "unreadable" in minilm.note


def test_finetuned_benchmark_in_the_note(metrics: Path, tmp_path: Path) -> None:
    bench = tmp_path / "benchmarks"
    write(
        bench / "embgam_finetuned.json",
        {"embgam_finetuned_accuracy": 0.804, "bag_of_ngrams_accuracy": 0.8165},
    )
    note = paper_claims(metrics, RUNS, bench)[0].note
    assert "0.804 vs 0.817" in note


def test_markdown_and_summary_page(metrics: Path, tmp_path: Path) -> None:
    claims = paper_claims(metrics, RUNS)
    table = claims_markdown(claims)
    assert table.splitlines()[0].startswith("| paper | claim |")
    assert len([x for x in table.splitlines() if x.startswith("| ")]) == len(claims) + 1
    assert "**reached**" in table
    assert "\n1. paired over 872 test sentences" in table
    out = tmp_path / "reports"
    out.mkdir()
    empty = tmp_path / "no-metrics"  # the page's other sections are tested elsewhere
    write_summary(out, [], empty, [], out, "champion", claims)
    page = (out / "summary.md").read_text(encoding="utf-8")
    assert page == summary_markdown([], empty, [], out, "champion", claims)
    assert page.index("## Paper claims") < page.index("## Champions")
    saved = json.loads((out / "claims.json").read_text())
    assert [c["verdict"] for c in saved] == [c.verdict for c in claims]
    assert "## Paper claims" not in summary_markdown([], empty, [], out, "champion")


def test_text_run_datasets() -> None:
    runs = {"a": {"dataset": "sst2", "model": "small"}, "b": {"model": "small"}, "c": 3}
    assert text_run_datasets(runs) == {"a": "sst2"}


def test_cli_summary_prints_the_claims(metrics: Path) -> None:
    root = metrics.parent
    for other in ("compare_cdep.json", "compare_tabular.json"):  # their tables need more keys
        (metrics / other).unlink()
    (root / "params.yaml").write_text(
        "train_text:\n  runs:\n    reviews-small:\n      dataset: reviews\n"
    )
    console = Console(record=True, width=200)
    assert cli.summary(root, console) == 0
    text = console.export_text()
    assert "Paper claims" in text
    assert "reviews-small: beats the majority class" in text
    assert "majority 0.800" in text
    assert "not run" in text


def test_full_profile_benchmarks_follow_their_claims(metrics: Path, tmp_path: Path) -> None:
    bench = tmp_path / "benchmarks"
    bench.mkdir()
    # no benchmark run: no extra row
    assert [c.paper for c in paper_claims(metrics, RUNS, bench)][:3] == ["Emb-GAM", "CDEP", "CDEP"]

    def order(o: int, emb: float, bag: float, ci: tuple[float, float]) -> dict:
        diff = {"mean": emb - bag, "ci95": list(ci), "n": 872, "sd": 0.5}
        return {
            "order": o,
            "embgam": {"valid_accuracy": emb, "test_accuracy": emb},
            "bag_of_ngrams": {"valid_accuracy": bag, "test_accuracy": bag},
            "difference": {"difference": diff},
        }

    write(
        bench / "embgam_ngrams.json",
        {
            "command": "python benchmarks/embgam_ngrams.py",
            "n_train": 60620,
            "orders": [order(2, 0.79, 0.82, (-0.06, -0.001)), order(4, 0.83, 0.815, (0.001, 0.03))],
            "chosen": {"embgam": 4, "bag_of_ngrams": 2},
        },
    )
    write(
        bench / "cdep_full_decoy.json",
        {
            "command": "python benchmarks/cdep_full.py",
            "seeds": [0, 1, 2],
            "complete": False,  # still running: the row says so
            "arms_planned": ["lstm-clean", "lstm-cdep", "lstm-none", "lstm-eg"],
            "arms": {
                "lstm-clean": {"test_accuracy": s(0.81, 0.80, 0.82)},
                "lstm-cdep": {
                    "test_accuracy": s(0.79, 0.785, 0.80),
                    "valid_accuracy": s(0.80, 0.79, 0.81),
                    "lambda": 3,
                    "n_train": 39090,
                },
                "lstm-cdep_int": {  # lower on validation: not the one judged
                    "test_accuracy": s(0.85, 0.84, 0.86),
                    "valid_accuracy": s(0.70, 0.69, 0.71),
                    "lambda": 1,
                    "command": "python benchmarks/cdep_full.py --arms lstm-cdep_int --merge",
                },
            },
        },
    )
    write(bench / "cdep_full_gender.json", {"arms": {"lstm-clean": {}}, "seeds": [0]})
    claims = paper_claims(metrics, RUNS, bench)
    names = [(c.paper, "full profile" in c.claim) for c in claims]
    assert names[:6] == [
        ("Emb-GAM", False), ("Emb-GAM", True), ("CDEP", False), ("CDEP", False),
        ("CDEP", True), ("CDEP", True),
    ]  # fmt: skip
    assert not any("residuals" in c.claim for c in claims)  # that benchmark has not run
    ngrams, decoy, gender = claims[1], claims[4], claims[5]
    assert ngrams.verdict == REACHED
    assert ngrams.ours.startswith("n <= 4: 0.830 vs bag-of-n-grams 0.815")
    assert "n <= 2: 0.790 / 0.820" in ngrams.note
    assert decoy.verdict == REACHED  # [0.785, 0.80] >= 0.78
    assert "39090 phrases" in decoy.ours
    assert "(cdep, lambda 3" in decoy.ours  # the CD arm with the best validation accuracy
    assert "clean 0.810" in decoy.note
    assert "cdep_int 0.850" in decoy.note
    assert "`python benchmarks/cdep_full.py`; `python benchmarks/cdep_full.py --arms" in decoy.note
    assert "PARTIAL: 3 of 4 arms so far" in decoy.note
    assert "PARTIAL" not in ngrams.note  # no complete flag: a finished run
    assert gender.verdict == NOT_RUN
    assert "no LSTM CDEP arm yet" in gender.note


def test_the_residual_emb_gam_benchmark_gets_its_own_row(metrics: Path, tmp_path: Path) -> None:
    bench = tmp_path / "benchmarks"
    row = {
        "order": 2,
        "residual": 0.3,
        "embgam": {"valid_accuracy": 0.83, "test_accuracy": 0.845},
        "bag_of_ngrams": {"valid_accuracy": 0.82, "test_accuracy": 0.821},
        "difference": {"difference": {"mean": 0.024, "ci95": [0.004, 0.044], "n": 872}},
    }
    write(
        bench / "embgam_residuals.json",
        {"command": "python benchmarks/embgam_ngrams.py --residuals 0 0.3 1",
         "residuals": [0.0, 0.3, 1.0], "n_train": 61160, "orders": [row],
         "chosen": {"embgam": 2, "bag_of_ngrams": 2}, "seconds": 300},
    )  # fmt: skip
    claims = paper_claims(metrics, RUNS, bench)
    assert [c.paper for c in claims[:2]] == ["Emb-GAM", "Emb-GAM"]
    residual = claims[1]
    assert "per-n-gram residuals" in residual.claim
    assert residual.verdict == REACHED  # [0.004, 0.044] excludes 0
    assert residual.ours.startswith("n <= 2, residual scale 0.3: 0.845 vs bag-of-n-grams 0.821")
    assert "residual scale chosen on validation from [0.0, 0.3, 1.0]" in residual.note
    write(bench / "embgam_residuals.json", {"orders": [row], "chosen": {}})
    assert paper_claims(metrics, RUNS, bench)[1].verdict == NOT_RUN  # no chosen order: says so


def test_the_tuned_tabular_benchmark_follows_the_inn_claim(metrics: Path, tmp_path: Path) -> None:
    bench = tmp_path / "benchmarks"
    write(
        bench / "tabular_tuned.json",
        {
            "command": "python benchmarks/tabular_tuned.py",
            "trials_per_method": 20,
            "seeds": [0, 1, 2],
            "datasets": {
                "openml-31": {
                    "inn": {
                        "trials": [{"params": {}}, {"params": {"smoothness": 3, "numeric_bins": 8}}]
                    }
                },
                "openml-37": {"inn": {"trials": [{"params": {"smoothness": 0.2}}]}},
            },
            "summary": {
                "mean_test_auroc": {"inn": 0.84, "ebm": 0.86},
                "tuning_gain": {"inn": s(0.004, -0.01, 0.02), "ebm": s(-0.002, -0.01, 0.01)},
                "inn_vs_best": {"best": "ebm", "difference": s(-0.02, -0.03, -0.012, 6)},
                "per_dataset": {
                    "openml-31": {"best": "ebm", "inn_minus_best": s(-0.05, -0.09, -0.02)},
                    "openml-37": {"best": "catboost", "inn_minus_best": s(0.01, -0.01, 0.03)},
                },
            },
        },
    )
    claims = paper_claims(metrics, RUNS, bench)
    i = next(i for i, c in enumerate(claims) if c.paper == "INN")
    tuned = claims[i + 1]
    assert tuned.paper == "INN"
    assert "equal budget" in tuned.claim
    assert tuned.verdict == NOT_REACHED  # [-0.03, -0.012] wholly below -0.01
    assert "INN - ebm -0.020" in tuned.ours
    assert "inn +0.004, ebm -0.002" in tuned.note
    assert "openml-31, openml-37" in tuned.note
    assert "INN - best per dataset: openml-31 (ebm) -0.050 [-0.090, -0.020], " in tuned.note
    assert "openml-37 (catboost) +0.010 [-0.010, +0.030]" in tuned.note
    assert "INN's search includes its smoothness penalty" in tuned.note
    assert "on openml-31 only, its binned numeric inputs (numeric_bins)" in tuned.note
    # a search without it (only the configured setting's default) does not say so
    data = json.loads((bench / "tabular_tuned.json").read_text())
    data["datasets"]["openml-37"]["inn"]["trials"] = [{"params": {"weight_norm": 0.1}}]
    data["summary"]["per_dataset"] = "not a mapping"
    write(bench / "tabular_tuned.json", data)
    note = [c for c in paper_claims(metrics, RUNS, bench) if "equal budget" in c.claim][0].note
    assert "smoothness" not in note
    assert "numeric_bins" in note  # openml-31's search still varied it
    assert "per dataset" not in note


def test_the_exact_interaction_aware_penalty_gets_its_own_rows(
    metrics: Path, tmp_path: Path
) -> None:
    """``clp`` is not CD: it never becomes the CDEP row, and where it ran (CPU profile or full
    size) it is judged in a row of its own against the same bar."""
    data = json.loads((metrics / "compare_cdep.json").read_text())
    data["decoy.lstm"]["clp"] = arm(0.81, 0.95, 1)  # better on validation than every CD arm
    write(metrics / "compare_cdep.json", data)
    bench = tmp_path / "benchmarks"
    write(
        bench / "cdep_full_decoy.json",
        {
            "command": "python benchmarks/cdep_full.py",
            "seeds": [0, 1, 2],
            "arms": {"lstm-cdep": arm(0.68, 0.68, 3), "lstm-clp": arm(0.81, 0.82, 3)},
        },
    )
    claims = paper_claims(metrics, RUNS, bench)
    cdep = [c for c in claims if c.paper == "CDEP"]
    assert [("clp" in c.claim, "full profile" in c.claim) for c in cdep] == [
        (False, False),
        (False, False),
        (True, False),
        (False, True),
        (True, True),
    ]  # fmt: skip  (gender: no clp arm, no full-size file: no row)
    assert "cdep_ref, lambda 300" in cdep[0].ours  # clp never wins the CDEP row
    assert "clp 0.810" in cdep[0].note
    assert cdep[2].ours.startswith("0.810")
    assert "(clp, lambda 1)" in cdep[2].ours
    assert cdep[2].verdict == REACHED
    assert cdep[3].verdict == NOT_REACHED  # the CD arm at full size: 0.68
    assert cdep[4].verdict == REACHED  # [0.79, 0.83] >= 0.78
    assert "(clp, lambda 3" in cdep[4].ours


def full_finetune(diff: tuple[float, float, float]) -> dict:
    per = [
        {"seed": i, "test_accuracy": 0.84 + i / 100, "difference": {"difference": s(*diff, n=872)}}
        for i in range(3)
    ]
    return {
        "command": "python benchmarks/embgam_finetuned.py --full",
        "ngram_order": 3,
        "layer": -1,
        "per_seed": per,
        "embgam_test_accuracy": 0.85,
        "bag_of_ngrams": {"test_accuracy": 0.8165},
        "embgam_pretrained_accuracy": 0.79,
        "difference": {"difference": s(*diff, n=872)},
        "orders": [
            {
                "order": o,
                "embgam_valid_accuracy": e,
                "bag_of_ngrams": {"valid_accuracy": b, "test_accuracy": t},
            }
            for o, e, b, t in ((2, 0.838, 0.823, 0.8165), (3, 0.845, 0.822, 0.815))
        ],
        "chosen": {"embgam": 3, "bag_of_ngrams": 2},
        "seconds": 1200,
    }


def test_emb_gam_over_the_fully_fine_tuned_encoder_gets_its_own_row(
    metrics: Path, tmp_path: Path
) -> None:
    bench = tmp_path / "benchmarks"
    assert not any("fine-tuned on all" in c.claim for c in paper_claims(metrics, RUNS, bench))
    write(bench / "embgam_finetuned_full.json", full_finetune((0.034, 0.012, 0.055)))
    claims = paper_claims(metrics, RUNS, bench)
    assert [c.paper for c in claims[:2]] == ["Emb-GAM", "Emb-GAM"]
    row = claims[1]
    assert "fine-tuned on all of SST-2" in row.claim
    assert row.ours == "0.850 vs bag-of-n-grams 0.817; difference +0.034 [+0.012, +0.055]"
    assert row.verdict == REACHED  # the paired interval excludes 0
    assert "3 encoder seeds" in row.note
    assert "2: 0.860 (+0.034 [+0.012, +0.055])" in row.note
    assert "same n-grams (test 0.815):" in row.note  # n <= 3's bag, not the chosen n <= 2's
    assert "n <= 3: 0.845 / 0.822, chosen n <= 3 and n <= 2" in row.note
    write(bench / "embgam_finetuned_full.json", full_finetune((0.01, -0.005, 0.025)))
    assert paper_claims(metrics, RUNS, bench)[1].verdict == NOT_SEPARATED
    write(bench / "embgam_finetuned_full.json", full_finetune((-0.03, -0.05, -0.01)))
    assert paper_claims(metrics, RUNS, bench)[1].verdict == NOT_REACHED
    write(bench / "embgam_finetuned_full.json", {"per_seed": []})
    assert paper_claims(metrics, RUNS, bench)[1].verdict == NOT_RUN  # says what the file lacks
    # a residual search says its grid and each seed's choice
    residual = {**full_finetune((0.03, 0.01, 0.05)), "residuals": [0.0, 1.0, 3.0]}
    residual["per_seed"] = [{**r, "residual": 3.0} for r in residual["per_seed"]]
    write(bench / "residuals.json", residual)
    row = embgam_finetuned_full_claim(bench, "residuals.json", "with residuals")
    assert row is not None
    assert row.claim == "with residuals"
    assert row.verdict == REACHED
    assert "residual scale from [0.0, 1.0, 3.0] (chosen per seed: 3, 3, 3)" in row.note
    # the benchmark's own file (embgam_finetuned.py --full --residuals) is a row of the table,
    # right after the plain fine-tuned one
    write(bench / "embgam_finetuned_full.json", full_finetune((0.01, -0.005, 0.025)))
    write(bench / "embgam_finetuned_full_residuals.json", residual)
    claims = paper_claims(metrics, RUNS, bench)
    assert [c.paper for c in claims[:3]] == ["Emb-GAM"] * 3
    assert "with per-n-gram residuals" in claims[2].claim
    assert "fine-tuned on all of SST-2" in claims[2].claim
    assert (claims[1].verdict, claims[2].verdict) == (NOT_SEPARATED, REACHED)


def test_the_full_minilm_run_follows_the_minilm_claim(metrics: Path, tmp_path: Path) -> None:
    bench = tmp_path / "benchmarks"
    result = {
        "commands": ["python benchmarks/minilm_full.py"],
        "recipe": {"epochs": 1},
        "n_train": 39090,
        "test_accuracy": s(0.905, 0.901, 0.909),
        "seconds": 2900,
    }
    write(bench / "minilm_full.json", result)
    claims = paper_claims(metrics, RUNS, bench)
    full, pipeline = claims[-1], claims[-2]
    assert "0.90" in pipeline.claim
    assert "full profile" not in pipeline.claim
    assert full.paper == "path_explain"
    assert "full profile" in full.claim
    assert full.ours == "0.905 [0.901, 0.909]"
    assert full.verdict == REACHED
    assert "39090 training phrases, 1 epoch(s) (`python" in full.note  # nothing to choose
    write(bench / "minilm_full.json", {**result, "recipe": {"epochs": 2}})
    assert (
        "2 epoch(s), the best by validation accuracy" in paper_claims(metrics, RUNS, bench)[-1].note
    )
    write(bench / "minilm_full.json", {**result, "test_accuracy": s(0.89, 0.885, 0.905)})
    assert paper_claims(metrics, RUNS, bench)[-1].verdict == NOT_SEPARATED
    write(bench / "minilm_full.json", {**result, "test_accuracy": s(0.88, 0.87, 0.89)})
    assert paper_claims(metrics, RUNS, bench)[-1].verdict == NOT_REACHED
