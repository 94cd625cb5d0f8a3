"""``fit(..., on_interrupt="backup")``: Ctrl-C or SIGTERM ends the fit cleanly.

The first SIGINT/SIGTERM asks for a stop at the next batch boundary: the
running batch finishes (the native run checks for signals between batches
and returns with its position exact), every ``BackupAndRestore`` writes a
backup of that point, ``on_train_end`` runs, and ``fit`` returns the History
of the epochs that completed. Resuming with the same BackupAndRestore
continues from that batch. A second signal raises ``KeyboardInterrupt`` at
once, wherever the fit is. The handlers are installed for the fit only (in
the main thread) and the previous ones are put back.

Why the stop waits for a batch boundary: raising inside a callback's hook or
inside the epoch's end work would leave a half-done step (History with a
partial epoch, a callback that saw half a hook). So the handler raises only
when the signal arrives inside a native run of batches; otherwise it marks
the request, and the next run of batches raises before it starts.
"""

from __future__ import annotations

import signal
import threading

MODES = (None, "backup")


class Interrupted(BaseException):
    """Raised at a batch boundary when a graceful stop was asked for.
    ``ran``: the batches the interrupted native run had finished."""

    ran = 0


def check_mode(on_interrupt):
    if on_interrupt not in MODES:
        raise ValueError(
            f"on_interrupt must be None (Keras's behaviour: Ctrl-C raises KeyboardInterrupt) "
            f"or 'backup' (finish the batch, write the backup, return); got {on_interrupt!r}"
        )
    if on_interrupt is not None and threading.current_thread() is not threading.main_thread():
        raise ValueError(
            "on_interrupt='backup' needs fit to run in the main thread (signal handlers can "
            "only be installed there); call fit from the main thread or use on_interrupt=None."
        )
    return on_interrupt


class GracefulInterrupt:
    """Context manager installing the handlers; ``guard(fn)`` wraps the
    callables that start native runs of batches (the safe points)."""

    SIGNALS = tuple(s for s in (signal.SIGINT, getattr(signal, "SIGTERM", None)) if s is not None)

    def __init__(self):
        self.requested = False
        self._safe_codes: set = set()
        self._previous: dict = {}

    def __enter__(self):
        for sig in self.SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        self._restore()
        return False

    def _restore(self):
        previous, self._previous = self._previous, {}
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum, frame):
        if self.requested:  # the second signal: stop at once
            self._restore()
            raise KeyboardInterrupt
        self.requested = True
        if frame is not None and frame.f_code in self._safe_codes:
            raise Interrupted  # inside a native run: it returns after the running batch

    def guard(self, fn, inside=True):
        """``fn`` starts a native run: raise before it if a stop is pending,
        and (``inside``: a run that checks for signals between its batches
        and keeps its position exact when one raises) let the handler raise
        inside it."""
        if inside:
            self._safe_codes.add(fn.__code__)

        def guarded(*args):
            if self.requested:
                raise Interrupted
            return fn(*args)

        return guarded
