"""fit's progress bar drawn by the core (``callbacks/native_progbar.py``):
when fit runs its epochs back to back and standard output is the process's
own, the core draws ``ProgbarLogger``'s bar; the text is the one the
Python bar writes (the bytes themselves: tests/core/test_progbar.py), the
training is the same, and everywhere else the ``ProgbarLogger`` runs.

These tests point ``sys.stdout`` back at ``sys.__stdout__`` (pytest replaces
it) and read file descriptor 1 with ``capfd``.
"""

from __future__ import annotations

import io
import locale
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import hookfit as keras
from hookfit.callbacks import native_progbar
from interrupts import ctrl_c_after


@pytest.fixture
def bars(monkeypatch):
    """The bars the core drew (one per fit that took the native bar)."""
    made = []
    original = native_progbar.open_bar

    def spy(*args, **kwargs):
        bar = original(*args, **kwargs)
        if bar is not None:
            made.append(bar)
        return bar

    monkeypatch.setattr(native_progbar, "open_bar", spy)
    return made


def real_stdout(monkeypatch):
    """sys.stdout the process's own again; called in the test (capfd sets
    its own when the test starts, after the fixtures)."""
    monkeypatch.setattr(sys, "stdout", sys.__stdout__)


def data():
    # Zero weights and a zero rate: the running loss and MAE are known by batch.
    x = np.zeros((40, 3), np.float32)
    y = np.repeat(np.array([1.0, 3.0, 2.0, 4.0], np.float32), 10)
    return x, y


def model(metrics=("mae",)):
    m = keras.Sequential([keras.layers.Dense(1, input_dim=3, kernel_initializer="zeros")])
    m.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="mse", metrics=list(metrics))
    return m


def lines(text):
    """The draws, times masked, without the redraws that only a 0.05 s gap
    between two batches makes (1 < current < target)."""
    out = []
    for part in re.split(r"[\r\n]", text.replace("\b", "")):
        part = part.rstrip(" ")
        m = re.match(r"\s*(\d+)/(\d+) \[", part)
        if not part or (m and 1 < int(m[1]) < int(m[2])):
            continue
        part = re.sub(r"\d+(ms|us|s)/(step|epoch)", r"T/\2", part)
        part = re.sub(r"ETA: [\d:]+s?", "ETA: E", part)
        out.append(re.sub(r" - \d+s\b", " - Ts", part))
    return out


def python_bar_output(**kwargs):
    """What the ProgbarLogger writes for the same fit (sys.stdout replaced)."""
    saved, sys.stdout = sys.stdout, io.StringIO()
    try:
        x, y = data()
        history = model().fit(x, y, batch_size=10, shuffle=False, **kwargs)
        return sys.stdout.getvalue(), history
    finally:
        sys.stdout = saved


CASES = [
    dict(epochs=3, verbose=1),
    dict(epochs=3, verbose=1, validation_split=0.25),
    dict(epochs=4, verbose=1, validation_data=(np.zeros((10, 3), np.float32), np.ones(10, np.float32)),
         validation_freq=2),
    dict(epochs=1, verbose=1),
    dict(epochs=5, verbose=1, initial_epoch=2),
    dict(epochs=3, verbose=2),
    dict(epochs=3, verbose=2, validation_split=0.25),
    dict(epochs=1, verbose=2),
]


@pytest.mark.parametrize("kwargs", CASES, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()
                                                             if a != "validation_data"))
def test_the_core_draws_what_the_progbarlogger_draws(kwargs, bars, capfd, monkeypatch):
    real_stdout(monkeypatch)
    expected, expected_history = python_bar_output(**kwargs)
    assert not bars  # (sys.stdout was not the process's: the ProgbarLogger drew)
    capfd.readouterr()
    print("before")
    x, y = data()
    history = model().fit(x, y, batch_size=10, shuffle=False, **kwargs)
    print("after")
    out = capfd.readouterr().out
    assert len(bars) == 1 and bars[0].pending_bytes == 0
    assert out.startswith("before\n") and out.endswith("after\n")
    drawn = out[len("before\n"):-len("after\n")]
    assert lines(drawn) == lines(expected) and lines(drawn)
    assert drawn.count("\n") == expected.count("\n")
    assert history.history == expected_history.history


