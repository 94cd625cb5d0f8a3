"""Shared helpers for the layer tests: real Keras 3 (jax backend) as the
numeric oracle."""

import os

import numpy as np
import pytest


@pytest.fixture(scope="session")
def real_keras():
    """Keras 3 with the jax backend (the test-full extra), or skip."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    try:
        import keras
    except ImportError as e:
        pytest.skip(f"Keras 3 is not importable: {e}")
    if keras.backend.backend() != "jax":
        pytest.skip(f"Keras runs on {keras.backend.backend()}, not jax")
    return keras


class Helpers:
    """Small helpers for the Keras comparisons (a fixture: tests import nothing)."""

    @staticmethod
    def data(n=32, d=5, seed=0):
        return data(n, d, seed)

    @staticmethod
    def copy_weights(ours, theirs):
        copy_weights(ours, theirs)

    @staticmethod
    def train_both(ours, theirs, x, y, steps=4, batch=8):
        return train_both(ours, theirs, x, y, steps, batch)


@pytest.fixture
def h():
    return Helpers


def data(n=32, d=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)).astype(np.float32)


def copy_weights(ours, theirs):
    """Give the Keras model our model's weights (same order as get_weights)."""
    theirs.set_weights(ours.get_weights())


def train_both(ours, theirs, x, y, steps=4, batch=8):
    """Losses of ``steps`` train_on_batch calls on each model."""
    losses = []
    for s in range(steps):
        xb, yb = x[s * batch:(s + 1) * batch], y[s * batch:(s + 1) * batch]
        a = ours.train_on_batch(xb, yb)
        b = theirs.train_on_batch(xb, yb)
        a = a[0] if isinstance(a, list) else a
        b = b[0] if isinstance(b, list) else b
        losses.append((float(a), float(b)))
    return losses
