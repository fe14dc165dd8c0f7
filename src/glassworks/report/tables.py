"""One table spec per stage: which metrics files it reads, how its rows are named, and which
values fill which columns in which format. ``glassworks summary`` prints these tables and the
``report`` stage writes them as markdown, so the layout of each stage's metrics is known here only.

A spec reads ``metrics/<stage>/<files>`` (or the single file ``metrics/<stage>.json``), turns the
files into :class:`Row` s (one per file unless the spec says otherwise) and fills each row's
cells with its :class:`Column` s. Results over seeds are ``mean ± sd [95% bootstrap interval]``
(:func:`fmt_summary`), paired differences ``+mean [lo, hi]`` (:func:`interval`).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from glassworks.errors import DataError

MAX_LEAVES = 8
"""Columns of a table that lists numeric leaves (a stage without a spec, the report's inventory)."""


# ---- values and formats ------------------------------------------------------------------------


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as ``{"a.b.c": leaf}``."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def numeric_leaves(data: Mapping[str, Any]) -> dict[str, int | float]:
    """The int and float leaves of :func:`flatten` (booleans are not numbers here)."""
    return {
        k: v
        for k, v in flatten(data).items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


def get(data: Any, path: str) -> Any:
    """``data["a"]["b"]`` for ``path="a.b"``; None where a step is missing or not a mapping."""
    for key in path.split("."):
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def fmt_number(value: object) -> str:
    """A terminal cell: 3 decimals, thousands separators, tiny values in scientific notation."""
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != 0 and abs(value) < 1e-3:
            return f"{value:.1e}"
        return f"{value:,.3f}" if value < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def fmt_digits(value: float | None) -> str:
    """A markdown cell: 4 significant digits, empty when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.4g}"


def fmt_summary(d: Mapping[str, Any] | None, digits: int = 3) -> str:
    """``mean ± sd [lo, hi]`` of a ``Summary.as_dict`` (``-`` when missing)."""
    if not d:
        return "-"
    f = f"{{:.{digits}f}}"
    if d.get("n") == 1:
        return f.format(d["mean"]) + " (1 seed)"
    lo, hi = d["ci95"]
    return f"{f.format(d['mean'])} ± {f.format(d['sd'])} [{f.format(lo)}, {f.format(hi)}]"


# ---- specs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """One metrics file: its path (relative to ``metrics/<stage>/``, or its name) and its JSON."""

    path: Path
    data: Any


@dataclass(frozen=True)
class Row:
    """One table row: its name (one part per naming column) and the values its cells read."""

    name: tuple[str, ...]
    data: Any


Cell = Callable[[Row], str]


@dataclass(frozen=True)
class Column:
    """A header, how a row fills the cell, and its side (numbers right, names left)."""

    label: str
    cell: Cell
    left: bool = False


def _per_file(sources: list[Source]) -> list[Row]:
    return [Row((s.path.stem,), s.data) for s in sources]


@dataclass(frozen=True)
class TableSpec:
    """How one stage's metrics become a table.

    ``files`` is a glob under ``metrics/<stage>/``, or empty for the single file
    ``metrics/<stage>.json``. ``title`` and ``columns`` may depend on the files (a method column
    only where some file has the method); ``rows`` names and shapes the rows (default: one per
    file, named by its stem).
    """

    stage: str
    title: str | Callable[[list[Source]], str]
    columns: Sequence[Column] | Callable[[list[Source]], Sequence[Column]]
    files: str = "*.json"
    rows: Callable[[list[Source]], list[Row]] = _per_file

    def path(self, metrics_root: Path) -> Path:
        """The folder (or single file) this spec reads."""
        root = Path(metrics_root)
        return root / self.stage if self.files else root / f"{self.stage}.json"


# cell builders: each reads a dotted path of the row's data (``get``) and formats it


def name(i: int = 0) -> Cell:
    """Part ``i`` of the row's name."""
    return lambda r: r.name[i]


def num(path: str) -> Cell:
    """:func:`fmt_number` of the value."""
    return lambda r: fmt_number(get(r.data, path))


def fmt(pattern: str, *paths: str) -> Cell:
    """``pattern.format(*values)``; ``-`` when any value is missing."""

    def cell(r: Row) -> str:
        values = [get(r.data, p) for p in paths]
        return "-" if any(v is None for v in values) else pattern.format(*values)

    return cell


def summary(path: str, digits: int = 3) -> Cell:
    """:func:`fmt_summary` of a summary over seeds."""
    return lambda r: fmt_summary(get(r.data, path), digits)


def mean_std(path: str, digits: int = 4) -> Cell:
    """``mean ± std`` of ``{mean, std, ...}`` (``train_tabular``'s seeds)."""
    return fmt(f"{{:.{digits}f}} ± {{:.{digits}f}}", f"{path}.mean", f"{path}.std")


def first_of(*cells: Cell) -> Cell:
    """The first of ``cells`` that is not ``-`` (one column for classification and regression
    metrics: a dataset has one or the other)."""

    def cell(r: Row) -> str:
        for c in cells:
            if (text := c(r)) != "-":
                return text
        return "-"

    return cell


def interval(path: str) -> Cell:
    """``+mean [+lo, +hi]`` of a paired difference's summary."""

    def cell(r: Row) -> str:
        d = get(r.data, path)
        if not d:
            return "-"
        lo, hi = d["ci95"]
        return f"{d['mean']:+.3f} [{lo:+.3f}, {hi:+.3f}]"

    return cell


def count(path: str) -> Cell:
    """How many items the list (or mapping) has; 0 when missing."""
    return lambda r: str(len(get(r.data, path) or []))


def text(path: str) -> Cell:
    """The value as it is."""
    return lambda r: str(get(r.data, path))


def nonzero_items(path: str) -> Cell:
    """``key value, ...`` of a mapping's non-zero entries; ``-`` when none."""

    def cell(r: Row) -> str:
        items = (get(r.data, path) or {}).items()
        return ", ".join(f"{k} {v}" for k, v in items if v) or "-"

    return cell


def _label(key: str) -> str:
    return key.replace("_", " ")


# ---- one spec per stage ------------------------------------------------------------------------

TEXT_EXPLAINERS = ("ig", "eg", "lime", "kernel_shap", "occlusion", "random")
TABULAR_EXPLAINERS = ("ig", "eg", "lime", "kernel_shap")


def _explain_text_columns(sources: list[Source]) -> list[Column]:
    shown = [m for m in TEXT_EXPLAINERS if any(m in s.data for s in sources)]
    return [
        Column("run", name(), left=True),
        *(
            Column(
                m.upper() if len(m) <= 3 else m,
                fmt("{:.3f} / {:.3f}", f"{m}.deletion_auc", f"{m}.insertion_auc"),
            )
            for m in shown
        ),
        Column("IG completeness (rel.)", num("ig.completeness_rel_max")),
    ]


def _reconcile_text_columns(sources: list[Source]) -> list[Column]:
    shown = [m for m in TEXT_EXPLAINERS if any(m in s.data for s in sources)]
    return [
        Column("run", name(), left=True),
        *(
            Column(
                m.upper() if len(m) <= 3 else m,
                fmt("{:.3f} / {:.3f}", f"{m}.spearman", f"{m}.jaccard_top_k"),
            )
            for m in shown
        ),
        Column("n-grams", num("ig.ngrams_compared")),
    ]


def _audit_tabular_rows(sources: list[Source]) -> list[Row]:
    """Agreement with INN's decomposition explaining f (``full``; older files: ``inn``) and with
    the hypernetwork frozen (``frozen``); TabResNet's XAI-Bench faithfulness."""
    rows = []
    for s in sources:
        agree = s.data.get("agreement_with_inn_decomposition", {})
        full = get(agree, "full_model.means")
        data = {
            "full": s.data.get("inn", {}) if full is None else full,
            "frozen": get(agree, "frozen_hypernetwork.means") or {},
            "tabresnet": s.data.get("tabresnet", {}),
        }
        rows.append(Row((s.path.stem,), data))
    return rows


def _audit_tabular_columns(sources: list[Source]) -> list[Column]:
    def agreement(m: str) -> Cell:
        full, frozen = num(f"full.{m}.spearman"), num(f"frozen.{m}.spearman")
        return lambda r: f"{full(r)} / {frozen(r)}"

    return [
        Column("dataset", name(), left=True),
        *(Column(f"INN {m} ρ f / frozen", agreement(m)) for m in TABULAR_EXPLAINERS),
        *(
            Column(f"TabResNet {m} faith.", num(f"tabresnet.{m}.faithfulness"))
            for m in TABULAR_EXPLAINERS
        ),
    ]


def _train_cdep_rows(sources: list[Source]) -> list[Row]:
    """``<variant>/<model>-<penalty>.json`` at the lambda chosen on validation (``chosen``)."""
    rows = []
    for s in sources:
        model, _, penalty = s.path.stem.rpartition("-")
        chosen = s.data.get("chosen")
        if chosen:
            rows.append(Row((s.path.parent.name, model, penalty), chosen))
    return rows


def _train_tabular_rows(sources: list[Source]) -> list[Row]:
    """One row per dataset (``<method>/<dataset>.json``), its data keyed by method."""
    by_dataset: dict[str, dict[str, Any]] = {}
    for s in sources:
        by_dataset.setdefault(s.path.stem, {})[s.path.parent.name] = s.data
    return [Row((d,), by_dataset[d]) for d in sorted(by_dataset)]


def _train_tabular_columns(sources: list[Source]) -> list[Column]:
    methods = sorted({s.path.parent.name for s in sources})
    return [
        Column("dataset", name(), left=True),
        *(
            Column(
                _label(m),
                first_of(
                    mean_std(f"{m}.test_auroc"),
                    fmt("RMSE {:.4g} ± {:.2g}", f"{m}.test_rmse.mean", f"{m}.test_rmse.std"),
                ),
            )  # fmt: skip
            for m in methods
        ),
    ]


def _train_embgam_columns(sources: list[Source]) -> list[Column]:
    """Emb-GAM and its baselines; the train-mean baseline only where a regression has one."""
    models = [("Emb-GAM", "embgam"), ("bag-of-n-grams", "bag_of_ngrams"), ("majority", "majority")]
    if any("train_mean" in s.data for s in sources):
        models.append(("train mean", "train_mean"))
    score = [
        Column(
            label,
            first_of(
                fmt("{:.3f} ({:.3f})", f"{k}.accuracy", f"{k}.macro_f1"),
                fmt("RMSE {:.4g} ({:.3f})", f"{k}.rmse", f"{k}.r2"),
            ),
        )
        for label, k in models
    ]
    return [Column("dataset", name(), left=True), *score, Column("Emb-GAM QWK", num("embgam.qwk"))]


def _compare_cdep_rows(sources: list[Source]) -> list[Row]:
    """Each ``<variant>.<model>`` entry's paired comparisons (``selection`` is not one)."""
    rows = []
    for key, entry in sources[0].data.items():
        if key == "selection" or not isinstance(entry, Mapping):
            continue
        for c in entry.get("comparisons", []):
            rows.append(Row((key.replace(".", " · "), f"{c['a']} − {c['b']}"), c))
    return rows


def _compare_tabular_title(sources: list[Source]) -> str:
    c = sources[0].data
    parts = []
    if "n_datasets" in c:
        parts.append(
            f"over {c['n_datasets']} datasets, ranks by test AUROC "
            f"(Nemenyi CD {c['critical_difference']:.2f})"
        )
    if r := c.get("regression"):
        parts.append(
            f"over {r['n_datasets']} regression datasets, ranks by test RMSE, lower is better "
            f"(Nemenyi CD {r['critical_difference']:.2f})"
        )
    return f"compare_tabular: {'; '.join(parts)} · data/reports/tabular/comparison.md"


def _compare_tabular_rows(sources: list[Source]) -> list[Row]:
    """One row per method, best mean rank first (classification, then regression: RMSE rows)."""
    c = sources[0].data
    rows = [
        Row(
            (m,),
            {
                "auroc": c["mean_auroc"].get(m),
                "normalized": c["mean_normalized_auroc"].get(m),
                "rank": rank,
            },
        )
        for m, rank in sorted(c.get("mean_rank", {}).items(), key=lambda kv: kv[1])
    ]
    r = c.get("regression") or {}
    rows += [
        Row(
            (f"{m} (RMSE)",),
            {
                "rmse": r["mean_rmse"].get(m),
                "normalized": r["mean_normalized_rmse"].get(m),
                "rank": rank,
            },
        )
        for m, rank in sorted(r.get("mean_rank", {}).items(), key=lambda kv: kv[1])
    ]
    return rows


def _compare_tabular_columns(sources: list[Source]) -> list[Column]:
    c = sources[0].data
    if "regression" not in c:
        return [
            Column("method", name(), left=True),
            Column("mean AUROC", num("auroc")),
            Column(f"AUROC / {c['reference']}", num("normalized")),
            Column("mean rank", num("rank")),
        ]
    return [
        Column("method", name(), left=True),
        Column("mean AUROC", num("auroc")),
        Column("mean RMSE", num("rmse")),
        Column(f"AUROC or RMSE / {c['reference']}", num("normalized")),
        Column("mean rank", num("rank")),
    ]


def _keys_columns(head: str, keys: Sequence[str]) -> list[Column]:
    """A name column and one :func:`num` column per key, labelled by the key."""
    return [Column(head, name(), left=True), *(Column(_label(k), num(k)) for k in keys)]


TRAIN_TEXT = TableSpec(
    "train_text",
    "train_text: mean ± sd [95% bootstrap CI] over seeds · "
    "data/models/text/<run>/ (first seed; seed-<s>/ the others)",
    [
        Column("run", name(), left=True),
        Column("seeds", count("seeds")),
        Column("valid accuracy", summary("valid_accuracy")),
        Column("test accuracy", summary("test_accuracy")),
        Column("test macro-F1", summary("test_macro_f1")),
        Column("test QWK", summary("test_qwk")),
        Column("n train", num("n_train")),
    ],
)

SPECS: dict[str, TableSpec] = {
    s.stage: s
    for s in (
        TableSpec(
            "prepare",
            "prepare: data/prepared/<dataset>/{train,valid,test}.parquet",
            [
                Column("dataset", name(), left=True),
                *(Column(k, fmt("{:,}", f"rows.{k}")) for k in ("train", "valid", "test", "total")),
                Column("classes", count("class_counts.train")),
                Column("dropped", nonzero_items("dropped"), left=True),
            ],
        ),
        TableSpec(
            # cache hits and throughput are machine state: in the MLflow run, not the metrics
            "embed",
            "embed: data/embeddings/<dataset>/ (n-grams embedded via the cache)",
            [
                Column("dataset", name(), left=True),
                Column("texts", num("texts")),
                Column("total", num("ngrams_total")),
                Column("unique", num("ngrams_unique")),
                Column("unique ratio", num("unique_ratio")),
            ],
        ),
        TableSpec(
            "train_embgam",
            "train_embgam: test accuracy (macro-F1); regression: RMSE (R²) · data/models/embgam/",
            _train_embgam_columns,
        ),
        TableSpec(
            "train_mlp",
            "train_mlp: metrics/train_mlp/",
            _keys_columns("dataset", ("accuracy", "macro_f1", "n_features", "n_train")),
        ),
        TableSpec(
            "explain",
            "explain: completeness of attributions · data/explanations/",
            [
                Column("model", name(), left=True),
                Column("IG rel. delta (max)", num("ig_completeness_relative.max")),
                Column("EG rel. delta (median)", num("eg_completeness_relative.median")),
                Column("IH total rel. err (max)", num("ih_total_relative.max")),
                Column("IH rows vs IG (max)", num("ih_rows_vs_ig_relative.max")),
                Column("Emb-GAM: IG vs exact (max abs)", num("ig_vs_exact_max_abs")),
            ],
        ),
        TRAIN_TEXT,
        TableSpec(
            "explain_text",
            "explain_text: deletion AUC (lower = more faithful) / insertion AUC · "
            "data/explanations/text/<run>/highlights.html",
            _explain_text_columns,
        ),
        TableSpec(
            "reconcile_text",
            "reconcile_text: n-gram importances vs Emb-GAM's exact contributions, Spearman / "
            "top-20 Jaccard · data/explanations/reconcile/<run>/",
            _reconcile_text_columns,
        ),
        TableSpec(
            "train_tabular",
            "train_tabular: test AUROC, mean ± std over seeds · data/tabular/",
            _train_tabular_columns,
            files="*/*.json",
            rows=_train_tabular_rows,
        ),
        TableSpec(
            "compare_tabular",
            _compare_tabular_title,
            _compare_tabular_columns,
            files="",
            rows=_compare_tabular_rows,
        ),
        TableSpec(
            "audit_tabular",
            "audit_tabular: agreement (rank correlation) with INN's decomposition "
            "W(x)·x, explaining f / with the hypernetwork frozen · XAI-Bench faithfulness on "
            "TabResNet · data/explanations/tabular/",
            _audit_tabular_columns,
            rows=_audit_tabular_rows,
        ),
        TableSpec(
            "prepare_sst_variants",
            "prepare_sst_variants: metrics/prepare_sst_variants/",
            _keys_columns(
                "dataset",
                (
                    "n_spurious_words",
                    "rows.probe",
                    "rows.reference",
                    "rows.test",
                    "rows.train",
                    "rows.valid",
                    "with_spurious_word.probe",
                    "with_spurious_word.reference",
                ),
            ),
        ),
        TableSpec(
            "train_cdep",
            "train_cdep: SST-2 variants, each arm at its lambda chosen on validation accuracy; "
            "clean test accuracy mean ± sd [95% bootstrap CI] over seeds · data/reports/cdep/",
            [
                Column("variant", name(0), left=True),
                Column("model", name(1), left=True),
                Column("penalty", name(2), left=True),
                Column("lambda", fmt("{:g}", "lambda")),
                Column("valid acc", summary("valid_accuracy")),
                Column("clean test acc", summary("test_accuracy")),
                Column("IG mass", summary("ig_mass")),
                Column("seeds", count("seeds")),
            ],
            files="*/*.json",
            rows=_train_cdep_rows,
        ),
        TableSpec(
            "compare_cdep",
            "compare_cdep: A − B in clean test accuracy at each arm's chosen lambda "
            "(verdict only when both paired intervals exclude 0)",
            [
                Column("variant · model", name(0), left=True),
                Column("A − B", name(1), left=True),
                Column("Δ over seeds", summary("seeds.difference")),
                Column("Δ over test examples", interval("examples.difference")),
                Column("verdict", text("verdict"), left=True),
            ],
            files="",
            rows=_compare_cdep_rows,
        ),
    )
}
"""Every stage that writes metrics, in ``dvc.yaml`` order."""

NOT_SUMMARISED: frozenset[str] = frozenset()
"""Stages that write metrics but have no table (none today)."""


def leaf_keys(sources: Sequence[Source]) -> list[str]:
    """The numeric leaves most files share, then by name; at most :data:`MAX_LEAVES`."""
    counts = Counter(k for s in sources for k in numeric_leaves(s.data))
    return [k for k, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))][:MAX_LEAVES]