def test_the_training_is_that_of_verbose_0(bars, capfd, monkeypatch):
    real_stdout(monkeypatch)
    rng = np.random.default_rng(3)
    x, y = rng.random((300, 5), dtype=np.float32), rng.random((300, 1), dtype=np.float32)

    def run(verbose):
        keras.utils.set_random_seed(5)
        m = keras.Sequential([keras.layers.Dense(4, activation="relu", input_dim=5),
                              keras.layers.Dropout(0.2), keras.layers.Dense(1)])
        m.compile(optimizer="adam", loss="mse", metrics=["mae"])
        h = m.fit(x, y, batch_size=32, epochs=4, verbose=verbose, validation_split=0.2)
        return m, h

    quiet, quiet_history = run(0)
    drawn, drawn_history = run(1)
    assert len(bars) == 1
    assert drawn_history.history == quiet_history.history
    for a, b in zip(quiet.get_weights(), drawn.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert int(drawn.optimizer.iterations) == int(quiet.optimizer.iterations) == 4 * 8
    out = capfd.readouterr().out
    assert out.count("Epoch ") == 4 and out.count("8/8 [") == 4


class EpochWatcher(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        pass


class Bar(keras.callbacks.ProgbarLogger):
    pass


@pytest.mark.parametrize("why, kwargs", [
    ("a callback with epoch hooks", dict(callbacks=[EpochWatcher()])),
    ("a ProgbarLogger subclass", dict(callbacks=[Bar(count_mode="steps")])),
    ("a bar counting samples", dict(callbacks=[keras.callbacks.ProgbarLogger(count_mode="samples")])),
    ("steps_per_execution", dict(steps_per_execution=2)),
    ("a metric named like a validation value", dict(metrics=("mae", "val_loss"))),
    ("a name that is not ASCII", dict(metrics=("mae", "entropía"))),
])
def test_the_progbarlogger_draws_when_the_core_cannot(why, kwargs, bars, capfd, monkeypatch):
    real_stdout(monkeypatch)
    x, y = data()
    metrics = kwargs.pop("metrics", ("mae",))
    spe = kwargs.pop("steps_per_execution", 1)
    m = keras.Sequential([keras.layers.Dense(1, input_dim=3, kernel_initializer="zeros")])
    if metrics[-1] == "entropía":
        metrics = ("mae", keras.metrics.MeanSquaredError(name="entropía"))
    elif metrics[-1] == "val_loss":
        metrics = ("mae", keras.metrics.MeanSquaredError(name="val_loss"))
    m.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse", metrics=list(metrics),
              steps_per_execution=spe)
    m.fit(x, y, batch_size=10, epochs=2, verbose=1, validation_split=0.25, **kwargs)
    out = capfd.readouterr().out
    assert not bars, why
    assert out.count("Epoch ") == 2 and out.count("3/3 [") == 2


@pytest.mark.parametrize("why, patch", [
    ("sys.stdout replaced", lambda mp: mp.setattr(sys, "stdout", io.StringIO())),
    ("an encoding that is not ASCII's", lambda mp: mp.setattr(
        sys, "stdout", io.TextIOWrapper(os.fdopen(os.dup(1), "wb"), encoding="utf-16"))),
    ("not POSIX", lambda mp: mp.setattr(native_progbar.os, "name", "nt")),
])
def test_no_native_bar_on_another_stream(why, patch, monkeypatch):
    monkeypatch.setattr(sys, "stdout", sys.__stdout__)
    assert native_progbar._stdout_fd() == 1
    patch(monkeypatch)
    if why.startswith("an encoding"):
        monkeypatch.setattr(sys, "__stdout__", sys.stdout)
    assert native_progbar._stdout_fd() is None, why


def test_a_broken_stdout_raises_as_the_python_bar_does(bars, capfd, monkeypatch):
    real_stdout(monkeypatch)
    r, w = os.pipe()
    os.close(r)
    saved = os.dup(1)
    os.dup2(w, 1)
    os.close(w)
    try:
        x, y = data()
        m = model()
        with pytest.raises(BrokenPipeError):
            m.fit(x, y, batch_size=10, epochs=3, verbose=1)
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    assert len(bars) == 1
    # Found at the bar's first write (kept up to 0.05 s): the epochs that ran are in History.
    assert m.history.epoch == list(range(len(m.history.epoch)))


@pytest.mark.parametrize("verbose", [1, 2])
def test_checkpoint_lines_follow_the_bar_text_made_before_them(verbose, bars, capfd, monkeypatch, tmp_path):
    # With verbose=2 a ModelCheckpoint saving every 3 batches lets the core
    # draw the bar (trainers/back_to_back.py); its "saving model" lines are
    # printed by Python, after the bar's kept text, as with the
    # ProgbarLogger. verbose=1 draws between batches, after the other
    # callbacks' batch hooks: the ProgbarLogger keeps that order.
    real_stdout(monkeypatch)
    x, y = data()
    outputs = []
    for extra in ([], [EpochWatcher()]):
        checkpoint = keras.callbacks.ModelCheckpoint(str(tmp_path / "w.npz"), save_weights_only=True,
                                                     save_freq=3, verbose=1)
        capfd.readouterr()
        model().fit(x, y, batch_size=10, epochs=3, verbose=verbose, shuffle=False,
                    callbacks=[checkpoint, *extra])
        outputs.append(capfd.readouterr().out)
    assert len(bars) == (1 if verbose == 2 else 0)
    drawn, python = (lines(o) for o in outputs)
    assert drawn == python and sum("saving model to" in line for line in drawn) == 4


def test_a_nan_stop_reads_as_with_the_progbarlogger(bars, capfd, monkeypatch, tmp_path):
    # TerminateOnNaN and a TensorBoard writing every 5 batches let the core
    # draw the bar (trainers/back_to_back.py). At the batch where the loss
    # went NaN the run stops, TerminateOnNaN prints, then the bar draws if
    # due (NativeProgbar.batch_end): the ProgbarLogger's order.
    real_stdout(monkeypatch)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 6)).astype(np.float32)
    y = (x @ rng.normal(size=(6,)) * 10).astype(np.float32)
    outputs = []
    for extra in ([], [EpochWatcher()]):
        keras.utils.set_random_seed(5)
        m = keras.Sequential([keras.layers.Dense(8, activation="relu", input_dim=6), keras.layers.Dense(1)])
        m.compile(optimizer=keras.optimizers.SGD(0.03), loss="mse", metrics=["mae"])
        capfd.readouterr()
        m.fit(x, y, batch_size=4, epochs=3, verbose=1, shuffle=False,
              callbacks=[keras.callbacks.TerminateOnNaN(),
                         keras.callbacks.TensorBoard(log_dir=str(tmp_path / str(len(outputs))), update_freq=5),
                         *extra])
        outputs.append(capfd.readouterr().out)
    assert len(bars) == 1
    drawn, python = (lines(o) for o in outputs)
    assert drawn == python and sum("Invalid loss, terminating training" in line for line in drawn) == 1


