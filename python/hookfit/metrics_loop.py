"""The network as the loops see it when the logs need Python per batch.

Custom metrics (a function ``fn(y_true, y_pred)``, a ``Metric`` subclass)
run in Python on NumPy arrays once per batch: the slower path. Each batch
is then one native call, after which the metrics get that batch's
``y_true``, ``sample_weight`` and ``y_pred``. The prediction is the output
the train step itself computed (training mode, the weights before the
update, as Keras computes metrics in its train step), read from the core's
workspace where the step left it: no second forward pass.

Built-in metrics with several thresholds log a vector (as tf-keras); they
still accumulate in C inside native chunks, and only their result is read
in Python when the logs are made.

``MetricsNetwork`` wraps the compiled network with the calls the loops use
(``train_batch(es)``, ``test_batch(es)``, ``reset_metrics``,
``metric_results``); everything else is the network's own.
"""

from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger("hookfit")


class MetricsNetwork:
    def __init__(self, network, compiled):
        self._network = network
        self._compiled = compiled
        self._python = compiled.python if compiled.python else None

    def __getattr__(self, name):
        return getattr(self._network, name)

    # -- metrics
    def reset_metrics(self):
        self._network.reset_metrics()
        if self._python is not None:
            self._python.reset()

    def metric_results(self):
        return self._compiled.merge(self._network.metric_results())

    def resumed_mid_epoch(self, epoch: int) -> None:
        """A BackupAndRestore resumed inside ``epoch``: the built-in metrics'
        accumulators came back from the backup, the custom metrics' state is
        not in it. They restart from zero, so this epoch's custom values cover
        the batches after the resume only (what tf-keras logs for every
        metric after a mid-epoch resume); the next epochs are exact."""
        if self._python is None:
            return
        self._python.reset()
        logger.warning(
            "Resumed inside epoch %d: the state of the custom metrics %s is not in the backup, so "
            "their values for this epoch cover only the batches after the resume (the built-in "
            "metrics are exact).", epoch + 1, self._python.names,
        )

    # -- steps
    def _update(self, data, start, rows, y_pred=None):
        """The custom metrics see the batch that just ran (``y_pred``: its
        outputs when they are not the workspace's, e.g. gathered from the
        ranks of a data-parallel step)."""
        order = data.order
        rows_of = slice(start, start + rows) if order is None else order[start : start + rows]
        y = data.y[rows_of]
        sw = data.sample_weight
        if y_pred is None:
            y_pred = self._network.last_batch_output()
        self._python.update(y, y_pred, None if sw is None else sw[rows_of])

    @property
    def has_python_metrics(self) -> bool:
        return self._python is not None

    def train_batch(self, data, start, count, lr):
        ran = self._network.train_batch(data, start, count, lr)
        if self._python is not None:
            self._update(data, start, count)
        return ran

    last_run_nonfinite = False  # as the core's: the last train_batches stopped on a NaN/inf loss

    def train_batches(self, data, start, count, batch_size, lr, *, stop_on_nonfinite=False):
        network = self._network
        self.last_run_nonfinite = False
        if self._python is None:
            ran = network.train_batches(data, start, count, batch_size, lr,
                                        stop_on_nonfinite=stop_on_nonfinite)
            self.last_run_nonfinite = network.last_run_nonfinite
            return ran
        ran = 0
        for pos in range(start, start + count, batch_size):
            rows = min(batch_size, start + count - pos)
            rate = lr[ran] if isinstance(lr, np.ndarray) else lr
            network.train_batch(data, pos, rows, rate)
            self._update(data, pos, rows)
            ran += 1
            # The core's own check (the running mean loss), after the batch.
            if stop_on_nonfinite and not np.isfinite(network.metric_results()[0]):
                self.last_run_nonfinite = True
                break
        return ran

    def test_batch(self, data, start, count):
        ran = self._network.test_batch(data, start, count)
        if self._python is not None:
            self._update(data, start, count)
        return ran

    def test_batches(self, data, start, count, batch_size):
        if self._python is None:
            return self._network.test_batches(data, start, count, batch_size)
        ran = 0
        for pos in range(start, start + count, batch_size):
            rows = min(batch_size, start + count - pos)
            self._network.test_batch(data, pos, rows)
            self._update(data, pos, rows)
            ran += 1
        return ran
