"""BackupAndRestore resuming with changed callback lists, stops, epoch ends and tampered files.

Each issue-9 defect has a test here that failed before its fix (named in the docstring).
"""

import logging
import os

import numpy as np
import pytest

import hookfit as keras
from hookfit.callbacks.backup_and_restore import BackupAndRestore
from hookfit.callbacks.backup_contents import BackupError
from hookfit.callbacks.csv_logger import CSVLogger
from hookfit.callbacks.early_stopping import EarlyStopping
from hookfit.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from hookfit.saving.state_codec import load_state, save_state
from hookfit.utils import rng

EPOCHS = 3


def data():
    r = np.random.default_rng(0)
    x = r.standard_normal((60, 4)).astype(np.float32)
    y = (x @ r.standard_normal((4, 2))).astype(np.float32)
    return x, y


def build(seed=7, optimizer="adam"):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.layers.Dense(8, activation="tanh", input_dim=4), keras.layers.Dense(2)])
    model.compile(optimizer=optimizer, loss="mse", metrics=["mae"])
    return model


def fit(model, cbs, epochs=EPOCHS):
    x, y = data()
    return model.fit(x, y, epochs=epochs, batch_size=16, validation_split=0.2, verbose=0, callbacks=cbs)


class Boom(Exception):
    pass


class RaiseAt(keras.callbacks.Callback):
    """Raises in a chosen hook at a chosen (epoch) or (epoch, batch)."""

    def __init__(self, hook, epoch, batch=None):
        super().__init__()
        self.hook, self.at, self.batch, self.epoch = hook, epoch, batch, None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.hook == "epoch_end" and epoch == self.at:
            raise Boom

    def on_train_batch_end(self, batch, logs=None):
        if self.hook == "batch_end" and (self.epoch, batch) == (self.at, self.batch):
            raise Boom


class StopAt(keras.callbacks.Callback):
    """Sets stop_training at the end of (epoch, batch)."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.at, self.epoch = (epoch, batch), None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            self.model.stop_training = True


class CtrlCAt(keras.callbacks.Callback):
    def __init__(self, batch):
        super().__init__()
        self.batch = batch

    def on_train_batch_end(self, batch, logs=None):
        if batch == self.batch:
            raise KeyboardInterrupt


def same_weights(a, b):
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(u, v)


def test_batch_backup_of_the_last_batch_of_the_last_epoch_keeps_the_epoch_end(tmp_path):
    """Issue 9 (a): a kill after the last batch's backup of the last epoch made the resumed run
    skip that epoch's end (History [0, 1] instead of [0, 1, 2]); the loop now finishes it."""
    reference = build()
    ref_history = fit(reference, [BackupAndRestore(tmp_path / "ref", save_freq=1)])
    with pytest.raises(Boom):
        fit(build(), [RaiseAt("epoch_end", EPOCHS - 1), BackupAndRestore(tmp_path / "b", save_freq=1)])
    assert load_state(tmp_path / "b" / "backup.npz")["phase"] == "batch"
    resumed = build(seed=3)
    history = fit(resumed, [BackupAndRestore(tmp_path / "b", save_freq=1)])
    assert history.epoch == [0, 1, 2]
    assert history.history == ref_history.history  # with the last epoch's validation
    same_weights(reference, resumed)


def test_an_exception_after_the_epoch_backup_resumes_at_the_next_epoch(tmp_path):
    """Keras's order: the backup is written in BackupAndRestore's own on_epoch_end, so a later
    callback raising there resumes at the next epoch (History, after it, is replayed exactly)."""
    reference = build()
    ref_history = fit(reference, [BackupAndRestore(tmp_path / "ref")])
    with pytest.raises(Boom):
        fit(build(), [BackupAndRestore(tmp_path / "b"), RaiseAt("epoch_end", 1)])
    state = load_state(tmp_path / "b" / "backup.npz")
    assert (state["phase"], state["position"]) == ("epoch_end", 1)
    seen = []
    resumed = build(seed=3)
    history = fit(resumed, [BackupAndRestore(tmp_path / "b"),
                            keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, l: seen.append(e))])
    assert seen == [2]
    assert history.history == ref_history.history and history.epoch == [0, 1, 2]
    same_weights(reference, resumed)


