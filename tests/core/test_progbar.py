"""NativeProgbar: the progress bar the core draws (csrc/hf_progbar.c) against
its twin (``_reference.NativeProgbar``, which draws with
``hookfit.utils.progbar.Progbar``, the bar of Keras 2's format), byte for
byte, with explicit times; its output rule, its errors, and the bar inside
``Network.train_batches``."""

from __future__ import annotations

import errno
import math
import os
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hookfit import _core as core
from hookfit import _reference as reference
from hookfit.utils.progbar import Progbar

KEYS = ("loss", "mae", "val_loss", "val_mae")
IMPLS = pytest.mark.parametrize("impl", [core, reference], ids=["core", "twin"])


def run_script(impl, ops, **kwargs):
    """The bytes a bar writes to a pipe for ``ops`` (method name, args...)."""
    r, w = os.pipe()
    try:
        bar = impl.NativeProgbar(w, **kwargs)
        for name, *args in ops:
            getattr(bar, name)(*args)
        bar.flush()
    finally:
        os.close(w)
    chunks = []
    while chunk := os.read(r, 1 << 16):
        chunks.append(chunk)
    os.close(r)
    return b"".join(chunks)


def args(verbose=1, target=8, keys=KEYS, n_train=2, epochs=3, **more):
    return dict(verbose=verbose, target=target, keys=keys, n_train=n_train, epochs=epochs, **more)


# Values at every formatting rule: "%.4f" above 1e-3 (in absolute value for
# verbose 1), "%.4e" below, NaN and infinities as Python prints them.
VALUES = [0.5, 1e-3, 1.0000001e-3, -2e-4, -0.5, 0.0, -0.0, 1e-300, 1e300, -1e300,
          float("nan"), -float("nan"), float("inf"), -float("inf"), 123456.789, 5e-324,
          # exact ties at the 4th decimal (half to even), and the edges of the by-hand path
          1.03125, 0.03125, 0.09375, -0.09375, 2.00005, 0.99995, 9.99995, 1e14 - 0.5, 1e14,
          99999999999999.98, 2.0**46 + 0.5, 2.0**-20, 1234.5678125]


@pytest.mark.parametrize("verbose", [1, 2])
@pytest.mark.parametrize("dynamic", [True, False])
@pytest.mark.parametrize("value", VALUES)
def test_value_formats_equal_the_twin(verbose, dynamic, value):
    ops = [("_start_at", 100.0, 0), ("_update_at", 1, 100.001, [value, -value]),
           ("_finish_at", 100.5, [value, value], [-value, 0.25])]
    kw = args(verbose, dynamic=dynamic)
    assert run_script(core, ops, **kw) == run_script(reference, ops, **kw)


# Elapsed times at each unit (s, ms, us; 0) and ETAs at each form (3s, 2:03, 1:02:03).
@pytest.mark.parametrize("first, last", [
    (0.0, 0.0), (1e-7, 2e-6), (0.0004, 0.003), (0.02, 0.9), (1.5, 7.0), (59.9, 61.0),
    (70.0, 3599.0), (3601.0, 7300.5), (86400.0 * 3, 86400.0 * 9), (-0.4, -0.2),
])
@pytest.mark.parametrize("target", [1, 2, 9, 10, 1000, 123456789])
def test_times_and_etas_equal_the_twin(first, last, target):
    for verbose in (1, 2):
        ops = [("_start_at", 1e9, 4), ("_update_at", 1, 1e9 + first, [1.0, 2.0])]
        if target > 2:
            ops.append(("_update_at", 2, 1e9 + first * 2, [1.0, 2.0]))
        ops.append(("_finish_at", 1e9 + last, [3.0, 4.0], [5.0, 6.0]))
        kw = args(verbose, target=target)
        assert run_script(core, ops, **kw) == run_script(reference, ops, **kw)


@settings(max_examples=500, deadline=None)
@given(value=st.one_of(st.floats(width=64), st.floats(-1e15, 1e15),
                       st.integers(-10**9, 10**9).map(lambda k: k / 2**13)))
