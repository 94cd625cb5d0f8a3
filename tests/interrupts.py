"""Ctrl-C in the middle of a run, for the tests of what an interrupted run
leaves (the core's run calls, fit's loops)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal


def _raise_keyboard_interrupt(*_):
    raise KeyboardInterrupt


@contextlib.contextmanager
def ctrl_c_after(seconds: float):
    """Raise KeyboardInterrupt in the main thread ``seconds`` after entering
    (as Ctrl-C does, through a signal); the alarm and the previous handler
    are restored on exit."""
    old = signal.signal(signal.SIGALRM, _raise_keyboard_interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds)
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


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
