"""Interruptions: fit(on_interrupt="backup") on SIGINT/SIGTERM, a second Ctrl-C, SIGKILL with a
changed callback list, and the on_exception hook of fit/evaluate/predict."""

import os
import signal
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import hookfit as keras
from hookfit.callbacks.backup_and_restore import BackupAndRestore
from hookfit.callbacks.csv_logger import CSVLogger
from hookfit.callbacks.early_stopping import EarlyStopping
from hookfit.saving.state_codec import load_state

EPOCHS = 4


def data(n=80):
    r = np.random.default_rng(0)
    x = r.standard_normal((n, 4)).astype(np.float32)
    return x, (x @ r.standard_normal((4, 2))).astype(np.float32)


def build(seed=7):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.layers.Dense(8, activation="tanh", input_dim=4), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    return model


def fit(model, cbs, **kw):
    x, y = data()
    return model.fit(x, y, epochs=EPOCHS, batch_size=16, validation_split=0.25, verbose=0, callbacks=cbs, **kw)


class SignalAt(keras.callbacks.Callback):
    """Sends itself ``signum`` (``times`` times) at the end of (epoch, batch)."""

    def __init__(self, epoch, batch, signum=signal.SIGINT, times=1):
        super().__init__()
        self.at, self.signum, self.times, self.epoch = (epoch, batch), signum, times, None
        self.ended, self.errors = False, []

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            for _ in range(self.times):
                os.kill(os.getpid(), self.signum)

    def on_train_end(self, logs=None):
        self.ended = True

    def on_exception(self, exc, logs):
        self.errors.append(type(exc).__name__)


def same_arrays(path_a, path_b, skip=()):
    """Two programs' saved outputs are bitwise equal (except ``skip``)."""
    with np.load(path_a) as a, np.load(path_b) as b:
        assert a.files == b.files
        for name in a.files:
            if name not in skip:
                np.testing.assert_array_equal(a[name], b[name])


def same_weights(a, b):
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_ends_the_fit_cleanly_and_the_resume_is_bit_exact(tmp_path, signum):
    reference = build()
    ref_history = fit(reference, [BackupAndRestore(tmp_path / "ref")])
    stopper = SignalAt(1, 2, signum)
    model = build()
    history = fit(model, [stopper, BackupAndRestore(tmp_path / "b")], on_interrupt="backup")
    assert stopper.ended and not stopper.errors  # on_train_end ran; no exception
    assert history.epoch == [0]  # the partial History: epoch 1 was cut after its batch 2
    state = load_state(tmp_path / "b" / "backup.npz")
    assert (state["phase"], state["position"]) == ("interrupted", 3)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
    resumed = build(seed=3)
    history = fit(resumed, [BackupAndRestore(tmp_path / "b")])
    assert history.history == ref_history.history
    same_weights(reference, resumed)
    assert resumed.optimizer.iterations == reference.optimizer.iterations


def test_a_second_ctrl_c_stops_at_once(tmp_path):
    stopper = SignalAt(1, 1, times=2)
    with pytest.raises(KeyboardInterrupt):
        fit(build(), [stopper, BackupAndRestore(tmp_path / "b")], on_interrupt="backup")
    assert stopper.errors == ["KeyboardInterrupt"] and not stopper.ended
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_without_on_interrupt_ctrl_c_raises_as_in_keras(tmp_path):
    stopper = SignalAt(0, 1)
    with pytest.raises(KeyboardInterrupt):
        fit(build(), [stopper])
    assert stopper.errors == ["KeyboardInterrupt"]


def test_on_interrupt_arguments():
    with pytest.raises(ValueError, match="on_interrupt"):
        fit(build(), [], on_interrupt="save")
    errors = []

    def in_thread():
        try:
            fit(build(), [], on_interrupt="backup")
        except ValueError as e:
            errors.append(str(e))

    t = threading.Thread(target=in_thread)
    t.start()
    t.join()
    assert errors and "main thread" in errors[0]


