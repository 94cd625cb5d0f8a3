"""Metrics beyond the core's single numbers, data-parallel over replicas in
threads: a custom metric function and a ``Metric`` subclass (run in Python:
each replica gets the whole global batch's outputs, gathered from the
shares) and a multi-threshold metric (a vector, accumulated in C) log what
one process logs at every batch, epoch, validation and evaluate."""

from __future__ import annotations

import numpy as np
import pytest

from batch_logs import BatchLogs
from batch_sources import Batches

import hookfit as keras
from hookfit.distribute import DataParallel, run_replicas

RTOL = 1e-5


def mean_pred(y_true, y_pred):
    return np.mean(y_pred, axis=-1)


class LargestError(keras.metrics.Metric):
    """Not a sum of per-rank parts: a replica that saw only its share would
    log its own maximum."""

    def __init__(self, name="largest_error", **kwargs):
        super().__init__(name=name, **kwargs)
        self.largest = 0.0

    def update_state(self, y_true, y_pred, sample_weight=None):
        err = np.abs(np.asarray(y_true, np.float64) - np.asarray(y_pred, np.float64))
        if err.size:
            self.largest = max(self.largest, float(err.max()))

    def result(self):
        return self.largest

    def reset_state(self):
        self.largest = 0.0


def _data(n=90, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6)).astype(np.float32)
    y = (x[:, :1] + 0.5 * x[:, 1:2] > 0).astype(np.float32)
    return x, y


def _model(seed=3):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.layers.Dense(8, activation="relu", input_dim=6),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(
        optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy",
        metrics=["accuracy", mean_pred, LargestError(),
                 keras.metrics.Precision(thresholds=[0.3, 0.5, 0.7])],
    )
    return model


def _run(model, x, y, strategy=None):
    rec = BatchLogs()
    sw = np.linspace(0.5, 1.5, x.shape[0]).astype(np.float32)
    history = model.fit(x, y, batch_size=32, epochs=2, verbose=0, shuffle=False, sample_weight=sw,
                        validation_data=(x[:41], y[:41]), validation_batch_size=16,
                        callbacks=[rec], distribute=strategy)
    ev = model.evaluate(x, y, batch_size=25, verbose=0, return_dict=True, distribute=strategy)
    return history.history, rec, ev


def _same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(np.asarray(a[k], np.float64), np.asarray(b[k], np.float64),
                                   rtol=RTOL, atol=1e-6, err_msg=k)


@pytest.mark.parametrize("replicas", [2, 3])
def test_custom_and_vector_metrics_equal_one_process(replicas):
    x, y = _data()
    one_hist, one_rec, one_ev = _run(_model(), x, y)
    models = [_model()] + [_model(seed=10 + r) for r in range(1, replicas)]

    def replica(comm):
        return _run(models[comm.rank], x, y, DataParallel(comm))

    for hist, rec, ev in run_replicas(replicas, replica, timeout=120):
        _same(hist, one_hist)
        _same(ev, one_ev)
        for got, want in ((rec.train, one_rec.train), (rec.test, one_rec.test)):
            assert [b for b, _ in got] == [b for b, _ in want]
            for (_, a), (_, b) in zip(got, want):
                _same(a, b)


def test_custom_metrics_on_a_pydataset_equal_one_process():
    x, y = _data(81)

    def run(model, strategy=None):
        rec = BatchLogs()
        history = model.fit(Batches(x, y, 20, weighted=False), epochs=2, verbose=0, callbacks=[rec], shuffle=False,
                            validation_data=Batches(x[:33], y[:33], 16, weighted=False), distribute=strategy)
        return history.history, rec, model.evaluate(Batches(x, y, 25, weighted=False), verbose=0, return_dict=True,
                                                    distribute=strategy)

    one_hist, one_rec, one_ev = run(_model())
    models = [_model(), _model(seed=11)]
    for hist, rec, ev in run_replicas(2, lambda comm: run(models[comm.rank], DataParallel(comm)),
                                      timeout=120):
        _same(hist, one_hist)
        _same(ev, one_ev)
        for (_, a), (_, b) in zip(rec.train, one_rec.train):
            _same(a, b)
