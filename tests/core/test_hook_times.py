"""record_hook_times: the C kernel (csrc/hf_hook_times.c) against its twin,
which records the dispatches one by one as LeanHook.record did in Python,
and the refusals that change nothing."""

from __future__ import annotations

import collections

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hookfit import _core as core
from hookfit import _reference as reference

IMPLEMENTATIONS = [core.record_hook_times, reference.record_hook_times]
IDS = ["core", "twin"]


class Table:
    """A LeanHook's state lists, as it hands them over."""

    def __init__(self, n):
        self.n = n
        self.acc, self.least = [0] * n, [1 << 62] * n
        self.counts, self.judged, self.slow = [0, 0], [0, -1], [False]
        self.samples = [collections.deque(maxlen=50) for _ in range(n)]

    def record(self, record, times, untimed, limit):
        record(times, self.n, untimed, self.acc, self.least, self.counts, self.judged, self.slow,
               tuple(s.extend for s in self.samples), limit)

    def state(self):
        return (self.acc, self.least, self.counts, self.judged, self.slow, [list(s) for s in self.samples])


@pytest.mark.parametrize("record", IMPLEMENTATIONS, ids=IDS)
def test_totals_fastest_calls_samples_and_counts(record):
    t = Table(2)
    t.record(record, [100, 300, 200, 500, 7], 6, 10**9)  # two dispatches; the lone 7 is no dispatch
    assert t.state() == ([300, 800], [100, 300], [2, 6], [700, 1], [False], [[100, 200], [300, 500]])


@pytest.mark.parametrize("record", IMPLEMENTATIONS, ids=IDS)
def test_slow_once_the_judged_mean_passes_the_limit_the_first_dispatch_not_judged(record):
    t = Table(1)
    t.record(record, [10**6], 0, 1000)  # a slow first dispatch (a set-up) is not judged
    assert not t.slow[0] and t.judged == [0, 0]
    t.record(record, [900, 1000], 0, 1000)  # mean 950: not above
    assert not t.slow[0] and t.judged == [1900, 2]
    t.record(record, [1200, 10**6, 5], 0, 1000)  # above after the first; nothing judged after it
    assert t.slow[0] and t.judged == [3100, 3]
    t.record(record, [1], 0, 0)
    assert t.judged == [3100, 3] and t.counts[0] == 7 and t.acc == [10**6 + 3100 + 10**6 + 5 + 1]


@pytest.mark.parametrize("record", IMPLEMENTATIONS, ids=IDS)
def test_limits_whose_product_would_overflow_int64(record):
    huge, low = Table(1), Table(1)
    huge.record(record, [0, 2**62, 2**62 - 1], 0, 2**63 - 1)  # limit * count beyond int64: never above
    low.record(record, [0, 1, 1], 0, -(2**63))  # below any total
    assert not huge.slow[0] and low.slow[0]


@pytest.mark.parametrize("record", IMPLEMENTATIONS, ids=IDS)
def test_refusals_change_nothing(record):
    t = Table(2)
    t.record(record, [5, 6], 0, 100)
    before = repr(t.state())
    with pytest.raises(OverflowError):
        t.record(record, [1, 2, 2**63, 4], 3, 100)
    with pytest.raises(OverflowError):
        t.record(record, [1, 2], 3, 2**63)
    with pytest.raises(ValueError, match="2 callbacks"):
        record([1, 2], 2, 0, [0], [0, 0], t.counts, t.judged, t.slow, (len, len), 100)
    assert repr(t.state()) == before


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(1, 20),
    calls=st.lists(st.tuples(st.lists(st.integers(0, 5000), max_size=200), st.integers(0, 9)), max_size=6),
    limit=st.sampled_from([0, 1, 500, 2000, 2**62, -3]),
)
def test_core_equals_the_twin(n, calls, limit):
    a, b = Table(n), Table(n)
    for times, untimed in calls:
        a.record(core.record_hook_times, list(times), untimed, limit)
        b.record(reference.record_hook_times, list(times), untimed, limit)
        assert a.state() == b.state()