def test_ctrl_c_leaves_every_line_made_written(bars, capfd, monkeypatch):
    real_stdout(monkeypatch)
    rng = np.random.default_rng(0)
    x, y = rng.random((512, 8), dtype=np.float32), rng.random((512, 1), dtype=np.float32)
    m = keras.Sequential([keras.layers.Dense(1, input_dim=8)])
    m.compile(optimizer="sgd", loss="mse")
    capfd.readouterr()
    with pytest.raises(KeyboardInterrupt), ctrl_c_after(0.3):
        m.fit(x, y, batch_size=8, epochs=100000, verbose=1)
    out = capfd.readouterr().out
    assert len(bars) == 1 and bars[0].pending_bytes == 0
    done = len(m.history.epoch)
    assert done > 0 and out.count("\n64/64 [") + out.count("\r64/64 [") >= done
    # Each finished epoch: header, draws, final line; then what the interrupted one made.
    finals = [line for line in out.split("\n") if "64/64 [" in line]
    assert len(finals) in (done, done + 1)
    tail = out[out.rindex("64/64 [") :].split("\n", 1)[1]
    assert re.fullmatch(rf"(Epoch {len(finals) + 1}/100000\n)?(\r[^\n]*)?", tail, re.S), tail[:200]


def test_the_reference_core_draws_the_same():
    # HOOKFIT_IMPLEMENTATION=reference: the twin's bar, in a process of its own.
    script = (
        "import sys; sys.path.insert(0, {tests!r}); import test_native_progbar as t; "
        "x, y = t.data(); t.model().fit(x, y, batch_size=10, epochs=2, verbose=1, shuffle=False)"
    ).format(tests=os.path.dirname(__file__))
    env = dict(os.environ, HOOKFIT_IMPLEMENTATION="reference")
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(os.path.dirname(__file__)),
                                         env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    expected, _ = python_bar_output(epochs=2, verbose=1)
    assert lines(done.stdout) == lines(expected)


@pytest.mark.parametrize("call", ["evaluate", "predict"])
@pytest.mark.parametrize("verbose", [1, 2])
def test_evaluate_and_predict_bars_are_the_progbarloggers(call, verbose, bars, capfd, monkeypatch):
    x, y = data()
    m = model()
    args = (x, y) if call == "evaluate" else (x,)
    saved, sys.stdout = sys.stdout, io.StringIO()
    try:
        expected_result = getattr(m, call)(*args, batch_size=10, verbose=verbose)
        expected = sys.stdout.getvalue()
        expected_params = m.history.params
    finally:
        sys.stdout = saved
    assert not bars and expected
    real_stdout(monkeypatch)
    capfd.readouterr()
    result = getattr(m, call)(*args, batch_size=10, verbose=verbose)
    out = capfd.readouterr().out
    assert len(bars) == 1 and bars[0].pending_bytes == 0
    assert lines(out) == lines(expected) and out.count("\n") == expected.count("\n") == 1
    np.testing.assert_array_equal(np.asarray(result), np.asarray(expected_result))
    assert m.history.params == expected_params == {"verbose": verbose, "epochs": 1, "steps": 4}


