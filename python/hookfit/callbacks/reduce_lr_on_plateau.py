"""``ReduceLROnPlateau``: lower the learning rate when a metric stops improving."""

from __future__ import annotations

import logging

import numpy as np

from hookfit import backend
from hookfit.utils.arguments import check_number
from hookfit.callbacks.monitor_callback import MonitorCallback

logger = logging.getLogger("hookfit")


class ReduceLROnPlateau(MonitorCallback):
    """Multiply the learning rate by ``factor`` after ``patience`` epochs
    without improvement of ``monitor``, then wait ``cooldown`` epochs.

    Args:
        monitor: the logs key to watch.
        factor: new_lr = lr * factor; must be < 1.
        patience: epochs without improvement before reducing (>= 0).
        verbose: 1 prints a line at each reduction.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (max if ``"acc"`` is a
            substring of ``monitor``, else min).
        min_delta: an improvement must exceed this.
        cooldown: epochs to wait after a reduction before counting again.
        min_lr: the rate never goes below this.

    Every epoch it also writes the rate in force (before any reduction) into
    the logs as ``lr`` (``np.float32``), as Keras 2 does.

    >>> reduce_lr = ReduceLROnPlateau(monitor="val_loss", factor=0.2, patience=5, min_lr=0.001)
    """

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        verbose=0,
        mode="auto",
        min_delta=1e-4,
        cooldown=0,
        min_lr=0,
        **kwargs,
    ):
        super().__init__()
        for name, value in (("factor", factor), ("min_delta", min_delta), ("min_lr", min_lr)):
            check_number("ReduceLROnPlateau", name, value)
        for name, value in (("patience", patience), ("cooldown", cooldown)):
            check_number("ReduceLROnPlateau", name, value, integer=True)
        if factor >= 1.0:
            raise ValueError(
                f"ReduceLROnPlateau does not support a factor >= 1.0. Got {factor}; "
                "use a factor in (0, 1), e.g. 0.1."
            )
        if factor <= 0:
            raise ValueError(f"ReduceLROnPlateau: factor must be in (0, 1); got {factor}.")
        if patience < 0:
            raise ValueError(f"ReduceLROnPlateau: patience must be >= 0; got {patience}.")
        if cooldown < 0:
            raise ValueError(f"ReduceLROnPlateau: cooldown must be >= 0; got {cooldown}.")
        if min_lr < 0:
            raise ValueError(f"ReduceLROnPlateau: min_lr must be >= 0; got {min_lr}.")
        if "epsilon" in kwargs:
            min_delta = kwargs.pop("epsilon")
            logger.warning(
                "`epsilon` argument is deprecated and will be removed, use `min_delta` instead."
            )
        if kwargs:
            raise TypeError(f"ReduceLROnPlateau got unexpected argument(s) {sorted(kwargs)}.")
        self.factor = factor
        self.min_lr = min_lr
        self.min_delta = min_delta
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.cooldown_counter = 0
        self.wait = 0
        self.best = 0
        self._set_monitor(monitor, mode, min_delta)
        self._reset()

    _missing_message = (
        "Learning rate reduction is conditioned on metric `{monitor}` which is not "
        "available. Available metrics are: {available}"
    )
    _unknown_mode_message = "Learning rate reduction mode {mode} is unknown, fallback to auto mode."
    _delta_on_reference = True

    def _reset(self):
        self.best = self._worst()
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["lr"] = backend.get_value(self.model.optimizer.lr)
        current = self.get_monitor_value(logs)
        if current is None:
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = backend.get_value(self.model.optimizer.lr)
                if old_lr > np.float32(self.min_lr):
                    new_lr = old_lr * self.factor
                    new_lr = max(new_lr, self.min_lr)
                    backend.set_value(self.model.optimizer.lr, new_lr)
                    if self.verbose > 0:
                        print(
                            f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.",
                            flush=True,
                        )
                    self.cooldown_counter = self.cooldown
                    self.wait = 0

    def in_cooldown(self):
        return self.cooldown_counter > 0

    def get_state(self):
        return {"best": self.best, "wait": self.wait, "cooldown_counter": self.cooldown_counter}

    def set_state(self, state):
        self.best = state["best"]
        self.wait = state["wait"]
        self.cooldown_counter = state["cooldown_counter"]
