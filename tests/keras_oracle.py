"""Real Keras 3 (jax backend, extra 'test-full') as the numeric oracle: the one
place that imports it (or skips the test), builds the same model in Keras 3
with hookfit's weights, and trains both side by side. Used by the loss,
metric, optimizer, layer and model tests (tests/conftest.py puts this
directory on sys.path and its ``keras3`` fixture returns real_keras())."""

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


def same_model_in_keras(build, ours):
    """The Keras 3 model made by build(keras) (the code that built ours with
    hookfit), holding our model's weights (same get_weights order)."""
    theirs = build(real_keras())
    theirs.set_weights(ours.get_weights())
    return theirs


def train_on_batches(ours, theirs, x, y, steps=4, batch=8):
    """The (ours, theirs) losses of `steps` train_on_batch calls on consecutive
    slices of `batch` rows."""
    losses = []
    for s in range(steps):
        xb, yb = x[s * batch:(s + 1) * batch], y[s * batch:(s + 1) * batch]
        a = ours.train_on_batch(xb, yb)
        b = theirs.train_on_batch(xb, yb)
        a = a[0] if isinstance(a, list) else a
        b = b[0] if isinstance(b, list) else b
        losses.append((float(a), float(b)))
    return losses


def assert_trains_like_keras(ours, theirs, x, y, *, lr=0.05, loss="mse", steps=4, batch=8,
                             rtol=1e-4, atol=1e-5):
    """Compile both with SGD(lr) and `loss`, train them on the same batches,
    and assert the losses and the final weights agree."""
    import hookfit

    ours.compile(optimizer=hookfit.optimizers.SGD(lr), loss=loss)
    theirs.compile(optimizer=real_keras().optimizers.SGD(lr), loss=loss)
    for a, b in train_on_batches(ours, theirs, x, y, steps, batch):
        np.testing.assert_allclose(a, b, rtol=rtol)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
