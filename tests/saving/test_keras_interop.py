"""Weights round-trip through real Keras 3 (jax backend) via .weights.h5.

A test-only extra: needs keras (and, for its numpy backend in Keras 3.15,
jax) plus h5py; skipped with the reason when they are absent.
"""

import os

import numpy as np
import pytest

pytest.importorskip("h5py", reason="h5py (extra 'h5') is needed for .weights.h5")
os.environ.setdefault("KERAS_BACKEND", "jax")
try:
    import keras
except ImportError as e:  # keras absent, or its numpy backend's jax import failed
    pytest.skip(f"Keras 3 with the jax backend is not importable: {e}", allow_module_level=True)

from hookfit.saving import load_weights, save_weights


class FakeDense:
    def __init__(self, name, weights):
        self.name = name
        self.weights = weights

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w, dtype=np.float32) for w in weights]


FakeDense.__name__ = "Dense"


class FakeModel:
    name = "sequential"
    built = True

    def __init__(self, seed):
        rng = np.random.default_rng(seed)
        self.layers = [
            FakeDense("d0", [rng.standard_normal((5, 4)).astype("f4"), rng.standard_normal(4).astype("f4")]),
            FakeDense("d1", [rng.standard_normal((4, 3)).astype("f4")]),
        ]

    def forward(self, x):
        (k0, b0), (k1,) = (layer.weights for layer in self.layers)
        return np.maximum(x @ k0 + b0, 0) @ k1


def keras_model():
    return keras.Sequential(
        [keras.Input((5,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(3, use_bias=False)]
    )


def test_hookfit_weights_load_into_keras(tmp_path):
    ours = FakeModel(seed=1)
    path = tmp_path / "ours.weights.h5"
    save_weights(ours, path)
    theirs = keras_model()
    theirs.load_weights(path)
    x = np.random.default_rng(2).standard_normal((7, 5)).astype("f4")
    np.testing.assert_allclose(np.asarray(theirs.predict(x, verbose=0)), ours.forward(x), rtol=1e-5, atol=1e-6)


def test_keras_weights_load_into_hookfit(tmp_path):
    theirs = keras_model()
    theirs.compile(optimizer="rmsprop", loss="mse")  # the file then also holds optimizer vars
    path = tmp_path / "theirs.weights.h5"
    theirs.save_weights(path)
    ours = FakeModel(seed=3)
    load_weights(ours, path)
    got = [w for layer in ours.layers for w in layer.get_weights()]
    for a, b in zip(got, theirs.get_weights()):
        np.testing.assert_array_equal(a, np.asarray(b))


def hookfit_model():
    import hookfit

    hookfit.utils.set_random_seed(5)
    model = hookfit.Sequential(
        [hookfit.layers.Dense(4, activation="relu", input_dim=5), hookfit.layers.Dense(3, use_bias=False)]
    )
    model.compile(optimizer="rmsprop", loss="mse")
    return model


def test_trained_hookfit_model_predicts_the_same_in_keras(tmp_path):
    ours = hookfit_model()
    rng = np.random.default_rng(4)
    x = rng.standard_normal((64, 5)).astype("f4")
    ours.fit(x, rng.standard_normal((64, 3)).astype("f4"), epochs=2, verbose=0)
    path = tmp_path / "trained.weights.h5"
    ours.save_weights(path)
    theirs = keras_model()
    theirs.load_weights(path)
    np.testing.assert_allclose(
        np.asarray(theirs.predict(x, verbose=0)), ours.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )
    # and back: Keras's file into a fresh hookfit model
    theirs.save_weights(tmp_path / "back.weights.h5")
    again = hookfit_model()
    again.load_weights(tmp_path / "back.weights.h5")
    np.testing.assert_array_equal(again.predict(x, verbose=0), ours.predict(x, verbose=0))
