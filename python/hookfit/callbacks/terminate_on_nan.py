"""``TerminateOnNaN``: stop training when the loss becomes NaN or infinite."""

from __future__ import annotations

import numpy as np

from hookfit.callbacks.callback import Callback, Schedule


class TerminateOnNaN(Callback):
    """Stop training after the first batch whose running loss is NaN or
    +/-inf. As in Keras 2 the epoch still finishes (validation and
    ``on_epoch_end`` run), so History holds that last, non-finite epoch.

    Args:
        raise_error: Keras 3's option: raise ``RuntimeError`` at that batch
            instead of stopping (``on_train_end`` is not called then, and a
            ``BackupAndRestore`` keeps its last finite backup either way).

    >>> callback = TerminateOnNaN()
    """

    def __init__(self, raise_error=False):
        super().__init__()
        if not isinstance(raise_error, (bool, np.bool_)):
            raise TypeError(f"TerminateOnNaN: raise_error must be True or False; got {raise_error!r}.")
        self.raise_error = bool(raise_error)
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
                if self.raise_error:
                    raise RuntimeError(
                        f"NaN or Inf loss encountered at batch {batch}; stopping training."
                    )
                print(f"Batch {batch}: Invalid loss, terminating training", flush=True)
                self.model.stop_training = True
