"""The ``report`` stage's outputs: the champions registered in a model registry
(:func:`register_champions`) and the pipeline summary page with ``champions.json``
(:func:`write_summary`)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from glassworks.config import DriftGateParams
from glassworks.errors import DataError
from glassworks.io import read_parquet
from glassworks.report.cdep import comparison_markdown
from glassworks.report.claims import Claim, claims_markdown
from glassworks.report.drift import compare_models, drift_card
from glassworks.report.interactions import interactions_section
from glassworks.report.overview import (
    Champion,
    champions_table,
    figure_links,
    metrics_tables,
    text_table,
)
from glassworks.report.reconcile import reconciliation_section
from glassworks.selection import RULE

log = logging.getLogger(__name__)


class Registry(Protocol):
    """Where champions are looked up and registered (a ``glassworks.tracking.StageRun``)."""

    detached: bool
    """Whether the registry is out of reach (nothing found, nothing registered)."""

    def find_runs(
        self, stage: str, dataset: str | None = None, root: str | Path = "."
    ) -> list[Any]:
        """Finished runs of ``stage`` on ``dataset``, newest first (MLflow ``Run`` objects)."""
        ...

    def register_champion(
        self,
        run_id: str,
        name: str,
        alias: str,
        root: str | Path = ".",
        *,
        move_alias: bool = True,
        tags: Mapping[str, str] | None = None,
    ) -> int | None:
        """Register the run's model as a version of ``name`` (with ``alias`` unless
        ``move_alias`` is False): the version."""
        ...

    def champion_of(self, name: str, alias: str, root: str | Path = ".") -> tuple[int, str] | None:
        """``(version, run_id)`` that ``alias`` points at, or None."""
        ...

    def load_model(self, uri: str, root: str | Path = ".") -> Any:
        """The model (tabular bundle or text model) behind ``uri``."""
        ...


@dataclass(frozen=True)
class GateDecision:
    """Whether a new champion's explanations are close enough to the current one's."""

    passed: bool
    reason: str
    drift: float
    card: str = ""
    """Where its comparison card was written."""


Gate = Callable[[Champion, str, str], GateDecision]
"""``gate(champion, current model URI, candidate model URI)``."""


def drift_gate(
    registry: Registry,
    params: DriftGateParams,
    prepared_dir: Path,
    card_dir: Path,
    root: Path,
) -> Gate:
    """The explanation-drift promotion gate: both models explain the first ``params.rows`` test
    rows of the champion's dataset; a drift score (1 − top-k Jaccard) above ``params.threshold``
    refuses the promotion unless ``params.force``; the card goes to ``card_dir/<name>.html``."""

    def gate(champ: Champion, current: str, candidate: str) -> GateDecision:
        frame = read_parquet(prepared_dir / champ.dataset / "test.parquet").head(params.rows)
        models = [registry.load_model(u, root) for u in (current, candidate)]
        drift, method, rows = compare_models(models[0], models[1], frame, params.top_k)
        card = card_dir / f"{champ.name}.html"
        card.parent.mkdir(parents=True, exist_ok=True)
        card.write_text(
            drift_card(f"{champ.name}: current champion vs candidate", current, candidate,
                       drift, method, rows), encoding="utf-8",
        )  # fmt: skip
        over = drift.score > params.threshold
        figures = (
            f"drift {drift.score:.2f} (top-{drift.top_k} Jaccard {drift.jaccard:.2f}, "
            f"Spearman {drift.spearman:.2f}) vs threshold {params.threshold:.2f}"
        )
        if over and not params.force:
            return GateDecision(False, f"refused: {figures}", drift.score, str(card))
        why = "forced: " if over else "passed: "
        return GateDecision(True, why + figures, drift.score, str(card))

    return gate


def register_champions(
    champs: Sequence[Champion],
    registry: Registry,
    alias: str,
    register: bool,
    root: Path,
    gate: Gate | None = None,
) -> list[dict[str, Any]]:
    """One ``champions.json`` row per champion; with ``register``, the newest run of its stage
    item (named ``run_name`` if set) registered under ``alias``, with its ``run_id`` and
    ``version``. A champion without a run is warned about (unless the registry is detached).

    With a ``gate``, a champion that replaces another (``alias`` points at a different run) is
    promoted only if the gate passes; refused, it is still registered (for review) with the
    reason as its ``glassworks.gate`` tag, and ``alias`` stays on the current version."""
    rows = []
    for champ in champs:
        row = champ.as_dict()
        found = [
            r
            for r in registry.find_runs(champ.stage, champ.stage_item, root=root)
            if champ.run_name is None or r.info.run_name == champ.run_name
        ]
        if register and found:
            run_id = found[0].info.run_id
            row["run_id"] = run_id
            current = registry.champion_of(champ.name, alias, root) if gate else None
            decision = None
            if gate is not None and current is not None and current[1] != run_id:
                decision = gate(champ, f"runs:/{current[1]}/model", f"runs:/{run_id}/model")
                row["gate"] = asdict(decision)
                if not decision.passed:
                    log.warning("%s: not promoted, %s", champ.name, decision.reason)
                    row["champion_version"] = current[0]
            tags = {"glassworks.gate": decision.reason} if decision else None
            row["version"] = registry.register_champion(
                run_id, champ.name, alias, root=root,
                move_alias=decision is None or decision.passed, tags=tags,
            )  # fmt: skip
        elif register and not registry.detached:
            log.warning(
                "%s: no MLflow run of %s@%s to register", champ.name, champ.stage, champ.stage_item
            )
        rows.append(row)
    return rows


def cdep_section(path: Path) -> list[str]:
    """The CDEP comparison tables from ``metrics/compare_cdep.json`` (none before it exists)."""
    if not path.is_file():
        return []
    try:
        result = json.loads(path.read_text())
        table = comparison_markdown(result, state_rule=False)
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise DataError(path, f"not a compare_cdep metrics file ({exc})") from None
    return ["## CDEP (lambda chosen on validation)", "", table]


def claims_section(claims: Sequence[Claim]) -> list[str]:
    """Each paper's headline claim against ours (none when ``claims`` is empty)."""
    if not claims:
        return []
    return [
        "## Paper claims",
        "",
        "Each paper's headline figure beside ours; the verdict compares our 95% interval with the "
        "bar (reached: the whole interval at or above it; not separated: it covers the bar).",
        "",
        claims_markdown(list(claims)),
        "",
    ]


