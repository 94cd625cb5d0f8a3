"""LearningRateScheduler against the Keras 2 rules."""

import numpy as np
import pytest

from hookfit.callbacks.learning_rate_scheduler import LearningRateScheduler
from hookfit.optimizers import SGD


class FakeModel:
    def __init__(self, lr=0.1):
        self.optimizer = SGD(learning_rate=lr)
        self.stop_training = False


def drive(callback, epochs, model=None):
    model = model or FakeModel()
    callback.set_model(model)
    callback.on_train_begin({})
    history = []
    for epoch in range(epochs):
        callback.on_epoch_begin(epoch, {})
        logs = {"loss": 1.0}
        callback.on_epoch_end(epoch, logs)
        history.append(logs)
    return model, history


def test_schedule_sets_lr_and_logs_it_as_float32():
    callback = LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch else lr)
    model, history = drive(callback, 3)
    assert [type(h["lr"]) for h in history] == [np.float32] * 3
    assert [h["lr"] for h in history] == [np.float32(0.1), np.float32(0.05), np.float32(0.025)]
    assert float(model.optimizer.learning_rate) == float(np.float32(0.025))


def test_schedule_receives_float_current_lr():
    seen = []

    def schedule(epoch, lr):
        seen.append((epoch, type(lr), lr))
        return 0.01

    drive(LearningRateScheduler(schedule), 2)
    assert seen == [(0, float, float(np.float32(0.1))), (1, float, float(np.float32(0.01)))]


def test_one_argument_schedule_accepted():
    model, history = drive(LearningRateScheduler(lambda epoch: 0.5 / (epoch + 1)), 2)
    assert history[1]["lr"] == np.float32(0.25)


def test_verbose_line(capsys):
    drive(LearningRateScheduler(lambda epoch, lr: 0.001, verbose=1), 1)
    assert capsys.readouterr().out == "\nEpoch 1: LearningRateScheduler setting learning rate to 0.001.\n"


@pytest.mark.parametrize("result", [1, "0.1", None, np.int64(1), True])
def test_non_float_result_rejected(result):
    with pytest.raises(ValueError, match='The output of the "schedule" function should be float'):
        drive(LearningRateScheduler(lambda epoch, lr: result), 1)


def test_numpy_floats_accepted():
    drive(LearningRateScheduler(lambda epoch, lr: np.float32(0.2)), 1)
    drive(LearningRateScheduler(lambda epoch, lr: np.float64(0.2)), 1)


def test_nan_rejected():
    with pytest.raises(ValueError, match="finite"):
        drive(LearningRateScheduler(lambda epoch, lr: float("nan")), 1)


def test_optimizer_without_lr():
    class NoLr:
        pass

    model = FakeModel()
    model.optimizer = NoLr()
    with pytest.raises(ValueError, match='Optimizer must have a "lr" attribute.'):
        drive(LearningRateScheduler(lambda e, lr: 0.1), 1, model)


def test_schedule_must_be_callable():
    with pytest.raises(TypeError, match="schedule must be a function"):
        LearningRateScheduler(0.1)


def test_in_fit_lr_reaches_history_and_takes_effect():
    import hookfit as keras

    x = np.ones((8, 2), np.float32)
    y = np.zeros((8, 1), np.float32)
    model = keras.Sequential([keras.layers.Dense(1, input_dim=2)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    weights = []
    callbacks = [
        LearningRateScheduler(lambda epoch, lr: 0.0 if epoch == 1 else 0.05),
        keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: weights.append(model.get_weights())),
    ]
    history = model.fit(x, y, epochs=3, batch_size=4, verbose=0, callbacks=callbacks)
    assert history.history["lr"] == [np.float32(0.05), np.float32(0.0), np.float32(0.05)]
    assert all(type(v) is np.float32 for v in history.history["lr"])
    for a, b in zip(weights[0], weights[1]):  # lr 0 in epoch 1: no change
        np.testing.assert_array_equal(a, b)