def leaves_spec(stage: str, sources: Sequence[Source], *, markdown: bool = False) -> TableSpec:
    """A table of the numeric leaves (:func:`leaf_keys`), for metrics without a spec and for the
    report's inventory. Terminal: rows named by file stem, ``_`` as spaces, :func:`fmt_number`;
    ``markdown``: rows named by path, dotted keys as they are, :func:`fmt_digits`."""
    keys = leaf_keys(sources)
    cell = fmt_digits if markdown else fmt_number

    def rows(sources: list[Source]) -> list[Row]:
        return [
            Row((str(s.path) if markdown else s.path.stem,), numeric_leaves(s.data))
            for s in sources
        ]

    def leaf(key: str) -> Cell:
        return lambda r: cell(r.data.get(key))

    columns = [Column("file" if markdown else "dataset", name(), left=True)]
    columns += [Column(k if markdown else _label(k), leaf(k)) for k in keys]
    return TableSpec(stage, f"{stage}: metrics/{stage}/", columns, rows=rows)


# ---- rendering -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    """A spec's table over one metrics tree: title, headers and cells as text."""

    stage: str
    title: str
    labels: tuple[str, ...]
    left: tuple[bool, ...]
    rows: tuple[tuple[str, ...], ...]

    def without(self, *labels: str) -> Rendered:
        """The table without the named columns."""
        keep = [i for i, label in enumerate(self.labels) if label not in labels]
        return replace(
            self,
            labels=tuple(self.labels[i] for i in keep),
            left=tuple(self.left[i] for i in keep),
            rows=tuple(tuple(row[i] for i in keep) for row in self.rows),
        )

    def markdown(self) -> str:
        """A markdown table (no title): names left-aligned, numbers right-aligned."""
        lines = [
            "| " + " | ".join(self.labels) + " |",
            "|" + "".join("---|" if left else "---:|" for left in self.left),
        ]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)


