"""A built-in learning-rate schedule's rates, filled ahead and sliced.

The training loop asks for a float32 table of the rates of each native run
of batches (``Optimizer._rates_for``). Filling one takes a dozen NumPy calls
whatever its length: on the tutorial model's 8-batch epochs that was ~20 µs
an epoch, a 9 µs step became ~11.5 µs. A built-in schedule's rate depends on
the step and on the schedule's attributes only, so its rates are filled for
``AHEAD`` steps at once and each run takes a slice: the same float32 values
(each rate is computed element by element from its own step).

The attributes are compared with a copy taken at the fill at every request,
so a schedule changed in place (a callback setting ``decay_rate``) gives the
new rates from the next run on, as it would step by step. Rates past the
first invalid one (NaN, infinite or negative) are never handed out: a run
reaching it raises as before, and a fit that ends earlier never sees it.
"""

from __future__ import annotations

import copy

import numpy as np

from hookfit.optimizers.schedules import LearningRateSchedule, _BuiltIn

AHEAD = 1024  # steps filled at once (4 KB of float32)


def computes_ahead(schedule: LearningRateSchedule) -> bool:
    """True for the built-in schedules (not a subclass with its own
    ``__call__``: a user's schedule is called for the steps that run only)."""
    return isinstance(schedule, _BuiltIn) and type(schedule).__call__ is _BuiltIn.__call__


def _usable(rates: np.ndarray) -> np.ndarray:
    """Per rate: finite and >= 0."""
    return np.isfinite(rates) & (rates >= 0)


def check_rates(rates) -> np.ndarray:
    """``rates`` as a C-contiguous float32 array, each finite and >= 0."""
    rates = np.ascontiguousarray(rates, dtype=np.float32)
    ok = _usable(rates)
    if not ok.all():
        raise ValueError(f"the learning-rate schedule gave {rates[~ok][0]!r}; rates must be finite and >= 0")
    return rates


class RateTable:
    """The rates of ``schedule`` for steps ``first .. first + AHEAD - 1``."""

    __slots__ = ("schedule", "attributes", "first", "rates", "valid")

    def __init__(self, schedule: LearningRateSchedule, first: int, count: int):
        self.schedule = schedule
        self.attributes = copy.deepcopy(vars(schedule))
        self.first = first
        steps = np.arange(first, first + max(count, AHEAD), dtype=np.int64)
        self.rates = np.ascontiguousarray(schedule._rates(steps), dtype=np.float32)
        ok = _usable(self.rates)
        self.valid = len(ok) if ok.all() else int(np.argmin(ok))  # the rates before the first invalid one

    def rate_at(self, schedule: LearningRateSchedule, step: int) -> float | None:
        """``rates_for(schedule, step, 1)[0]`` as a float, or None."""
        at = step - self.first
        if schedule is not self.schedule or not 0 <= at < self.valid or vars(schedule) != self.attributes:
            return None
        return float(self.rates[at])

    def rates_for(self, schedule: LearningRateSchedule, first: int, count: int):
        """The rates of steps ``first .. first + count - 1``, or None when
        this table does not hold them all (valid) for ``schedule`` as it is now."""
        at = first - self.first
        if schedule is not self.schedule or at < 0 or at + count > self.valid or vars(schedule) != self.attributes:
            return None
        return self.rates[at:at + count]
