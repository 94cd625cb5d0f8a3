"""Layers whose training step depends on the batch, data-parallel over
replicas in threads:

- Dropout: each rank draws its rows of the global batch's masks (the share
  skips the draws of the rows before it), so a data-parallel fit equals the
  one-process fit (to rounding: the gradient is a sum over ranks).
- Trainable BatchNormalization, as tf-keras's MultiWorkerMirroredStrategy:
  per-rank batch statistics on the rank's share (not synced), gamma/beta
  gradients summed with the rest, moving statistics averaged over ranks.
  Reference: with plain SGD one global step is the row-weighted mean of the
  one-process steps on each share, and the moving statistics are the plain
  mean of theirs.
"""

from __future__ import annotations

import numpy as np
import pytest

import hookfit as keras
from hookfit.distribute import DataParallel, run_replicas, shard_bounds

RTOL = 1e-5


def _data(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 8)).astype(np.float32) * 2.0 + 0.5
    y = ((x[:, 0] + x[:, 1] > 1.0).astype(np.int64) + (x[:, 2] > 1.5)).astype(np.float32)
    return x, y


def _dropout_model(noise_shape=None, seed=11):
    keras.utils.set_random_seed(seed)
    m = keras.Sequential([
        keras.layers.Dense(16, activation="relu", input_dim=8),
        keras.layers.Dropout(0.4, noise_shape=noise_shape),
        keras.layers.Dense(3, activation="softmax"),
    ])
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
    return m


def _bn_model(optimizer="sgd"):
    keras.utils.set_random_seed(12)
    m = keras.Sequential([
        keras.layers.Dense(16, input_dim=8),
        keras.layers.BatchNormalization(momentum=0.8),
        keras.layers.Activation("relu"),
        keras.layers.Dense(3, activation="softmax"),
    ])
    opt = keras.optimizers.SGD(0.1) if optimizer == "sgd" else keras.optimizers.Adam(0.01)
    m.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def _bn_layer(model):
    return next(layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization))


def _fit(model, x, y, strategy=None, **kwargs):
    args = dict(batch_size=32, epochs=2, verbose=0, shuffle=False)
    args.update(kwargs)
    history = model.fit(x, y, distribute=strategy, **args)
    return history.history, model.get_weights()


@pytest.mark.parametrize("replicas, n", [(2, 96), (2, 101), (3, 97)])
@pytest.mark.parametrize("noise_shape", [None, (1, 16)], ids=["per-row", "shared-row"])
def test_dropout_fit_equals_one_process(replicas, n, noise_shape):
    x, y = _data(n)
    one_hist, one_w = _fit(_dropout_model(noise_shape), x, y)
    models = [_dropout_model(noise_shape) for _ in range(replicas)]

    def replica(comm):
        return _fit(models[comm.rank], x, y, DataParallel(comm))

    results = run_replicas(replicas, replica, timeout=120)
    for hist, weights in results:
        for k in one_hist:
            np.testing.assert_allclose(hist[k], one_hist[k], rtol=RTOL)
        for w, w1, w0 in zip(weights, one_w, results[0][1]):
            np.testing.assert_array_equal(w, w0)  # bitwise the same on every replica
            np.testing.assert_allclose(w, w1, rtol=RTOL, atol=1e-6)


def test_replicas_take_rank_0s_dropout_seeds():
    """Models built with other seeds (an unseeded script: each rank drew its
    own Dropout seed) train with rank 0's seeds and weights."""
    x, y = _data(101)
    one_hist, one_w = _fit(_dropout_model(seed=11), x, y)
    models = [_dropout_model(seed=11), _dropout_model(seed=99)]

    def replica(comm):
        return _fit(models[comm.rank], x, y, DataParallel(comm))

    for hist, weights in run_replicas(2, replica, timeout=120):
        np.testing.assert_allclose(hist["loss"], one_hist["loss"], rtol=RTOL)
        for w, w1 in zip(weights, one_w):
            np.testing.assert_allclose(w, w1, rtol=RTOL, atol=1e-6)


