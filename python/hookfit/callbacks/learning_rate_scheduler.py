"""``LearningRateScheduler``: set the learning rate from a schedule each epoch."""

from __future__ import annotations

import numpy as np

from hookfit import backend
from hookfit.callbacks.callback import Callback


class LearningRateScheduler(Callback):
    """At the start of every epoch, set the learning rate to
    ``schedule(epoch, lr)`` (0-based epoch, current rate as a float).

    As in Keras 2 the result must be a float (``float``, ``np.float32`` or
    ``np.float64``; an ``int`` is rejected), a one-argument
    ``schedule(epoch)`` is also accepted, and the rate in force is written
    into the epoch logs (hence History) as ``lr``, a ``np.float32``.

    >>> def schedule(epoch, lr):
    ...     return lr if epoch < 10 else lr * 0.9
    >>> callback = LearningRateScheduler(schedule, verbose=1)
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(
                "LearningRateScheduler: schedule must be a function schedule(epoch, lr) -> float; "
                f"got {type(schedule).__name__} {schedule!r}."
            )
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        if not hasattr(optimizer, "lr"):
            raise ValueError('Optimizer must have a "lr" attribute.')
        try:
            lr = float(backend.get_value(optimizer.lr))
            lr = self.schedule(epoch, lr)
        except TypeError:
            # Keras 2 falls back to the old one-argument form.
            lr = self.schedule(epoch)
        if isinstance(lr, bool) or not isinstance(lr, (float, np.float32, np.float64)):
            raise ValueError(
                'The output of the "schedule" function should be float. '
                f"Got: {lr!r} ({type(lr).__name__}); return e.g. float(value)."
            )
        if not np.isfinite(lr):
            raise ValueError(
                f'The output of the "schedule" function must be finite; got {lr!r} at epoch {epoch}.'
            )
        backend.set_value(optimizer.lr, lr)
        if self.verbose > 0:
            print(
                f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.",
                flush=True,
            )

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["lr"] = np.float32(backend.get_value(self.model.optimizer.lr))
