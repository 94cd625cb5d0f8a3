"""BatchNormalization's moving statistics in a data-parallel fit, as tf-keras's
MultiWorkerMirroredStrategy keeps them: each rank normalises its share with
the share's own batch statistics (plain BatchNormalization is not synced;
gamma and beta gradients are summed with the rest) and moves its moving
mean and variance by them; the moving statistics are then averaged over the
ranks (the MEAN aggregation of Keras's non-trainable variables). Since the
moving update is linear, the average is the update by the mean of the
shares' statistics. A rank with an empty share (a tiny last batch) did not
move its copy and is left out of the mean.

So a 2-rank fit of a model with BatchNormalization differs from the
one-process fit by design (statistics of half batches), as in Keras.
"""

from __future__ import annotations

import numpy as np


class MovingStatistics:
    """The moving statistics of a model's trainable BatchNormalization layers
    (views into the network's parameters) and one small reduce buffer."""

    def __init__(self, model, comm):
        from hookfit.layers.batch_normalization import BatchNormalization

        self.comm = comm
        self.views: list = []
        seen: set = set()
        for call in getattr(model, "_calls", ()):
            layer = call.layer
            if isinstance(layer, BatchNormalization) and layer.trainable and id(layer) not in seen:
                seen.add(id(layer))
                self.views += [layer.moving_mean, layer.moving_variance]
        sizes = [v.size for v in self.views]
        self._slices = np.cumsum([0, *sizes])
        # [every moving statistic | this rank had rows (the count of ranks after the sum)]
        self._buf = np.zeros(int(self._slices[-1]) + 1, dtype=np.float32)

    def __bool__(self) -> bool:
        return bool(self.views)

    def average(self, had_rows: bool) -> None:
        """After this rank's grad_batch: every rank gets the mean over the
        ranks that had rows."""
        buf, s = self._buf, self._slices
        for view, a, b in zip(self.views, s[:-1], s[1:]):
            buf[a:b] = view.reshape(-1) if had_rows else 0.0
        buf[-1] = 1.0 if had_rows else 0.0
        self.comm.allreduce_sum_(buf)
        ranks = buf[-1]
        for view, a, b in zip(self.views, s[:-1], s[1:]):
            view.reshape(-1)[...] = buf[a:b] / ranks
