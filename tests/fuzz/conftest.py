"""Counts of the inputs each property tried, printed at the end of the run (the figures in
docs/reliability.md come from here)."""

from __future__ import annotations

from collections import Counter

import pytest

TRIED: Counter[str] = Counter()


def tried(target: str) -> None:
    """Count one input given to ``target``."""
    TRIED[target] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TRIED:
        terminalreporter.section("fuzz inputs tried")
        for target, n in sorted(TRIED.items()):
            terminalreporter.write_line(f"{target:<40} {n:>6}")
