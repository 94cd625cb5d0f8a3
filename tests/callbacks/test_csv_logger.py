"""CSVLogger: Keras 2's exact file format, written atomically."""

import os

import numpy as np
import pytest

from hookfit.callbacks.csv_logger import CSVLogger
from hookfit.utils.atomic import UnwritableDirectoryError


def drive(callback, epoch_logs):
    callback.on_train_begin({})
    for epoch, logs in enumerate(epoch_logs):
        callback.on_epoch_end(epoch, dict(logs))
    callback.on_train_end({})


def test_format_without_validation_has_na_val_columns(tmp_path):
    path = tmp_path / "log.csv"
    drive(CSVLogger(path), [{"mae": 0.25, "loss": 0.5}, {"loss": 0.1234567835927009, "mae": 0.125}])
    assert path.read_bytes() == (
        b"epoch,loss,mae,val_loss,val_mae\r\n"
        b"0,0.5,0.25,NA,NA\r\n"
        b"1,0.1234567835927009,0.125,NA,NA\r\n"
    )


def test_validation_freq_gaps_are_na_and_separator(tmp_path):
    path = tmp_path / "log.csv"
    logs = [{"loss": 1.0, "val_loss": 2.0}, {"loss": 0.5}, {"loss": 0.25, "val_loss": 1.5}]
    drive(CSVLogger(path, separator=";"), logs)
    assert path.read_bytes().decode() == (
        "epoch;loss;val_loss\r\n0;1.0;2.0\r\n1;0.5;NA\r\n2;0.25;1.5\r\n"
    )


def test_float32_lr_and_array_values(tmp_path):
    path = tmp_path / "log.csv"
    drive(CSVLogger(path), [{"loss": 1.0, "lr": np.float32(0.001), "val_loss": 1.0, "v": np.array([1, 2])}])
    text = path.read_bytes().decode()
    assert text.splitlines()[0] == "epoch,loss,lr,v,val_loss"
    # Keras wraps iterables in quotes itself, and the csv module quotes again.
    assert text.splitlines()[1] == '0,1.0,0.001,"""[1, 2]""",1.0'


def test_append_writes_header_once(tmp_path):
    path = tmp_path / "log.csv"
    drive(CSVLogger(path), [{"loss": 1.0}])
    drive(CSVLogger(path, append=True), [{"loss": 0.5}])
    assert path.read_bytes().decode() == (
        "epoch,loss,val_loss\r\n0,1.0,NA\r\n0,0.5,NA\r\n"
    )


def test_overwrite_truncates_at_train_begin_and_keeps_keys_across_fits(tmp_path):
    path = tmp_path / "log.csv"
    callback = CSVLogger(path)
    drive(callback, [{"loss": 1.0, "mae": 2.0}])
    callback.on_train_begin({})
    assert path.read_bytes() == b""
    callback.on_epoch_end(0, {"loss": 3.0, "extra": 1.0})  # keys from the first fit
    assert path.read_bytes().decode() == "epoch,loss,mae,val_loss,val_mae\r\n0,3.0,NA,NA,NA\r\n"


def test_unwritable_directory_fails_at_train_begin(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UnwritableDirectoryError):
        CSVLogger(blocker / "log.csv").on_train_begin({})


def test_no_temp_files_left_and_state_round_trip(tmp_path):
    path = tmp_path / "log.csv"
    callback = CSVLogger(path)
    callback.on_train_begin({})
    callback.on_epoch_end(0, {"loss": 1.0})
    state = callback.get_state()
    callback.on_epoch_end(1, {"loss": 0.5})
    assert os.listdir(tmp_path) == ["log.csv"]
    # Restoring rewrites the file as it was at that point.
    callback.set_state(state)
    assert path.read_bytes().decode() == "epoch,loss,val_loss\r\n0,1.0,NA\r\n"
    callback.on_epoch_end(1, {"loss": 0.25})
    assert path.read_bytes().decode() == "epoch,loss,val_loss\r\n0,1.0,NA\r\n1,0.25,NA\r\n"


def test_bad_separator():
    with pytest.raises(ValueError, match="single character"):
        CSVLogger("x.csv", separator=", ")


def test_in_fit_with_validation_and_lr(tmp_path):
    import hookfit as keras
    from hookfit.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau

    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 3)).astype(np.float32)
    y = rng.standard_normal((40, 1)).astype(np.float32)
    model = keras.Sequential([keras.layers.Dense(1, input_dim=3)])
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    path = tmp_path / "log.csv"
    history = model.fit(x, y, epochs=2, validation_split=0.25, verbose=0,
                        callbacks=[ReduceLROnPlateau(), CSVLogger(path)])
    lines = path.read_bytes().decode().split("\r\n")
    assert lines[0] == "epoch,loss,lr,mae,val_loss,val_mae"
    h = history.history
    for epoch in range(2):
        assert lines[1 + epoch] == ",".join(
            [str(epoch), str(h["loss"][epoch]), str(h["lr"][epoch]), str(h["mae"][epoch]),
             str(h["val_loss"][epoch]), str(h["val_mae"][epoch])])
    assert lines[3] == ""
