"""Counts of the inputs each property tried, printed at the end of the run (the figures in
docs/reliability.md come from here)."""

from __future__ import annotations

import os
from collections import Counter

import pytest
from hypothesis import settings

# CI draws the same inputs every run (a red CI is then reproducible, and an unlucky draw cannot
# block a landing); a local `make test` draws new ones each time and keeps exploring.
settings.register_profile("ci", derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

TRIED: Counter[str] = Counter()


def tried(target: str) -> None:
    """Count one input given to ``target``."""
    TRIED[target] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TRIED:
        terminalreporter.section("fuzz inputs tried")
        for target, n in sorted(TRIED.items()):
            terminalreporter.write_line(f"{target:<40} {n:>6}")
