"""train_on_batch data-parallel over 2 and 3 replicas in threads (the
in-process backend): a custom loop of train_on_batch calls returns what one
process returns on the same batches, and every replica ends with bitwise
the same weights, starting from rank 0's."""

from __future__ import annotations

import numpy as np
import pytest

import hookfit as keras
from hookfit.distribute import DataParallel, SignatureMismatchError, run_replicas

RTOL = 1e-5


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 8)).astype(np.float32)
    y = ((x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1)).astype(np.float32)
    return x, y


def _model(seed=3, dropout=False):
    keras.utils.set_random_seed(seed)
    layers = [keras.layers.Dense(16, activation="relu", input_dim=8)]
    if dropout:
        layers.append(keras.layers.Dropout(0.3, seed=11))
    layers.append(keras.layers.Dense(3, activation="softmax"))
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _loop(model, x, y, strategy=None):
    """Uneven batches, one row (a replica gets none), sample and class
    weights, metrics kept across calls, a dict result."""
    sw = np.linspace(0.5, 1.5, 29).astype(np.float32)
    return [
        model.train_on_batch(x[:37], y[:37], distribute=strategy),
        model.train_on_batch(x[5:6], y[5:6], distribute=strategy),
        model.train_on_batch(x[3:32], y[3:32], sample_weight=sw, distribute=strategy),
        model.train_on_batch(x[10:42], y[10:42], class_weight={0: 1.0, 1: 2.0, 2: 0.5},
                             distribute=strategy),
        model.train_on_batch(x[:20], y[:20], reset_metrics=False, return_dict=True,
                             distribute=strategy),
    ]


def _values(result):
    return list(result.values()) if isinstance(result, dict) else result


@pytest.mark.parametrize("replicas, dropout", [(2, False), (3, False), (2, True)])
def test_a_train_on_batch_loop_equals_one_process(replicas, dropout):
    x, y = _data()
    one_model = _model(dropout=dropout)
    one = _loop(one_model, x, y)
    one_weights = one_model.get_weights()
    # Only rank 0's initial weights count: they are broadcast.
    models = [_model(dropout=dropout)] + [_model(seed=10 + r, dropout=dropout) for r in range(1, replicas)]

    def replica(comm):
        model = models[comm.rank]
        return _loop(model, x, y, DataParallel(comm)), model.get_weights()

    results = run_replicas(replicas, replica, timeout=120)
    for logs, weights in results:
        assert isinstance(logs[-1], dict) and logs[-1].keys() == one[-1].keys()
        for got, want in zip(logs, one):
            np.testing.assert_allclose(_values(got), _values(want), rtol=RTOL, atol=1e-6)
        # Adam divides each gradient by its own running RMS, so a weight whose
        # gradients are near zero (a unit Dropout zeroes in most rows) turns a
        # rounding-level difference of the summed gradient (another order of
        # additions than one process's) into a difference of its update up
        # to ~lr x that relative difference: with OpenBLAS's AVX2 kernels one
        # of 128 weights ended 2e-6 from one process's after these 5 steps.
        for w, w1 in zip(weights, one_weights):
            np.testing.assert_allclose(w, w1, rtol=RTOL, atol=1e-5)
    for _, weights in results[1:]:
        for w, w0 in zip(weights, results[0][1]):
            assert w.tobytes() == w0.tobytes()  # bit-identical across replicas


def test_replicas_given_different_batches_all_raise_and_nothing_changes():
    x, y = _data()
    models = [_model(), _model()]
    before = [m.get_weights() for m in models]

    def replica(comm):
        rows = slice(0, 32) if comm.rank == 0 else slice(1, 33)
        with pytest.raises(SignatureMismatchError, match="train_on_batch"):
            models[comm.rank].train_on_batch(x[rows], y[rows], distribute=DataParallel(comm))
        return True

    assert run_replicas(2, replica, timeout=120) == [True, True]
    for model, weights in zip(models, before):
        for w, w0 in zip(model.get_weights(), weights):
            assert w.tobytes() == w0.tobytes()