def test_any_value_prints_as_python_prints_it(value):
    ops = [("_start_at", 1.0, 0), ("_update_at", 1, 1.001, [value, value])]
    out = run_script(core, ops, **args(1, target=2, keys=("loss", "mae"), epochs=1))
    assert out == run_script(reference, ops, **args(1, target=2, keys=("loss", "mae"), epochs=1))
    shown = f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"
    assert out.endswith(f" - mae: {shown}".encode())


@settings(max_examples=150, deadline=None)
@given(
    verbose=st.sampled_from([1, 2]),
    target=st.integers(1, 500),
    width=st.integers(0, 40),
    epochs=st.integers(1, 12),
    steps=st.lists(st.tuples(st.floats(0, 0.2), st.integers(1, 500),
                             st.floats(allow_nan=True, allow_infinity=True, width=64)), max_size=12),
    validate=st.booleans(),
)
def test_scripted_bars_equal_the_twin(verbose, target, width, epochs, steps, validate):
    now, ops = 5000.0, [("_start_at", 5000.0, 0)]
    for dt, current, value in steps:  # updates at any step, due or not, with any value
        now += dt
        ops.append(("_update_at", min(current, target), now, [value, abs(value)]))
    ops.append(("_finish_at", now + 0.01, [1.5, 2.5], [3.5, 4.5] if validate else None))
    ops.append(("_start_at", now + 0.02, 1))
    ops.append(("_finish_at", now + 0.03, [0.5, 0.25], None))
    kw = args(verbose, target=target, width=width, epochs=epochs)
    assert run_script(core, ops, **kw) == run_script(reference, ops, **kw)


def test_the_lines_are_those_of_keras_bar():
    # What ProgbarLogger's Progbar writes for the same epoch, updated by hand.
    ops = [("_start_at", 10.0, 1), ("_update_at", 1, 10.01, [0.5, 0.25]),
           ("_update_at", 2, 10.02, [0.4, 0.2]),  # not due: not drawn
           ("_finish_at", 10.3, [0.3, 0.125], [0.2, 0.1])]
    native = run_script(core, ops, **args(1, target=4))

    class Text:
        text = ""

        def write(self, s):
            Text.text += s

        def flush(self):
            pass

    bar = Progbar(4, stateful_metrics=KEYS, stream=Text())
    bar._dynamic = True
    bar._start = 10.0
    bar.update(1, [("loss", 0.5), ("mae", 0.25)], now=10.01)
    bar.update(2, [("loss", 0.4), ("mae", 0.2)], now=10.02)
    bar.update(4, list(zip(KEYS, [0.3, 0.125, 0.2, 0.1])), finalize=True, now=10.3)
    assert native == ("Epoch 2/3\n" + Text.text).encode()
    assert native == (
        b"Epoch 2/3\n\r1/4 [======>.......................] - ETA: 0s - loss: 0.5000 - mae: 0.2500"
        + b"\b" * 75
        + b"\r4/4 [==============================] - 0s 97ms/step - loss: 0.3000 - mae: 0.1250"
        b" - val_loss: 0.2000 - val_mae: 0.1000\n"
    )


@IMPLS
def test_no_header_for_one_epoch(impl):
    ops = [("_start_at", 1.0, 0), ("_finish_at", 1.5, [1.0, 2.0], None)]
    out = run_script(impl, ops, **args(2, epochs=1))
    assert out == b"8/8 - 0s - loss: 1.0000 - mae: 2.0000 - 500ms/epoch - 62ms/step\n"


# -- the output rule: kept until it has waited `interval`, then one write ------------------------


@pytest.fixture
def pipe():
    """(r, w): a pipe whose reads never wait (nothing written: BlockingIOError)."""
    r, w = os.pipe()
    os.set_blocking(r, False)
    yield r, w
    os.close(r)
    os.close(w)


