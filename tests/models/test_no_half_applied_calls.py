"""A call that raises changes nothing; a running fit cannot be changed under it."""

import threading

import numpy as np
import pytest

import hookfit as keras
from hookfit.models.model import FitInProgressError


def test_compile_that_raises_leaves_the_model_as_it_was(make_model):
    model = make_model(units=(3,), metrics=("mae",))
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(20, 6)).astype(np.float32), rng.normal(size=(20, 3)).astype(np.float32)
    before = (model.optimizer, model.loss, model.metrics_names)
    with pytest.raises(ValueError, match="width"):
        model.compile(optimizer="adam", loss="mse", metrics=["sparse_categorical_accuracy"])
    assert (model.optimizer, model.loss, model.metrics_names) == before
    history = model.fit(x, y, epochs=1, verbose=0, shuffle=False)
    # Still MAE under its own name, and the core computes MAE.
    assert sorted(history.history) == ["loss", "mae"]
    mae = model.evaluate(x, y, verbose=0, return_dict=True)["mae"]
    np.testing.assert_allclose(mae, np.abs(model.predict(x, verbose=0) - y).mean(), rtol=1e-5)


@pytest.mark.parametrize(
    "bad",
    [np.zeros((6, 4), np.complex64), np.array([[object()] * 4] * 6), np.zeros((6, 4), "datetime64[s]"),
     np.zeros((5, 4), np.float32)],
    ids=["complex", "object", "datetime", "shape"],
)
def test_set_weights_checks_every_array_before_changing_any(make_model, bad):
    model = make_model(units=(3, 4, 1), activations=["relu", "relu", None])
    before = model.get_weights()
    new = [w + 1 for w in before]
    new[2] = bad  # the second layer's kernel
    with pytest.raises(ValueError, match="array 2|kernel"):
        model.set_weights(new)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_huge_batch_size_is_one_batch_and_checked_before_training(make_model, data):
    model = make_model()
    x, y = data
    history = model.fit(x, y, batch_size=2**63, validation_split=0.5, epochs=1, verbose=0)
    assert model.optimizer.iterations == 1 and "val_loss" in history.history
    weights = model.get_weights()
    with pytest.raises((TypeError, ValueError)):
        model.fit(x, y, batch_size=-1, validation_split=0.5, verbose=0)
    with pytest.raises((TypeError, ValueError)):
        model.fit(x, y, batch_size=4, validation_batch_size=0, validation_split=0.5, verbose=0)
    for a, b in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(a, b)
    assert model.predict(x, batch_size=2**63, verbose=0).shape == (50, 1)
    assert np.isfinite(model.evaluate(x, y, batch_size=2**63, verbose=0)[0])


class Calls(keras.callbacks.Callback):
    def __init__(self, action):
        super().__init__()
        self.action = action
        self.error = None

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            try:
                self.action(self.model)
            except FitInProgressError as e:
                self.error = e


@pytest.mark.parametrize(
    "action",
    [
        lambda m: m.compile(loss="mae"),
        lambda m: m.add(keras.layers.Dense(2)),
        lambda m: m.fit(np.zeros((4, 6), np.float32), np.zeros(4, np.float32), verbose=0),
        lambda m: m.train_on_batch(np.zeros((4, 6), np.float32), np.zeros(4, np.float32)),
    ],
    ids=["compile", "add", "nested fit", "train_on_batch"],
)
def test_changing_the_model_from_a_callback_is_refused(make_model, data, action):
    model = make_model()
    x, y = data
    cb = Calls(action)
    history = model.fit(x, y, epochs=2, verbose=0, callbacks=[cb])
    assert cb.error is not None and "fit is running" in str(cb.error)
    assert len(history.history["loss"]) == 2 and all(v > 0 for v in history.history["mae"])
    model.compile(loss="mae")  # allowed again once fit returned


def test_set_weights_and_evaluate_from_a_callback_stay_allowed(make_model, data):
    model = make_model()
    x, y = data
    start = model.get_weights()
    seen = []

    class Reset(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(self.model.evaluate(x, y, verbose=0))
            self.model.set_weights(start)

    model.fit(x, y, epochs=2, verbose=0, callbacks=[Reset()])
    for a, b in zip(model.get_weights(), start):
        np.testing.assert_array_equal(a, b)
    assert len(seen) == 2


def test_other_threads_are_refused_while_fit_runs(make_model, data):
    model = make_model()
    x, y = data
    errors = []
    started, done = threading.Event(), threading.Event()

    class Wait(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                started.set()
                done.wait(10)

    def other():
        started.wait(10)
        for call in (lambda: model.set_weights(model.get_weights()),
                     lambda: model.compile(loss="mae"),
                     lambda: model.predict(x, verbose=0),
                     lambda: model.fit(x, y, verbose=0)):
            try:
                call()
            except FitInProgressError as e:
                errors.append(str(e))
        done.set()

    t = threading.Thread(target=other)
    t.start()
    model.fit(x, y, epochs=2, verbose=0, callbacks=[Wait()])
    t.join()
    assert len(errors) == 4 and all("another thread" in e for e in errors)
