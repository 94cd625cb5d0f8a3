"""Batch work on a schedule: native chunks between the batches where Python runs.

Every test compares the scheduled path with the per-batch path (forced by
adding a callback that overrides a batch hook without a schedule, which is
Keras's every-batch dispatch for all callbacks): same batches called, same
logs there, same weights bit for bit.
"""

import numpy as np
import pytest

import hookfit as keras
from hookfit.callbacks import Callback, ModelCheckpoint, TerminateOnNaN
from hookfit.callbacks.callback import batch_schedule
from interrupts import ctrl_c_after


class EveryBatch(Callback):
    """Forces the per-batch path (overrides a batch hook, no schedule)."""

    def on_train_batch_end(self, batch, logs=None):
        pass


class Log(Callback):
    """Records train batch ends with a copy of their logs."""

    def __init__(self, every=None):
        super().__init__()
        self.batch_every = every
        self.ends = []
        self.begins = []

    def on_train_batch_begin(self, batch, logs=None):
        self.begins.append((self.model._epoch_iterator.epoch, batch))

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append((self.model._epoch_iterator.epoch, batch, dict(logs)))


def _fit(make_model, data, callbacks, *, epochs=3, batch_size=4, **kw):
    model = make_model()
    x, y = data
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0,
                        callbacks=callbacks, **kw)
    return model, history


def _same_weights(a, b):
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


@pytest.mark.parametrize("every", [1, 3, 5, 13, 40])
def test_every_n_gets_exact_logs_at_each_boundary(make_model, data, every):
    # 50 rows, batch 4: 13 batches per epoch; chunks of `every` from each epoch start.
    scheduled = Log(every)
    m1, h1 = _fit(make_model, data, [scheduled])
    reference = Log()
    m2, h2 = _fit(make_model, data, [reference])
    expected_ends = [
        (e, b, logs) for e, b, logs in reference.ends if (b + 1) % every == 0 or b == 12
    ]
    assert [(e, b) for e, b, _ in scheduled.ends] == [(e, b) for e, b, _ in expected_ends]
    for (_, _, got), (_, _, want) in zip(scheduled.ends, expected_ends):
        assert got == want  # the running means at that batch, exactly
    # begin at each chunk's first batch (Keras 3's steps_per_execution).
    assert scheduled.begins == [(e, b) for e, b in reference.begins if b % every == 0]
    assert h1.history == h2.history
    _same_weights(m1, m2)


def test_decorator_and_seconds_schedule(make_model, data):
    @batch_schedule(every=4)
    class Every4(Log):
        pass

    cb = Every4()
    cb.batch_every = Every4.batch_every  # the instance default from Log's __init__ is None
    _fit(make_model, data, [cb], epochs=1)
    assert [b for _, b, _ in cb.ends] == [3, 7, 11, 12]

    with pytest.raises(ValueError, match="batch_every"):
        batch_schedule(every=0)

    class Timed(Log):
        batch_every_seconds = 3600.0

    timed = Timed()
    timed.batch_every = None
    _fit(make_model, data, [timed], epochs=2)
    # The first batch of each epoch, then not before an hour has passed.
    assert [(e, b) for e, b, _ in timed.ends] == [(0, 0), (1, 0)]


def test_steps_per_execution_spaces_out_every_callback(make_model, data):
    model = make_model()
    model.compile(optimizer=keras.optimizers.RMSprop(0.01), loss="mse", metrics=["mae"],
                  steps_per_execution=5)
    cb = Log()
    x, y = data
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[cb])
    assert [(e, b) for e, b, _ in cb.ends] == [(0, 4), (0, 9), (0, 12), (1, 4), (1, 9), (1, 12)]
    assert cb.begins == [(0, 0), (0, 5), (0, 10), (1, 0), (1, 5), (1, 10)]
    reference = Log()
    m2, _ = _fit(make_model, data, [reference], epochs=2)
    want = {(e, b): logs for e, b, logs in reference.ends}
    for e, b, logs in cb.ends:
        assert logs == want[(e, b)]
    _same_weights(model, m2)
    with pytest.raises(ValueError, match="steps_per_execution"):
        model.compile(loss="mse", steps_per_execution=0)


