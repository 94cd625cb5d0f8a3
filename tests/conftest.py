"""Fixtures shared by the test packages."""

import os
import sys
from pathlib import Path

import pytest

# Keras 3 picks its backend once per process, at its first import (which may
# be a test module's, at collection): jax, which can train, for every test.
os.environ.setdefault("KERAS_BACKEND", "jax")

# tests/keras_oracle.py, the one place that builds and trains the same model
# in Keras 3: importable from every test package.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import keras_oracle  # noqa: E402


@pytest.fixture(scope="session")
def keras3():
    """Real Keras 3 on jax (the `test-full` extra), the numeric oracle; the
    test is skipped with the reason when it cannot be used (keras_oracle)."""
    return keras_oracle.real_keras()


def pytest_collection_modifyitems(session, config, items):
    """The tests that run real Keras as their oracle (files named
    *_vs_keras.py) go last, so the memory jax keeps allocating in the
    background never lands inside another test's RSS measurement."""
    items.sort(key=lambda item: "_vs_keras" in item.nodeid)


@pytest.fixture
def plain_runs(monkeypatch):
    """The fits that ran their epochs back to back
    (``Trainer._plain_epochs``: trainers/back_to_back.py)."""
    from hookfit.trainers.trainer import Trainer

    runs = []
    original = Trainer._plain_epochs

    def spy(self, *args, **kwargs):
        runs.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "_plain_epochs", spy)
    return runs
