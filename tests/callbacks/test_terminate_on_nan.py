"""TerminateOnNaN against the Keras 2 rules."""

import numpy as np
import pytest

from hookfit.callbacks.terminate_on_nan import TerminateOnNaN


class FakeModel:
    stop_training = False


@pytest.mark.parametrize("loss", [float("nan"), float("inf"), -float("inf"), np.float32("nan")])
def test_stops_on_non_finite_loss(loss, capsys):
    callback = TerminateOnNaN()
    callback.set_model(FakeModel())
    callback.on_train_batch_end(3, {"loss": loss})  # the base forwards to on_batch_end
    assert callback.model.stop_training
    assert capsys.readouterr().out == "Batch 3: Invalid loss, terminating training\n"


def test_finite_or_missing_loss_keeps_going(capsys):
    callback = TerminateOnNaN()
    callback.set_model(FakeModel())
    callback.on_batch_end(0, {"loss": 1e30})
    callback.on_batch_end(1, {})
    callback.on_batch_end(2, None)
    assert not callback.model.stop_training
    assert capsys.readouterr().out == ""


def test_asks_for_train_batch_hooks_only():
    callback = TerminateOnNaN()
    assert callback._implements_train_batch_hooks()
    assert not callback._implements_test_batch_hooks()
    assert not callback._implements_predict_batch_hooks()


def test_in_fit_finishes_the_epoch_then_stops():
    import hookfit as keras

    x = np.full((32, 2), 1e18, np.float32)  # the squared error overflows float32
    y = np.zeros((32, 1), np.float32)
    model = keras.Sequential([keras.layers.Dense(1, input_dim=2, kernel_initializer="ones")])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(x, y, epochs=5, batch_size=8, verbose=0, callbacks=[TerminateOnNaN()])
    assert len(history.history["loss"]) == 1
    assert not np.isfinite(history.history["loss"][0])
