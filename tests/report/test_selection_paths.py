"""No selection path can read a test metric (DESIGN.md, evaluation protocol).

Behaviour: CDEP's lambda choice and the registry's champion choice give the same answer when every
test column is removed or adversarially permuted. Structure: no ``max``/``sorted``/``idxmax``/...
call in ``src/glassworks`` or ``stages`` ranks by a name that mentions the test split (a reporting
sort may opt out with the comment ``# reporting: not a selection`` on its line).
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from glassworks.report.cdep import choose_lambda, chosen_lambdas
from glassworks.report.overview import champions
from glassworks.selection import SelectionLeak

REPO = Path(__file__).resolve().parents[2]
TEST_NAME = re.compile(r"(^|[^a-z])test([^a-z]|$)", re.IGNORECASE)


def _is_test_key(name: str) -> bool:
    return bool(TEST_NAME.search(name.replace(".", "_").replace("/", "_")))


# ----------------------------------------------------------------------------- CDEP lambda


def _cdep_records(rng: np.random.Generator) -> pl.DataFrame:
    """Two variants x three arms; test accuracy anti-correlated with validation accuracy, so a
    choice on test would differ from the choice on validation."""
    rows = []
    for variant in ("decoy", "gender"):
        for arm, grid in (("lstm-none", [0.0]), ("lstm-cdep", [1.0, 3.0, 10.0, 30.0]),
                          ("transformer-eg", [0.1, 0.3, 1.0, 3.0])):  # fmt: skip
            valid = rng.uniform(0.5, 0.9, len(grid))
            for lam, v in zip(grid, valid, strict=True):
                rows.append({"variant": variant, "arm": arm, "lambda": lam, "seed": 0,
                             "in_grid": True, "valid_accuracy": float(v),
                             "test_accuracy": float(1.4 - v), "test_macro_f1": float(1.3 - v),
                             "test_correct": [1, 0, 1], "ig_mass": 0.1})  # fmt: skip
    return pl.DataFrame(rows)


def _test_columns(frame: pl.DataFrame) -> list[str]:
    return [c for c in frame.columns if _is_test_key(c)]


def test_cdep_lambda_choice_ignores_test_columns() -> None:
    rng = np.random.default_rng(0)
    records = _cdep_records(rng)
    chosen = chosen_lambdas(records)
    assert len(chosen) == 6
    # the test reading would have chosen differently somewhere (the check has teeth)
    by_test = {
        key: float(rows.sort("test_accuracy", descending=True)["lambda"][0])
        for key, rows in records.group_by(["variant", "arm"], maintain_order=True)
    }
    assert any(by_test[k] != v for k, v in chosen.items())
    assert chosen_lambdas(records.drop(_test_columns(records))) == chosen
    for trial in range(5):
        perm = np.random.default_rng(trial).permutation(records.height)
        shuffled = records.with_columns(
            [pl.Series(c, records[c].to_list())[perm] for c in _test_columns(records)]
        )
        assert chosen_lambdas(shuffled) == chosen


def test_choose_lambda_reads_validation_only() -> None:
    rows = [{"lambda": 1.0, "valid_accuracy": 0.7}, {"lambda": 3.0, "valid_accuracy": 0.8},
            {"lambda": 10.0, "valid_accuracy": 0.8}]  # fmt: skip
    assert choose_lambda(rows) == 3.0  # a tie goes to the earlier (smaller) lambda
    with_test = [r | {"test_accuracy": 1.0 - r["valid_accuracy"]} for r in rows]
    assert choose_lambda(with_test) == 3.0
    with pytest.raises(SelectionLeak):
        choose_lambda(with_test, metric="test_accuracy")


# ----------------------------------------------------------------------------- champions


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _summary(mean: float) -> dict[str, Any]:
    return {"mean": mean, "sd": 0.01, "ci95": [mean - 0.01, mean + 0.01], "n": 3}


TEXT = {"sst2-small": (0.80, 0.90), "sst2-minilm": (0.86, 0.70), "essays-small": (0.45, 0.50)}
TABULAR = {"inn": (0.78, 0.60), "ebm": (0.74, 0.95), "catboost": (0.77, 0.70)}


def _metrics(root: Path, mutate: Any = None) -> Path:
    m = root / "metrics"
    for run, (valid, test) in TEXT.items():
        data = {"seeds": [0, 1, 2], "valid_accuracy": _summary(valid),
                "test_accuracy": _summary(test), "per_seed": []}  # fmt: skip
        _write(m / "train_text" / f"{run}.json", mutate(data) if mutate else data)
    for method, (valid, test) in TABULAR.items():
        data = {"seeds": [0, 1, 2], "valid_auroc": {"mean": valid, "std": 0.01},
                "test_auroc": {"mean": test, "std": 0.01, "per_seed": [test] * 3}}  # fmt: skip
        _write(m / "train_tabular" / method / "openml-31.json", mutate(data) if mutate else data)
    return m


RUNS = {"sst2-small": "sst2", "sst2-minilm": "sst2", "essays-small": "essays"}


def _choice(m: Path) -> dict[tuple[str, str], tuple[str, str | None]]:
    return {(c.task, c.dataset): (c.stage_item, c.run_name) for c in champions(m, RUNS)}


def _drop_test(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if not _is_test_key(k)}


def test_champions_are_chosen_on_validation(tmp_path: Path) -> None:
    chosen = _choice(_metrics(tmp_path / "plain"))
    assert chosen == {
        ("text", "sst2"): ("sst2-minilm", "sst2-minilm#0"),  # test would pick sst2-small
        ("text", "essays"): ("essays-small", "essays-small#0"),
        ("tabular", "openml-31"): ("openml-31-inn", "inn@openml-31#0"),  # test would pick ebm
    }
    champs = {c.stage_item: c for c in champions(tmp_path / "plain" / "metrics", RUNS)}
    assert champs["sst2-minilm"].metric == "valid_accuracy"
    assert champs["sst2-minilm"].test["mean"] == 0.70  # reported at the choice
    # without any test value: the same choice, test reported as missing
    assert _choice(_metrics(tmp_path / "no-test", _drop_test)) == chosen
    bare = champions(tmp_path / "no-test" / "metrics", RUNS)
    assert all(c.test is None for c in bare)


def test_champions_ignore_permuted_test_scores(tmp_path: Path) -> None:
    chosen = _choice(_metrics(tmp_path / "plain"))
    rng = np.random.default_rng(1)
    for trial in range(4):

        def scramble(data: dict[str, Any]) -> dict[str, Any]:
            out = dict(data)
            for k in [k for k in data if _is_test_key(k)]:
                value = float(rng.uniform(0, 1))
                tabular = {"mean": value, "std": 0.0, "per_seed": [value] * 3}
                out[k] = _summary(value) if "ci95" in data[k] else tabular
            return out

        assert _choice(_metrics(tmp_path / f"perm-{trial}", scramble)) == chosen


# ----------------------------------------------------------------------------- structure

RANKERS = {"max", "min", "sorted", "nlargest", "nsmallest", "sort", "sort_values", "sort_by",
           "top_k", "bottom_k", "arg_sort", "argsort", "idxmax", "idxmin", "argmax", "argmin",
           "arg_max", "arg_min", "choose", "choose_record"}  # fmt: skip
OPT_OUT = "# reporting: not a selection"


def _mentions_test(node: ast.AST) -> list[str]:
    found = []
    for n in ast.walk(node):
        if isinstance(n, ast.Constant) and isinstance(n.value, str):
            name = n.value
        elif isinstance(n, ast.Name):
            name = n.id
        elif isinstance(n, ast.Attribute):
            name = n.attr
        else:
            continue
        if _is_test_key(name):
            found.append(name)
    return found


def _ranking_key(call: ast.Call, fn: str) -> list[ast.AST]:
    """The parts of a call that decide an order or a winner."""
    keys = [k.value for k in call.keywords if k.arg in ("key", "by", "metric", "column")]
    if fn in ("max", "min", "sorted"):
        return keys  # builtins: only the key function ranks (max(n_test, 1) is arithmetic)
    if isinstance(call.func, ast.Attribute) and fn in ("choose", "choose_record"):
        return keys
    keys += list(call.args)
    if not call.args and isinstance(call.func, ast.Attribute):
        # df["test_acc"].idxmax(), pl.col("test_accuracy").arg_max(): the immediate receiver
        recv = call.func.value
        if isinstance(recv, ast.Subscript):
            keys.append(recv.slice)
        elif isinstance(recv, ast.Call):
            keys += list(recv.args)
    return keys


def selection_on_test(source: str) -> list[tuple[int, str, list[str]]]:
    """``(line, function, names)`` of every ranking call keyed on a test-split name."""
    lines = source.splitlines()
    hits = []
    for call in ast.walk(ast.parse(source)):
        if not isinstance(call, ast.Call):
            continue
        func = call.func
        fn = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if fn not in RANKERS:
            continue
        names = [n for part in _ranking_key(call, fn) for n in _mentions_test(part)]
        span = lines[call.lineno - 1 : (call.end_lineno or call.lineno)]
        if names and not any(OPT_OUT in line for line in span):
            hits.append((call.lineno, fn, names))
    return hits


@pytest.mark.parametrize(
    ("snippet", "flagged"),
    [
        ("best = max(rows, key=lambda r: r['test_accuracy'])", True),
        ("order = sorted(rows, key=lambda r: -r['auroc_test'])", True),
        ("top = frame.sort('test_accuracy', descending=True).row(0)", True),
        ("i = df['test/auroc'].idxmax()", True),
        ("i = frame.select(pl.col('test_macro_f1').arg_max())", True),
        ("w = choose_record(rows, metric='test_accuracy')", True),
        ("n = max(n_test, 1)", False),
        ("best = max(rows, key=lambda r: r['valid_accuracy'])", False),
        ("rows = frame.sort('lambda')", False),
        ("latest = sorted(p for p in tests_dir.iterdir())", False),
        ("top = frame.sort('test_accuracy')  # reporting: not a selection", False),
    ],
)
def test_the_scanner_sees_a_selection_on_test(snippet: str, flagged: bool) -> None:
    assert bool(selection_on_test(snippet)) is flagged


def test_no_selection_is_keyed_on_a_test_metric() -> None:
    files = sorted([*(REPO / "src" / "glassworks").rglob("*.py"), *(REPO / "stages").rglob("*.py")])
    assert len(files) > 30
    found = {
        str(f.relative_to(REPO)): hits
        for f in files
        if (hits := selection_on_test(f.read_text(encoding="utf-8")))
    }
    assert not found, f"selection keyed on a test metric (choose on validation): {found}"
