"""A built-in schedule's rates filled ahead (optimizers/rate_table.py): the
schedule's own rates, step by step, whatever the run; a schedule changed in
place, an invalid rate ahead, and a user's schedule."""

import numpy as np
import pytest

import hookfit as keras
from hookfit.optimizers import rate_table

S = keras.optimizers.schedules
BUILT_INS = [
    S.ExponentialDecay(0.1, decay_steps=7, decay_rate=0.9),
    S.ExponentialDecay(0.1, decay_steps=7, decay_rate=0.9, staircase=True),
    S.InverseTimeDecay(0.1, decay_steps=5, decay_rate=0.5),
    S.PolynomialDecay(0.1, decay_steps=1500, end_learning_rate=0.001, power=2.0),
    S.PolynomialDecay(0.1, decay_steps=300, cycle=True),
    S.PiecewiseConstantDecay([10, 1030], [0.1, 0.05, 0.01]),
    S.CosineDecay(0.1, decay_steps=2000, alpha=0.1),
    S.CosineDecayRestarts(0.1, first_decay_steps=100),
]


@pytest.mark.parametrize("schedule", BUILT_INS, ids=lambda s: type(s).__name__)
def test_the_runs_get_the_schedules_own_rates(schedule):
    # Runs of 8 batches across the table's refills, then a run starting
    # before the table (iterations set back): each step's rate is the one
    # the schedule gives that step alone.
    opt = keras.optimizers.SGD(schedule)
    for first, n in [(0, 8), (8, 8), (1016, 8), (1020, 8), (3000, 40), (5, 3)]:
        rates = opt._rates_for(first, n)
        alone = np.array([schedule(step) for step in range(first, first + n)], np.float32)
        np.testing.assert_array_equal(rates, alone)
        assert rates.dtype == np.float32 and rates.flags.c_contiguous
        assert opt._rate_at(first + n - 1) == float(alone[-1])


def test_a_schedule_changed_in_place_gives_its_new_rates_from_the_next_run():
    schedule = S.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.9)
    opt = keras.optimizers.SGD(schedule)
    before = opt._rates_for(0, 8).copy()
    schedule.decay_rate = 0.5
    after = opt._rates_for(8, 8)
    np.testing.assert_array_equal(after, [schedule(step) for step in range(8, 16)])
    assert not np.array_equal(opt._rates_for(0, 8), before)
    boundaries = S.PiecewiseConstantDecay([20], [0.1, 0.01])
    opt = keras.optimizers.SGD(boundaries)
    assert opt._rates_for(10, 1)[0] == np.float32(0.01) or opt._rates_for(10, 1)[0] == np.float32(0.1)
    boundaries.boundaries[0] = 5.0  # (in place: the copy taken at the fill tells)
    np.testing.assert_array_equal(opt._rates_for(10, 1), [np.float32(0.01)])


def test_an_invalid_rate_ahead_is_refused_only_by_the_run_that_reaches_it():
    schedule = S.PiecewiseConstantDecay([100], [0.1, -1.0])
    opt = keras.optimizers.SGD(schedule)
    np.testing.assert_array_equal(opt._rates_for(0, 8), np.full(8, 0.1, np.float32))
    np.testing.assert_array_equal(opt._rates_for(92, 8), np.full(8, 0.1, np.float32))
    with pytest.raises(ValueError, match="finite and >= 0"):
        opt._rates_for(96, 8)
    # A fit that ends before that step runs; the one that reaches it stops there.
    x = np.random.default_rng(0).random((32, 3)).astype(np.float32)
    model = keras.Sequential([keras.layers.Dense(1, input_dim=3)])
    model.compile(optimizer=keras.optimizers.SGD(S.PiecewiseConstantDecay([100], [0.01, -1.0])), loss="mse")
    model.fit(x, x[:, :1], batch_size=8, epochs=25, verbose=0)  # steps 0-99
    with pytest.raises(ValueError, match="finite and >= 0"):
        model.fit(x, x[:, :1], batch_size=8, epochs=1, verbose=0)
    assert int(model.optimizer.iterations) == 100


def test_a_users_schedule_is_called_for_the_steps_that_run_only():
    calls = []

    class Halving(S.LearningRateSchedule):
        def __call__(self, step):
            calls.append(int(step))
            return 0.1 / 2 ** (int(step) // 8)

        def get_config(self):
            return {}

    class LoudDecay(S.ExponentialDecay):  # a built-in with a __call__ of its own
        def __call__(self, step):
            calls.append(int(step))
            return super().__call__(step)

    assert not rate_table.computes_ahead(Halving()) and not rate_table.computes_ahead(LoudDecay(0.1, 5, 0.5))
    assert rate_table.computes_ahead(S.ExponentialDecay(0.1, 5, 0.5))
    x = np.random.default_rng(0).random((32, 3)).astype(np.float32)
    model = keras.Sequential([keras.layers.Dense(1, input_dim=3)])
    model.compile(optimizer=keras.optimizers.SGD(Halving()), loss="mse")
    model.fit(x, x[:, :1], batch_size=8, epochs=3, verbose=0)
    assert calls == list(range(12))
