"""A PyDataset of fixed-size batches of arrays, shared by the data-parallel
tests of batch sources and of custom metrics."""

from __future__ import annotations

import numpy as np

import hookfit as keras


class Batches(keras.utils.PyDataset):
    """Batches of ``batch_size`` rows of (x, y, sample_weight); the last one
    holds what is left."""

    def __init__(self, x, y, batch_size, weighted=True):
        super().__init__()
        self.x, self.y, self.batch_size, self.weighted = x, y, batch_size, weighted

    def __len__(self):
        return -(-self.x.shape[0] // self.batch_size)

    def __getitem__(self, i):
        s = slice(i * self.batch_size, (i + 1) * self.batch_size)
        if not self.weighted:
            return self.x[s], self.y[s]
        return self.x[s], self.y[s], np.linspace(0.5, 1.5, self.x.shape[0]).astype(np.float32)[s]
