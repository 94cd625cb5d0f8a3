"""A callback that records every train and test batch's logs, shared by the
fit-semantics and data-parallel tests."""

from __future__ import annotations

import hookfit as keras


class BatchLogs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.train, self.test = [], []

    def on_train_batch_end(self, batch, logs=None):
        self.train.append((batch, dict(logs)))

    def on_test_batch_end(self, batch, logs=None):
        self.test.append((batch, dict(logs)))
