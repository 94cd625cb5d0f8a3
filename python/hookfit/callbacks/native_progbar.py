"""When the core draws fit's progress bar itself, and that bar.

``fit(verbose=1)`` (Keras's default) and ``verbose=2`` add a
``ProgbarLogger``, whose hooks would make every epoch a round of Python
calls between two passes over the data. When fit runs its epochs back to
back (``Trainer._plain_epochs``), the core draws the same bar instead
(``_core.NativeProgbar``, csrc/hf_progbar.c): the same bytes, written
straight to standard output's file descriptor, at most ``interval`` (0.05
s, the bar's own redraw interval) after they were made.

Writing past ``sys.stdout`` is only right when ``sys.stdout`` is the
process's own standard output, so the core draws the bar only when:
it is ``sys.__stdout__`` with a file descriptor (not a notebook, not
``contextlib.redirect_stdout``, not pytest's capture), on a POSIX system (no
newline translation), its encoding writes ASCII as ASCII, the C locale's
decimal point is ``.`` (printf formats the numbers), the names shown are
ASCII and distinct, and the bar is a plain ``ProgbarLogger`` counting
steps with one step per execution. Otherwise the ``ProgbarLogger`` runs as
usual.
"""

from __future__ import annotations

import locale
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


def _stdout_fd():
    stream = sys.stdout
    if os.name != "posix" or stream is None or stream is not sys.__stdout__:
        return None
    try:
        fd = stream.fileno()
        if _ASCII_PROBE.encode(stream.encoding) != _ASCII_PROBE.encode("ascii"):
            return None
    except (AttributeError, OSError, ValueError, LookupError, TypeError, UnicodeError):
        return None
    if locale.localeconv()["decimal_point"] != ".":
        return None
    return fd


def open_bar(core, logger, names, with_validation: bool):
    """The core's bar for ``logger`` over a fit showing ``names`` (and
    their ``val_`` twins when ``with_validation``), or None when it cannot
    draw it here. Flushes ``sys.stdout`` first: what was printed before
    comes first."""
    keys = tuple(names) + (tuple("val_" + n for n in names) if with_validation else ())
    if len(set(keys)) != len(keys) or not all(k.isascii() and "\0" not in k for k in keys):
        return None
    fd = _stdout_fd()
    if fd is None:
        return None
    sys.stdout.flush()
    return core.NativeProgbar(fd, logger.verbose, logger.target, keys, len(names), logger.epochs,
                              dynamic=_dynamic_display())