def _bar_after_its_first_draw(impl, w):
    """A bar (0.05 s interval) on ``w`` whose first epoch began at t=100 s
    and drew its first batch 10 ms later."""
    bar = impl.NativeProgbar(w, **args(1, interval=0.05))
    bar._start_at(100.0, 0)
    bar._update_at(1, 100.01, [1.0, 2.0])
    return bar


@IMPLS
def test_text_waits_one_interval_then_goes_in_one_write(impl, pipe):
    r, w = pipe
    bar = _bar_after_its_first_draw(impl, w)
    kept = bar.pending_bytes
    assert kept > 0
    with pytest.raises(BlockingIOError):
        os.read(r, 1 << 16)  # nothing written yet
    bar._finish_at(100.06, [1.0, 2.0])  # the header has waited 0.06 s: all goes out
    assert bar.pending_bytes == 0
    out = os.read(r, 1 << 16)
    assert out.startswith(b"Epoch 1/3\n\r1/8 [") and out.endswith(b"mae: 2.0000\n")
    bar._start_at(100.07, 1)
    assert bar.pending_bytes == len(b"Epoch 2/3\n")
    bar.flush()
    assert os.read(r, 1 << 16) == b"Epoch 2/3\n" and bar.pending_bytes == 0


@IMPLS
def test_slow_batches_and_long_runs_write_at_once(impl, pipe):
    r, w = pipe
    bar = _bar_after_its_first_draw(impl, w)
    # Fast batches (10 ms): the text waits.
    bar._run_at(100.0, [100.01, 100.02, 100.03], 100.03)
    assert bar.pending_bytes > 0
    # A run that took 0.05 s writes it all at its end (a validation may follow).
    bar._run_at(100.03, [100.04, 100.05, 100.06, 100.07], 100.08)
    assert bar.pending_bytes == 0
    # A batch of 60 ms: whatever is made is written at that batch's end...
    bar._finish_at(100.09, [1.0, 2.0])
    assert bar.pending_bytes > 0  # (no batch yet: the last gap was 10 ms)
    bar._start_at(100.1, 1)
    bar._run_at(100.1, [100.16], 100.16)
    assert bar.pending_bytes == 0
    # ...and, the gap being that long, at the epoch's end too.
    bar._finish_at(100.17, [1.0, 2.0])
    assert bar.pending_bytes == 0
    out = os.read(r, 1 << 16)
    assert out.startswith(b"Epoch 1/3\n\r1/8 [") and b"\nEpoch 2/3\n" in out
    assert out.count(b"\n") == 4 and out.endswith(b"mae: 2.0000\n")


@IMPLS
def test_a_small_buffer_writes_when_full(impl):
    ops = [("_start_at", 1.0, 0), ("_update_at", 1, 1.001, [1.0, 2.0]),
           ("_finish_at", 1.002, [1.0, 2.0], [3.0, 4.0])]
    small = run_script(impl, ops, **args(1, out_bytes=16))
    assert small == run_script(impl, ops, **args(1))


@IMPLS
def test_a_failed_write_raises_its_errno_and_writes_nothing_more(impl):
    r, w = os.pipe()
    os.close(r)  # nobody reads: EPIPE (Python ignores SIGPIPE)
    try:
        bar = impl.NativeProgbar(w, **args(1, interval=0.0))
        with pytest.raises(BrokenPipeError, match="progress bar"):
            bar._start_at(1.0, 0)
        with pytest.raises(OSError) as again:
            bar._finish_at(2.0, [1.0, 2.0])
        assert again.value.errno == errno.EPIPE
        assert bar.pending_bytes == 0
    finally:
        os.close(w)


@IMPLS
@pytest.mark.parametrize("bad, match", [
    (dict(verbose=0), "verbose"), (dict(verbose=3), "verbose"), (dict(target=0), "target"),
    (dict(keys=("loss", "ü")), "ASCII"), (dict(keys=("lo\0ss", "mae")), "ASCII"),
    (dict(n_train=-1), "n_train"), (dict(n_train=5), "n_train"), (dict(epochs=0), "epochs"),
    (dict(width=-1), "width"), (dict(width=10**6 + 1), "width"), (dict(interval=float("nan")), "interval"), (dict(out_bytes=0), "out_bytes"),
])
def test_bad_arguments_are_refused(impl, bad, match):
    kw = {**args(1), **bad}
    with pytest.raises(ValueError, match=match):
        impl.NativeProgbar(1, **kw)


