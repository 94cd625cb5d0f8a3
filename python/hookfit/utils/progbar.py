"""A text progress bar in Keras 2's exact format, with no dependencies.

verbose=1 redraws one line in place (``'\\b' * previous width`` then
``'\\r'``), at most every ``interval`` seconds except for the final draw::

     1/8 [==>...........................] - ETA: 0s - loss: 0.1234
    8/8 [==============================] - 0s 2ms/step - loss: 0.1234

verbose=2 prints one line when the target is reached::

    8/8 - 0s - loss: 0.1234 - 20ms/epoch - 2ms/step

Values of "stateful" keys are shown as given (the model's metrics are
already running means); other values are averaged over the steps since the
bar started, weighted by how many steps each update covered, as Keras does.
"""

from __future__ import annotations

import math
import os
import sys
import time


def _dynamic_display() -> bool:
    # Keras 2's rule, with its terms reordered so that the usual answer needs
    # no isatty() system call: 'posix' is always loaded on Linux and macOS,
    # so carriage-return redraws are used even when stdout is a file.
    if "posix" in sys.modules or "ipykernel" in sys.modules or "PYCHARM_HOSTED" in os.environ:
        return True
    isatty = getattr(sys.stdout, "isatty", None)
    return bool(isatty is not None and isatty())


def format_time(seconds: float, unit_name: str) -> str:
    """`` 2ms/step`` style: whole s, ms or us, as Keras 2 picks them."""
    if seconds >= 1 or seconds == 0:
        return f" {seconds:.0f}s/{unit_name}"
    if seconds >= 1e-3:
        return f" {seconds * 1e3:.0f}ms/{unit_name}"
    return f" {seconds * 1e6:.0f}us/{unit_name}"


