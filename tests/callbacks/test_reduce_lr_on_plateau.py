"""ReduceLROnPlateau against the Keras 2 rules."""

import logging

import numpy as np
import pytest

from hookfit.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from hookfit.optimizers import SGD


class FakeModel:
    def __init__(self, lr=1.0):
        self.optimizer = SGD(learning_rate=lr)
        self.stop_training = False


def drive(callback, values, key="val_loss", lr=1.0):
    model = FakeModel(lr)
    callback.set_model(model)
    callback.on_train_begin({})
    lrs = []
    for epoch, value in enumerate(values):
        logs = {"loss": 0.0, key: value}
        callback.on_epoch_end(epoch, logs)
        lrs.append((logs["lr"], float(model.optimizer.lr)))
    return lrs


def test_reduces_after_patience_and_logs_lr_before_reduction():
    lrs = drive(ReduceLROnPlateau(factor=0.5, patience=2), [1.0, 1.0, 1.0, 1.0, 1.0])
    logged = [float(a) for a, _ in lrs]
    in_force = [b for _, b in lrs]
    assert logged == [1.0, 1.0, 1.0, 0.5, 0.5]
    assert in_force == [1.0, 1.0, 0.5, 0.5, 0.25]
    assert type(lrs[0][0]) is np.float32


def test_cooldown_and_min_lr():
    callback = ReduceLROnPlateau(factor=0.5, patience=1, cooldown=2, min_lr=0.2)
    lrs = [b for _, b in drive(callback, [1.0] * 9)]
    # Keras decrements the cooldown before testing it, so cooldown=2 skips
    # one epoch: reductions at epochs 1, 3, 5 (clipped to min_lr), then none.
    f32_min = float(np.float32(0.2))
    assert lrs == [1.0, 0.5, 0.5, 0.25, 0.25, f32_min, f32_min, f32_min, f32_min]


def test_improvement_needs_min_delta():
    lrs = [b for _, b in drive(ReduceLROnPlateau(factor=0.5, patience=1, min_delta=0.1), [1.0, 0.95, 0.8])]
    assert lrs == [1.0, 0.5, 0.5]


def test_verbose_message_prints_float32_product(capsys):
    drive(ReduceLROnPlateau(factor=0.1, patience=0, verbose=1), [1.0, 1.0], lr=0.001)
    out = capsys.readouterr().out
    new_lr = np.float32(0.001) * 0.1
    assert out == f"\nEpoch 2: ReduceLROnPlateau reducing learning rate to {new_lr}.\n"


@pytest.mark.parametrize("monitor, maximise", [("val_acc", True), ("val_accuracy", True), ("acc_loss", True),
                                               ("val_loss", False), ("val_auc", False)])
def test_auto_mode_rule(monitor, maximise):
    callback = ReduceLROnPlateau(monitor=monitor)
    assert callback.best == (-np.inf if maximise else np.inf)


def test_factor_and_patience_validation():
    with pytest.raises(ValueError, match="does not support a factor >= 1.0"):
        ReduceLROnPlateau(factor=1.0)
    with pytest.raises(ValueError, match="patience must be >= 0"):
        ReduceLROnPlateau(patience=-1)
    with pytest.raises(TypeError, match="unexpected"):
        ReduceLROnPlateau(bogus=1)


def test_epsilon_alias_and_unknown_mode_warn(caplog):
    with caplog.at_level(logging.WARNING, logger="hookfit"):
        callback = ReduceLROnPlateau(epsilon=0.5, mode="up")
    assert callback.min_delta == 0.5
    assert "`epsilon` argument is deprecated" in caplog.text
    assert "Learning rate reduction mode up is unknown, fallback to auto mode." in caplog.text


def test_missing_monitor_warns_every_epoch(caplog):
    with caplog.at_level(logging.WARNING, logger="hookfit"):
        lrs = drive(ReduceLROnPlateau(patience=0), [1.0, 1.0], key="other")
    assert [b for _, b in lrs] == [1.0, 1.0]
    assert [r.getMessage() for r in caplog.records] == [
        "Learning rate reduction is conditioned on metric `val_loss` which is not available. "
        "Available metrics are: loss,other,lr"
    ] * 2  # tf-keras logs it at every epoch


def test_state_round_trip():
    callback = ReduceLROnPlateau(factor=0.5, patience=3, cooldown=1)
    drive(callback, [1.0, 1.0])
    state = callback.get_state()
    assert state == {"best": 1.0, "wait": 1, "cooldown_counter": 0}
    other = ReduceLROnPlateau(factor=0.5, patience=3, cooldown=1)
    other.set_state(state)
    assert other.get_state() == state