@pytest.mark.parametrize("where", ["epoch", "batch"])
def test_a_stop_is_in_the_backup(tmp_path, where):
    """Issue 9 (b): stop_training was not saved, so after a stop and a crash before the run ended
    the resumed run trained more; it now finishes exactly as the stopped run did."""
    if where == "epoch":
        def stopper():
            return EarlyStopping(monitor="loss", min_delta=1e9, patience=1)
        save_freq, crash = "epoch", RaiseAt("epoch_end", 1)
    else:
        def stopper():
            return StopAt(1, 1)
        save_freq, crash = 1, RaiseAt("batch_end", 1, 1)
    reference = build()
    ref_history = fit(reference, [stopper(), BackupAndRestore(tmp_path / "ref", save_freq=save_freq)])
    assert ref_history.epoch == [0, 1]
    with pytest.raises(Boom):
        fit(build(), [stopper(), BackupAndRestore(tmp_path / "b", save_freq=save_freq), crash])
    assert load_state(tmp_path / "b" / "backup.npz")["stop_training"]
    resumed = build(seed=3)
    history = fit(resumed, [stopper(), BackupAndRestore(tmp_path / "b", save_freq=save_freq)])
    assert history.epoch == [0, 1]
    assert history.history == ref_history.history
    assert resumed.optimizer.iterations == reference.optimizer.iterations
    same_weights(reference, resumed)


def test_ctrl_c_before_the_first_backup_then_fit_again_in_the_same_process(tmp_path):
    """Issue 9 (d): Ctrl-C in the first epoch, then a new fit of the same model object in the same
    process, was not bit-exact (the weights and the random stream had moved); the first backup
    written at train begin makes it exact."""
    reference = build()
    ref_history = fit(reference, [BackupAndRestore(tmp_path / "ref")])
    model = build()
    with pytest.raises(KeyboardInterrupt):
        fit(model, [BackupAndRestore(tmp_path / "b"), CtrlCAt(batch=1)])
    history = fit(model, [BackupAndRestore(tmp_path / "b")])
    assert history.history == ref_history.history
    same_weights(reference, model)
    assert model.optimizer.iterations == reference.optimizer.iterations


def _tamper(path, change):
    state = load_state(path)
    change(state)
    save_state(path, state)


def _bad_rng(s):
    s["iterator"]["rng"] = {"bit_generator": "PCG64", "state": {"state": -1, "inc": "x"}}


def _bad_order(s):
    order = s["iterator"]["order"]
    order[0] = order[1]


def _bad_metric_shape(s):
    s["metric_state"] = np.zeros(s["metric_state"].size + 3)


def _negative_step(s):
    s["iterator"]["step"] = -4


def _negative_epoch(s):
    s["iterator"]["epoch"] = -1


def _weight_shape(s):
    s["weights"][0] = s["weights"][0][:, :3]


def _other_optimizer(s):
    s["optimizer"]["class"] = "SGD"


def _huge_iterations(s):
    s["optimizer"]["state"]["iterations"] = 2**63 - 1


@pytest.mark.parametrize("change", [_bad_rng, _bad_order, _bad_metric_shape, _negative_step, _negative_epoch,
                                    _weight_shape, _other_optimizer, _huge_iterations])
def test_a_tampered_backup_is_refused_before_anything_is_restored(tmp_path, change):
    """Issue 9 (c): a tampered backup failed only after the weights were replaced, or was
    accepted; the whole backup is now checked first."""
    with pytest.raises(Boom):
        fit(build(), [RaiseAt("epoch_end", 1), BackupAndRestore(tmp_path / "b")])
    _tamper(tmp_path / "b" / "backup.npz", change)
    model = build(seed=3)
    weights, slots = model.get_weights(), None
    random_state = rng.get_state()
    with pytest.raises(BackupError, match="backup"):
        fit(model, [BackupAndRestore(tmp_path / "b")])
    for a, b in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert rng.get_state() == random_state
    assert model.optimizer.iterations == 0 and slots is None


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04garbage", b"not a zip at all"])
def test_a_damaged_backup_file_names_the_file(tmp_path, content):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "backup.npz").write_bytes(content)
    with pytest.raises(BackupError, match="backup.npz"):
        fit(build(), [BackupAndRestore(tmp_path / "b")])