def format_eta(seconds: float) -> str:
    if seconds > 3600:
        return "%d:%02d:%02d" % (seconds // 3600, (seconds % 3600) // 60, seconds % 60)
    if seconds > 60:
        return "%d:%02d" % (seconds // 60, seconds % 60)
    return "%ds" % seconds


def _format_value(value, *, use_abs: bool) -> str:
    if type(value) is float:  # noqa: E721 (the usual log value: no checks needed)
        v = value
    elif isinstance(value, str):
        return f" {value}"
    else:
        if getattr(value, "ndim", 0) > 0 and getattr(value, "size", 1) > 1:
            value = value.mean()  # tf-keras shows a vector metric (several thresholds) by its mean
        try:
            v = float(value)
        except (TypeError, ValueError):
            return f" {value}"
    big = abs(v) > 1e-3 if use_abs else v > 1e-3
    return f" {v:.4f}" if big else f" {v:.4e}"


# Counter and bar text (``" 3/8 [=====>....]"``) by (current, target, width):
# an epoch's bar takes few distinct values, the same every epoch.
_BAR_TEXTS: dict = {}


def _bar_text(current: int, target: int, width: int) -> str:
    key = (current, target, width)
    text = _BAR_TEXTS.get(key)
    if text is None:
        digits = int(math.log10(target)) + 1
        filled = int(width * current / target)
        text = f"{current:>{digits}d}/{target} ["
        if filled > 0:
            text += "=" * (filled - 1) + (">" if current < target else "=")
        text += "." * (width - filled) + "]"
        if type(current) is int and type(target) is int:  # noqa: E721 (1.0 == 1 would share a key)
            if len(_BAR_TEXTS) >= 4096:
                _BAR_TEXTS.clear()
            _BAR_TEXTS[key] = text
    return text


class Progbar:
    """Displays a progress bar.

    Args:
        target: total number of steps expected, ``None`` if unknown.
        width: bar width in characters.
        verbose: 1 (redrawn bar), 2 (one line at the end) or 0 (silent).
        interval: minimum seconds between two redraws (verbose=1).
        stateful_metrics: keys whose values are shown as given, not averaged.
        unit_name: what one step is called in ``.../step``.
        stream: where to write (default: ``sys.stdout`` at each write).
    """

    def __init__(
        self,
        target,
        width=30,
        verbose=1,
        interval=0.05,
        stateful_metrics=None,
        unit_name="step",
        stream=None,
    ):
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self.stateful_metrics = set(stateful_metrics or ())
        self._stream = stream
        self._dynamic = _dynamic_display()
        self._total_width = 0
        self._seen_so_far = 0
        self._values: dict = {}  # key -> [weighted sum, weight] or [value, 1]
        self._start = time.time()
        self._last_update = 0.0
        self._time_at_epoch_start = self._start
        self._time_at_epoch_end = None
        self._time_after_first_step = None

    def _write(self, text: str) -> None:
        stream = self._stream if self._stream is not None else sys.stdout
        stream.write(text)
        stream.flush()

    def update(self, current, values=None, finalize=None, now=None):
        """Record progress ``current`` with ``values`` (pairs of key, value);
        ``now``: the time of the update (default ``time.time()``)."""
        target = self.target
        if finalize is None:
            finalize = False if target is None else current >= target
        if values:
            stateful = self.stateful_metrics
            store = self._values
            weight = max(current - self._seen_so_far, 1)
            for key, value in values:
                if key in stateful or isinstance(value, str):
                    store[key] = [value, 1]
                else:
                    entry = store.get(key)
                    if entry is None:
                        store[key] = [value * weight, weight]
                    else:
                        entry[0] += value * weight
                        entry[1] += weight
        self._seen_so_far = current

        if now is None:
            now = time.time()
        if current == target:
            self._time_at_epoch_end = now
        verbose = self.verbose
        if verbose == 1:
            if not finalize and now - self._last_update < self.interval:
                return
            self._draw_line(current, now, finalize)
        elif verbose == 2 and finalize:
            self._print_summary(current, now)
        self._last_update = now

    def add(self, n, values=None):
        self.update(self._seen_so_far + n, values)

    def _metrics_text(self, *, use_abs: bool) -> str:
        text = ""
        for key, (total, weight) in self._values.items():
            value = total if isinstance(total, str) else total / max(1, weight)
            text += f" - {key}:" + _format_value(value, use_abs=use_abs)
        return text

    def _draw_line(self, current, now, finalize):
        # One write per draw: this runs between native runs of batches, with
        # cold caches, where every call costs.
        previous_width = self._total_width
        target = self.target
        if target is None:
            bar = "%7d/Unknown" % current
        else:
            bar = _BAR_TEXTS.get((current, target, self.width)) or _bar_text(current, target, self.width)
        # Seconds per step; the first (often a warm-up) is left out once there are others.
        first_done = self._time_after_first_step
        if not current:
            per_step = 0.0
        elif current > 1 and first_done is not None:
            per_step = (now - first_done) / (current - 1)
        else:
            per_step = (now - self._start) / current
            if current == 1:
                self._time_after_first_step = now
        if target is None or finalize:
            info = f" - {now - self._start:.0f}s" + format_time(per_step, self.unit_name)
        else:
            info = " - ETA: " + format_eta(per_step * (target - current))
        if self._values:
            info += self._metrics_text(use_abs=True)
        width = len(bar) + len(info)
        self._total_width = width
        # Erase, redraw, pad over the old text, end the line when final.
        line = ("\b" * previous_width + "\r" if self._dynamic else "\n") + bar + info
        if previous_width > width:
            line += " " * (previous_width - width)
        if finalize:
            line += "\n"
        self._write(line)

    def _print_summary(self, current, now):
        target = self.target if self.target is not None else current
        digits = int(math.log10(max(target, 1))) + 1
        line = f"{current:>{digits}d}/{target} - {now - self._start:.0f}s"
        if self._values:
            line += self._metrics_text(use_abs=False)
        if self._time_at_epoch_end:
            epoch_time = self._time_at_epoch_end - self._time_at_epoch_start
            line += (" -" + format_time(epoch_time, "epoch")
                     + " -" + format_time(epoch_time / target, self.unit_name) + "\n")
            self._time_at_epoch_start = now
            self._time_at_epoch_end = None
        self._write(line)
