"""In-process implementations "core:batches" and "core:batch": hookfit's
compiled step alone, called directly (``hookfit._core``, see ``_core.pyi``).

- ``core:batches``: ``Network.train_batches`` / ``test_batches`` /
  ``predict_batches``, one native call per epoch: the C cost of a step with
  no Python in between.
- ``core:batch``: ``train_batch`` / ``test_batch`` / ``predict_batch`` in a
  Python loop, one native call per batch: adds the cost of crossing the
  bridge once per step.

hookfit's ``fit`` step minus ``core:batches`` is the Python overhead per
batch. Same model, loss, metric and optimizer as the case. A fit epoch reads
its rows through a fresh random order (Keras's shuffle); here each epoch
installs the next of a few permutations made in advance, so the memory
access pattern is the same but making the permutation (Python/NumPy work)
stays on fit's side of the difference.
"""

from __future__ import annotations

import data
import numpy as np
from peer_protocol import Declined
from timing import Workload

NAMES = ("core:batches", "core:batch")


def _network(core, case, seed=0):
    if case.model == "mlp":
        units, acts, lr, metrics = [256, 128, 10], [core.ACT_RELU, core.ACT_RELU, core.ACT_LINEAR], 0.001, []
    else:
        units, acts, lr, metrics = [1], [core.ACT_LINEAR], 0.1, [core.METRIC_MAE]
    net = core.Network(case.input_dim, units, acts, [True] * len(units))
    net.configure(core.LOSS_MSE, metrics, core.OPT_RMSPROP)
    rng = np.random.default_rng(seed)
    for i in range(net.n_layers):
        kernel, _ = net.layer_weights(i)
        limit = np.sqrt(6.0 / sum(kernel.shape))  # Glorot uniform, as Dense's default
        kernel[...] = rng.uniform(-limit, limit, kernel.shape)
    return net, lr


N_ORDERS = 16


def _dataset(core, x, y, seed=1):
    ds = core.Dataset(x, y)
    rng = np.random.default_rng(seed)
    orders = [rng.permutation(ds.n_rows).astype(np.int64) for _ in range(N_ORDERS)]
    return ds, orders


def setup(per_batch: bool):
    from hookfit import _native

    core = _native.core

    def make(case):
        if case.keras_only:
            raise Declined("callbacks and schedule objects live in the Python loop, not in the core")
        if case.per != "step":
            raise Declined("the fixed cost of a call is a Python-loop cost")
        x, y = data.for_case(case)
        net, lr = _network(core, case)
        b = case.batch
        n_val = int(len(x) * case.validation_split)
        train, orders = _dataset(core, x[: len(x) - n_val], y[: len(x) - n_val])
        val = core.Dataset(x[len(x) - n_val :], y[len(x) - n_val :]) if n_val else None
        n = train.n_rows
        out = np.empty((n, net.output_dim), np.float32)
        # evaluate and predict read rows in order, as hookfit's do.
        train.set_order(orders[0] if case.kind == "fit" else None)
        epochs = [0]

        if case.kind == "fit":

            def epoch():
                epochs[0] += 1
                train.set_order(orders[epochs[0] % N_ORDERS])
                net.reset_metrics()
                if per_batch:
                    for s in range(0, n, b):
                        net.train_batch(train, s, min(b, n - s), lr)
                else:
                    net.train_batches(train, 0, n, b, lr)
                if val is not None:
                    net.reset_metrics()
                    net.test_batches(val, 0, val.n_rows, b)

        elif case.kind == "evaluate":

            def epoch():
                net.reset_metrics()
                if per_batch:
                    for s in range(0, n, b):
                        net.test_batch(train, s, min(b, n - s))
                else:
                    net.test_batches(train, 0, n, b)

        else:

            def epoch():
                if per_batch:
                    for s in range(0, n, b):
                        net.predict_batch(train, s, min(b, n - s), out)
                else:
                    net.predict_batches(train, 0, n, b, out)

        def fn(scale):
            for _ in range(scale):
                epoch()

        return Workload(case.name, fn, case.steps, amortizes=True)

    return {}, make