def test_resume_with_a_changed_callback_list(tmp_path, caplog):
    """Issue 12: states are matched by key; what is missing is skipped, a stateful newcomer warns once."""
    csv = tmp_path / "log.csv"
    with pytest.raises(Boom):
        fit(build(), [EarlyStopping(monitor="loss", patience=50), CSVLogger(csv), RaiseAt("epoch_end", 1),
                      BackupAndRestore(tmp_path / "b")])
    reference = build()
    ref_history = fit(reference, [BackupAndRestore(tmp_path / "ref")])
    resumed = build(seed=3)
    plateau = ReduceLROnPlateau(monitor="loss", patience=100)
    early = EarlyStopping(monitor="loss", patience=50)
    with caplog.at_level(logging.WARNING, logger="hookfit"):
        # Other order, CSVLogger gone, a ReduceLROnPlateau that was not there.
        history = fit(resumed, [BackupAndRestore(tmp_path / "b"), plateau, early])
    warnings = [r.getMessage() for r in caplog.records if "no saved state" in r.getMessage()]
    assert len(warnings) == 1 and "ReduceLROnPlateau" in warnings[0]
    assert history.history["loss"] == ref_history.history["loss"]  # none of them changed the run
    assert early.best == min(ref_history.history["loss"])  # restored, then carried on
    same_weights(reference, resumed)


def test_two_callbacks_of_one_class_are_told_apart_by_order_or_name(tmp_path):
    a, b = EarlyStopping(monitor="loss", patience=50), EarlyStopping(monitor="val_loss", patience=50)
    with pytest.raises(Boom):
        fit(build(), [a, b, RaiseAt("epoch_end", 1), BackupAndRestore(tmp_path / "b")])
    keys = [e["key"] for e in load_state(tmp_path / "b" / "backup.npz")["callbacks"]]
    assert keys[:2] == ["EarlyStopping", "EarlyStopping#2"]
    a2, b2 = EarlyStopping(monitor="loss", patience=50), EarlyStopping(monitor="val_loss", patience=50)
    fit(build(), [BackupAndRestore(tmp_path / "b"), a2, b2])
    a3, b3 = EarlyStopping(monitor="loss", patience=50), EarlyStopping(monitor="val_loss", patience=50)
    fit(build(), [a3, b3])  # the uninterrupted run
    assert (a2.best, b2.best, a2.best_epoch, b2.best_epoch) == (a3.best, b3.best, a3.best_epoch, b3.best_epoch)
    named = EarlyStopping(monitor="loss", patience=50)
    named.name = "watch-loss"
    with pytest.raises(Boom):
        fit(build(), [named, RaiseAt("epoch_end", 1), BackupAndRestore(tmp_path / "n")])
    again = EarlyStopping(monitor="loss", patience=50)
    again.name = "watch-loss"
    other = EarlyStopping(monitor="val_loss", patience=50)
    fit(build(), [other, again, BackupAndRestore(tmp_path / "n")])
    assert again.best == a3.best and other.best == b3.best


def test_a_fresh_optimizer_of_the_same_kind_gets_the_slots(tmp_path):
    """Issue 12: model.optimizer replaced by a fresh optimizer of the same kind is restored into."""
    reference = build()
    fit(reference, [BackupAndRestore(tmp_path / "ref")])
    with pytest.raises(Boom):
        fit(build(), [RaiseAt("epoch_end", 1), BackupAndRestore(tmp_path / "b")])
    resumed = build(seed=3)
    resumed.optimizer = keras.optimizers.Adam()
    fit(resumed, [BackupAndRestore(tmp_path / "b")])
    same_weights(reference, resumed)
    assert resumed.optimizer.iterations == reference.optimizer.iterations


def test_a_run_ended_on_nan_keeps_its_backup(tmp_path):
    """Issue 12 (Keras PR 21841): the backup survives a run that ended on NaN, by a graceful
    stop or by TerminateOnNaN(raise_error=True); a finite run deletes it."""
    x, y = data()
    for raise_error in (False, True):
        model = build(optimizer=keras.optimizers.SGD(learning_rate=1e4))
        backup = BackupAndRestore(tmp_path / f"b{raise_error}")
        cbs = [keras.callbacks.TerminateOnNaN(raise_error=raise_error), backup]
        if raise_error:
            with pytest.raises(RuntimeError, match="NaN or Inf loss"):
                model.fit(x * 1e3, y, epochs=5, batch_size=4, verbose=0, callbacks=cbs)
        else:
            history = model.fit(x * 1e3, y, epochs=5, batch_size=4, verbose=0, callbacks=cbs)
            assert not np.isfinite(history.history["loss"][-1])
        assert os.path.exists(backup.backup_path)
    with pytest.raises(TypeError, match="raise_error"):
        keras.callbacks.TerminateOnNaN(raise_error="yes")


