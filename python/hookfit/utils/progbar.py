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
    # Keras 2's rule; 'posix' is always loaded on Linux and macOS, so
    # carriage-return redraws are used even when stdout is a file.
    isatty = getattr(sys.stdout, "isatty", None)
    return bool(
        (isatty is not None and isatty())
        or "ipykernel" in sys.modules
        or "posix" in sys.modules
        or "PYCHARM_HOSTED" in os.environ
    )


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
    if isinstance(value, str):
        return f" {value}"
    if getattr(value, "ndim", 0) > 0 and getattr(value, "size", 1) > 1:
        value = value.mean()  # tf-keras shows a vector metric (several thresholds) by its mean
    try:
        v = float(value)
    except (TypeError, ValueError):
        return f" {value}"
    big = abs(v) > 1e-3 if use_abs else v > 1e-3
    return f" {v:.4f}" if big else f" {v:.4e}"


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

    def update(self, current, values=None, finalize=None):
        """Record progress ``current`` with ``values`` (pairs of key, value)."""
        if finalize is None:
            finalize = False if self.target is None else current >= self.target
        for key, value in values or ():
            if key not in self.stateful_metrics and not isinstance(value, str):
                weight = max(current - self._seen_so_far, 1)
                entry = self._values.get(key)
                if entry is None:
                    self._values[key] = [value * weight, weight]
                else:
                    entry[0] += value * weight
                    entry[1] += weight
            else:
                self._values[key] = [value, 1]
        self._seen_so_far = current

        now = time.time()
        if current == self.target:
            self._time_at_epoch_end = now
        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return
            self._draw_line(current, now, finalize)
        elif self.verbose == 2 and finalize:
            self._print_summary(current, now)
        self._last_update = now

    def add(self, n, values=None):
        self.update(self._seen_so_far + n, values)

    def _metrics_text(self, *, use_abs: bool) -> str:
        parts = []
        for key, (total, weight) in self._values.items():
            value = total if isinstance(total, str) else total / max(1, weight)
            parts.append(f" - {key}:" + _format_value(value, use_abs=use_abs))
        return "".join(parts)

    def _step_time(self, current, now) -> float:
        # The first step (often a warm-up) is left out once there are others.
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            per_step = (now - self._time_after_first_step) / (current - 1)
        else:
            per_step = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per_step

    def _counter(self, current, bar: bool) -> str:
        digits = int(math.log10(self.target)) + 1
        text = f"{current:>{digits}d}/{self.target}"
        if not bar:
            return text
        filled = int(self.width * current / self.target)
        text += " ["
        if filled > 0:
            text += "=" * (filled - 1) + (">" if current < self.target else "=")
        return text + "." * (self.width - filled) + "]"

    def _draw_line(self, current, now, finalize):
        previous_width = self._total_width
        prefix = ("\b" * previous_width + "\r") if self._dynamic else "\n"
        if self.target is not None:
            bar = self._counter(current, bar=True)
        else:
            bar = "%7d/Unknown" % current
        per_step = self._step_time(current, now)
        if self.target is None or finalize:
            info = f" - {now - self._start:.0f}s" + format_time(per_step, self.unit_name)
        else:
            info = " - ETA: " + format_eta(per_step * (self.target - current))
        info += self._metrics_text(use_abs=True)
        self._total_width = len(bar) + len(info)
        if previous_width > self._total_width:
            info += " " * (previous_width - self._total_width)
        if finalize:
            info += "\n"
        self._write(prefix + bar + info)

    def _print_summary(self, current, now):
        target = self.target if self.target is not None else current
        digits = int(math.log10(max(target, 1))) + 1
        line = f"{current:>{digits}d}/{target} - {now - self._start:.0f}s"
        line += self._metrics_text(use_abs=False)
        if self._time_at_epoch_end:
            epoch_time = self._time_at_epoch_end - self._time_at_epoch_start
            line += " -" + format_time(epoch_time, "epoch")
            line += " -" + format_time(epoch_time / target, self.unit_name)
            self._time_at_epoch_start = now
            self._time_at_epoch_end = None
            line += "\n"
        self._write(line)
