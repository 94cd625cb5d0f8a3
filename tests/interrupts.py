"""Ctrl-C in the middle of a run, for the tests of what an interrupted run
leaves (the core's run calls, fit's loops)."""

from __future__ import annotations

import contextlib
import fcntl
import gc
import os
import signal


def _raise_keyboard_interrupt(*_):
    raise KeyboardInterrupt


@contextlib.contextmanager
def ctrl_c_after(seconds: float):
    """Raise KeyboardInterrupt in the main thread ``seconds`` after entering
    (as Ctrl-C does, through a signal); the alarm and the previous handler
    are restored on exit. The cyclic garbage collector is off meanwhile:
    CPython drops an exception raised while a gc callback or a weakref
    callback runs (hypothesis times collections; a class another test made
    dies in one, and WeakKeyDictionaries drop it), so a signal landing in
    one would never reach the code under test."""
    old = signal.signal(signal.SIGALRM, _raise_keyboard_interrupt)
    collecting = gc.isenabled()
    gc.disable()
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds)
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        if collecting:
            gc.enable()


def stopped_reader_pipe():
    """A pipe ``(r, w)`` whose buffer is full (its reader stopped reading, as
    a paused ``less``): a blocking write to ``w`` waits until ``r`` is read."""
    r, w = os.pipe()
    fcntl.fcntl(w, 1031, 4096)  # F_SETPIPE_SZ: a small pipe, quick to fill
    os.set_blocking(w, False)
    try:
        while True:
            os.write(w, b"x" * 4096)
    except BlockingIOError:
        pass
    os.set_blocking(w, True)
    return r, w