KERAS_DOCSTRING_EXAMPLE = """
class InterruptingCallback(keras.callbacks.Callback):
  def on_epoch_begin(self, epoch, logs=None):
    if epoch == 4:
      raise RuntimeError('Interrupting!')
callback = keras.callbacks.BackupAndRestore(backup_dir="/tmp/backup")
model = keras.models.Sequential([keras.layers.Dense(10)])
model.compile(keras.optimizers.SGD(), loss='mse')
try:
  model.fit(np.arange(100).reshape(5, 20), np.zeros(5), epochs=10,
            batch_size=1, callbacks=[callback, InterruptingCallback()],
            verbose=0)
except:
  pass
first_history = model.history  # (added: what the first fit recorded)
history = model.fit(np.arange(100).reshape(5, 20), np.zeros(5),
                    epochs=10, batch_size=1, callbacks=[callback],
                    verbose=0)
# Only 6 more epochs are run, since first training got interrupted at
# zero-indexed epoch 4, second training will continue from 4 to 9.
len(history.history['loss'])
"""


def test_keras_docstring_example_resumes_at_the_interrupted_epoch(tmp_path):
    """Keras's BackupAndRestore docstring example, verbatim but for the directory (and one line
    that keeps the first fit's History to look at)."""
    scope = {"keras": keras, "np": np}
    exec(KERAS_DOCSTRING_EXAMPLE.replace("/tmp/backup", str(tmp_path / "backup")), scope)
    assert scope["first_history"].epoch == [0, 1, 2, 3]  # interrupted at epoch 4
    history, model = scope["history"], scope["model"]
    # Keras: "second training will continue from 4 to 9" (6 more epochs): the resumed fit
    # dispatched on_epoch_end 6 times and ran 6 epochs of 5 batches.
    assert history.callback_costs.as_dict()[("History", "on_epoch_end")][0] == 6
    assert model.optimizer.iterations == 10 * 5
    # Keras 2 prints len(history.history['loss']) == 6: its History starts empty in the resumed
    # fit. hookfit restores History too (the resumed run is the uninterrupted one), so 10.
    assert history.epoch == list(range(10)) and len(history.history["loss"]) == 10
    # The example's SGD diverges (x up to 99): its loss ends NaN, so the backup is kept.
    assert not np.isfinite(history.history["loss"][-1]) and (tmp_path / "backup").exists()


def test_two_callbacks_with_one_name_are_refused_before_training(tmp_path):
    a, b = EarlyStopping(monitor="loss"), ReduceLROnPlateau(monitor="loss")
    a.name = b.name = "watch"
    model = build()
    before = model.get_weights()
    with pytest.raises(ValueError, match="share the name 'watch'"):
        fit(model, [a, b, BackupAndRestore(tmp_path / "b")])
    same_weights_list = [np.array_equal(u, v) for u, v in zip(before, model.get_weights())]
    assert all(same_weights_list)


def test_the_restore_happens_in_backup_and_restores_own_on_train_begin(tmp_path):
    """Keras's order: callbacks after BackupAndRestore see the restored weights in on_train_begin,
    callbacks before it the weights the fit started with."""
    with pytest.raises(Boom):
        fit(build(), [RaiseAt("epoch_end", 1), BackupAndRestore(tmp_path / "b")])
    saved = load_state(tmp_path / "b" / "backup.npz")["weights"]
    seen = {}

    def look(name):
        return keras.callbacks.LambdaCallback(on_train_begin=lambda logs: seen.setdefault(name, model.get_weights()))

    model = build(seed=3)
    start = model.get_weights()
    fit(model, [look("before"), BackupAndRestore(tmp_path / "b"), look("after")])
    for a, b, c, d in zip(seen["before"], start, seen["after"], saved):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(c, d)


def test_a_replaced_optimizer_trains_without_a_backup_too():
    """model.optimizer = <fresh optimizer> after compile: fit trains with it (fresh slots), as Keras."""
    x, y = data()
    a, b = build(optimizer="adam"), build(optimizer="sgd")
    a.optimizer = keras.optimizers.SGD()
    a.fit(x, y, epochs=2, batch_size=16, verbose=0, shuffle=False)
    b.fit(x, y, epochs=2, batch_size=16, verbose=0, shuffle=False)
    same_weights(a, b)
    assert a.optimizer.iterations == b.optimizer.iterations == 2 * 4
