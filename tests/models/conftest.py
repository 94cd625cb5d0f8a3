"""Tiny data, a model factory and a hook-recording callback for the loop tests."""

import numpy as np
import pytest

import hookfit as keras

ALL_HOOKS = (
    "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
    "on_train_batch_begin", "on_train_batch_end", "on_test_begin", "on_test_end",
    "on_test_batch_begin", "on_test_batch_end", "on_predict_begin", "on_predict_end",
    "on_predict_batch_begin", "on_predict_batch_end",
)


class Recorder(keras.callbacks.Callback):
    """Overrides all fourteen hooks; records (hook, index, logs copy, logs id)."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def _rec(self, hook, index, logs):
        assert isinstance(logs, dict)
        self.calls.append((hook, index, dict(logs), id(logs)))

    def hooks(self):
        return [(h, i) for h, i, _, _ in self.calls]


def _make_hook(hook, batch_like):
    if batch_like:
        def method(self, index, logs=None):
            self._rec(hook, index, logs)
    else:
        def method(self, logs=None):
            self._rec(hook, None, logs)
    method.__name__ = hook
    return method


for _hook in ALL_HOOKS:
    _indexed = "batch" in _hook or "epoch" in _hook
    setattr(Recorder, _hook, _make_hook(_hook, _indexed))


@pytest.fixture
def recorder_cls():
    return Recorder


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 6)).astype(np.float32)
    w = rng.normal(size=(6,))
    y = (x @ w + 0.1 * rng.normal(size=50)).astype(np.float32)
    return x, y


@pytest.fixture
def make_model():
    def make(input_dim=6, units=(1,), activations=None, loss="mse", metrics=("mae",),
             optimizer=None, seed=0):
        keras.utils.set_random_seed(seed)
        activations = activations or [None] * len(units)
        model = keras.Sequential()
        for i, (u, a) in enumerate(zip(units, activations)):
            kwargs = {"input_dim": input_dim} if i == 0 else {}
            model.add(keras.layers.Dense(u, activation=a, **kwargs))
        model.compile(
            optimizer=optimizer if optimizer is not None else keras.optimizers.RMSprop(0.01),
            loss=loss,
            metrics=list(metrics),
        )
        return model

    return make
