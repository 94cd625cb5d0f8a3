"""``TerminateOnNaN``: stop training when the loss becomes NaN or infinite."""

from __future__ import annotations

import numpy as np

from hookfit.callbacks.callback import Callback


class TerminateOnNaN(Callback):
    """Stop training after the first batch whose running loss is NaN or
    +/-inf. As in Keras 2 the epoch still finishes (validation and
    ``on_epoch_end`` run), so History holds that last, non-finite epoch.

    >>> callback = TerminateOnNaN()
    """

    def __init__(self):
        super().__init__()
        self._supports_tf_logs = True

    def on_batch_end(self, batch, logs=None):
        logs = logs or {}
        loss = logs.get("loss")
        if loss is not None:
            if np.isnan(loss) or np.isinf(loss):
                print(f"Batch {batch}: Invalid loss, terminating training", flush=True)
                self.model.stop_training = True
