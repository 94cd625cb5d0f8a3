"""``MonitorCallback``: the ``monitor``/``mode``/``min_delta`` logic shared by
EarlyStopping, ReduceLROnPlateau and ModelCheckpoint.

Each keeps tf-keras 2.21's own rules, which differ slightly: what ``"auto"``
means (``_auto_is_max``) and the warning text for a missing key, which, as
in tf-keras, is logged at every epoch the key is missing.
"""

from __future__ import annotations

import logging

import numpy as np

from hookfit.callbacks.callback import Callback

logger = logging.getLogger("hookfit")


class MonitorCallback(Callback):
    """Base of callbacks that watch one logs key for improvement.

    Subclasses call ``_set_monitor(monitor, mode, min_delta)`` in their
    ``__init__`` and may override ``_auto_is_max`` and ``_missing_message``.
    """

    #: warnings, ``str.format`` templates (tf-keras's texts per callback)
    _missing_message = (
        "{name} is conditioned on metric `{monitor}` which is not available. "
        "Available metrics are: {available}"
    )
    _unknown_mode_message = "{name} mode {mode} is unknown, fallback to auto mode."
    #: True: ``min_delta`` shifts the reference (ReduceLROnPlateau's
    #: ``current < best - min_delta``); False: it shifts the current value
    #: (EarlyStopping's ``current - min_delta < best``). Kept apart so that
    #: each compares bit for bit as tf-keras does.
    _delta_on_reference = False

    def _set_monitor(self, monitor, mode="auto", min_delta=0.0) -> None:
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a logs key (a string); got {monitor!r}")
        self.monitor = monitor
        if mode not in ("auto", "min", "max"):
            logger.warning(self._unknown_mode_message.format(name=type(self).__name__, mode=mode))
            mode = "auto"
        self.mode = mode
        self._monitor_max = mode == "max" or (mode == "auto" and self._auto_is_max(monitor))
        self.monitor_op = np.greater if self._monitor_max else np.less
        self._min_delta = min_delta

    def _auto_is_max(self, monitor: str) -> bool:
        """tf-keras's default rule (ModelCheckpoint, ReduceLROnPlateau)."""
        return "acc" in monitor

    def _worst(self) -> float:
        return -np.inf if self._monitor_max else np.inf

    def _is_improvement(self, current, reference) -> bool:
        """``current`` beats ``reference`` by more than ``min_delta``."""
        d = self._min_delta
        if self._delta_on_reference:
            if self._monitor_max:
                return bool(np.greater(current, reference + d))
            return bool(np.less(current, reference - d))
        if self._monitor_max:
            return bool(np.greater(current - d, reference))
        return bool(np.less(current + d, reference))

    def get_monitor_value(self, logs):
        """``logs[monitor]``, or None with tf-keras's warning (every call)."""
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            self._warn_missing(logs)
        return value

    def _warn_missing(self, logs) -> None:
        logger.warning(
            self._missing_message.format(
                name=type(self).__name__, monitor=self.monitor, available=",".join(list(logs.keys()))
            )
        )
