"""The timing view: latest run per stage and run name, nested runs left out, unfinished runs shown,
slowest first with shares, and the roll-up per stage."""

from __future__ import annotations

import pytest

from glassworks.report.timings import RunRecord, fmt_duration, fmt_share, stage_timings


def run(stage: str, item: str, start_s: float, seconds: float | None, status: str = "FINISHED",
        name: str | None = None, parent: str | None = None) -> RunRecord:  # fmt: skip
    start = int(start_s * 1000)
    end = None if seconds is None else start + int(seconds * 1000)
    return RunRecord(stage, item, name or f"{stage}@{item}", start, end, status, parent)


def test_latest_run_per_name_wins() -> None:
    t = stage_timings([run("prepare", "sst2", 100, 30), run("prepare", "sst2", 500, 5),
                       run("prepare", "sst2", 300, 60)])  # fmt: skip
    (row,) = t.stages
    assert (row.address, row.runs, row.seconds, row.status) == ("prepare@sst2", 1, 5.0, "FINISHED")
    assert t.total_seconds == 5.0


def test_runs_of_one_stage_address_add_up_and_each_name_keeps_its_latest() -> None:
    """``train_text`` logs one run per seed: the address's time is their latest runs' sum."""
    t = stage_timings([run("train_text", "sst2-small", 0, 100, name="sst2-small#0"),
                       run("train_text", "sst2-small", 10, 200, name="sst2-small#1"),
                       run("train_text", "sst2-small", 900, 50, name="sst2-small#0")])  # fmt: skip
    (row,) = t.stages
    assert (row.runs, row.seconds) == (2, 250.0)


def test_a_rerun_replaces_a_run_logged_under_an_older_item() -> None:
    name = "inn@openml-31#0"
    t = stage_timings([run("train_tabular", "openml-31", 0, 99, name=name),
                       run("train_tabular", "openml-31-inn", 10, 3, name=name)])  # fmt: skip
    assert [(r.address, r.seconds) for r in t.stages] == [("train_tabular@openml-31-inn", 3.0)]


def test_nested_runs_are_left_out() -> None:
    t = stage_timings([run("explain", "m", 0, 40),
                       run("explain", "m", 1, 30, name="child", parent="abc123")])  # fmt: skip
    (row,) = t.stages
    assert (row.runs, row.seconds) == (1, 40.0)


def test_running_and_failed_runs_are_shown_with_their_status() -> None:
    t = stage_timings([run("embed", "sst2", 0, None, status="RUNNING"),
                       run("train_embgam", "sst2", 0, 20, status="FAILED"),
                       run("train_text", "x", 0, 10, name="x#0"),
                       run("train_text", "x", 0, None, status="RUNNING", name="x#1"),
                       run("train_text", "x", 0, 5, status="FAILED", name="x#2")])  # fmt: skip
    rows = {r.address: r for r in t.stages}
    assert (rows["embed@sst2"].seconds, rows["embed@sst2"].status) == (None, "RUNNING")
    assert (rows["train_embgam@sst2"].seconds, rows["train_embgam@sst2"].status) == (20, "FAILED")
    assert rows["train_text@x"].seconds == 15  # the failed run's time counts, the running one's not
    assert rows["train_text@x"].status == "1 RUNNING, 1 FAILED"
    assert t.total_seconds == 35
    assert t.unfinished == 3
    assert t.stages[-1].address == "embed@sst2"  # unknown time sorts last
    assert rows["embed@sst2"].share is None
    assert [(f.stage, f.seconds, f.share) for f in t.families][-1] == ("embed", None, None)


def test_sorted_slowest_first_with_shares_and_family_rollup() -> None:
    t = stage_timings([run("prepare", "a", 0, 10), run("prepare", "b", 0, 30),
                       run("train", "a", 0, 40), run("report", "all", 0, 20)])  # fmt: skip
    assert [r.address for r in t.stages] == ["train@a", "prepare@b", "report@all", "prepare@a"]
    assert [r.share for r in t.stages] == pytest.approx([0.4, 0.3, 0.2, 0.1])
    assert t.total_seconds == 100
    assert [(f.stage, f.items, f.runs, f.seconds) for f in t.families] == [
        ("prepare", 2, 2, 40.0), ("train", 1, 1, 40.0), ("report", 1, 1, 20.0)]  # fmt: skip
    assert [f.share for f in t.families] == pytest.approx([0.4, 0.4, 0.2])


def test_ties_sort_by_address_and_empty_input_is_empty() -> None:
    t = stage_timings([run("b", "x", 0, 5), run("a", "x", 0, 5)])
    assert [r.address for r in t.stages] == ["a@x", "b@x"]
    empty = stage_timings([])
    assert (empty.stages, empty.families, empty.total_seconds) == ([], [], 0)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (None, "—"),
        (0.04, "0.0s"),
        (4.25, "4.2s"),
        (42.4, "42s"),
        (59.6, "1m 00s"),
        (83, "1m 23s"),
        (3600, "1h 00m 00s"),
        (7509, "2h 05m 09s"),
    ],  # fmt: skip
)
def test_fmt_duration(seconds: float | None, shown: str) -> None:
    assert fmt_duration(seconds) == shown


def test_fmt_share() -> None:
    assert (fmt_share(0.4213), fmt_share(None)) == ("42.1%", "—")