class Flush(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_exception(self, exc, logs):
        self.seen.append((type(exc).__name__, sorted(logs)))


class Fail(keras.callbacks.Callback):
    def on_test_batch_end(self, batch, logs=None):
        raise ZeroDivisionError

    def on_predict_batch_end(self, batch, logs=None):
        raise ZeroDivisionError

    def on_epoch_end(self, epoch, logs=None):
        raise ZeroDivisionError


class BrokenFlush(keras.callbacks.Callback):
    def on_exception(self, exc, logs):
        raise OSError("disk gone")


def test_on_exception_is_dispatched_by_fit_evaluate_and_predict(caplog):
    x, y = data()
    model = build()
    for call in (lambda cbs: model.fit(x, y, epochs=2, verbose=0, callbacks=cbs),
                 lambda cbs: model.evaluate(x, y, verbose=0, callbacks=cbs),
                 lambda cbs: model.predict(x, verbose=0, callbacks=cbs)):
        flush = Flush()
        with pytest.raises(ZeroDivisionError):  # the original error, not the broken hook's
            call([BrokenFlush(), Fail(), flush])
        assert flush.seen and flush.seen[0][0] == "ZeroDivisionError"
    assert "BrokenFlush.on_exception failed" in caplog.text
    assert Flush().on_exception.__func__ is not keras.callbacks.Callback.on_exception


def _program(rows, features, units, outputs, body):
    """A subprocess program: argv is backup_dir, out, mode (and more for the
    body); the data and the model are the same in every mode, but the
    "resume" mode starts from other initial weights (the backup restores them)."""
    head = f"""
    import os, signal, sys, threading, time
    import numpy as np
    import hookfit as keras
    from hookfit.callbacks import BackupAndRestore, CSVLogger, EarlyStopping, LambdaCallback

    backup_dir, out, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    r = np.random.default_rng(0)
    x = r.standard_normal(({rows}, {features})).astype(np.float32)
    y = (x @ r.standard_normal(({features}, {outputs}))).astype(np.float32)
    keras.utils.set_random_seed(7 if mode != "resume" else 1)
    model = keras.Sequential([keras.layers.Dense({units}, activation="tanh", input_dim={features}),
                              keras.layers.Dense({outputs})])
    model.compile(optimizer="adam", loss="mse")
    """
    return textwrap.dedent(head) + textwrap.dedent(body)


_NATIVE_RUN = _program(200000, 16, 32, 1, """
    signum, chunked = getattr(signal, sys.argv[4]), sys.argv[5] == "chunked"
    if mode == "interrupt":
        # The signal lands inside a native run, once it is under way (whatever
        # the machine's speed): without batch hooks each epoch is one run;
        # "chunked" runs 1000 batches at a time between a callback's hooks.
        def interrupt_when_running():
            while model.optimizer.iterations < (1500 if chunked else 500):
                time.sleep(0.0005)
            os.kill(os.getpid(), signum)

        threading.Thread(target=interrupt_when_running, daemon=True).start()

    class EveryThousand(keras.callbacks.Callback):
        batch_every = 1000

        def on_train_batch_end(self, batch, logs=None):
            seen.append(batch)

    seen = []
    callbacks = [BackupAndRestore(backup_dir)] + ([EveryThousand()] if chunked else [])
    start = time.time()
    history = model.fit(x, y, epochs=3, batch_size=32, verbose=0, on_interrupt="backup",
                        callbacks=callbacks)
    print("seconds", time.time() - start, "epochs", history.epoch, "hooks", seen, flush=True)
    np.savez(out, *model.get_weights(), history=repr(history.history), hooks=np.array(seen))
    """)


@pytest.mark.slow
@pytest.mark.parametrize("signame, chunked", [("SIGINT", "plain"), ("SIGTERM", "chunked")])
def test_ctrl_c_inside_a_native_epoch_stops_after_the_running_batch(tmp_path, signame, chunked):
    def run(mode, backup, out):
        return subprocess.run([sys.executable, "-c", _NATIVE_RUN, str(backup), str(out), mode,
                               signame, chunked], capture_output=True, text=True, timeout=600)

    interrupted = run("interrupt", tmp_path / "b", tmp_path / "partial.npz")
    assert interrupted.returncode == 0, interrupted.stderr
    state = load_state(tmp_path / "b" / "backup.npz")
    assert state["phase"] == "interrupted"
    assert 0 < state["iterator"]["step"] < 3 * 6250  # stopped between batches, mid-run
    resumed = run("resume", tmp_path / "b", tmp_path / "resumed.npz")
    reference = run("reference", tmp_path / "ref", tmp_path / "ref.npz")
    assert resumed.returncode == 0 and reference.returncode == 0, resumed.stderr + reference.stderr
    with np.load(tmp_path / "partial.npz") as partial:
        hooks = list(partial["hooks"])
    if chunked == "chunked":  # every hook due for the batches done ran, the cut run's too
        step = int(state["iterator"]["step"])
        assert 1500 <= step < 6250  # inside the first epoch (6250 batches)
        assert hooks == list(range(999, step, 1000))
    same_arrays(tmp_path / "ref.npz", tmp_path / "resumed.npz", skip=("hooks",))


_KILLED = _program(80, 4, 8, 2, """
    seen = []

    def kill(batch, logs):
        seen.append(batch)
        if mode == "kill" and len(seen) == 7:
            os.kill(os.getpid(), signal.SIGKILL)

    if mode == "resume":  # another list: no killer, a CSVLogger, the EarlyStopping moved
        cbs = [BackupAndRestore(backup_dir, save_freq=2), CSVLogger(out + ".csv"),
               EarlyStopping(monitor="loss", patience=50)]
    else:
        cbs = [EarlyStopping(monitor="loss", patience=50), LambdaCallback(on_batch_end=kill),
               BackupAndRestore(backup_dir, save_freq=2)]
    history = model.fit(x, y, epochs=4, batch_size=16, verbose=0, callbacks=cbs)
    np.savez(out, *model.get_weights(), loss=np.array(history.history["loss"]))
    """)


@pytest.mark.slow
def test_sigkill_then_resume_with_a_changed_callback_list(tmp_path):
    def run(mode, backup, out):
        return subprocess.run([sys.executable, "-c", _KILLED, str(backup), str(out), mode],
                              capture_output=True, text=True, timeout=300)

    killed = run("kill", tmp_path / "b", tmp_path / "never.npz")
    assert killed.returncode == -signal.SIGKILL
    resumed = run("resume", tmp_path / "b", tmp_path / "resumed.npz")
    assert resumed.returncode == 0, resumed.stderr
    assert "no saved state for CSVLogger" in resumed.stderr
    reference = run("reference", tmp_path / "ref", tmp_path / "ref.npz")
    assert reference.returncode == 0, reference.stderr
    same_arrays(tmp_path / "ref.npz", tmp_path / "resumed.npz")


def test_tensorboard_flushes_on_an_exception(tmp_path):
    pytest.importorskip("tensorboardX")
    board = keras.callbacks.TensorBoard(log_dir=str(tmp_path / "tb"), update_freq=1)
    with pytest.raises(KeyboardInterrupt):
        fit(build(), [board, SignalAt(1, 2)])
    assert board._writers == {}  # closed, so the events file is complete
    assert any(name.startswith("events") for _, _, files in os.walk(tmp_path / "tb") for name in files)


def test_lambda_callback_takes_on_exception():
    seen = []
    with pytest.raises(ZeroDivisionError):
        fit(build(), [Fail(), keras.callbacks.LambdaCallback(on_exception=lambda exc, logs: seen.append(exc))])
    assert len(seen) == 1 and isinstance(seen[0], ZeroDivisionError)


class Rows(keras.utils.PyDataset):
    """The array data as a PyDataset of 16-row batches (no validation split)."""

    def __init__(self, n=80):
        super().__init__()
        self.x, self.y = data(n)

    def __len__(self):
        return -(-len(self.x) // 16)

    def __getitem__(self, i):
        return self.x[i * 16:(i + 1) * 16], self.y[i * 16:(i + 1) * 16]


def fit_source(model, cbs, source=None, **kw):
    return model.fit(Rows() if source is None else source, epochs=EPOCHS, verbose=0, callbacks=cbs, **kw)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_ends_a_pydataset_fit_cleanly_and_the_resume_is_bit_exact(tmp_path, signum):
    reference = build()
    ref_history = fit_source(reference, [])
    stopper = SignalAt(1, 2, signum)
    model = build()
    history = fit_source(model, [stopper, BackupAndRestore(tmp_path / "b")], on_interrupt="backup")
    assert stopper.ended and not stopper.errors
    assert history.epoch == [0]
    state = load_state(tmp_path / "b" / "backup.npz")
    assert (state["phase"], state["position"]) == ("interrupted", 3)  # batch 2 and its hooks finished
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    resumed = build(seed=99)  # other initial weights: the backup must bring them back
    history = fit_source(resumed, [BackupAndRestore(tmp_path / "b")], on_interrupt="backup")
    same_weights(reference, resumed)
    assert history.history == ref_history.history  # the History's state is in the backup too
    assert resumed.optimizer.iterations == reference.optimizer.iterations
    assert not (tmp_path / "b" / "backup.npz").exists()  # a completed fit deletes it, as Keras


def test_a_signal_ends_a_generator_fit_and_a_second_one_stops_at_once(tmp_path):
    x, y = data()

    def gen():
        while True:
            for i in range(5):
                yield x[i * 16:(i + 1) * 16], y[i * 16:(i + 1) * 16]

    stopper = SignalAt(0, 3)
    history = fit_source(build(), [stopper, BackupAndRestore(tmp_path / "g")], source=gen(),
                         steps_per_epoch=5, on_interrupt="backup")
    assert stopper.ended and not stopper.errors and history.epoch == []
    assert load_state(tmp_path / "g" / "backup.npz")["position"] == 4
    twice = SignalAt(0, 1, times=2)
    with pytest.raises(KeyboardInterrupt):
        fit_source(build(), [twice], source=gen(), steps_per_epoch=5, on_interrupt="backup")
    assert twice.errors == ["KeyboardInterrupt"] and not twice.ended


def test_on_exception_is_dispatched_over_batch_sources():
    model = build()
    for call in (lambda cbs: model.fit(Rows(), epochs=2, verbose=0, callbacks=cbs),
                 lambda cbs: model.evaluate(Rows(), verbose=0, callbacks=cbs),
                 lambda cbs: model.predict(Rows(), verbose=0, callbacks=cbs)):
        flush = Flush()
        with pytest.raises(ZeroDivisionError):
            call([BrokenFlush(), Fail(), flush])
        assert flush.seen and flush.seen[0][0] == "ZeroDivisionError"


class CountedBackup(BackupAndRestore):
    """Records the global batch (optimizer iterations) of each save_freq backup."""

    saves: list = []

    def _save(self, phase, position, logs):
        if phase == "batch":
            CountedBackup.saves.append(int(self.model.optimizer.iterations))
        super()._save(phase, position, logs)


class CountedCheckpoint(keras.callbacks.ModelCheckpoint):
    saves: list = []

    def _save_model(self, epoch, batch, logs):
        CountedCheckpoint.saves.append(int(self.model.optimizer.iterations))
        super()._save_model(epoch, batch, logs)


def test_save_freq_cadence_continues_across_an_interrupt_and_resume(tmp_path):
    """save_freq counts batches across the whole run: a run interrupted
    between two saves and resumed saves at the same global batches as the
    uninterrupted run (both the backup and a ModelCheckpoint, whose count
    travels in the backup with its other state)."""
    def callbacks(where):
        return [CountedCheckpoint(str(tmp_path / where / "w.weights.h5"), save_weights_only=True, save_freq=4),
                CountedBackup(tmp_path / where / "b", save_freq=3)]

    CountedBackup.saves, CountedCheckpoint.saves = [], []
    fit(build(), callbacks("ref"))  # 4 batches per epoch, 4 epochs
    expected = (list(CountedBackup.saves), list(CountedCheckpoint.saves))
    assert expected == ([3, 6, 9, 12, 15], [4, 8, 12, 16])
    CountedBackup.saves, CountedCheckpoint.saves = [], []
    stopper = SignalAt(1, 0)  # after global batch 5: two batches since the backup at 3
    history = fit(build(), [stopper] + callbacks("run"), on_interrupt="backup")
    assert stopper.ended and history.epoch == [0]
    fit(build(seed=99), callbacks("run"))
    assert (CountedBackup.saves, CountedCheckpoint.saves) == expected


class EveryOther(keras.callbacks.Callback):
    batch_every = 2  # scheduled: one native run per 2 batches

    def __init__(self):
        super().__init__()
        self.seen = []

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append((batch, dict(logs)))


def test_a_stop_inside_a_native_chunk_runs_the_hooks_due_for_the_batches_done(tmp_path):
    """The signal is handled in the native run's frame right after its last
    batch (as when it arrives while that batch runs): the run's end hook is
    still due and runs with that batch's exact logs, then the backup, then
    on_train_end. The signal's timing is simulated here (deterministically)
    by raising in the run's place; the subprocess tests send real signals."""
    from hookfit.trainers.graceful_interrupt import Interrupted

    reference = EveryOther()
    fit(build(), [reference])
    model = build()
    original = model._train_steps

    def train_steps(it, make_logs):
        steps = original(it, make_logs)
        many, runs = steps.many, []

        def cut_after_first_run(j, k, nonfinite):
            ran = many(j, k, nonfinite)
            runs.append(ran)
            if len(runs) == 1:
                model._interrupt_guard.requested = True
                it.step += ran  # what the run's own frame counts when the stop raises there
                stop = Interrupted()
                stop.ran = ran
                raise stop
            return ran

        steps.many = cut_after_first_run
        return steps

    model._train_steps = train_steps
    every_other, ended = EveryOther(), []
    history = fit(model, [every_other, BackupAndRestore(tmp_path / "b"),
                keras.callbacks.LambdaCallback(on_train_end=lambda logs: ended.append(logs))],
        on_interrupt="backup")
    # The run of batches 0-1 finished: batch 1's hook, with the full run's logs there.
    assert every_other.seen == reference.seen[:1] and every_other.seen[0][0] == 1
    assert ended and history.epoch == []
    state = load_state(tmp_path / "b" / "backup.npz")
    assert (state["phase"], state["position"]) == ("interrupted", 2)
