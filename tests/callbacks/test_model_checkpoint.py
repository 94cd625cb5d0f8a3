"""ModelCheckpoint against the Keras 2 rules (weights-only saves with a fake model)."""

import logging
import os

import numpy as np
import pytest

from hookfit.callbacks.model_checkpoint import FilepathTemplateError, ModelCheckpoint
from hookfit.saving import load_weights
from hookfit.utils.atomic import UnwritableDirectoryError


class FakeDense:
    def __init__(self):
        self.name = "dense"
        self.weights = [np.zeros((2, 1), np.float32), np.zeros(1, np.float32)]

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w, np.float32) for w in weights]


FakeDense.__name__ = "Dense"


class FakeModel:
    name = "sequential"
    built = True

    def __init__(self):
        self.layers = [FakeDense()]
        self.stop_training = False


def fit(callback, epoch_logs, steps=1, model=None):
    model = model or FakeModel()
    callback.set_model(model)
    callback.set_params({"verbose": 0, "epochs": len(epoch_logs), "steps": steps})
    callback.on_train_begin({})
    for epoch, logs in enumerate(epoch_logs):
        callback.on_epoch_begin(epoch, {})
        for batch in range(steps):
            model.layers[0].weights[1][:] = epoch * 100 + batch  # "training"
            if callback._implements_train_batch_hooks():
                callback.on_train_batch_begin(batch, {})
                callback.on_train_batch_end(batch, dict(logs))
        callback.on_epoch_end(epoch, dict(logs))
    callback.on_train_end({})
    return model


def bias_in(path):
    model = FakeModel()
    load_weights(model, path)
    return float(model.layers[0].weights[1][0])


def test_template_filled_with_one_based_epoch_and_logs(tmp_path):
    template = str(tmp_path / "w.{epoch:02d}-{val_loss:.2f}.npz")
    fit(ModelCheckpoint(template, save_weights_only=True), [{"val_loss": 0.5}, {"val_loss": 0.25}])
    assert sorted(os.listdir(tmp_path)) == ["w.01-0.50.npz", "w.02-0.25.npz"]
    assert bias_in(tmp_path / "w.02-0.25.npz") == 100.0


def test_missing_template_key_names_it(tmp_path):
    template = str(tmp_path / "w.{epoch:02d}-{val_acc:.2f}.npz")
    with pytest.raises(FilepathTemplateError, match="val_acc") as info:
        fit(ModelCheckpoint(template, save_weights_only=True), [{"loss": 0.5}])
    message = str(info.value)
    assert message.startswith(f'Failed to format this callback filepath: "{template}". Reason:')
    assert "values available are: epoch, loss" in message
    assert isinstance(info.value, KeyError) and isinstance(info.value, ValueError)


def test_bad_format_spec_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="Failed to format"):
        fit(ModelCheckpoint(str(tmp_path / "w.{loss:d}.npz"), save_weights_only=True), [{"loss": 0.5}])


def test_save_best_only_messages_and_files(tmp_path, capsys):
    path = tmp_path / "best.npz"
    callback = ModelCheckpoint(path, monitor="val_loss", save_best_only=True, save_weights_only=True, verbose=1)
    fit(callback, [{"val_loss": 0.5}, {"val_loss": 0.7}, {"val_loss": 0.25}])
    assert capsys.readouterr().out == (
        f"\nEpoch 1: val_loss improved from inf to 0.50000, saving model to {path}\n"
        "\nEpoch 2: val_loss did not improve from 0.50000\n"
        f"\nEpoch 3: val_loss improved from 0.50000 to 0.25000, saving model to {path}\n"
    )
    assert bias_in(path) == 200.0
    assert callback.get_state()["best"] == 0.25


def test_save_every_epoch_message(tmp_path, capsys):
    path = tmp_path / "w.npz"
    fit(ModelCheckpoint(path, save_weights_only=True, verbose=1), [{"loss": 1.0}])
    assert capsys.readouterr().out == f"\nEpoch 1: saving model to {path}\n"


def test_auto_mode_rule_and_initial_threshold(tmp_path):
    assert ModelCheckpoint("a.npz", monitor="val_acc", save_weights_only=True).monitor_op is np.greater
    assert ModelCheckpoint("a.npz", monitor="val_categorical_accuracy", save_weights_only=True).monitor_op is np.greater
    assert ModelCheckpoint("a.npz", monitor="fmeasure_x", save_weights_only=True).monitor_op is np.greater
    assert ModelCheckpoint("a.npz", monitor="val_auc", save_weights_only=True).monitor_op is np.less
    path = tmp_path / "best.npz"
    fit(ModelCheckpoint(path, save_best_only=True, save_weights_only=True, initial_value_threshold=0.1),
        [{"val_loss": 0.5}])
    assert not path.exists()


