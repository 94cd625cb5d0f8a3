"""Fixtures shared by the test packages."""

import os

import pytest

# Keras 3 picks its backend once per process, at its first import (which may
# be a test module's, at collection): jax, which can train, for every test.
os.environ.setdefault("KERAS_BACKEND", "jax")


@pytest.fixture(scope="session")
def keras3():
    """Real Keras 3 on jax (the `test-full` extra), the numeric oracle;
    the test is skipped with the reason when it cannot be imported."""
    try:
        import keras
    except ImportError as e:
        pytest.skip(f"Keras 3 is not importable: {e}")
    if keras.backend.backend() == "numpy":
        pytest.skip("Keras 3 runs on its numpy backend here (KERAS_BACKEND), which cannot train")
    return keras


def pytest_collection_modifyitems(session, config, items):
    """The tests that run real Keras as their oracle (files named
    *_vs_keras.py) go last, so the memory jax keeps allocating in the
    background never lands inside another test's RSS measurement."""
    items.sort(key=lambda item: "_vs_keras" in item.nodeid)