def test_evaluate_with_a_callback_keeps_the_progbarlogger(bars, capfd, monkeypatch):
    real_stdout(monkeypatch)
    x, y = data()
    model().evaluate(x, y, batch_size=10, verbose=1, callbacks=[EpochWatcher()])
    assert not bars
    assert "4/4 [" in capfd.readouterr().out


def _comma_locale(tmp_path):
    """(environment, name) of a locale whose decimal point is a comma: an
    installed one, else one built with localedef into tmp_path; or None."""
    for name in ("de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8"):
        try:
            old = locale.setlocale(locale.LC_NUMERIC)
            locale.setlocale(locale.LC_NUMERIC, name)
            locale.setlocale(locale.LC_NUMERIC, old)
            return dict(os.environ), name
        except locale.Error:
            continue
    try:
        subprocess.run(["localedef", "-i", "de_DE", "-f", "UTF-8", str(tmp_path / "de_DE.UTF-8")],
                       capture_output=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return dict(os.environ, LOCPATH=str(tmp_path)), "de_DE.UTF-8"


def test_a_decimal_comma_locale_changes_nothing(tmp_path):
    # Python's numbers ignore LC_NUMERIC; the core's printf ("%.4e", huge
    # "%.4f") is put right. In a process of its own (the locale is global).
    found = _comma_locale(tmp_path)
    if found is None:
        pytest.skip("no locale with a decimal comma, and localedef could not make one")
    env, name = found
    script = (
        "import locale, os, sys\n"
        f"locale.setlocale(locale.LC_NUMERIC, {name!r})\n"
        "assert locale.localeconv()['decimal_point'] == ','\n"
        "from hookfit import _core\n"
        "bar = _core.NativeProgbar(1, 1, 2, ('loss', 'mae'), 2, 1)\n"
        "bar._start_at(1.0, 0)\n"
        "bar._update_at(1, 1.5, [1.25e-5, 2.5e15])\n"
        "bar._finish_at(3.0, [0.5, -3e-7])\n"
        "bar.flush()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    out = done.stdout.decode()
    assert " - loss: 1.2500e-05 - mae: 2500000000000000.0000" in out
    assert re.search(r" - loss: 0\.5000 - mae: -3\.0000e-07 *\n$", out) and "," not in out


def test_python_metrics_keep_the_progbarlogger(bars, capfd, monkeypatch):
    real_stdout(monkeypatch)
    x, y = data()
    m = keras.Sequential([keras.layers.Dense(1, input_dim=3, kernel_initializer="zeros")])

    def abs_error(y_true, y_pred):
        return abs(y_true - y_pred)

    m.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse", metrics=[abs_error])
    m.fit(x, y, batch_size=10, epochs=2, verbose=1)
    result = m.evaluate(x, y, batch_size=10, verbose=1)
    m.predict(x, batch_size=10, verbose=1)  # no metrics: the core draws this one
    out = capfd.readouterr().out
    assert len(bars) == 1 and " - abs_error: " in out and out.count("4/4 [") == 4
    assert result == pytest.approx([7.5, 2.5])


BLOCKED_FIT = r"""
import os, sys
sys.path.insert(0, {tests!r})
import numpy as np
import hookfit as keras
from interrupts import ctrl_c_after, stopped_reader_pipe

r, w = stopped_reader_pipe()
os.dup2(w, 1)  # standard output: a pipe whose reader stopped reading
x = np.zeros((64, 3), np.float32)
y = np.ones((64, 1), np.float32)
m = keras.Sequential([keras.layers.Dense(1, input_dim=3)])
m.compile(optimizer="sgd", loss="mse")
try:
    with ctrl_c_after(0.5):
        m.fit(x, y, batch_size=8, epochs=10**6, verbose=1)
except KeyboardInterrupt:
    print("interrupted", len(m.history.epoch) >= 0, file=sys.stderr, flush=True)
"""


def test_ctrl_c_ends_a_fit_whose_output_is_blocked():
    tests = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-c", BLOCKED_FIT.format(tests=tests)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "interrupted True" in done.stderr