def test_missing_monitor_with_save_best_only_warns_and_skips(tmp_path, caplog):
    path = tmp_path / "best.npz"
    with caplog.at_level(logging.WARNING, logger="hookfit"):
        fit(ModelCheckpoint(path, save_best_only=True, save_weights_only=True), [{"loss": 0.5}] * 3)
    # tf-keras logs it at every save attempt (here every epoch).
    assert [r.getMessage() for r in caplog.records] == [
        "Can save best model only with val_loss available, skipping."] * 3
    assert not path.exists()


def test_save_freq_in_batches_counts_across_epochs(tmp_path):
    template = str(tmp_path / "w.{epoch}-{batch}.npz")
    callback = ModelCheckpoint(template, save_weights_only=True, save_freq=3)
    assert callback._implements_train_batch_hooks()
    fit(callback, [{"loss": 1.0}] * 3, steps=4)
    # 12 batches, a save after batches 3, 6, 9, 12 (global), named 1-based.
    assert sorted(os.listdir(tmp_path)) == ["w.1-3.npz", "w.2-2.npz", "w.3-1.npz", "w.3-4.npz"]
    assert bias_in(tmp_path / "w.2-2.npz") == 101.0


def test_bad_arguments():
    with pytest.raises(ValueError, match="Unrecognized save_freq: often"):
        ModelCheckpoint("a.npz", save_freq="often")
    with pytest.raises(ValueError, match="positive"):
        ModelCheckpoint("a.npz", save_freq=0)
    with pytest.raises(ValueError, match=r"'\.npz'"):
        ModelCheckpoint("a.bin", save_weights_only=True)
    with pytest.raises(ValueError, match="whole-model file"):
        ModelCheckpoint("model.keras", save_weights_only=True)
    with pytest.raises(ValueError, match="names a weights file"):
        ModelCheckpoint("model.weights.h5")
    for accepted in ("m.keras", "m.h5", "m.npz"):
        ModelCheckpoint(accepted)
    for accepted in ("w.weights.h5", "w.h5", "w.npz"):
        ModelCheckpoint(accepted, save_weights_only=True)
    with pytest.raises(TypeError, match="unexpected"):
        ModelCheckpoint("a.npz", save_weights_only=True, bogus=1)


def test_unwritable_directory_fails_before_training(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    callback = ModelCheckpoint(str(blocker / "ckpt" / "w.{epoch}.npz"), save_weights_only=True)
    callback.set_model(FakeModel())
    with pytest.raises(UnwritableDirectoryError):
        callback.on_train_begin({})
    d = tmp_path / "adir.npz"
    d.mkdir()
    callback = ModelCheckpoint(str(d), save_weights_only=True)
    with pytest.raises(UnwritableDirectoryError, match="existing directory"):
        callback.on_train_begin({})


def test_period_saves_every_n_epochs(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="hookfit"):
        callback = ModelCheckpoint(str(tmp_path / "w{epoch}.npz"), save_weights_only=True, period=2)
    assert "`period` argument is deprecated" in caplog.text
    fit(callback, [{"loss": 1.0}] * 4)
    assert sorted(os.listdir(tmp_path)) == ["w2.npz", "w4.npz"]


def test_in_fit_whole_model_checkpoints_reload(tmp_path):
    import hookfit as keras

    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 3)).astype(np.float32)
    y = rng.standard_normal((32, 1)).astype(np.float32)
    model = keras.Sequential([keras.layers.Dense(1, input_dim=3)])
    model.compile(optimizer="adam", loss="mse")
    template = str(tmp_path / "model.{epoch:02d}-{loss:.3f}.npz")
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[ModelCheckpoint(template, monitor="loss")])
    names = sorted(os.listdir(tmp_path))
    assert names == [f"model.{e + 1:02d}-{history.history['loss'][e]:.3f}.npz" for e in range(2)]
    last = keras.models.load_model(tmp_path / names[-1])
    np.testing.assert_array_equal(last.predict(x, verbose=0), model.predict(x, verbose=0))
    assert last.optimizer.iterations == 8


def test_in_fit_batch_level_saves_with_verbose_0(tmp_path):
    import hookfit as keras

    x = np.ones((40, 2), np.float32)
    y = np.zeros((40, 1), np.float32)
    model = keras.Sequential([keras.layers.Dense(1, input_dim=2)])
    model.compile(optimizer="sgd", loss="mse")
    template = str(tmp_path / "w.{epoch}.{batch}.npz")
    model.fit(x, y, epochs=2, batch_size=10, verbose=0,
              callbacks=[ModelCheckpoint(template, save_weights_only=True, save_freq=3)])
    assert sorted(os.listdir(tmp_path)) == ["w.1.3.npz", "w.2.2.npz"]
