"""ModelCheckpoint retention (keep_last, keep_best, save_last, the manifest), load_weights_on_restart,
hookfit.saving.verify, and numeric callback arguments that must be finite."""

import json
import logging
import math
import os

import numpy as np
import pytest

import hookfit as keras
from hookfit.callbacks.checkpoint_retention import CheckpointRetention
from hookfit.callbacks.early_stopping import EarlyStopping
from hookfit.callbacks.model_checkpoint import ModelCheckpoint
from hookfit.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from hookfit.saving import VerificationError, verify


def data():
    r = np.random.default_rng(0)
    x = r.standard_normal((40, 3)).astype(np.float32)
    return x, (x @ r.standard_normal((3, 1))).astype(np.float32)


def build(seed=1):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.layers.Dense(4, activation="tanh", input_dim=3), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return model


class ScriptedLoss(keras.callbacks.Callback):
    """Writes a chosen 'score' into each epoch's logs (before the checkpoint sees them)."""

    def __init__(self, scores):
        super().__init__()
        self.scores = scores

    def on_epoch_end(self, epoch, logs=None):
        logs["score"] = self.scores[epoch]


def files(directory):
    return sorted(n for n in os.listdir(directory) if n.endswith(".npz"))


def test_keep_last_and_keep_best_keep_the_union(tmp_path):
    scores = [5.0, 1.0, 4.0, 3.0, 2.0, 6.0]
    checkpoint = ModelCheckpoint(str(tmp_path / "w.{epoch:02d}.npz"), monitor="score", mode="min",
                                 save_weights_only=True, keep_last=2, keep_best=2)
    x, y = data()
    build().fit(x, y, epochs=6, verbose=0, callbacks=[ScriptedLoss(scores), checkpoint])
    # Newest two: epochs 5, 6; best two: epochs 2 (1.0) and 5 (2.0).
    assert files(tmp_path) == ["w.02.npz", "w.05.npz", "w.06.npz"]
    manifest = json.loads((tmp_path / "checkpoints.json").read_text())
    assert [os.path.basename(e["path"]) for e in manifest["files"]] == ["w.02.npz", "w.05.npz", "w.06.npz"]
    assert [e["value"] for e in manifest["files"]] == [1.0, 2.0, 6.0]
    assert verify(tmp_path / "checkpoints.json").kind == "manifest"


def test_save_last_with_save_best_only(tmp_path):
    checkpoint = ModelCheckpoint(str(tmp_path / "best.{epoch}.npz"), monitor="score", save_best_only=True,
                                 save_weights_only=True, keep_best=1, save_last=True)
    x, y = data()
    model = build()
    model.fit(x, y, epochs=4, verbose=0, callbacks=[ScriptedLoss([3.0, 1.0, 2.0, 0.5]), checkpoint])
    assert files(tmp_path) == ["best.4.npz", "last.npz"]
    other = build(seed=9)
    other.load_weights(str(tmp_path / "last.npz"))
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert json.loads((tmp_path / "checkpoints.json").read_text())["last"].endswith("last.npz")


def test_a_kill_between_manifest_and_removal_leaves_extra_files_never_missing_ones(tmp_path, monkeypatch):
    retention = CheckpointRetention(str(tmp_path), keep_last=1)
    for i in range(2):
        (tmp_path / f"{i}.npz").write_bytes(b"x")
    retention.saved(str(tmp_path / "0.npz"), epoch=0, batch=None, value=1.0)

    def killed(path):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "remove", killed)
    with pytest.raises(KeyboardInterrupt):
        retention.saved(str(tmp_path / "1.npz"), epoch=1, batch=None, value=1.0)
    monkeypatch.undo()
    manifest = json.loads((tmp_path / "checkpoints.json").read_text())
    assert [e["path"] for e in manifest["files"]] == [str(tmp_path / "1.npz")]
    assert (tmp_path / "0.npz").exists() and (tmp_path / "1.npz").exists()


