"""``EarlyStopping``: stop training when a monitored quantity stops improving.

Keras 2 (tf-keras 2.21) semantics, including restoring the best weights at
the end of training even when EarlyStopping did not stop it.
"""

from __future__ import annotations

import numpy as np

from hookfit.utils.arguments import check_number
from hookfit.callbacks.monitor_callback import MonitorCallback


class EarlyStopping(MonitorCallback):
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
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.min_delta = abs(min_delta)
        self.wait = 0
        self.stopped_epoch = 0
        self.restore_best_weights = restore_best_weights
        self.best_weights = None
        self.start_from_epoch = start_from_epoch

        self._set_monitor(monitor, mode, abs(min_delta))
        # Stored signed, as tf-keras does (negative when lower is better).
        if self.monitor_op == np.less:
            self.min_delta *= -1

    def on_train_begin(self, logs=None):
        # Reset, so that an instance can be reused across fits.
        self.wait = 0
        self.stopped_epoch = 0
        self.best = self._worst()
        self.best_weights = None
        self.best_epoch = 0

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

    _missing_message = (
        "Early stopping conditioned on metric `{monitor}` which is not available. "
        "Available metrics are: {available}"
    )
    _unknown_mode_message = "EarlyStopping mode {mode} is unknown, fallback to auto mode."

    def _auto_is_max(self, monitor):
        return monitor.endswith(("acc", "accuracy", "auc"))

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