def read_sources(spec: TableSpec, metrics_root: Path) -> list[Source] | None:
    """The files ``spec`` reads, in path order; None when its folder or file does not exist."""
    where = spec.path(metrics_root)
    if not spec.files:
        return [load_source(where, Path(where.name))] if where.is_file() else None
    return _read_folder(where, spec.files) if where.is_dir() else None


def _read_folder(folder: Path, pattern: str) -> list[Source]:
    return [load_source(f, f.relative_to(folder)) for f in sorted(folder.glob(pattern))]


def load_source(path: Path, rel: Path) -> Source:
    """One metrics file, known by ``rel``; a :class:`DataError` naming it when not JSON."""
    try:
        return Source(rel, json.loads(path.read_text()))
    except json.JSONDecodeError as exc:
        raise DataError(path, f"not valid JSON ({exc})") from None


def render(spec: TableSpec, sources: list[Source]) -> Rendered:
    """Fill ``spec``'s table from its files."""
    columns = list(spec.columns(sources) if callable(spec.columns) else spec.columns)
    title = spec.title(sources) if callable(spec.title) else spec.title
    return Rendered(
        spec.stage,
        title,
        tuple(c.label for c in columns),
        tuple(c.left for c in columns),
        tuple(tuple(c.cell(r) for c in columns) for r in spec.rows(sources)),
    )


def summary_tables(metrics_root: Path) -> list[Rendered]:
    """A table per ``metrics/<stage>/`` folder in name order (its spec's; a folder without one:
    its numeric leaves), then one per single-file stage (``metrics/<stage>.json``) in name order."""
    root = Path(metrics_root)
    folders = sorted(p.name for p in root.glob("*") if p.is_dir()) if root.is_dir() else []
    files = sorted(s for s, spec in SPECS.items() if not spec.files)
    tables = []
    for stage in dict.fromkeys([*folders, *files]):
        spec = SPECS.get(stage)
        if spec is None:
            sources = _read_folder(root / stage, "*.json")
            tables.append(render(leaves_spec(stage, sources), sources))
        elif (sources := read_sources(spec, root)) is not None:
            tables.append(render(spec, sources))
    return tables
