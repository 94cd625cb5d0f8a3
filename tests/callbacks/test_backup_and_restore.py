"""BackupAndRestore: an interrupted fit, resumed, is the uninterrupted fit bit for bit."""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import hookfit as keras
from hookfit.callbacks.backup_and_restore import BackupAndRestore
from hookfit.callbacks.csv_logger import CSVLogger
from hookfit.callbacks.early_stopping import EarlyStopping
from hookfit.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from hookfit.utils.atomic import UnwritableDirectoryError

EPOCHS = 6


def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((100, 4)).astype(np.float32)
    y = (x @ rng.standard_normal((4, 2))).astype(np.float32)
    return x, y


def build(seed=7):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.layers.Dense(8, activation="tanh", input_dim=4), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    return model


class Interrupt(keras.callbacks.Callback):
    """Raises at the end of an epoch or of a (epoch, batch)."""

    def __init__(self, at_epoch=None, at_batch=None):
        super().__init__()
        self.at_epoch, self.at_batch, self.epoch = at_epoch, at_batch, None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at_epoch:
            raise KeyboardInterrupt("interrupted")

    def on_train_batch_end(self, batch, logs=None):
        if self.at_batch is not None and (self.epoch, batch) == self.at_batch:
            raise KeyboardInterrupt("interrupted")


def callbacks(backup_dir, csv_path, save_freq, interrupt):
    # Stateful callbacks around the backup, so their states must come back too.
    return [
        interrupt,
        EarlyStopping(monitor="val_loss", patience=50),
        ReduceLROnPlateau(monitor="loss", patience=1, factor=0.5, min_delta=10.0),
        CSVLogger(csv_path),
        BackupAndRestore(backup_dir, save_freq=save_freq),
    ]


def fit(model, cbs):
    x, y = data()
    return model.fit(x, y, epochs=EPOCHS, batch_size=16, validation_split=0.2, verbose=0, callbacks=cbs)


