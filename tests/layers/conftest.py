"""Shared helpers for the layer tests: real Keras 3 (jax backend) as the
numeric oracle, through tests/keras_oracle.py."""

import keras_oracle
import numpy as np
import pytest


@pytest.fixture(scope="session")
def real_keras():
    """Keras 3 with the jax backend (the test-full extra), or skip."""
    return keras_oracle.real_keras()


class Helpers:
    """Small helpers for the Keras comparisons (a fixture: tests import nothing)."""

    @staticmethod
    def data(n=32, d=5, seed=0):
        rng = np.random.default_rng(seed)
        return rng.standard_normal((n, d)).astype(np.float32)

    @staticmethod
    def copy_weights(ours, theirs):
        """Give the Keras model our model's weights (same order as get_weights)."""
        theirs.set_weights(ours.get_weights())

    train_both = staticmethod(keras_oracle.train_on_batches)


@pytest.fixture
def h():
    return Helpers