@IMPLS
def test_a_bad_fd_is_refused(impl):
    with pytest.raises(ValueError, match="fd"):
        impl.NativeProgbar(-1, **args(1))


@IMPLS
def test_finish_needs_the_values_of_its_keys(impl):
    bar = impl.NativeProgbar(1, **args(1))
    with pytest.raises(ValueError, match="2 train values and 2 validation"):
        bar._finish_at(1.0, [1.0], None)
    with pytest.raises(ValueError, match="2 train values and 2 validation"):
        bar._finish_at(1.0, [1.0, 2.0], [3.0])
    assert bar.pending_bytes == 0


# -- inside Network.train_batches ----------------------------------------------------------------


def network(impl, seed=0):
    net = impl.Network(6, [1], [impl.ACT_LINEAR], [True])
    net.configure(impl.LOSS_MSE, [impl.METRIC_MAE], impl.OPT_RMSPROP)
    kernel, _ = net.layer_weights(0)
    kernel[...] = np.random.default_rng(seed).uniform(-0.5, 0.5, kernel.shape)
    return net


def data(impl, rows=40):
    rng = np.random.default_rng(1)
    return impl.Dataset(rng.random((rows, 6), dtype=np.float32), rng.random((rows, 1), dtype=np.float32))


@IMPLS
def test_a_bar_changes_no_number_and_draws_the_first_batch(impl):
    plain, drawn = network(impl), network(impl)
    d = data(impl)
    plain.train_batches(d, 0, 40, 8, 0.01)
    r, w = os.pipe()
    try:
        bar = impl.NativeProgbar(w, **args(1, target=5, keys=("loss", "mae"), epochs=1))
        bar.start(0)
        assert drawn.train_batches(d, 0, 40, 8, 0.01, bar=bar) == 5
        bar.finish(drawn.metric_results())
        bar.flush()
    finally:
        os.close(w)
    out = os.read(r, 1 << 16).decode()
    os.close(r)
    np.testing.assert_array_equal(plain.layer_weights(0)[0], drawn.layer_weights(0)[0])
    assert plain.metric_results() == drawn.metric_results()
    assert out.startswith("\r1/5 [=====>........................] - ETA: ")
    first_loss = out.split(" - loss: ")[1].split(" ")[0]
    one = network(impl)
    one.train_batch(d, 0, 8, 0.01)
    assert first_loss == f"{one.metric_results()[0]:.4f}"
    assert out.endswith(f"mae: {drawn.metric_results()[1]:.4f}\n")


@IMPLS
def test_a_bar_for_other_values_is_refused_before_any_step(impl):
    net, d = network(impl), data(impl)
    bar = impl.NativeProgbar(1, **args(1, keys=("loss",), n_train=1))
    with pytest.raises(ValueError, match="shows 1 values"):
        net.train_batches(d, 0, 40, 8, 0.01, bar=bar)
    with pytest.raises(ValueError, match="shows 1 values"):
        net.test_batches(d, 0, 40, 8, bar=bar)
    out = np.zeros((40, 1), np.float32)
    with pytest.raises(ValueError, match="shows 1 values"):
        net.predict_batches(d, 0, 40, 8, out, bar=bar)
    assert net.iterations == 0 and net.metric_results() == [0.0, 0.0] and not out.any()


def read_bar(impl, run, keys, target=5):
    """What ``run(bar)`` makes a one-bar run draw."""
    r, w = os.pipe()
    try:
        bar = impl.NativeProgbar(w, **args(1, target=target, keys=keys, n_train=len(keys), epochs=1))
        bar.start(0)
        run(bar)
        bar.flush()
    finally:
        os.close(w)
    text = os.read(r, 1 << 16).decode()
    os.close(r)
    return text


