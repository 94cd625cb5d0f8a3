"""fit/evaluate/predict data-parallel over a PyDataset or a generator
(replicas in threads): every rank holds the same source, each batch it gives
is the global batch and each rank takes its contiguous share (uneven and
1-row last batches included: a rank may get an empty share). History, every
batch-end log, validation, evaluate and predict equal one process."""

from __future__ import annotations

import numpy as np
import pytest

import hookfit as keras
from batch_logs import BatchLogs
from batch_sources import Batches
from hookfit.distribute import DataParallel, run_replicas

RTOL = 1e-5


def _data(n=101, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 8)).astype(np.float32)
    return x, ((x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1)).astype(np.float32)


def _model(spe=1):
    keras.utils.set_random_seed(3)
    m = keras.Sequential([keras.layers.Dense(16, activation="relu", input_dim=8),
                          keras.layers.Dropout(0.2),
                          keras.layers.Dense(3, activation="softmax")])
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"], steps_per_execution=spe)
    return m


def _same_logs(got, want):
    assert [b for b, _ in got] == [b for b, _ in want]
    for (_, a), (_, b) in zip(got, want):
        assert a.keys() == b.keys()
        np.testing.assert_allclose([a[k] for k in b], [b[k] for k in b], rtol=RTOL, atol=1e-7)


def _replicas(n, fn):
    models = [_model() for _ in range(n)]
    return run_replicas(n, lambda comm: fn(models[comm.rank], DataParallel(comm)), timeout=120)


@pytest.mark.parametrize("replicas, n, batch_size, shuffle", [
    (2, 100, 20, False),  # even
    (2, 101, 20, False),  # a 1-row last batch: rank 1's share is empty
    (3, 97, 16, True),    # uneven shares, a shuffled batch order
])
def test_pydataset_fit_equals_one_process(replicas, n, batch_size, shuffle):
    x, y = _data(n)
    vx, vy = _data(33, seed=1)

    def fit(model, strategy=None):
        rec = BatchLogs()
        hist = model.fit(Batches(x, y, batch_size), epochs=3, verbose=0, shuffle=shuffle,
                         validation_data=Batches(vx, vy, 10, weighted=False), callbacks=[rec],
                         distribute=strategy)
        return hist.history, rec, model.get_weights()

    one_hist, one_rec, one_w = fit(_model())
    results = _replicas(replicas, fit)
    for hist, rec, weights in results:
        assert hist.keys() == one_hist.keys()
        for k in one_hist:
            np.testing.assert_allclose(hist[k], one_hist[k], rtol=RTOL)
        _same_logs(rec.train, one_rec.train)
        _same_logs(rec.test, one_rec.test)
        for w, w0, w1 in zip(weights, results[0][2], one_w):
            np.testing.assert_array_equal(w, w0)
            np.testing.assert_allclose(w, w1, rtol=RTOL, atol=1e-6)


@pytest.mark.parametrize("steps_per_epoch", [None, 4])
def test_generator_fit_equals_one_process(steps_per_epoch):
    """A generator per rank, the same batches: a finite one without
    steps_per_epoch trains its batches, then the next epoch ends the fit
    (tf-keras's ran-out rule) on every rank alike."""
    x, y = _data(95)

    def gen():
        for i in range(0, 95, 20):
            yield x[i : i + 20], y[i : i + 20]

    def fit(model, strategy=None):
        hist = model.fit(gen(), epochs=2 if steps_per_epoch is None else 1,
                         steps_per_epoch=steps_per_epoch, verbose=0, distribute=strategy,
                         validation_data=(x[:30], y[:30]))
        return hist.history, model.get_weights()

    one_hist, one_w = fit(_model())
    for hist, weights in _replicas(2, fit):
        for k in one_hist:
            np.testing.assert_allclose(hist[k], one_hist[k], rtol=RTOL)
        for w, w1 in zip(weights, one_w):
            np.testing.assert_allclose(w, w1, rtol=RTOL, atol=1e-6)


def test_generators_of_different_lengths_fail_on_every_rank():
    x, y = _data(64)

    def fit(model, strategy):
        count = 4 if strategy.rank == 0 else 3
        batches = ((x[i * 16 : (i + 1) * 16], y[i * 16 : (i + 1) * 16]) for i in range(count))
        model.fit(batches, epochs=1, verbose=0, distribute=strategy)

    with pytest.raises(RuntimeError, match="different numbers of batches"):
        _replicas(2, fit)


def test_pydatasets_of_different_lengths_fail_before_training():
    from hookfit.distribute import SignatureMismatchError

    x, y = _data(64)
    models = [_model(), _model()]
    before = models[1].get_weights()

    def fit(comm):
        size = 16 if comm.rank == 0 else 32
        models[comm.rank].fit(Batches(x, y, size), epochs=1, verbose=0, distribute=DataParallel(comm))

    with pytest.raises(SignatureMismatchError):
        run_replicas(2, fit, timeout=60)
    for a, b in zip(before, models[1].get_weights()):
        np.testing.assert_array_equal(a, b)


def test_evaluate_and_predict_over_a_pydataset_equal_one_process():
    x, y = _data(101)
    one = _model()
    one_eval = one.evaluate(Batches(x, y, 20), verbose=0)
    one_pred = one.predict(Batches(x, y, 20), verbose=0)

    def run(model, strategy):
        return (model.evaluate(Batches(x, y, 20), verbose=0, distribute=strategy),
                model.predict(Batches(x, y, 20), verbose=0, distribute=strategy))

    for ev, pred in _replicas(2, run):
        np.testing.assert_allclose(ev, one_eval, rtol=RTOL)
        np.testing.assert_allclose(pred, one_pred, rtol=RTOL, atol=1e-7)


class StopAt(keras.callbacks.Callback):
    def __init__(self, at, only_rank=None, rank=None):
        super().__init__()
        self.at, self.only_rank, self.rank = at, only_rank, rank

    def on_train_batch_end(self, batch, logs=None):
        if batch >= self.at and (self.only_rank is None or self.only_rank == self.rank):
            self.model.stop_training = True


def test_steps_per_execution_and_a_stop_on_one_rank_over_a_pydataset():
    x, y = _data(101)
    one, one_model = BatchLogs(), _model(spe=2)
    one_hist = one_model.fit(Batches(x, y, 10), epochs=3, verbose=0, callbacks=[one, StopAt(6)]).history
    models = [_model(spe=2), _model(spe=2)]

    def fit(comm):
        rec = BatchLogs()
        hist = models[comm.rank].fit(Batches(x, y, 10), epochs=3, verbose=0, distribute=DataParallel(comm),
                                     callbacks=[rec, StopAt(6, 1, comm.rank)]).history
        return hist, rec, int(models[comm.rank].optimizer.iterations)

    for hist, rec, iterations in run_replicas(2, fit, timeout=120):
        _same_logs(rec.train, one.train)
        assert iterations == int(one_model.optimizer.iterations)
        np.testing.assert_allclose(hist["loss"], one_hist["loss"], rtol=RTOL)
