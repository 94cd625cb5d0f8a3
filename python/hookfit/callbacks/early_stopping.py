"""``EarlyStopping``: stop training when a monitored quantity stops improving.

Keras 2 (tf-keras 2.21) semantics, including restoring the best weights at
the end of training even when EarlyStopping did not stop it.
"""

from __future__ import annotations

import logging

import numpy as np

from hookfit.callbacks.arguments import check_number
from hookfit.callbacks.callback import Callback

logger = logging.getLogger("hookfit")


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has not improved for ``patience`` epochs.

    Args:
        monitor: the logs key to watch, e.g. ``"val_loss"``.
        min_delta: an improvement must exceed ``abs(min_delta)``.
        patience: epochs without improvement before stopping (>= 0).
        verbose: 1 prints when stopping and when restoring weights.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (max if ``monitor`` ends in
            ``acc``, ``accuracy`` or ``auc``, else min).
        baseline: ``wait`` is reset only by values that also beat this.
        restore_best_weights: at the end of training, set the weights of the
            best epoch (the first monitored epoch's if none improved).
        start_from_epoch: epochs to ignore at the start (warm-up).

    >>> stop = EarlyStopping(monitor="loss", patience=3)
    """

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0,
        patience=0,
        verbose=0,
        mode="auto",
        baseline=None,
        restore_best_weights=False,
        start_from_epoch=0,
    ):
        super().__init__()
        check_number("EarlyStopping", "min_delta", min_delta)
        check_number("EarlyStopping", "baseline", baseline, optional=True)
        for name, value in (("patience", patience), ("start_from_epoch", start_from_epoch)):
            check_number("EarlyStopping", name, value, integer=True)
        if patience < 0:
            raise ValueError(f"EarlyStopping: patience must be >= 0 (epochs to wait); got {patience}.")
        if start_from_epoch < 0:
            raise ValueError(f"EarlyStopping: start_from_epoch must be >= 0; got {start_from_epoch}.")
        self.monitor = monitor
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.min_delta = abs(min_delta)
        self.wait = 0
        self.stopped_epoch = 0
        self.restore_best_weights = restore_best_weights
        self.best_weights = None
        self.start_from_epoch = start_from_epoch

        if mode not in ("auto", "min", "max"):
            logger.warning("EarlyStopping mode %s is unknown, fallback to auto mode.", mode)
            mode = "auto"
        if mode == "min":
            self.monitor_op = np.less
        elif mode == "max":
            self.monitor_op = np.greater
        elif monitor.endswith(("acc", "accuracy", "auc")):
            self.monitor_op = np.greater
        else:
            self.monitor_op = np.less
        # Stored signed, so that one test serves both directions.
        if self.monitor_op == np.less:
            self.min_delta *= -1

    def on_train_begin(self, logs=None):
        # Reset, so that an instance can be reused across fits.
        self.wait = 0
        self.stopped_epoch = 0
        self.best = np.inf if self.monitor_op == np.less else -np.inf
        self.best_weights = None
        self.best_epoch = 0
        self._warned_missing = False

    def on_epoch_end(self, epoch, logs=None):
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # Something to restore even if nothing ever improves.
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch

        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            # With a baseline, only values that beat it too reset the wait.
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return

        # An improving epoch never stops training (returned above).
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping", flush=True)
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(
                    "Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}.",
                    flush=True,
                )
            self.model.set_weights(self.best_weights)

    def get_monitor_value(self, logs):
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None and not getattr(self, "_warned_missing", False):
            # Keras logs this every epoch; once per fit is enough to be seen.
            self._warned_missing = True
            logger.warning(
                "Early stopping conditioned on metric `%s` which is not available. "
                "Available metrics are: %s",
                self.monitor,
                ",".join(list(logs.keys())),
            )
        return value

    def _is_improvement(self, monitor_value, reference_value):
        return bool(self.monitor_op(monitor_value - self.min_delta, reference_value))

    # Stateful-callback protocol: everything that decides future epochs.
    def get_state(self):
        return {
            "wait": self.wait,
            "stopped_epoch": self.stopped_epoch,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "best_weights": self.best_weights,
        }

    def set_state(self, state):
        self.wait = state["wait"]
        self.stopped_epoch = state["stopped_epoch"]
        self.best = state["best"]
        self.best_epoch = state["best_epoch"]
        self.best_weights = None if state["best_weights"] is None else list(state["best_weights"])
