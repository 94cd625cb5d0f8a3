"""EarlyStopping against the Keras 2 (tf-keras 2.21) rules."""

import logging

import numpy as np
import pytest

from hookfit.callbacks.early_stopping import EarlyStopping


class FakeModel:
    """Weights that record which epoch produced them."""

    def __init__(self):
        self.stop_training = False
        self.weights = [np.zeros(2, np.float32)]

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w) for w in weights]


def run(callback, values, key="loss", model=None):
    """Drive the callback as fit does; return (model, epochs run)."""
    model = model or FakeModel()
    callback.set_model(model)
    callback.on_train_begin({})
    epochs = 0
    for epoch, value in enumerate(values):
        callback.on_epoch_begin(epoch, {})
        model.weights = [np.full(2, epoch, np.float32)]  # "training"
        logs = {key: value}
        callback.on_epoch_end(epoch, logs)
        epochs += 1
        if model.stop_training:
            break
    callback.on_train_end(logs)
    return model, epochs


LOSSES = [10, 9, 8, 9, 8.9, 8.8, 8.7, 8.6, 8.5, 8.4]


@pytest.mark.parametrize("patience", [0, 1, 2, 3])
def test_patience_stops_at_keras_epoch(patience):
    callback = EarlyStopping(monitor="loss", patience=patience)
    model, epochs = run(callback, LOSSES)
    assert callback.stopped_epoch == max(patience, 1) + 2
    assert epochs == callback.stopped_epoch + 1
    assert model.stop_training


def test_baseline_keeps_counting_and_restores_best():
    callback = EarlyStopping(monitor="loss", patience=5, baseline=0.5, restore_best_weights=True)
    model, epochs = run(callback, [0.9, 0.8, 0.7, 0.71, 0.72, 0.73])
    assert epochs == 5 and callback.stopped_epoch == 4
    assert callback.best_epoch == 2
    np.testing.assert_array_equal(model.weights[0], [2, 2])


def test_restores_best_weights_at_train_end_even_without_stopping(capsys):
    # tf-keras >= 2.16: restored when epochs run out too.
    callback = EarlyStopping(monitor="loss", patience=10, restore_best_weights=True, verbose=1)
    model, epochs = run(callback, [3.0, 1.0, 2.0, 2.5])
    assert epochs == 4 and not model.stop_training
    np.testing.assert_array_equal(model.weights[0], [1, 1])
    assert capsys.readouterr().out == "Restoring model weights from the end of the best epoch: 2.\n"


def test_verbose_messages_when_stopping(capsys):
    callback = EarlyStopping(monitor="loss", patience=0, verbose=1, restore_best_weights=True)
    run(callback, [1.0, 0.5, 0.6])
    assert capsys.readouterr().out == (
        "Epoch 3: early stopping\nRestoring model weights from the end of the best epoch: 2.\n"
    )


def test_min_delta_and_max_mode():
    # |min_delta| is required to count as an improvement.
    callback = EarlyStopping(monitor="loss", min_delta=-0.5, patience=0)
    _, epochs = run(callback, [1.0, 0.8, 0.7])
    assert epochs == 2
    callback = EarlyStopping(monitor="val_accuracy", patience=0)  # auto -> max
    _, epochs = run(callback, [0.5, 0.6, 0.55], key="val_accuracy")
    assert epochs == 3 and callback.stopped_epoch == 2


@pytest.mark.parametrize(
    "monitor, op",
    [("val_acc", np.greater), ("accuracy", np.greater), ("val_auc", np.greater),
     ("val_loss", np.less), ("val_accuracy_x", np.less), ("mae", np.less)],
)
def test_auto_mode_rule(monitor, op):
    assert EarlyStopping(monitor=monitor).monitor_op is op


def test_unknown_mode_warns_and_falls_back(caplog):
    with caplog.at_level(logging.WARNING, logger="hookfit"):
        callback = EarlyStopping(mode="sideways")
    assert "EarlyStopping mode sideways is unknown, fallback to auto mode." in caplog.text
    assert callback.monitor_op is np.less


def test_missing_monitor_warns_every_epoch_and_never_stops(caplog):
    callback = EarlyStopping(monitor="val_loss", patience=0)
    with caplog.at_level(logging.WARNING, logger="hookfit"):
        model, epochs = run(callback, [1, 2, 3, 4])
    assert epochs == 4 and not model.stop_training
    messages = [r.getMessage() for r in caplog.records]
    # tf-keras logs it at every epoch the key is missing.
    assert messages == [
        "Early stopping conditioned on metric `val_loss` which is not available. "
        "Available metrics are: loss"
    ] * 4


def test_start_from_epoch_ignores_warm_up():
    callback = EarlyStopping(monitor="loss", patience=0, start_from_epoch=2)
    _, epochs = run(callback, [1.0, 2.0, 3.0, 4.0])
    assert callback.stopped_epoch == 3 and epochs == 4


def test_negative_patience_rejected():
    with pytest.raises(ValueError, match="patience must be >= 0"):
        EarlyStopping(patience=-1)


def test_reusable_and_state_round_trip():
    callback = EarlyStopping(monitor="loss", patience=2, restore_best_weights=True)
    run(callback, [5.0, 4.0, 4.5])
    state = callback.get_state()
    assert state["wait"] == 1 and state["best"] == 4.0 and state["best_epoch"] == 1
    other = EarlyStopping(monitor="loss", patience=2, restore_best_weights=True)
    other.set_model(FakeModel())
    other.on_train_begin({})
    other.set_state(state)
    assert other.get_state()["wait"] == 1
    np.testing.assert_array_equal(other.best_weights[0], [1, 1])
    run(callback, LOSSES)  # on_train_begin resets
    assert callback.stopped_epoch == 4


# -- with the real loop ------------------------------------------------------------

def test_in_fit_stops_and_restores_best_weights():
    import hookfit as keras

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = x @ np.ones((3, 1), np.float32)
    model = keras.Sequential([keras.layers.Dense(1, input_dim=3)])
    # A rate so large that the loss diverges after the first epochs.
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.9), loss="mse")
    snapshots = []
    record = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: snapshots.append(model.get_weights()))
    stop = EarlyStopping(monitor="loss", patience=1, restore_best_weights=True)
    history = model.fit(x, y, epochs=20, batch_size=64, verbose=0, callbacks=[record, stop])
    losses = history.history["loss"]
    best = int(np.argmin(losses))
    assert len(losses) < 20 and stop.stopped_epoch == len(losses) - 1
    for a, b in zip(model.get_weights(), snapshots[best]):
        np.testing.assert_array_equal(a, b)
