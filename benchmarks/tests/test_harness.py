"""The suite's arithmetic, without timing anything real (fast, no hookfit).

    python -m pytest benchmarks/tests -q
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cases
import data
import report
import timing


def _entry(samples, scale, units, amortizes):
    return {"samples": samples, "scale": scale, "units": units, "unit": "µs/step",
            "amortizes": amortizes}


def test_fit_per_step_subtracts_one_fixed_cost_per_call():
    # One fit call over 10 epochs of 8 steps: 80 steps, one 80 µs fixed cost.
    results = {"x": {"skipped": None, "cases": {
        "fit_b128": _entry([11.0, 12.0], scale=10, units=8, amortizes=True),
        "fixed_fit": {"samples": [80.0, 160.0], "scale": 1, "units": 1, "unit": "µs/call"},
    }}}
    assert report.net_samples(results, "x", "fit_b128") == [10.0, 10.0]


def test_evaluate_per_step_subtracts_a_fixed_cost_per_call():
    # 5 evaluate calls of 8 steps each: every call pays the 40 µs fixed cost.
    results = {"x": {"skipped": None, "cases": {
        "evaluate_b128": _entry([15.0], scale=5, units=8, amortizes=False),
        "fixed_evaluate": {"samples": [40.0], "scale": 1, "units": 1, "unit": "µs/call"},
    }}}
    assert report.net_samples(results, "x", "evaluate_b128") == [10.0]


def test_without_its_fixed_case_a_step_is_reported_raw():
    results = {"x": {"skipped": None, "cases": {"fit_b128": _entry([11.0], 10, 8, True)}}}
    assert report.net_samples(results, "x", "fit_b128") == [11.0]


def test_differences_are_taken_round_by_round():
    results = {
        "a": {"skipped": None, "cases": {"fit_b32": _entry([10.0, 20.0, 30.0], 1, 1, True)}},
        "b": {"skipped": None, "cases": {"fit_b32": _entry([9.0, 18.0, 27.0], 1, 1, True)}},
    }
    d = report.diff(results, "a", "fit_b32", "b", "fit_b32")
    assert (d.median, d.min, d.max) == (2.0, 1.0, 3.0)


def test_line_fit_recovers_slope_and_r2():
    fit = report.line_fit([0, 1, 10, 100], [20.0, 20.5, 25.0, 70.0])
    assert fit["slope"] == pytest.approx(0.5)
    assert fit["intercept"] == pytest.approx(20.0)
    assert fit["r2"] == pytest.approx(1.0)
    assert report.line_fit([1], [2.0]) is None


def test_stat_is_median_min_max():
    s = timing.Stat.of([3.0, 1.0, 2.0, 10.0, 4.0])
    assert (s.median, s.min, s.max, s.n) == (3.0, 1.0, 10.0, 5)
    with pytest.raises(ValueError):
        timing.Stat.of([])


def test_calibration_reaches_the_target_and_samples_per_unit():
    calls = []

    def fn(scale):
        calls.append(scale)
        t = timing.time.perf_counter()
        while timing.time.perf_counter() - t < scale * 1e-4:
            pass

    w = timing.Workload("busy", fn, units=4)
    timing.calibrate(w, target_s=0.005, min_scale=2)
    assert w.scale >= 2 and calls[0] == 1  # warm-up first, then at least min_scale
    value = timing.sample(w)
    assert value == pytest.approx(100 / 4, rel=0.5)  # ~100 µs per scale unit, 4 units


def test_a_failing_workload_is_dropped_not_fatal():
    def boom(scale):
        raise RuntimeError("broken case")

    ok = timing.Workload("ok", lambda s: None, units=1)
    bad = timing.Workload("bad", boom, units=1)
    failed = timing.run_round_robin([ok, bad], repeats=2, target_s=1e-4)
    assert failed == {"bad": "RuntimeError: broken case"}
    assert len(ok.samples) == 2 and bad.samples == []


def test_case_selection_pulls_in_what_a_case_is_measured_against():
    names = {c.name for c in cases.select("fit_cb10_all,evaluate_mlp")}
    assert names == {"fit_cb10_all", "fit_b128", "fixed_fit", "evaluate_mlp", "tiny_evaluate_mlp"}
    # The further-callback difference and the schedule ratios bring their bases.
    assert {c.name for c in cases.select("fit_cb2_all")} == {"fit_cb2_all", "fit_cb1_all", "fit_b128", "fixed_fit"}
    assert {c.name for c in cases.select("schedule")} == {
        "fit_verbose1_pty", "fit_verbose1_pipe", "fit_verbose1_null", "fit_first_batch_hook",
        "fit_sched_builtins", "fit_lr_schedule", "fit_b128", "fixed_fit"}
    assert cases.select(None) == cases.CASES
    with pytest.raises(ValueError, match="unknown case or group"):
        cases.select("fit_b999")


def test_case_steps_follow_keras():
    assert cases.BY_NAME["fit_b128"].steps == 8  # 7 x 128 + 104
    assert cases.BY_NAME["fit_val"].steps == 4  # 500 training rows
    assert cases.BY_NAME["fixed_fit"].steps == 1
    assert cases.BY_NAME["fit_d392"].input_dim == 392


def test_a_fixed_cost_that_cannot_be_separated_falls_back_to_whole_calls():
    # The tiny call costs more than a whole 8-step call: "net" would be negative.
    results = {"x": {"skipped": None, "cases": {
        "evaluate_b128": _entry([100.0, 110.0], scale=1, units=8, amortizes=False),
        "fixed_evaluate": {"samples": [1000.0, 1000.0], "scale": 1, "units": 1, "unit": "µs/call"},
    }}}
    s, mark = report.shown_stat(results, "x", "evaluate_b128")
    assert mark == "‡" and s.median == 105.0


@pytest.mark.parametrize("offset", data.ROW_OFFSETS)
def test_row_offset_places_the_same_rows(monkeypatch, offset):
    # run.py --row-offset: the same values, starting `offset` bytes into a line.
    plain = data.make(50, 40)["x"]
    monkeypatch.setenv(data.ROW_OFFSET_ENV, str(offset))
    placed = data.make(50, 40)["x"]
    assert placed.ctypes.data % 64 == offset
    assert placed.dtype == np.float32 and np.array_equal(placed, plain)


@pytest.mark.parametrize("offset", ["5", "64", "x"])
def test_a_row_offset_not_on_a_16_byte_step_is_refused(monkeypatch, offset):
    monkeypatch.setenv(data.ROW_OFFSET_ENV, offset)
    with pytest.raises(ValueError, match="must be one of"):
        data.make(10, 40)
