"""scalar_events: the C kernel (csrc/hf_events.c) against its twin and the
from-scratch encoder of TensorBoard's records (the oracle, which encodes
every field itself), and the refusals that leave nothing made."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hookfit import _core as core
from hookfit import _reference as reference
from hookfit._reference import event_records as oracle
from hookfit.callbacks.tensorboard_events import _ScalarsLayout

IMPLEMENTATIONS = [core.scalar_events, reference.scalar_events]
IDS = ["core", "twin"]


def _expected(tags, rows, steps, walls) -> bytes:
    return b"".join(
        oracle.record(oracle.event(step, wall_time=wall, summary=oracle.summary(
            [oracle.scalar_value(t, v) for t, v in zip(tags, row)])))
        for row, step, wall in zip(rows, steps, walls))


@pytest.mark.parametrize("scalar_events", IMPLEMENTATIONS, ids=IDS)
def test_records_equal_the_oracles(scalar_events):
    # Steps of every varint length (negative: ten bytes), tags whose lengths
    # take one and two varint bytes, float32 rounding, inf, NaN and -0.0.
    tags = ("epoch_loss", "évaluation_ß", "t" * 200)
    rows = [[0.5, 1 / 3, -0.0], [float("inf"), float("nan"), 3.4e38], [1e-45, np.float32(2.5), 7]]
    steps = [0, 2**40, -1]
    walls = [1_700_000_000.25, 1_700_000_001.5, 0.0]
    layout = _ScalarsLayout(tags)
    made = scalar_events(layout.summary, layout.value_at, rows, steps, walls)
    assert made == _expected(tags, rows, steps, walls)
    assert scalar_events(layout.summary, layout.value_at, [], [], []) == b""
    # A row is any iterable of the values (a dict's values, a generator).
    assert scalar_events(layout.summary, layout.value_at, [iter(r) for r in rows], steps, walls) == made


@settings(max_examples=200, deadline=None)
@given(
    tags=st.lists(st.text(min_size=1, max_size=140), min_size=1, max_size=5),
    events=st.lists(st.tuples(st.integers(-(2**63), 2**63 - 1), st.floats(0, 2e9)), min_size=1, max_size=4),
    seed=st.integers(0, 2**32 - 1),
)
def test_core_equals_the_twin_and_the_oracle(tags, events, seed):
    tags = tuple(tags)
    values = np.random.default_rng(seed).normal(scale=1e3, size=(len(events), len(tags))).tolist()
    steps, walls = [s for s, _ in events], [w for _, w in events]
    layout = _ScalarsLayout(tags)
    made = core.scalar_events(layout.summary, layout.value_at, values, steps, walls)
    assert made == reference.scalar_events(layout.summary, layout.value_at, values, steps, walls)
    assert made == _expected(tags, values, steps, walls)


@pytest.mark.parametrize("scalar_events", IMPLEMENTATIONS, ids=IDS)
def test_a_finite_value_beyond_float32_is_refused_as_struct_refuses_it(scalar_events):
    layout = _ScalarsLayout(("loss",))
    edge = 2.0**128 - 2.0**103  # the smallest double float32 rounds to infinity
    below = float(np.nextafter(edge, 0))
    assert scalar_events(layout.summary, layout.value_at, [[below]], [0], [0.0]) == _expected(
        ("loss",), [[below]], [0], [0.0])
    assert struct.pack("<f", -below) == struct.pack("<f", -3.4028234663852886e38)
    for value in (edge, -edge, 1e39, -1e300):
        with pytest.raises(OverflowError):
            struct.pack("<f", value)
        with pytest.raises(OverflowError):
            scalar_events(layout.summary, layout.value_at, [[1.0], [value]], [0, 1], [0.0, 0.0])


@pytest.mark.parametrize("scalar_events", IMPLEMENTATIONS, ids=IDS)
@pytest.mark.parametrize("rows, steps, walls, value_at, match", [
    ([[1.0]], [0, 1], [0.0], None, "1 rows, 2 steps and 1 walls"),
    ([[1.0]], [0], [], None, "1 rows, 1 steps and 0 walls"),
    ([[1.0, 2.0]], [0], [0.0], None, "event 0 has 2 values for 1 tags"),
    ([[]], [0], [0.0], None, "event 0 has 0 values for 1 tags"),
    ([[1.0]], [0], [0.0], (10_000,), "a value at byte 10000"),
    ([[1.0]], [0], [0.0], (-1,), "a value at byte -1"),
], ids=["steps", "walls", "long-row", "short-row", "offset", "negative-offset"])
def test_lengths_that_do_not_match_are_refused(scalar_events, rows, steps, walls, value_at, match):
    layout = _ScalarsLayout(("loss",))
    with pytest.raises(ValueError, match=match):
        scalar_events(layout.summary, value_at or layout.value_at, rows, steps, walls)


@pytest.mark.parametrize("scalar_events", IMPLEMENTATIONS, ids=IDS)
def test_a_step_beyond_int64_is_refused(scalar_events):
    layout = _ScalarsLayout(("loss",))
    with pytest.raises(OverflowError):
        scalar_events(layout.summary, layout.value_at, [[1.0]], [2**63], [0.0])