@IMPLS
def test_test_and_predict_runs_draw_their_bars(impl):
    net, d = network(impl), data(impl)
    net.train_batches(d, 0, 40, 8, 0.01)
    net.reset_metrics()
    tested = read_bar(impl, lambda bar: (net.test_batches(d, 0, 40, 8, bar=bar),
                                         bar.finish(net.metric_results())), ("loss", "mae"))
    final = net.metric_results()
    net.reset_metrics()
    net.test_batch(d, 0, 8)
    first = net.metric_results()
    first_draw = tested.split("\b")[0]
    assert first_draw.startswith("\r1/5 [=====>........................] - ETA: ")
    assert first_draw.endswith(f" - loss: {first[0]:.4f} - mae: {first[1]:.4f}")
    assert tested.endswith(f" - loss: {final[0]:.4f} - mae: {final[1]:.4f}\n")
    out, plain = np.zeros((40, 1), np.float32), np.zeros((40, 1), np.float32)
    net.predict_batches(d, 0, 40, 8, plain)
    predicted = read_bar(impl, lambda bar: (net.predict_batches(d, 0, 40, 8, out, bar=bar),
                                            bar.finish([])), ())
    np.testing.assert_array_equal(out, plain)
    assert predicted.startswith("\r1/5 [=====>........................] - ETA: ")
    assert re.search(r"\r5/5 \[=+\] - \d+s \d+(us|ms|s)/step *\n$", predicted)


@IMPLS
def test_a_failed_write_stops_the_run_after_that_batch(impl):
    net, d = network(impl), data(impl)
    r, w = os.pipe()
    os.close(r)
    try:
        bar = impl.NativeProgbar(w, **args(1, target=5, keys=("loss", "mae"), epochs=1, interval=0.0))
        with pytest.raises(BrokenPipeError):
            net.train_batches(d, 0, 40, 8, 0.01, bar=bar)
    finally:
        os.close(w)
    assert net.iterations == 1 and net.last_run_batches == 1


def test_digits_rule_is_the_twins():
    # The counter's width: Keras's int(log10(target)) + 1.
    for target in (1, 9, 10, 99, 100, 10**6 - 1, 10**6):
        ops = [("_start_at", 1.0, 0), ("_update_at", 1, 1.5, [1.0])]
        kw = args(1, target=target, keys=("loss",), n_train=1, epochs=1)
        out = run_script(core, ops, **kw)
        assert out.startswith(b"\r" + b" " * (int(math.log10(target)) + 1 - 1) + b"1/")
        assert out == run_script(reference, ops, **kw)


BLOCKED_WRITE = r"""
import os, sys
sys.path.insert(0, {tests!r})
from interrupts import ctrl_c_after, stopped_reader_pipe
from hookfit import {impl} as impl

r, w = stopped_reader_pipe()
bar = impl.NativeProgbar(w, 1, 8, ("loss", "mae"), 2, 3)
bar._start_at(1.0, 0)
bar._update_at(1, 1.01, [1.0, 2.0])
kept = bar.pending_bytes
try:
    with ctrl_c_after(0.3):
        bar.flush()
except KeyboardInterrupt:
    print("interrupted", bar.pending_bytes == kept, flush=True)
os.set_blocking(r, False)
out = b""
def drain():
    global out
    try:
        while True:
            out += os.read(r, 1 << 16)
    except BlockingIOError:
        pass
drain()
bar.flush()  # the reader reads again: the rest goes out
drain()
print("written", out.lstrip(b"x").startswith(b"Epoch 1/3\n\r1/8 ["), flush=True)
"""


@pytest.mark.parametrize("impl", ["_core", "_reference"])
def test_ctrl_c_ends_a_write_that_a_stopped_reader_blocks(impl):
    # A paused `less`: the write blocks; Ctrl-C must still interrupt it, and
    # the text is kept for when the reader reads again. In a process of its
    # own, with a timeout, so that a regression cannot hang the suite.
    import subprocess
    import sys

    tests = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-c", BLOCKED_WRITE.format(tests=tests, impl=impl)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["interrupted True", "written True"]
