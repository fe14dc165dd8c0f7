"""Where the pipeline's time goes: each stage's wall time from its MLflow runs
(``glassworks summary --timings``).

Pure: it takes run records (read from the store by :func:`glassworks.tracking.stage_run_records`)
and returns the table; it never reads a store or the clock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

FINISHED = "FINISHED"
_STATUS_ORDER = ("RUNNING", "SCHEDULED", "FAILED", "KILLED")
"""Statuses other than FINISHED, in the order a row names them."""


@dataclass(frozen=True)
class RunRecord:
    """One MLflow run of a stage: its ``glassworks.stage`` and ``glassworks.item`` tags, its name,
    start and end (epoch ms; ``end_ms`` None while it runs), status, and parent run if nested."""

    stage: str
    item: str
    run_name: str
    start_ms: int
    end_ms: int | None
    status: str
    parent_run_id: str | None = None

    @property
    def seconds(self) -> float | None:
        """Wall time, or None for a run that has not ended (RUNNING, or cut off without an end)."""
        if self.end_ms is None or self.status in ("RUNNING", "SCHEDULED"):
            return None
        return max(self.end_ms - self.start_ms, 0) / 1000


@dataclass(frozen=True)
class StageTiming:
    """One stage address (``stage@item``, as DVC names it): the wall time of its counted runs
    (the latest run of each name; a stage that logs one run per seed has several)."""

    stage: str
    item: str
    runs: int
    seconds: float | None
    """Sum of the ended runs' wall times; None when none has ended."""
    share: float | None
    """``seconds`` over the total of every stage address (None when either is unknown or 0)."""
    status: str
    """``FINISHED`` when every counted run finished, else the others (``RUNNING``, ``1 FAILED``)."""

    @property
    def address(self) -> str:
        """``stage@item``."""
        return f"{self.stage}@{self.item}"


@dataclass(frozen=True)
class FamilyTiming:
    """One stage over all its items."""

    stage: str
    items: int
    runs: int
    seconds: float | None
    """Sum of its addresses' known times; None when none is known."""
    share: float | None


@dataclass(frozen=True)
class Timings:
    """Stage addresses and stage families, slowest first, and the total wall time."""

    stages: list[StageTiming]
    families: list[FamilyTiming]
    total_seconds: float

    @property
    def unfinished(self) -> int:
        """How many stage addresses have a counted run that did not finish."""
        return sum(1 for s in self.stages if s.status != FINISHED)


def _status(statuses: list[str]) -> str:
    counts = Counter(statuses)
    others = [s for s in counts if s != FINISHED]
    if not others:
        return FINISHED
    rank = {s: i for i, s in enumerate(_STATUS_ORDER)}
    others.sort(key=lambda s: (rank.get(s, len(rank)), s))
    if len(statuses) == 1:
        return others[0]
    return ", ".join(f"{counts[s]} {s}" for s in others)


def _share(part: float | None, total: float) -> float | None:
    return part / total if part is not None and total > 0 else None


def stage_timings(records: Iterable[RunRecord]) -> Timings:
    """The timing table of ``records``.

    Nested runs (with a parent run) are left out: their time is inside their parent's. Only the
    latest run (by start) of each stage and run name counts, so a stage rerun replaces its older
    runs; run names carry their item (``<stage>@<item>``, ``<run>#<seed>``), so this is the latest
    per stage, item and run name, and a run logged before its item was renamed is replaced too.
    FAILED and KILLED runs count with the time they took; RUNNING ones count no time. Rows are
    sorted by wall time, slowest first (unknown times last), then by address.
    """
    latest: dict[tuple[str, str], RunRecord] = {}
    for r in records:
        if r.parent_run_id:
            continue
        key = (r.stage, r.run_name)
        kept = latest.get(key)
        if kept is None or (r.start_ms, r.end_ms or 0) > (kept.start_ms, kept.end_ms or 0):
            latest[key] = r
    by_address: dict[tuple[str, str], list[RunRecord]] = {}
    for r in latest.values():
        by_address.setdefault((r.stage, r.item), []).append(r)

    timed = {
        address: [s for r in runs if (s := r.seconds) is not None]
        for address, runs in by_address.items()
    }
    total = sum(sum(t) for t in timed.values())
    stages = []
    for (stage, item), runs in by_address.items():
        seconds = sum(timed[stage, item]) if timed[stage, item] else None
        stages.append(StageTiming(stage, item, len(runs), seconds, _share(seconds, total),
                                  _status([r.status for r in runs])))  # fmt: skip
    stages.sort(key=lambda s: (s.seconds is None, -(s.seconds or 0), s.address))

    families: dict[str, list[StageTiming]] = {}
    for s in stages:
        families.setdefault(s.stage, []).append(s)
    rollup = []
    for stage, rows in families.items():
        known = [r.seconds for r in rows if r.seconds is not None]
        seconds = sum(known) if known else None
        rollup.append(FamilyTiming(stage, len(rows), sum(r.runs for r in rows), seconds,
                                   _share(seconds, total)))  # fmt: skip
    rollup.sort(key=lambda f: (f.seconds is None, -(f.seconds or 0), f.stage))
    return Timings(stages=stages, families=rollup, total_seconds=total)


def fmt_duration(seconds: float | None) -> str:
    """``4.2s``, ``42s``, ``1m 23s``, ``2h 05m 09s``; ``—`` when unknown."""
    if seconds is None:
        return "—"
    if seconds < 10:
        return f"{seconds:.1f}s"
    n = round(seconds)
    if n < 60:
        return f"{n}s"
    hours, rest = divmod(n, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    return f"{minutes}m {secs:02d}s"


def fmt_share(share: float | None) -> str:
    """``42.0%``; ``—`` when unknown."""
    return "—" if share is None else f"{100 * share:.1f}%"
