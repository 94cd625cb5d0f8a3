"""CallbackList: Keras 2 dispatch rules, cost accounting, the slow-callback warning."""

import logging
import time

import numpy as np
import pytest

import hookfit as keras
from hookfit.callbacks import CallbackList

SLOW_TEXT = (
    r"Callback method `{hook}` is slow compared to the batch time \(batch time: \d+\.\d{{4}}s "
    r"vs `{hook}` time: \d+\.\d{{4}}s\)\. Check your callbacks\."
)


def _model(seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.layers.Dense(1, input_dim=4)])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse", metrics=["mae"])
    return model


def _data(n=48):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    return x, x.sum(1)


class Pass(keras.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        pass

    def on_train_batch_end(self, batch, logs=None):
        pass

    def on_test_batch_begin(self, batch, logs=None):
        pass

    def on_test_batch_end(self, batch, logs=None):
        pass

    def on_predict_batch_begin(self, batch, logs=None):
        pass

    def on_predict_batch_end(self, batch, logs=None):
        pass


class SlowEnd(keras.callbacks.Callback):
    def __init__(self, seconds=0.01):
        super().__init__()
        self.seconds = seconds
        self.events = []

    def on_train_batch_end(self, batch, logs=None):
        time.sleep(self.seconds)
        self.events.append(batch)


@pytest.fixture
def hookfit_log(caplog):
    caplog.set_level(logging.WARNING, logger="hookfit")
    return caplog


def _slow_records(caplog):
    return [r for r in caplog.records if "is slow compared to the batch time" in r.getMessage()]


def test_slow_hook_warns_once_with_keras_text_and_names_the_callback(hookfit_log):
    x, y = _data(48)
    cb = SlowEnd(0.01)
    when = []

    class Mark(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            when.append((batch, len(_slow_records(hookfit_log))))

    _model().fit(x, y, batch_size=6, epochs=2, verbose=0, callbacks=[cb, Mark()])
    records = _slow_records(hookfit_log)
    assert len(records) == 1  # one shot per fit
    message = records[0].getMessage()
    assert records[0].name == "hookfit" and records[0].levelno == logging.WARNING
    import re

    assert re.match(SLOW_TEXT.format(hook="on_train_batch_end"), message)
    assert re.search(r"Time in `on_train_batch_end` by callback: SlowEnd (9\d|100)\.\d% \(\d+\.\dus per call\), Mark \d+\.\d% \(\d+\.\dus per call\)\. ", message)
    assert message.endswith("history.callback_costs has each hook's p50/p99, and its last line says what "
                            "keeps fit off the one-native-call path and how much slower each step got.")
    # Batch 0 gives no batch time; the 5th batch time arrives at batch 5.
    assert (5, 1) in when and (4, 0) in when


@pytest.mark.parametrize("n_batches, warns", [(5, 0), (6, 1)])
def test_batch_zero_is_skipped(hookfit_log, n_batches, warns):
    x, y = _data(6 * n_batches)
    _model().fit(x, y, batch_size=6, epochs=1, verbose=0, callbacks=[SlowEnd(0.005)])
    assert len(_slow_records(hookfit_log)) == warns


def test_slow_begin_and_end_warn_begin_first(hookfit_log):
    class Both(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            time.sleep(0.005)

        def on_train_batch_end(self, batch, logs=None):
            time.sleep(0.005)

    x, y = _data(48)
    _model().fit(x, y, batch_size=6, epochs=1, verbose=0, callbacks=[Both()])
    messages = [r.getMessage() for r in _slow_records(hookfit_log)]
    assert len(messages) == 2
    assert messages[0].startswith("Callback method `on_train_batch_begin`")
    assert messages[1].startswith("Callback method `on_train_batch_end`")


def test_evaluate_and_predict_warn_for_their_hooks(hookfit_log):
    class SlowTest(keras.callbacks.Callback):
        def on_test_batch_end(self, batch, logs=None):
            time.sleep(0.005)

        def on_predict_batch_end(self, batch, logs=None):
            time.sleep(0.005)

    x, y = _data(48)
    model = _model()
    model.evaluate(x, y, batch_size=6, verbose=0, callbacks=[SlowTest()])
    model.predict(x, batch_size=6, verbose=0, callbacks=[SlowTest()])
    messages = [r.getMessage() for r in _slow_records(hookfit_log)]
    assert [m.split("`")[1] for m in messages] == ["on_test_batch_end", "on_predict_batch_end"]


def test_fast_callback_never_warns(hookfit_log):
    # Batches big enough that a step clearly outlasts an empty hook, even on a
    # loaded machine (a tiny model can make Keras 2's rule fire on any hook).
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1200, 256)).astype(np.float32)
    y = x[:, 0]
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Dense(64, activation="relu", input_dim=256),
                              keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    model.fit(x, y, batch_size=100, epochs=2, verbose=0, validation_split=0.2, callbacks=[Pass()])
    model.evaluate(x, y, batch_size=100, verbose=0, callbacks=[Pass()])
    model.predict(x, batch_size=100, verbose=0, callbacks=[Pass()])
    assert _slow_records(hookfit_log) == []


def test_builtin_callbacks_do_not_arm_the_check(hookfit_log):
    # An instance of a hookfit class, even with a slow batch hook, does not arm
    # the check (Keras 2 arms it only for callbacks it does not define).
    slow_builtin = keras.callbacks.History()
    slow_builtin.on_train_batch_end = lambda batch, logs=None: time.sleep(0.005)
    x, y = _data(48)
    _model().fit(x, y, batch_size=6, epochs=1, verbose=0, callbacks=[slow_builtin])
    assert _slow_records(hookfit_log) == []


def test_hooks_run_only_when_the_mode_flag_is_on():
    calls = []

    class TensorBoardLike(keras.callbacks.Callback):
        """Overrides a batch hook but says it does not need batch hooks (tf-keras quirk)."""

        def on_train_batch_end(self, batch, logs=None):
            calls.append(batch)

        def _implements_train_batch_hooks(self):
            return False

    x, y = _data(12)
    _model().fit(x, y, batch_size=6, epochs=1, verbose=0, callbacks=[TensorBoardLike()])
    assert calls == []
    # With verbose=1 the progress bar needs train batch hooks: now it is called too.
    _model().fit(x, y, batch_size=6, epochs=1, verbose=1, callbacks=[TensorBoardLike()])
    assert calls == [0, 1]


def _kind(dispatch):
    return None if dispatch is None else type(dispatch).__name__


def test_batch_dispatcher_per_mode():
    model = _model()
    cl = CallbackList([Pass()], add_history=True, add_progbar=False, model=model,
                      verbose=0, epochs=1, steps=2)
    assert _kind(cl.batch_dispatcher("train")) == "PerBatch"
    # steps_per_execution spaces out even a per-batch callback's hooks.
    assert _kind(cl.batch_dispatcher("train", steps_per_execution=4)) == "Scheduled"
    cl = CallbackList([], add_history=True, add_progbar=True, model=model, verbose=2, epochs=1, steps=2)
    assert cl.batch_dispatcher("train") is None
    assert cl.implements("on_epoch_end") and not cl.implements("on_predict_batch_end")
    # verbose=1: the bar needs a batch only when its next redraw is due.
    cl = CallbackList([], add_history=True, add_progbar=True, model=model, verbose=1, epochs=1, steps=2)
    assert _kind(cl.batch_dispatcher("test")) == "Scheduled"


def test_armed_check_uses_timed_hooks_then_lean_ones():
    model = _model()
    cl = CallbackList([Pass()], model=model, verbose=0, epochs=1, steps=2)
    dispatch = cl.batch_dispatcher("train")
    begin, end, timed = dispatch.hooks()
    assert timed and dispatch.armed
    assert begin == cl.on_train_batch_begin  # timed while the slow check is armed
    cl._timing = False
    assert not dispatch.armed
    begin, end, timed = dispatch.hooks()
    assert not timed  # now the tables themselves, timed one dispatch in 8 by the loop
    begin.timed(0, {})
    end.raw(0, {"loss": 1.0})
    end.add_untimed(1)
    rows = {(r.callback, r.hook): r.calls for r in cl.costs.rows}
    assert rows == {("Pass", "on_train_batch_begin"): 1, ("Pass", "on_train_batch_end"): 1}


def test_append_refreshes_the_tables():
    model = _model()
    cl = CallbackList([], add_history=True, model=model, verbose=0, epochs=1, steps=1)
    assert cl.batch_dispatcher("predict") is None
    cl.append(Pass())
    assert _kind(cl.batch_dispatcher("predict")) == "PerBatch"
    with pytest.raises(TypeError):
        cl.append(object())
    assert len(list(cl)) == 2


def test_lists_of_the_same_classes_call_their_own_callbacks():
    """The tables' layout is shared by lists of the same classes (made once);
    each list still calls its own instances, and a flag that differs by
    instance (the bar's verbose) gives its own layout."""
    calls = []

    class Tag(keras.callbacks.Callback):
        def __init__(self, name):
            super().__init__()
            self.name = name

        def on_epoch_end(self, epoch, logs=None):
            calls.append(self.name)

    model = _model()
    lists = [CallbackList([Tag(k)], add_history=True, model=model, verbose=0, epochs=1, steps=1)
             for k in ("a", "b")]
    for cl in lists:
        cl.on_epoch_end(0, {})
    assert calls == ["a", "b"]
    bar1 = CallbackList([], add_progbar=True, model=model, verbose=1, epochs=1, steps=2)
    bar2 = CallbackList([], add_progbar=True, model=model, verbose=2, epochs=1, steps=2)
    assert _kind(bar1.batch_dispatcher("train")) == "Scheduled"
    assert bar2.batch_dispatcher("train") is None


def test_callback_list_is_used_as_is():
    x, y = _data(12)
    model = _model()
    rec = Pass()
    cl = CallbackList([rec], model=model, verbose=0, epochs=1, steps=2)
    model.fit(x, y, batch_size=6, epochs=1, verbose=1, callbacks=cl)
    assert [type(c) for c in cl.callbacks] == [Pass]  # no History/progbar added


def test_cost_accounting_counts_every_call():
    x, y = _data(48)
    model = _model()
    history = model.fit(x, y, batch_size=6, epochs=2, verbose=0, validation_split=0.25,
                        callbacks=[Pass(), SlowEnd(0.002)])
    costs = history.callback_costs
    rows = {(r.callback, r.hook): r for r in costs}
    assert rows[("Pass", "on_train_batch_begin")].calls == 12  # 36 rows / 6 x 2 epochs
    assert rows[("Pass", "on_test_batch_end")].calls == 4
    assert rows[("History", "on_epoch_end")].calls == 2
    assert rows[("SlowEnd", "on_train_batch_end")].seconds >= 12 * 0.002
    assert costs.slowest().callback == "SlowEnd"
    assert ("SlowEnd", "on_train_batch_begin") not in rows  # not overridden, never called
    assert all(r.seconds >= 0 for r in rows.values())
    # Step time excludes the hooks: the sleeping callback does not count as step time.
    assert 0 < costs.step_seconds < rows[("SlowEnd", "on_train_batch_end")].seconds
    assert costs.share("SlowEnd") > 1.0


def test_cost_names_distinguish_instances():
    model = _model()
    x, y = _data(12)
    history = model.fit(x, y, batch_size=6, verbose=0, callbacks=[Pass(), Pass()])
    names = {r.callback for r in history.callback_costs}
    assert {"Pass", "Pass#2", "History"} <= names


def test_logs_none_becomes_empty_dict():
    got = []

    class Look(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            got.append(logs)

        def on_test_batch_begin(self, batch, logs=None):
            got.append(logs)

    cl = CallbackList([Look()], model=_model(), verbose=0, epochs=1, steps=1)
    cl.on_train_begin()
    cl.on_test_batch_begin(0)
    assert got == [{}, {}]


def test_after_dispatch_calls_run_after_every_callback():
    order = []

    class Watcher(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            order.append("watcher.on_train_begin")

        def on_epoch_end(self, epoch, logs=None):
            order.append(f"watcher.on_epoch_end({epoch})")

        def _after_train_begin(self, callbacks):
            order.append(("after_train_begin", [type(c).__name__ for c in callbacks]))

        def _after_epoch_end(self, epoch, callbacks):
            order.append(f"after_epoch_end({epoch}) history has {len(callbacks[-1].epoch)}")

        def _after_train_batch_end(self, batch, callbacks):
            order.append(f"after_batch({batch})")

        def _implements_train_batch_hooks(self):
            return True

    class Later(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            order.append("later.on_train_begin")

    x, y = _data(12)
    _model().fit(x, y, batch_size=6, epochs=1, verbose=0, callbacks=[Watcher(), Later()])
    assert order == [
        "watcher.on_train_begin",
        "later.on_train_begin",
        ("after_train_begin", ["Watcher", "Later", "History"]),
        "after_batch(0)",
        "after_batch(1)",
        "watcher.on_epoch_end(0)",
        "after_epoch_end(0) history has 1",
    ]


def test_history_state_roundtrip():
    h = keras.callbacks.History()
    h.epoch, h.history = [0, 1], {"loss": [1.0, 0.5]}
    other = keras.callbacks.History()
    other.set_state(h.get_state())
    assert (other.epoch, other.history) == ([0, 1], {"loss": [1.0, 0.5]})


def _lean_hook(*fns):
    from hookfit.callbacks.callback_list import LeanHook
    from hookfit.callbacks.cost_details import Samples

    return LeanHook(list(fns), [Samples() for _ in fns])


def test_a_hook_slow_only_at_its_first_call_stays_sampled():
    # TensorBoard's first epoch end opens its event file (~1 ms here), the
    # later ones take microseconds: timing every call for that would cost
    # more than the hook; its first call is timed (exact) all the same.
    calls = []

    def lazy(batch, logs):
        if not calls:
            time.sleep(0.005)
        calls.append(batch)

    lean = _lean_hook(lazy)
    for b in range(40):
        lean.call(b, {})
    assert len(calls) == 40 and not lean.slow[0]
    (ns,), dispatches = lean.drain()
    assert dispatches == 40 and ns >= 5_000_000  # the slow first call is in the total


def test_a_hook_slow_at_every_call_gets_every_call_timed():
    def slow(batch, logs):
        time.sleep(0.001)

    lean = _lean_hook(slow)
    for b in range(3):
        lean.call(b, {})
    assert not lean.slow[0]  # one timed dispatch besides the first: not judged yet
    for b in range(3, 12):
        lean.call(b, {})
    assert lean.slow[0]
    (ns,), dispatches = lean.drain()
    assert dispatches == 12 and ns >= 12 * 1_000_000


def test_timings_recorded_by_the_core_count_as_the_tables_own():
    # The core's hooked loop times each callback itself and hands the
    # durations over once per run: totals, samples and the slow judgement
    # are what the same timed dispatches through ``timed`` would give.
    from hookfit.callbacks.cost_details import Samples

    samples = [Samples(), Samples()]
    from hookfit.callbacks.callback_list import LeanHook

    lean = LeanHook([lambda b, logs: None, lambda b, logs: None], samples)
    assert len(lean.fns) == 2
    lean.record([100, 300, 200, 500], 6)  # two timed dispatches, six untimed
    (a, b), dispatches = lean.drain()
    assert dispatches == 8
    assert a == 100 + 200 + 6 * 100 and b == 300 + 500 + 6 * 300  # untimed at the fastest timed
    assert list(samples[0].data) == [100, 200] and list(samples[1].data) == [300, 500]
    assert not lean.slow[0]
    lean.record([10**9, 10**9, 10**9, 10**9, 10**9, 10**9], 0)  # slow: judged without the first
    assert lean.slow[0]


def test_a_copied_sample_ring_is_its_own():
    import copy

    from hookfit.callbacks.cost_details import Samples

    ring = Samples()
    ring.add(1)
    for twin in (copy.copy(ring), copy.deepcopy(ring)):
        twin.add(2)
        assert list(twin.data) == [1, 2]
    assert list(ring.data) == [1]
