"""When the core draws fit's progress bar itself, and that bar.

``fit(verbose=1)`` (Keras's default) and ``verbose=2`` add a
``ProgbarLogger``, whose hooks would make every epoch a round of Python
calls between two passes over the data. When fit runs its epochs back to
back (``Trainer._plain_epochs``), and when an ``evaluate`` or ``predict``
with a bar has no callback, the core draws the same bar instead
(``_core.NativeProgbar``, csrc/hf_progbar.c): the same bytes, written
straight to standard output's file descriptor, at most ``interval`` (0.05
s, the bar's own redraw interval) after they were made.

Writing past ``sys.stdout`` is only right when ``sys.stdout`` is the
process's own standard output, so the core draws the bar only when:
it is ``sys.__stdout__`` with a file descriptor (not a notebook, not
``contextlib.redirect_stdout``, not pytest's capture), on a POSIX system (no
newline translation), its encoding writes ASCII as ASCII, the names shown
are ASCII and distinct, and (in fit) the bar is a plain ``ProgbarLogger``
counting steps with one step per execution. Otherwise the
``ProgbarLogger`` runs as usual.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys

from hookfit.callbacks.progbar_logger import ProgbarLogger
from hookfit.utils.progbar import _dynamic_display

# Every character of a bar line that is not a name or a digit.
_ASCII_PROBE = "\b\r\n -=>.[]/:Epoch ETAsmuntep0123456789+e"


def drawable(logger, steps_per_execution: int):
    """``logger`` if the core can draw its bar (given the stream checks
    of ``open_bar``), else None."""
    if (type(logger) is ProgbarLogger and logger.use_steps and logger.verbose in (1, 2)
            and steps_per_execution == 1 and isinstance(logger.target, int) and logger.target >= 1
            and isinstance(logger.epochs, int) and logger.epochs >= 1):
        return logger
    return None


@functools.lru_cache(maxsize=16)
def _writes_ascii_as_ascii(encoding) -> bool:
    try:
        return _ASCII_PROBE.encode(encoding) == _ASCII_PROBE.encode("ascii")
    except (LookupError, TypeError, UnicodeError):
        return False


def _stdout_fd():
    stream = sys.stdout
    if os.name != "posix" or stream is None or stream is not sys.__stdout__:
        return None
    try:
        fd = stream.fileno()
        encoding = stream.encoding
    except (AttributeError, OSError, ValueError):
        return None
    return fd if _writes_ascii_as_ascii(encoding) else None


def fit_keys(names, with_validation: bool) -> tuple:
    """What fit's bar shows: the loss and metrics, then their ``val_`` twins."""
    return tuple(names) + (tuple("val_" + n for n in names) if with_validation else ())


def open_bar(core, *, verbose: int, target: int, epochs: int, keys, n_train: int):
    """The core's bar (``verbose`` 1 or 2, ``target`` steps a bar, the
    ``Epoch k/N`` header when ``epochs`` > 1, ``keys`` shown, the first
    ``n_train`` a run's values), or None when it cannot draw it here.
    Flushes ``sys.stdout`` first: what was printed before comes first."""
    keys = tuple(keys)
    if verbose not in (1, 2) or target < 1 or len(set(keys)) != len(keys):
        return None
    if not all(k.isascii() and "\0" not in k for k in keys):
        return None
    fd = _stdout_fd()
    if fd is None:
        return None
    sys.stdout.flush()
    return core.NativeProgbar(fd, verbose, target, keys, n_train, epochs, dynamic=_dynamic_display())


class flushed:
    """``with flushed(bar):`` writes what ``bar`` (or None) keeps when the
    block ends. When the block raises, that error goes on (a failed write
    is not raised over it). A class, not a generator: three calls."""

    __slots__ = ("bar",)

    def __init__(self, bar):
        self.bar = bar

    def __enter__(self):
        return self.bar

    def __exit__(self, kind, error, trace):
        if self.bar is not None:
            if kind is None:
                self.bar.flush()
            else:
                with contextlib.suppress(OSError):
                    self.bar.flush(after_error=True)
        return False