@pytest.mark.parametrize("n", [8, 9], ids=["even", "uneven"])
def test_batchnorm_one_step_is_the_weighted_mean_of_the_share_steps(n):
    """Per-rank batch statistics: with SGD one global step moves the weights
    by the row-weighted mean of the shares' one-process steps; the moving
    statistics are the plain mean of the shares' (Keras's MEAN)."""
    x, y = _data(n, seed=1)
    shares = [shard_bounds(n, r, 2) for r in range(2)]
    singles = []
    for lo, hi in shares:
        m = _bn_model()
        hist, weights = _fit(m, x[lo:hi], y[lo:hi], batch_size=hi - lo, epochs=1)
        singles.append((hist, weights, hi - lo))
    models = [_bn_model(), _bn_model()]

    def replica(comm):
        return _fit(models[comm.rank], x, y, DataParallel(comm), batch_size=n, epochs=1)

    results = run_replicas(2, replica, timeout=120)
    # get_weights: kernel, bias, gamma, beta, moving_mean, moving_variance, kernel, bias
    moving = {4, 5}
    for hist, weights in results:
        for i, (w, a, b) in enumerate(zip(weights, singles[0][1], singles[1][1])):
            if i in moving:
                want = (a + b) / 2
            else:
                want = (a * singles[0][2] + b * singles[1][2]) / n
            np.testing.assert_allclose(w, want, rtol=1e-4, atol=1e-6, err_msg=str(i))
        loss = (singles[0][0]["loss"][0] * singles[0][2] + singles[1][0]["loss"][0] * singles[1][2]) / n
        np.testing.assert_allclose(hist["loss"][0], loss, rtol=1e-5)
    for w0, w1 in zip(results[0][1], results[1][1]):
        np.testing.assert_array_equal(w0, w1)


def test_batchnorm_fit_keeps_every_replica_identical_and_differs_from_one_process_by_design():
    x, y = _data(101, seed=2)
    one_hist, one_w = _fit(_bn_model("adam"), x, y)
    models = [_bn_model("adam"), _bn_model("adam")]

    def replica(comm):
        m = models[comm.rank]
        hist, weights = _fit(m, x, y, DataParallel(comm), validation_data=(x[:40], y[:40]))
        layer = _bn_layer(m)
        return hist, weights, (layer.moving_mean.copy(), layer.moving_variance.copy())

    results = run_replicas(2, replica, timeout=120)
    for (h0, w0, s0), (h1, w1, s1) in zip(results[:1], results[1:]):
        assert h0 == h1
        for a, b in zip(w0 + list(s0), w1 + list(s1)):
            np.testing.assert_array_equal(a, b)
    # Batch statistics of half batches: not the one-process numbers (as in Keras).
    assert not np.allclose(results[0][0]["loss"], one_hist["loss"], rtol=1e-6)
    # But a close training all the same.
    np.testing.assert_allclose(results[0][0]["loss"], one_hist["loss"], rtol=0.1)


def test_frozen_batchnorm_trains_as_one_process():
    """trainable=False runs in inference mode (moving statistics only):
    nothing depends on the batch, the fit equals one process."""
    x, y = _data(101, seed=3)

    def model():
        m = _bn_model("adam")
        _bn_layer(m).trainable = False
        m.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
        return m

    one_hist, one_w = _fit(model(), x, y)
    models = [model(), model()]
    for hist, weights in run_replicas(2, lambda c: _fit(models[c.rank], x, y, DataParallel(c)),
                                      timeout=120):
        np.testing.assert_allclose(hist["loss"], one_hist["loss"], rtol=RTOL)
        for w, w1 in zip(weights, one_w):
            np.testing.assert_allclose(w, w1, rtol=RTOL, atol=1e-6)
