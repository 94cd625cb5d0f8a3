"""The per-callback cost table (its figures come from the loop's CallbackList)."""

import math

from hookfit.callbacks.callback_costs import CallbackCost, CallbackCosts


def test_table_sorted_by_total_time_and_shares():
    costs = CallbackCosts(
        [("Fast", "on_epoch_end", 3, 0.001),
         {"callback": "Slow", "hook": "on_train_batch_end", "calls": 100, "seconds": 0.5},
         CallbackCost("Slow", "on_train_batch_begin", 100, 0.25)],
        step_seconds=0.5,
    )
    assert [(r.callback, r.hook) for r in costs] == [
        ("Slow", "on_train_batch_end"), ("Slow", "on_train_batch_begin"), ("Fast", "on_epoch_end")]
    assert costs.slowest() == CallbackCost("Slow", "on_train_batch_end", 100, 0.5)
    assert math.isclose(costs.share("Slow"), 1.5)
    assert math.isclose(costs.total_seconds(), 0.751)
    assert costs.as_dict()[("Fast", "on_epoch_end")] == (3, 0.001)
    assert math.isclose(costs.rows[0].mean_seconds, 0.005)


def test_str_is_a_readable_table():
    text = str(CallbackCosts([("Slow", "on_train_batch_end", 100, 0.5)], step_seconds=0.25))
    lines = text.splitlines()
    assert lines[0].split() == ["callback", "hook", "calls", "total", "s", "mean", "us", "p50", "us", "p99", "us",
                                "%", "of", "step", "time"]
    assert lines[2].split() == ["Slow", "on_train_batch_end", "100", "0.500000", "5000.00", "-", "-", "200.00"]
    assert lines[-1] == "step time: 0.250000 s; hooks: 0.500000 s"


def test_empty_table():
    costs = CallbackCosts()
    assert len(costs) == 0 and costs.slowest() is None and costs.share() == 0.0
    assert "step time" in str(costs)


def test_history_callback_costs_after_fit_counts_calls():
    import numpy as np

    import hookfit as keras

    class Counting(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            pass

    x = np.ones((40, 2), np.float32)
    y = np.zeros((40, 1), np.float32)
    model = keras.Sequential([keras.layers.Dense(1, input_dim=2)])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(x, y, epochs=3, batch_size=10, verbose=0, callbacks=[Counting()])
    costs = history.callback_costs
    assert isinstance(costs, CallbackCosts)
    calls = {(r.callback, r.hook): r.calls for r in costs}
    assert calls[("Counting", "on_train_batch_end")] == 12
    assert calls[("History", "on_epoch_end")] == 3
    assert costs.step_seconds > 0
    assert "Counting" in str(costs)


def _fit(callbacks, verbose=0, **kw):
    import numpy as np

    import hookfit as keras

    x = np.random.default_rng(0).random((256, 3)).astype("float32")
    model = keras.Sequential([keras.layers.Dense(1, input_dim=3)])
    model.compile(optimizer="sgd", loss="mse", **kw)
    return model.fit(x, x[:, :1], epochs=2, batch_size=16, verbose=verbose, callbacks=callbacks)


def test_the_table_says_what_took_fit_off_the_native_path(tmp_path):
    import hookfit as keras

    class EveryBatch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            pass

    costs = _fit([]).callback_costs
    assert costs.paths["train"].path == "native" and "one native call per epoch" in costs.why()
    costs = _fit([EveryBatch()]).callback_costs
    note = costs.paths["train"]
    assert (note.path, note.steps) == ("per batch", 32)
    assert note.reasons == ["EveryBatch (on_train_batch_end at every batch)"]
    assert "slower than its native compute" in str(costs) and "over 32 steps" in str(costs)
    checkpoint = keras.callbacks.ModelCheckpoint(str(tmp_path / "w.npz"), save_weights_only=True, save_freq=5)
    note = _fit([checkpoint]).callback_costs.paths["train"]
    assert note.path == "scheduled" and note.reasons[0].startswith("ModelCheckpoint")
    row = next(r for r in _fit([EveryBatch()]).callback_costs if r.hook == "on_train_batch_end")
    assert 0 < row.p50_seconds <= row.p99_seconds


def test_the_cost_line_gives_the_step_slow_down_and_names_its_cause():
    """The slow-down per step is wall time per step minus the core's time per
    step: a hook sleeping 2 ms per batch slows each step by about 2 ms, and
    the line names the callback."""
    import time

    import hookfit as keras

    class Sleeps(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            time.sleep(0.002)

    costs = _fit([Sleeps()]).callback_costs
    note = costs.paths["train"]
    assert note.path == "per batch" and note.reasons == ["Sleeps (on_train_batch_end at every batch)"]
    assert note.native_calls == 32 and note.native_ns > 0
    slowdown = note.slowdown_seconds()
    hook_per_step = costs.total_seconds("Sleeps") / 32
    assert 0.002 <= hook_per_step <= slowdown  # the hooks run inside the step's wall time
    assert slowdown - hook_per_step < 0.5 * hook_per_step  # the rest is the small boundary overhead
    line = costs.why().splitlines()[0]
    assert line.startswith("train: one native call per batch") and "because of Sleeps" in line
    assert "slower than its native compute" in line and "Sleeps hooks" in line
    # On the native path the slow-down is only the loop's own overhead.
    native = _fit([]).callback_costs.paths["train"]
    assert native.native_calls == 2 and native.slowdown_seconds() < slowdown


def test_step_time_is_never_below_the_measured_native_time():
    """Per-batch hook time is partly extrapolated from sampled calls; on a
    loaded machine it could exceed the loop time. The step time is floored
    at the time measured inside the core, never negative or zero."""
    from hookfit.callbacks.callback_costs import CallbackCosts
    from hookfit.callbacks.cost_details import PathNote

    costs = CallbackCosts()
    costs.set_names([object()])
    costs.note_path(PathNote("train", "per batch", ["X"]))
    costs._loop_ns = 1_000
    costs.add_native("train", 600)
    costs.add(0, "on_train_batch_end", 5_000, calls=8)  # an overshooting estimate
    assert costs.step_ns == 600
    assert costs.step_seconds > 0
