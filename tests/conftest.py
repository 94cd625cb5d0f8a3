"""Fixtures shared by the test packages."""

import os

import pytest


@pytest.fixture(scope="session")
def keras3():
    """Real Keras 3 on jax (the `test-full` extra), the numeric oracle;
    the test is skipped with the reason when it cannot be imported."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    try:
        import keras
    except ImportError as e:
        pytest.skip(f"Keras 3 is not importable: {e}")
    return keras