def assert_same_run(model_a, history_a, model_b, history_b):
    for a, b in zip(model_a.get_weights(), model_b.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert history_a.history == history_b.history
    assert history_a.epoch == history_b.epoch == list(range(EPOCHS))
    assert model_a.optimizer.iterations == model_b.optimizer.iterations
    assert float(model_a.optimizer.lr) == float(model_b.optimizer.lr)


@pytest.mark.parametrize(
    "save_freq, interrupt",
    [("epoch", {"at_epoch": 1}), ("epoch", {"at_epoch": 4}), (3, {"at_batch": (2, 1)}), (1, {"at_batch": (4, 4)})],
    ids=["epoch-1", "epoch-4", "every-3-batches", "every-batch-last-batch"],
)
def test_exception_then_resume_is_bit_exact(tmp_path, save_freq, interrupt):
    reference = build()
    ref_history = fit(reference, callbacks(tmp_path / "ref", tmp_path / "ref.csv", save_freq, Interrupt()))
    backup_dir, csv_path = tmp_path / "backup", tmp_path / "run.csv"
    with pytest.raises(KeyboardInterrupt):
        fit(build(), callbacks(backup_dir, csv_path, save_freq, Interrupt(**interrupt)))
    assert (backup_dir / "backup.npz").exists()
    resumed = build(seed=99)  # different initial weights: the backup must win
    history = fit(resumed, callbacks(backup_dir, csv_path, save_freq, Interrupt()))
    assert_same_run(reference, ref_history, resumed, history)
    assert csv_path.read_bytes() == (tmp_path / "ref.csv").read_bytes()
    assert not backup_dir.exists()  # delete_checkpoint=True at a normal end


_KILLED_RUN = textwrap.dedent(
    """
    import os, signal, sys
    import numpy as np
    import hookfit as keras
    from hookfit.callbacks.backup_and_restore import BackupAndRestore

    backup_dir, out, kill_epoch = sys.argv[1], sys.argv[2], int(sys.argv[3])
    save_freq = "epoch" if sys.argv[4] == "epoch" else int(sys.argv[4])
    rng = np.random.default_rng(0)
    x = rng.standard_normal((100, 4)).astype(np.float32)
    y = (x @ rng.standard_normal((4, 2))).astype(np.float32)
    keras.utils.set_random_seed(7 if kill_epoch >= 0 else 1)
    model = keras.Sequential([keras.layers.Dense(8, activation="tanh", input_dim=4), keras.layers.Dense(2)])
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])

    def maybe_kill(epoch, logs):
        if epoch == kill_epoch:
            os.kill(os.getpid(), signal.SIGKILL)

    seen = []

    def maybe_kill_mid_epoch(batch, logs):
        seen.append(batch)
        if len(seen) == 4 * kill_epoch + 3:  # batch 2 of epoch kill_epoch (4 batches/epoch)
            os.kill(os.getpid(), signal.SIGKILL)

    kill = (keras.callbacks.LambdaCallback(on_epoch_end=maybe_kill) if save_freq == "epoch"
            else keras.callbacks.LambdaCallback(on_batch_end=maybe_kill_mid_epoch))
    history = model.fit(x, y, epochs=5, batch_size=20, validation_split=0.2, verbose=0,
                        callbacks=[kill, BackupAndRestore(backup_dir, save_freq=save_freq)])
    np.savez(out, *model.get_weights(), history=repr(history.history))
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("save_freq", ["epoch", "2"])
def test_killed_process_then_resume_is_bit_exact(tmp_path, save_freq):
    def run(backup_dir, out, kill_epoch):
        return subprocess.run(
            [sys.executable, "-c", _KILLED_RUN, str(backup_dir), str(out), str(kill_epoch), save_freq],
            env=dict(os.environ), capture_output=True, text=True, timeout=300,
        )

    reference = run(tmp_path / "ref", tmp_path / "ref.npz", 99)
    assert reference.returncode == 0, reference.stderr
    killed = run(tmp_path / "b", tmp_path / "never.npz", 2)
    assert killed.returncode == -signal.SIGKILL
    assert (tmp_path / "b" / "backup.npz").exists() and not (tmp_path / "never.npz").exists()
    resumed = run(tmp_path / "b", tmp_path / "resumed.npz", -1)  # other seed: restored from the backup
    assert resumed.returncode == 0, resumed.stderr
    with np.load(tmp_path / "ref.npz") as a, np.load(tmp_path / "resumed.npz") as b:
        assert a.files == b.files
        for name in a.files:
            np.testing.assert_array_equal(a[name], b[name])


def test_keep_checkpoint_and_fresh_start(tmp_path):
    backup = BackupAndRestore(tmp_path / "b", delete_checkpoint=False)
    fit(build(), [backup])
    assert (tmp_path / "b" / "backup.npz").exists()
    # A finished run's backup makes the next fit continue after the last epoch: nothing left to do.
    model = build(seed=3)
    history = fit(model, [BackupAndRestore(tmp_path / "b", delete_checkpoint=False)])
    assert history.epoch == list(range(EPOCHS))  # restored History, no new epoch


def test_resume_with_other_data_is_a_clear_error(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        fit(build(), [Interrupt(at_epoch=1), EarlyStopping(), BackupAndRestore(tmp_path / "b")])
    x, y = data()
    model = build()
    before = model.get_weights()
    with pytest.raises(ValueError, match="same data"):
        model.fit(x[:50], y[:50], epochs=EPOCHS, batch_size=16, validation_split=0.2, verbose=0,
                  callbacks=[Interrupt(), EarlyStopping(), BackupAndRestore(tmp_path / "b")])
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="Empty `backup_dir`"):
        BackupAndRestore("")
    with pytest.raises(ValueError, match="save_freq"):
        BackupAndRestore(tmp_path, save_freq=0)
    with pytest.raises(ValueError, match="save_freq"):
        BackupAndRestore(tmp_path, save_freq="batch")
    with pytest.raises(ValueError, match="not supported"):
        BackupAndRestore(tmp_path, save_before_preemption=True)
    assert BackupAndRestore(tmp_path, save_freq=2)._implements_train_batch_hooks()
    assert not BackupAndRestore(tmp_path)._implements_train_batch_hooks()


def test_unwritable_backup_dir_fails_before_training(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    model = build()
    before = model.get_weights()
    with pytest.raises(UnwritableDirectoryError):
        fit(model, [BackupAndRestore(blocker / "b")])
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_interrupted_before_the_first_epoch_backup_resumes_from_the_start(tmp_path):
    # A fresh fit writes a first backup after on_train_begin: the resumed fit starts from it.
    with pytest.raises(KeyboardInterrupt):
        fit(build(), [Interrupt(at_epoch=0), BackupAndRestore(tmp_path / "b")])
    assert (tmp_path / "b" / "backup.npz").exists()
    reference = build()
    ref_history = fit(reference, [Interrupt(), BackupAndRestore(tmp_path / "ref")])
    rerun = build(seed=5)
    history = fit(rerun, [Interrupt(), BackupAndRestore(tmp_path / "b")])
    assert_same_run(reference, ref_history, rerun, history)