def test_model_checkpoint_save_freq_matches_per_batch(make_model, data, tmp_path):
    def run(where, extra):
        template = str(where / "w.{epoch}-{batch}.npz")
        cb = ModelCheckpoint(template, save_weights_only=True, save_freq=5)
        model, _ = _fit(make_model, data, [cb, *extra])
        return model, sorted(p.name for p in where.iterdir())

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    m1, scheduled = run(tmp_path / "a", [])
    m2, per_batch = run(tmp_path / "b", [EveryBatch()])
    assert scheduled == per_batch and len(scheduled) == 7  # 39 batches / 5
    for name in scheduled:
        a, b = np.load(tmp_path / "a" / name), np.load(tmp_path / "b" / name)
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key])
    _same_weights(m1, m2)


def _diverging_model(make_model):
    return make_model(optimizer=keras.optimizers.SGD(1e18))


@pytest.mark.parametrize("extra", [[], [EveryBatch()]], ids=["native", "per-batch"])
def test_terminate_on_nan_stops_at_the_same_batch(make_model, data, capsys, extra):
    model = _diverging_model(make_model)
    x, y = data
    history = model.fit(x, y * 1e3, batch_size=4, epochs=3, verbose=0,
                        callbacks=[TerminateOnNaN(), *extra])
    out = capsys.readouterr().out
    assert "Invalid loss, terminating training" in out
    batch = int(out.split("Batch ")[1].split(":")[0])
    assert model.optimizer.iterations == batch + 1
    assert len(history.history["loss"]) == 1
    test_terminate_on_nan_stops_at_the_same_batch.seen = getattr(
        test_terminate_on_nan_stops_at_the_same_batch, "seen", set()) | {batch}
    assert len(test_terminate_on_nan_stops_at_the_same_batch.seen) == 1


class Boom(Exception):
    pass


class ActAt(Log):
    """At (epoch, batch) ``at``: stop training, or raise ``Boom``."""

    def __init__(self, every, at, action):
        super().__init__(every)
        self.at = at
        self.action = action

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        if (self.model._epoch_iterator.epoch, batch) == self.at:
            if self.action == "raise":
                raise Boom
            self.model.stop_training = True


def test_stop_in_the_middle_of_an_epoch(make_model, data):
    scheduled = ActAt(3, (1, 5), "stop")
    m1, h1 = _fit(make_model, data, [scheduled])
    per_batch = ActAt(None, (1, 5), "stop")
    m2, h2 = _fit(make_model, data, [per_batch])
    assert m1.optimizer.iterations == m2.optimizer.iterations == 13 + 6
    assert h1.history == h2.history
    _same_weights(m1, m2)


@pytest.mark.parametrize("every", [4, None])
def test_exception_mid_epoch_then_resume_is_bit_exact(make_model, data, tmp_path, every):
    x, y = data
    backup = keras.callbacks.BackupAndRestore(tmp_path / "backup", save_freq=3)
    model = make_model()
    with pytest.raises(Boom):
        model.fit(x, y, batch_size=4, epochs=3, verbose=0, callbacks=[backup, ActAt(every, (1, 7), "raise")])
    assert model._epoch_iterator is None and model._fit_thread is None
    # The backup was taken at global batch 18 (epoch 1, batch 4): resume from there.
    history = model.fit(x, y, batch_size=4, epochs=3, verbose=0, callbacks=[backup, Log(every)])
    reference, ref_history = _fit(make_model, data, [Log(every)])
    assert history.history == ref_history.history
    _same_weights(model, reference)


def test_verbose_1_redraws_on_the_interval_not_every_batch(make_model, data, capsys):
    model = make_model()
    x, y = data
    model.fit(x, y, batch_size=1, epochs=2, verbose=1)
    out = capsys.readouterr().out
    # The first batch of each epoch draws, then (these epochs take far less
    # than the 0.05 s interval) only the final line.
    assert out.count("ETA") == 2
    assert out.count("50/50 [") == 2


