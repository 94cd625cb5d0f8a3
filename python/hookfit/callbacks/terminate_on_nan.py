"""``TerminateOnNaN``: stop training when the loss becomes NaN or infinite."""

from __future__ import annotations

import numpy as np

from hookfit.callbacks.callback import Callback, Schedule


class TerminateOnNaN(Callback):
    """Stop training after the first batch whose running loss is NaN or
    +/-inf. As in Keras 2 the epoch still finishes (validation and
    ``on_epoch_end`` run), so History holds that last, non-finite epoch.

    >>> callback = TerminateOnNaN()
    """

    def __init__(self):
        super().__init__()
        self._supports_tf_logs = True

    def _batch_schedule(self, mode):
        # The native run stops after the first batch whose running loss is
        # not finite; this hook is called there (and nowhere else).
        return Schedule(watches_nonfinite=True)

    def on_batch_end(self, batch, logs=None):
        logs = logs or {}
        loss = logs.get("loss")
        if loss is not None:
            if np.isnan(loss) or np.isinf(loss):
                print(f"Batch {batch}: Invalid loss, terminating training", flush=True)
                self.model.stop_training = True