def test_retention_never_removes_files_it_did_not_write(tmp_path):
    (tmp_path / "w.99.npz").write_bytes(b"mine, not the callback's")
    x, y = data()
    build().fit(x, y, epochs=3, verbose=0, callbacks=[
        ModelCheckpoint(str(tmp_path / "w.{epoch:02d}.npz"), monitor="loss", save_weights_only=True, keep_last=1)])
    assert files(tmp_path) == ["w.03.npz", "w.99.npz"]


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_keep_arguments(tmp_path, bad):
    with pytest.raises(ValueError, match="keep_last"):
        ModelCheckpoint(str(tmp_path / "w.npz"), keep_last=bad)


def test_load_weights_on_restart_loads_the_newest_matching_file(tmp_path, caplog):
    x, y = data()
    trained = build()
    trained.fit(x, y, epochs=3, verbose=0, callbacks=[
        ModelCheckpoint(str(tmp_path / "w.{epoch:02d}.npz"), save_weights_only=True, monitor="loss")])
    os.utime(tmp_path / "w.01.npz", (1, 1))
    os.utime(tmp_path / "w.02.npz", (2, 2))
    seen = []
    fresh = build(seed=5)
    with caplog.at_level(logging.WARNING, logger="hookfit"):
        checkpoint = ModelCheckpoint(str(tmp_path / "w.{epoch:02d}.npz"), save_weights_only=True,
                                     monitor="loss", load_weights_on_restart=True)
    assert "deprecated" in caplog.text
    fresh.fit(x, y, epochs=1, verbose=0, callbacks=[checkpoint, keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: seen.append(fresh.get_weights()))])
    for a, b in zip(seen[0], trained.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_load_weights_on_restart_with_a_broken_file_says_which(tmp_path):
    (tmp_path / "w.01.npz").write_bytes(b"broken")
    x, y = data()
    with pytest.raises(OSError, match="w.01.npz"):
        build().fit(x, y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(
            str(tmp_path / "w.{epoch:02d}.npz"), save_weights_only=True, load_weights_on_restart=True)])


def test_verify_finds_damage_in_each_kind_of_file(tmp_path):
    x, y = data()
    model = build()
    model.fit(x, y, epochs=1, verbose=0)
    model.save_weights(str(tmp_path / "w.npz"))
    model.save(str(tmp_path / "m.npz"))
    assert verify(tmp_path / "w.npz").kind == "weights"
    assert verify(tmp_path / "m.npz").kind == "model"
    backup = keras.callbacks.BackupAndRestore(tmp_path / "b", delete_checkpoint=False)
    model.fit(x, y, epochs=1, verbose=0, callbacks=[backup])
    assert verify(tmp_path / "b").kind == "backup"
    for name in ("w.npz", "m.npz", "b/backup.npz"):
        blob = (tmp_path / name).read_bytes()
        (tmp_path / name).write_bytes(blob[: len(blob) // 2])
        with pytest.raises(VerificationError, match="damaged"):
            verify(tmp_path / name)
    with pytest.raises(FileNotFoundError):
        verify(tmp_path / "nothing.npz")


@pytest.mark.parametrize("make", [
    lambda: ReduceLROnPlateau(factor=math.nan),
    lambda: ReduceLROnPlateau(min_delta=math.inf),
    lambda: ReduceLROnPlateau(patience=math.inf),
    lambda: ReduceLROnPlateau(cooldown=1.5),
    lambda: ReduceLROnPlateau(min_lr=-math.inf),
    lambda: EarlyStopping(min_delta=math.nan),
    lambda: EarlyStopping(patience=math.nan),
    lambda: EarlyStopping(baseline=math.nan),
    lambda: ModelCheckpoint("w.npz", initial_value_threshold=math.nan),
])
def test_non_finite_callback_arguments_are_refused(make):
    """Issue 9: ReduceLROnPlateau(factor=nan) was accepted (and never reduced)."""
    with pytest.raises((ValueError, TypeError), match="must be"):
        make()