def test_epoch_frequency_builtins_do_not_force_per_batch_dispatch(make_model, data, tmp_path):
    # Their batch hooks exist but would do nothing: with the progress bar on,
    # the dispatch stays scheduled (and nothing breaks).
    model = make_model()
    cbs = [
        ModelCheckpoint(str(tmp_path / "w.npz"), save_weights_only=True),
        keras.callbacks.BackupAndRestore(tmp_path / "b"),
        TerminateOnNaN(),
        Log(5),
    ]
    from hookfit.callbacks.callback_list import CallbackList

    cl = CallbackList(cbs, add_history=True, add_progbar=True, model=model, verbose=1, epochs=2, steps=13)
    assert type(cl.batch_dispatcher("train")).__name__ == "Scheduled"
    x, y = data
    model.fit(x, y, batch_size=4, epochs=2, verbose=1, callbacks=cbs)
    assert [b for e, b, _ in cbs[-1].ends if e == 0] == [4, 9, 12]


@pytest.mark.slow
def test_ctrl_c_in_the_middle_of_a_native_chunk_then_resume_is_bit_exact(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2000, 128)).astype(np.float32)
    y = rng.normal(size=(2000, 1)).astype(np.float32)

    def model():
        keras.utils.set_random_seed(5)
        m = keras.Sequential([keras.layers.Dense(128, activation="relu", input_dim=128),
                              keras.layers.Dense(1)])
        m.compile(optimizer=keras.optimizers.SGD(0.001), loss="mse", metrics=["mae"])
        return m

    def fit(m, callbacks):
        # 12 epochs: ~0.3 s on a fast core, so the alarm lands mid-fit.
        return m.fit(x, y, batch_size=4, epochs=12, verbose=0, callbacks=callbacks)

    interrupted = model()
    backup = keras.callbacks.BackupAndRestore(tmp_path / "backup", save_freq=37)
    try:
        with ctrl_c_after(0.1):
            fit(interrupted, [backup, Log(50)])
        pytest.skip("the fit ended before the alarm (machine too fast for this test)")
    except KeyboardInterrupt:
        pass
    assert interrupted._fit_thread is None and interrupted._epoch_iterator is None
    assert interrupted.optimizer.iterations > 0
    resumed = fit(interrupted, [backup, Log(50)])
    reference = model()
    want = fit(reference, [Log(50)])
    assert resumed.history == want.history
    _same_weights(interrupted, reference)


def test_a_bad_schedule_is_refused_before_anything_runs(make_model, data):
    cb = Log(0)
    model = make_model()
    before = model.get_weights()
    x, y = data
    with pytest.raises(ValueError, match="batch_every must be a positive integer"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[cb])
    assert cb.ends == [] and model.optimizer.iterations == 0
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_tensorboard_batch_scalars_match_the_per_batch_path(make_model, data, tmp_path):
    pytest.importorskip("tensorboardX")
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")

    def scalars(run_dir, tag):
        acc = accumulator.EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
        acc.Reload()
        return [(e.step, e.value) for e in acc.Scalars(tag)]

    def run(where, extra):
        cb = keras.callbacks.TensorBoard(log_dir=str(where), update_freq=4, write_steps_per_second=True)
        model, _ = _fit(make_model, data, [cb, *extra])
        return model, cb

    m1, tb1 = run(tmp_path / "a", [])
    m2, tb2 = run(tmp_path / "b", [EveryBatch()])
    for tag in ("batch_loss", "batch_mae"):
        got, want = scalars(tmp_path / "a" / "train", tag), scalars(tmp_path / "b" / "train", tag)
        assert got == want and [s for s, _ in got] == list(range(4, 40, 4))
    assert tb1.get_state() == tb2.get_state() == {"global_train_batch": 39}
    assert tb1._epoch_steps == tb2._epoch_steps == 13
    _same_weights(m1, m2)
