"""Real Keras 3 (jax backend, extra 'test-full') as the numeric oracle for the
loss, metric and optimizer tests, and a helper that trains the same dense
model in Keras and in hookfit from the same initial weights."""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")


def real_keras():
    keras = pytest.importorskip("keras", reason="real Keras 3 (extra 'test-full') is the oracle")
    if keras.backend.backend() != "jax":
        pytest.skip(f"the Keras oracle needs the jax backend; got {keras.backend.backend()}")
    return keras


def train_both(layers, x, y, *, loss, optimizer, hf_loss=None, hf_optimizer=None, epochs=3,
               batch_size=8, sample_weight=None, seed=0):
    """Fit the same Sequential (layers: [(units, activation)]) in Keras and in
    hookfit from the same initial weights without shuffling. loss/optimizer
    are factories called with the module (keras or hookfit) unless the
    hookfit ones are given. Returns ((keras history, weights), (hookfit
    history, weights))."""
    import hookfit

    rk = real_keras()
    rng = np.random.default_rng(seed)
    kmodel = rk.Sequential([rk.Input((x.shape[1],))] + [rk.layers.Dense(u, activation=a) for u, a in layers])
    weights = [rng.normal(0, 0.5, w.shape).astype(np.float32) for w in kmodel.get_weights()]
    kmodel.set_weights(weights)
    kmodel.compile(optimizer=optimizer(rk), loss=loss(rk))
    kh = kmodel.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0,
                    sample_weight=sample_weight)
    hmodel = hookfit.Sequential([hookfit.layers.Dense(u, activation=a) for u, a in layers])
    hmodel.build((None, x.shape[1]))
    hmodel.set_weights(weights)
    hmodel.compile(optimizer=(hf_optimizer or optimizer)(hookfit), loss=(hf_loss or loss)(hookfit))
    hh = hmodel.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0,
                    sample_weight=sample_weight)
    return (kh.history, kmodel.get_weights()), (hh.history, hmodel.get_weights())


def assert_same_training(k, h, rtol=1e-4, atol=1e-6):
    (kh, kw), (hh, hw) = k, h
    for key in kh:
        np.testing.assert_allclose(hh[key], kh[key], rtol=rtol, atol=atol, err_msg=key)
    for a, b in zip(hw, kw):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