def summary_markdown(
    rows: list[dict[str, Any]],
    metrics_dir: Path,
    figures: Sequence[Path],
    relative_to: Path,
    alias: str,
    claims: Sequence[Claim] = (),
) -> str:
    """``summary.md``: the selection rule, each paper's claim against ours (``claims``, when
    given), the champions (``rows``), the text classifiers over seeds, the CDEP comparison, a
    table per metrics group of ``metrics_dir`` and links to every PNG under ``figures``
    (relative to ``relative_to``, where the page goes)."""
    text = [
        "# glassworks: pipeline summary",
        "",
        "Generated by `dvc repro report` from `metrics/` (numbers rounded to 4 digits).",
        "",
        f"Every choice (lambda, early stopping, champion) is made on validation: {RULE}. "
        "Test is read once, at the choice; results over seeds are mean ± sd [95% "
        'bootstrap interval], and "A beats B" needs a paired interval excluding 0.',
        "",
        *claims_section(claims),
        f"## Champions (MLflow registry, alias `{alias}`)",
        "",
        champions_table(rows),
        "",
        "## Text classifiers (over seeds)",
        "",
        text_table(metrics_dir),
        "",
        *cdep_section(metrics_dir / "compare_cdep.json"),
        *interactions_section(metrics_dir),
        *reconciliation_section(metrics_dir),
        "## Metrics",
        "",
        metrics_tables(metrics_dir),
        "## Figures",
        "",
        figure_links(list(figures), relative_to),
        "",
    ]
    return "\n".join(text)


def write_summary(
    out: Path,
    rows: list[dict[str, Any]],
    metrics_dir: Path,
    figures: Sequence[Path],
    relative_to: Path,
    alias: str,
    claims: Sequence[Claim] = (),
) -> None:
    """``summary.md`` (:func:`summary_markdown`), ``champions.json`` (``rows``, sorted keys) and,
    with ``claims``, ``claims.json`` into ``out``."""
    page = summary_markdown(rows, metrics_dir, figures, relative_to, alias, claims)
    (out / "summary.md").write_text(page, encoding="utf-8")
    if claims:
        text = json.dumps([c.as_dict() for c in claims], indent=2, ensure_ascii=False)
        (out / "claims.json").write_text(text + "\n", encoding="utf-8")
    (out / "champions.json").write_text(json.dumps(rows, indent=2, sort_keys=True) + "\n")
