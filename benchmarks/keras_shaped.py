"""Workloads for anything with Keras's ``fit``/``evaluate``/``predict``.

hookfit, tf-keras and Keras 3 run the very same calls, built here; only the
``keras`` module passed in differs. Standard library only (peers import it).
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys

from timing import Workload


def _off_this_core():
    """In the drain process: leave the benchmark's pinned core to it (a
    terminal emulator runs elsewhere; sharing the core would charge every
    write with a context switch)."""
    if hasattr(os, "sched_getaffinity"):
        mine = os.sched_getaffinity(0)
        every = set(range(os.cpu_count() or 1))
        others = every - mine
        if others:
            os.sched_setaffinity(0, others)


def output_fd(kind: str) -> int:
    """A file descriptor writing into a terminal (``"pty"``) or a pipe,
    whose other end another process keeps draining, as a terminal emulator
    or ``| cat`` would (a thread of this process would compete for the GIL
    at every write and measure that instead); ``"null"``: ``/dev/null``."""
    if kind == "null":
        return os.open(os.devnull, os.O_WRONLY)
    if kind == "pty":
        reader, writer = os.openpty()
    else:
        reader, writer = os.pipe()
    # stderr dropped: reading a terminal whose writer closed ends in EIO,
    # which cat reports (the normal end of a pty, not a failure).
    drain = subprocess.Popen(["cat"], stdin=reader, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, preexec_fn=_off_this_core)
    os.close(reader)
    atexit.register(drain.kill)
    return writer


def on_stdout(fd: int, fn):
    """``fn`` run with the process's standard output (file descriptor 1)
    being ``fd``, as when the script runs in a terminal or ``| cat``:
    ``sys.stdout`` stays the process's own stream."""

    def run(scale):
        sys.stdout.flush()
        saved = os.dup(1)
        os.dup2(fd, 1)
        try:
            fn(scale)
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)

    return run


def build_model(keras, case, *, input_layer: bool = False):
    """The case's model, compiled. ``input_layer`` starts it with
    ``keras.Input`` instead of the tutorial's ``input_dim=`` (Keras 3 warns
    about ``input_dim``)."""
    model = keras.Sequential()
    first = {"input_dim": case.input_dim}
    if input_layer:
        model.add(keras.Input(shape=(case.input_dim,)))
        first = {}
    if case.model == "mlp":
        model.add(keras.layers.Dense(256, activation="relu", **first))
        model.add(keras.layers.Dense(128, activation="relu"))
        model.add(keras.layers.Dense(10))
        model.compile(
            optimizer=keras.optimizers.RMSprop(learning_rate=learning_rate(keras, case, 0.001)),
            loss="mean_squared_error",
        )
    else:
        model.add(keras.layers.Dense(1, **first))
        model.compile(
            optimizer=keras.optimizers.RMSprop(learning_rate=learning_rate(keras, case, 0.1)),
            loss="mean_squared_error",
            metrics=["mean_absolute_error"],
        )
    return model


def learning_rate(keras, case, rate):
    """``rate``, or the case's schedule starting from it."""
    if case.lr_schedule == "exponential_decay":
        return keras.optimizers.schedules.ExponentialDecay(rate, decay_steps=1000, decay_rate=0.96)
    if case.lr_schedule:
        raise ValueError(f"unknown lr_schedule {case.lr_schedule!r}")
    return rate


def callback_classes(base):
    """(a callback overriding all six batch hooks with ``pass``,
    a callback overriding none), subclassing the framework's ``Callback``."""

    class AllBatchHooks(base):
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

    class NoHooks(base):
        pass

    return AllBatchHooks, NoHooks


def make_callbacks(base, case) -> list:
    all_hooks, no_hooks = callback_classes(base)
    return [all_hooks() for _ in range(case.callbacks_all)] + [
        no_hooks() for _ in range(case.callbacks_none)
    ]


def workload(case, model, x, y, callbacks=None, keras_kwargs=True) -> Workload:
    """``fn(scale)``: per step, one ``fit(epochs=scale)`` or ``scale``
    evaluate/predict calls; per call, ``scale`` calls of one epoch.

    ``keras_kwargs=False`` leaves out ``verbose`` and ``callbacks`` (for the
    hand-written loops, which have neither).
    """
    kw = {"batch_size": case.batch}
    if keras_kwargs:
        kw.update(verbose=getattr(case, "verbose", 0), callbacks=list(callbacks or []))
    if case.kind == "fit" and case.validation_split:
        kw["validation_split"] = case.validation_split

    if case.kind == "fit" and case.per == "step":

        def fn(scale):
            model.fit(x, y, epochs=scale, **kw)

    elif case.kind == "fit":

        def fn(scale):
            for _ in range(scale):
                model.fit(x, y, epochs=1, **kw)

    elif case.kind == "evaluate":

        def fn(scale):
            for _ in range(scale):
                model.evaluate(x, y, **kw)

    else:

        def fn(scale):
            for _ in range(scale):
                model.predict(x, **kw)

    if getattr(case, "stdout", ""):
        fn = on_stdout(output_fd(case.stdout), fn)

    per_step = case.per == "step"
    return Workload(
        case.name, fn, case.steps if per_step else 1, "µs/step" if per_step else "µs/call",
        amortizes=per_step and case.kind == "fit",
    )
