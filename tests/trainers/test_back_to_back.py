"""Callbacks that can wait for their epoch hooks (trainers/back_to_back.py):
ModelCheckpoint saving every N batches, TensorBoard without histograms,
TerminateOnNaN and History let fit run its epochs back to back, with the
epochs where a batch hook is due run as the per-epoch loop runs them.
Everything they leave behind must equal what the per-epoch loop (which any
other epoch hook keeps) leaves: weights, History, every checkpoint file
byte for byte, every TensorBoard scalar at its step."""

from __future__ import annotations

import glob
import os
import struct
import time

import numpy as np
import pytest

import hookfit as keras
from hookfit.trainers import back_to_back

cb = keras.callbacks


class EpochEndPass(cb.Callback):
    """An epoch hook that cannot wait: it keeps the per-epoch loop."""

    def on_epoch_end(self, epoch, logs=None):
        pass


def _data(rows=50):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 6)).astype(np.float32)
    y = (x @ rng.normal(size=(6,)) + 0.1 * rng.normal(size=rows)).astype(np.float32)
    return x, y


def _model(optimizer=None, normalized=False):
    # Named: the files hold the names, which must not differ between the two fits.
    keras.utils.set_random_seed(5)
    layers = [keras.layers.Dense(8, activation="relu", input_dim=6, name="hidden")]
    if normalized:  # trainable and non-trainable weights in one layer
        layers.append(keras.layers.BatchNormalization(name="norm"))
    model = keras.Sequential(layers + [keras.layers.Dense(1, name="out")], name="net")
    model.compile(optimizer=optimizer or keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    return model


def _varint(data, at):
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


def _fields(data):
    """(field number, wire type, value) of an encoded protobuf message."""
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = _varint(data, at)
        elif wire == 1:
            value, at = data[at:at + 8], at + 8
        elif wire == 5:
            value, at = data[at:at + 4], at + 4
        else:
            size, at = _varint(data, at)
            value, at = data[at:at + size], at + size
        yield number, wire, value


def _events(run_dir):
    """[(wall_time, step, {tag: value})] of the scalar events in a run directory."""
    found = []
    for path in sorted(glob.glob(os.path.join(run_dir, "events.out.tfevents.*"))):
        data = open(path, "rb").read()
        at = 0
        while at < len(data):
            (length,) = struct.unpack_from("<Q", data, at)
            record = data[at + 12:at + 12 + length]
            at += 12 + length + 4
            wall = step = None
            values = {}
            for number, _, value in _fields(record):
                if number == 1:
                    (wall,) = struct.unpack("<d", value)
                elif number == 2:
                    step = value
                elif number == 5:
                    for _, _, entry in _fields(value):
                        parts = {n: v for n, _, v in _fields(entry)}
                        values[parts[1].decode()] = struct.unpack("<f", parts[2])[0]
            if values:
                found.append((wall, step, values))
    return found


def _files(directory):
    return {name: open(os.path.join(directory, name), "rb").read() for name in sorted(os.listdir(directory))}


def _fit_both_ways(tmp_path, make_callbacks, plain_runs, data=None, optimizer=None, normalized=False,
                   **fit_kwargs):
    """The same fit back to back and in the per-epoch loop: what each left."""
    x, y = data or _data()
    results = []
    for way, extra in (("back_to_back", []), ("per_epoch", [EpochEndPass()])):
        where = tmp_path / way
        (where / "ckpt").mkdir(parents=True)
        model = _model(optimizer and optimizer(), normalized)
        start = time.time()
        history = model.fit(x, y, batch_size=4, verbose=0, callbacks=make_callbacks(where) + extra, **fit_kwargs)
        end = time.time()
        results.append(dict(
            weights=model.get_weights(), history=history.history, epochs=history.epoch,
            iterations=int(model.optimizer.iterations), files=_files(where / "ckpt"),
            train=_events(where / "tb" / "train"), span=(start, end),
            calls={k: calls for k, (calls, _) in history.callback_costs.as_dict().items() if k[0] != "EpochEndPass"},
        ))
        if way == "back_to_back":
            assert plain_runs == [model]
    return results


def _assert_same(a, b):
    for u, v in zip(a["weights"], b["weights"]):
        np.testing.assert_array_equal(u, v)
    # (NaN-aware: the NumPy twin's overflowed loss is NaN where the core's is inf)
    np.testing.assert_equal(a["history"], b["history"])
    assert a["epochs"] == b["epochs"]
    assert a["iterations"] == b["iterations"]
    # Each hook counted as often (epoch hooks given in runs count once per epoch).
    assert {k: n for k, n in a["calls"].items() if n} == {k: n for k, n in b["calls"].items() if n}
    assert a["files"].keys() == b["files"].keys()
    for name in a["files"]:
        assert a["files"][name] == b["files"][name], name
    rate = "epoch_steps_per_second"
    np.testing.assert_equal([(s, {k: v for k, v in d.items() if k != rate}) for _, s, d in a["train"]],
                            [(s, {k: v for k, v in d.items() if k != rate}) for _, s, d in b["train"]])


@pytest.mark.parametrize("every", [1, 3, 13, 30])
@pytest.mark.parametrize("suffix", [".npz", ".weights.h5"])
def test_checkpoints_and_tensorboard_equal_the_per_epoch_loop(tmp_path, plain_runs, every, suffix):
    if suffix.endswith(".h5"):
        pytest.importorskip("h5py")

    def callbacks(where):
        template = str(where / "ckpt" / ("w-{epoch:02d}-{batch:03d}" + suffix))
        return [cb.ModelCheckpoint(template, save_weights_only=True, save_freq=every),
                cb.TensorBoard(log_dir=str(where / "tb"), update_freq=every, write_steps_per_second=True),
                cb.TerminateOnNaN()]

    a, b = _fit_both_ways(tmp_path, callbacks, plain_runs, epochs=5)
    _assert_same(a, b)
    assert len(a["files"]) == 5 * 13 // every  # 13 batches an epoch
    batch_steps = [s for _, s, d in a["train"] if "batch_loss" in d]
    assert batch_steps == list(range(every, 5 * 13 + 1, every))
    # The epoch records carry the times their epochs ran, not when the
    # waiting hooks were given.
    epoch_events = [(wall, d) for wall, _, d in a["train"] if "epoch_loss" in d]
    assert len(epoch_events) == 5
    walls = [wall for wall, _ in epoch_events]
    start, end = a["span"]
    assert walls == sorted(walls) and start <= walls[0] and walls[-1] <= end
    assert all(d["epoch_steps_per_second"] > 0 for _, d in epoch_events)


def test_checkpoints_of_a_model_with_non_trainable_weights_equal_the_per_epoch_loop(tmp_path, plain_runs):
    # The weights taken at a save come in get_weights() order (here a
    # BatchNormalization's moving statistics after its gamma and beta).
    pytest.importorskip("h5py")

    def callbacks(where):
        template = str(where / "ckpt" / "w-{epoch:02d}-{batch:03d}.weights.h5")
        return [cb.ModelCheckpoint(template, save_weights_only=True, save_freq=5)]

    a, b = _fit_both_ways(tmp_path, callbacks, plain_runs, normalized=True, epochs=3)
    _assert_same(a, b)
    assert len(a["files"]) == 3 * 13 // 5
    saved = keras.Sequential([keras.layers.Dense(8, activation="relu", input_dim=6, name="hidden"),
                              keras.layers.BatchNormalization(name="norm"), keras.layers.Dense(1, name="out")])
    saved.load_weights(str(tmp_path / "back_to_back" / "ckpt" / max(a["files"])))
    moving_variance = saved.get_layer("norm").get_weights()[3]
    assert not np.array_equal(moving_variance, np.ones_like(moving_variance))  # (trained, not the initial ones)


def test_epoch_only_callbacks_with_validation(tmp_path, plain_runs):
    # TensorBoard has a test hook (its evaluation scalars): with validation
    # it keeps the per-epoch loop; ModelCheckpoint alone does not.
    def callbacks(where):
        return [cb.ModelCheckpoint(str(where / "ckpt" / "last.npz"), save_weights_only=True, save_freq=7),
                cb.TerminateOnNaN()]

    a, b = _fit_both_ways(tmp_path, callbacks, plain_runs, epochs=4, validation_split=0.2)
    _assert_same(a, b)
    assert "val_loss" in a["history"] and list(a["files"]) == ["last.npz"]


@pytest.mark.parametrize("append", [False, True], ids=["new", "append"])
@pytest.mark.parametrize("validation_split", [0.0, 0.2], ids=["train", "validated"])
def test_csv_logger_writes_the_per_epoch_loops_bytes(tmp_path, plain_runs, append, validation_split):
    # Its rows are written a run of epochs at a time (with a checkpoint
    # every 5 batches: runs broken at the taken batches), the file the same.
    def callbacks(where):
        log = where / "ckpt" / "log.csv"
        if append:
            log.write_text("epoch,loss\r\n0,1.5\r\n")
        return [cb.CSVLogger(str(log), separator=";", append=append),
                cb.ModelCheckpoint(str(where / "ckpt" / "w.npz"), save_weights_only=True, save_freq=5)]

    a, b = _fit_both_ways(tmp_path, callbacks, plain_runs, epochs=4, validation_split=validation_split)
    _assert_same(a, b)
    rows = a["files"]["log.csv"].decode().split("\r\n")
    assert len(rows) == 4 + 1 + (2 if append else 1) and rows[-1] == ""
    assert ("val_loss" in rows[0]) == (not append)


@pytest.mark.parametrize("every, rate, stop_step", [(30, 0.01, 25), (5, 0.03, 7)], ids=["quiet-epoch", "due-epoch"])
def test_a_nan_loss_stops_both_ways_at_the_same_batch(tmp_path, plain_runs, capsys, every, rate, stop_step):
    # SGD at these rates overflows the loss at step ``stop_step``: in an
    # epoch with no save or write due (one native call), or in one with.
    x, y = _data()

    def callbacks(where):
        return [cb.ModelCheckpoint(str(where / "ckpt" / "w-{epoch}-{batch}.npz"), save_weights_only=True,
                                   save_freq=every),
                cb.TensorBoard(log_dir=str(where / "tb"), update_freq=every),
                cb.TerminateOnNaN()]

    a, b = _fit_both_ways(tmp_path, callbacks, plain_runs, epochs=4, data=(x, y * 10),
                          optimizer=lambda: keras.optimizers.SGD(rate))
    batch = (stop_step - 1) % 13
    assert capsys.readouterr().out.count(f"Batch {batch}: Invalid loss, terminating training") == 2
    _assert_same(a, b)
    assert a["iterations"] == stop_step and len(a["epochs"]) == (stop_step - 1) // 13 + 1


def test_the_waiting_hooks_are_given_within_the_interval(tmp_path, plain_runs, monkeypatch):
    # History records the optimizer's step count when it is given epochs
    # (one run at a time: no batch is taken here).
    seen = []
    original = cb.History._late_epochs

    def recording(self, run):
        seen.extend([int(self.model.optimizer.iterations)] * len(run.epochs))
        return original(self, run)

    monkeypatch.setattr(cb.History, "_late_epochs", recording)
    x, y = _data()
    _model().fit(x, y, batch_size=4, epochs=4, verbose=0)
    assert seen == [52] * 4  # all after the run: it took less than a second
    seen.clear()
    monkeypatch.setattr(back_to_back, "GIVE_EVERY_NS", 0)
    _model().fit(x, y, batch_size=4, epochs=4, verbose=0)
    assert seen == [13, 26, 39, 52]  # each right after its epoch
    assert len(plain_runs) == 2


def test_best_only_checkpoints_every_n_batches(tmp_path, plain_runs):
    def callbacks(where):
        return [cb.ModelCheckpoint(str(where / "ckpt" / "best-{epoch}-{batch}.npz"), save_weights_only=True,
                                   save_freq=3, monitor="loss", save_best_only=True)]

    a, b = _fit_both_ways(tmp_path, callbacks, plain_runs, epochs=3)
    _assert_same(a, b)
    assert a["files"]


@pytest.mark.parametrize("make, steps_per_execution", [
    (lambda where: cb.ModelCheckpoint(str(where / "w.npz"), save_weights_only=True), 1),  # every epoch
    (lambda where: pytest.importorskip("tensorboardX", reason="histograms need tensorboardX")
     and cb.TensorBoard(log_dir=str(where), histogram_freq=1), 1),
    (lambda where: cb.ModelCheckpoint(str(where / "w.npz"), save_weights_only=True, save_freq=3), 2),
], ids=["checkpoint-every-epoch", "histograms", "steps_per_execution"])
def test_what_cannot_wait_keeps_the_per_epoch_loop(tmp_path, plain_runs, make, steps_per_execution):
    x, y = _data()
    model = _model()
    model.compile(optimizer="adam", loss="mse", steps_per_execution=steps_per_execution)
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[make(tmp_path)])
    assert plain_runs == []


def test_subclasses_with_their_own_epoch_hooks_keep_the_per_epoch_loop(tmp_path, plain_runs):
    class Loud(cb.TensorBoard):
        def on_epoch_end(self, epoch, logs=None):
            super().on_epoch_end(epoch, logs)

    x, y = _data()
    _model().fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[Loud(log_dir=str(tmp_path))])
    assert plain_runs == []


def test_a_save_that_fails_raises_with_history_as_the_per_epoch_loop_leaves_it(tmp_path, plain_runs):
    # A file name the batch logs cannot fill: the save at step 20 raises.
    # Back to back it raises when the waiting hooks are given (the training
    # went on meanwhile, at most a second); History holds the same epochs.
    x, y = _data()
    seen = []
    for extra in ([], [EpochEndPass()]):
        model = _model()
        checkpoint = cb.ModelCheckpoint(str(tmp_path / "w-{val_loss}.npz"), save_weights_only=True, save_freq=20)
        with pytest.raises(KeyError, match="val_loss"):
            model.fit(x, y, batch_size=4, epochs=4, verbose=0, callbacks=[checkpoint, *extra])
        seen.append(model.history.epoch)
    assert len(plain_runs) == 1
    assert seen[0] == seen[1] == [0]
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("cap, live_epochs", [(1, [0, 1, 2]), (1000, [])], ids=["one-epoch-over", "given-first"])
def test_the_cap_on_waiting_weights(tmp_path, plain_runs, monkeypatch, cap, live_epochs):
    # The model's weights take 260 bytes; an epoch takes 2 or 3 copies.
    # Copies that would pass the cap are given first; an epoch whose own
    # copies pass it runs as the per-epoch loop runs it (saves at their
    # batches).
    monkeypatch.setattr(back_to_back, "MAX_WAITING_BYTES", cap)
    live = []
    original = back_to_back._Epochs._live_pass

    def spy(self, epoch):
        live.append(epoch)
        return original(self, epoch)

    monkeypatch.setattr(back_to_back._Epochs, "_live_pass", spy)

    def callbacks(where):
        return [cb.ModelCheckpoint(str(where / "ckpt" / "w-{epoch}-{batch}.npz"), save_weights_only=True,
                                   save_freq=5),
                cb.TensorBoard(log_dir=str(where / "tb"), update_freq=4)]

    a, b = _fit_both_ways(tmp_path, callbacks, plain_runs, epochs=3)
    _assert_same(a, b)
    assert len(a["files"]) == 3 * 13 // 5 and live == live_epochs


class BatchRecorder(cb.Callback):
    """Batch hooks only (every batch, Keras's way): what each call sees."""

    def __init__(self, stop_at=None):
        super().__init__()
        self.seen, self.stop_at = [], stop_at

    def on_train_batch_begin(self, batch, logs=None):
        self.seen.append(("begin", batch, int(self.model.optimizer.iterations), len(self.model.history.epoch)))

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append(("end", batch, int(self.model.optimizer.iterations), dict(logs)))
        if int(self.model.optimizer.iterations) == self.stop_at:
            self.model.stop_training = True


@pytest.mark.parametrize("stop_at", [None, 20], ids=["all-epochs", "stopped-mid-epoch"])
def test_batch_hooks_at_every_batch_run_back_to_back_as_the_per_epoch_loop(tmp_path, plain_runs, stop_at):
    # A callback needing every batch keeps its hooks around each batch;
    # each epoch is live (nothing waits), so each batch hook sees the
    # history of the epochs before it, as in the per-epoch loop.
    recorders = []

    def callbacks(where):
        recorders.append(BatchRecorder(stop_at))
        return [recorders[-1], cb.ModelCheckpoint(str(where / "ckpt" / "w-{epoch}-{batch}.npz"),
                                                  save_weights_only=True, save_freq=5)]

    a, b = _fit_both_ways(tmp_path, callbacks, plain_runs, epochs=3)
    _assert_same(a, b)
    assert recorders[0].seen == recorders[1].seen
    assert len(recorders[0].seen) == 2 * (stop_at or 3 * 13)
    assert a["epochs"] == ([0, 1, 2] if stop_at is None else [0, 1])
    assert [s[3] for s in recorders[0].seen if s[0] == "begin" and s[1] == 0] == a["epochs"]


@pytest.mark.parametrize("which", ["batch-hooks-only", "batch-hooks-and-checkpoint", "waiting-hooks"])
def test_long_fits_equal_the_per_epoch_loop(tmp_path, plain_runs, which):
    # Past SAMPLE_EVERY epochs the epoch hooks go through the sampled
    # tables, with no call at all for a hook no callback has (here
    # on_epoch_begin, unless ModelCheckpoint or TensorBoard is there).
    epochs = back_to_back.SAMPLE_EVERY + 3
    recorders = []

    def callbacks(where):
        checkpoint = cb.ModelCheckpoint(str(where / "ckpt" / "w-{epoch}-{batch}.npz"), save_weights_only=True,
                                        save_freq=7)
        if which == "waiting-hooks":
            return [checkpoint, cb.TensorBoard(log_dir=str(where / "tb"), update_freq=6), cb.TerminateOnNaN()]
        recorders.append(BatchRecorder())
        return [recorders[-1]] + ([checkpoint] if which == "batch-hooks-and-checkpoint" else [])

    a, b = _fit_both_ways(tmp_path, callbacks, plain_runs, epochs=epochs)
    _assert_same(a, b)
    assert a["epochs"] == list(range(epochs))
    if recorders:
        assert recorders[0].seen == recorders[1].seen
        assert [s[3] for s in recorders[0].seen if s[0] == "begin" and s[1] == 0] == a["epochs"]
    if which != "batch-hooks-only":
        assert len(a["files"]) == epochs * 13 // 7


def test_a_file_saved_again_and_again_is_written_once_per_run_of_waiting_saves(tmp_path, plain_runs, monkeypatch):
    # 17 saves to one file: the per-epoch loop writes each; back to back
    # they are given in one run (the interval made long), where each save
    # replaces the one before it before anything can read it: one write,
    # the same bytes.
    from hookfit.saving.weights_saver import WeightsSaver

    writes = []
    original = WeightsSaver.save

    def counting(self, path, weights=None):
        writes.append(path)
        return original(self, path, weights)

    monkeypatch.setattr(WeightsSaver, "save", counting)
    monkeypatch.setattr(back_to_back, "GIVE_EVERY_NS", 1 << 62)

    def callbacks(where):
        return [cb.ModelCheckpoint(str(where / "ckpt" / "w.npz"), save_weights_only=True, save_freq=3)]

    a, b = _fit_both_ways(tmp_path, callbacks, plain_runs, epochs=4)
    _assert_same(a, b)
    assert len(writes) == 1 + 4 * 13 // 3


def test_a_hook_raising_among_the_waiting_saves_leaves_the_per_epoch_loops_file(tmp_path, plain_runs, monkeypatch):
    # History's end of epoch 2 raises when the waiting hooks are given: the
    # saves given before it (the last of them waiting to be written) are
    # written, as the per-epoch loop wrote them at their batches.
    class Fails(Exception):
        pass

    original, original_run = cb.History.on_epoch_end, cb.History._late_epochs

    def failing(self, epoch, logs=None):
        if epoch == 2:
            raise Fails()
        return original(self, epoch, logs)

    def failing_run(self, run):  # (how the waiting epochs are given to it)
        if 2 in run.epochs:
            raise Fails()
        return original_run(self, run)

    monkeypatch.setattr(cb.History, "on_epoch_end", failing)
    monkeypatch.setattr(cb.History, "_late_epochs", failing_run)
    x, y = _data()
    files = []
    for extra in ([], [EpochEndPass()]):
        where = tmp_path / str(len(extra))
        where.mkdir()
        checkpoint = cb.ModelCheckpoint(str(where / "w.npz"), save_weights_only=True, save_freq=3)
        with pytest.raises(Fails):
            _model().fit(x, y, batch_size=4, epochs=4, verbose=0, callbacks=[checkpoint, *extra])
        files.append((where / "w.npz").read_bytes())
    assert len(plain_runs) == 1 and files[0] == files[1]


@pytest.mark.parametrize("row, stop_step", [(48, 13), (20, 6)], ids=["a-runs-last-batch", "mid-epoch"])
def test_an_invalid_loss_stops_every_path_at_its_batch(plain_runs, capsys, row, stop_step):
    # A row that overflows the hidden layer makes its batch's loss invalid.
    # At the last batch of a native run the count of batches it ran cannot
    # tell (the run was not cut short): the core says so itself, and every
    # path stops there, as Keras's TerminateOnNaN at every batch does.
    x, y = _data()
    x[row] = 3e38
    results = []
    for extra in ([], [EpochEndPass()], [cb.LambdaCallback(on_train_batch_end=lambda batch, logs: None)]):
        model = _model()
        history = model.fit(x, y, batch_size=4, epochs=3, verbose=0, shuffle=False,
                            callbacks=[cb.TerminateOnNaN(), *extra])
        results.append((int(model.optimizer.iterations), history.epoch))
    assert results == [(stop_step, [0])] * 3
    assert capsys.readouterr().out.count(f"Batch {stop_step - 1}: Invalid loss, terminating training") == 3
    assert len(plain_runs) == 2  # (the per-epoch loop for the epoch hook)


def test_two_checkpoints_writing_one_file_leave_the_per_epoch_loops_bytes(tmp_path, plain_runs):
    # Saves every 2 and every 3 batches to the same file: the last write of
    # the fit decides its bytes, so neither may put its writes off.
    def callbacks(where):
        path = str(where / "ckpt" / "w.npz")
        return [cb.ModelCheckpoint(path, save_weights_only=True, save_freq=3),  # the fit's last write
                cb.ModelCheckpoint(path, save_weights_only=True, save_freq=2)]

    a, b = _fit_both_ways(tmp_path, callbacks, plain_runs, epochs=3)
    _assert_same(a, b)


def test_a_write_failing_after_a_hook_raised_leaves_the_hooks_error(tmp_path, plain_runs, monkeypatch, caplog):
    from hookfit.saving.weights_saver import WeightsSaver

    class Fails(Exception):
        pass

    def failing(self, epoch, logs=None):
        raise Fails()

    def full_disk(self, path, weights=None):
        raise OSError("No space left on device")

    monkeypatch.setattr(cb.History, "on_epoch_end", failing)
    monkeypatch.setattr(cb.History, "_late_epochs", lambda self, run: failing(self, run.epochs[0]))
    monkeypatch.setattr(WeightsSaver, "save", full_disk)
    x, y = _data()
    checkpoint = cb.ModelCheckpoint(str(tmp_path / "w.npz"), save_weights_only=True, save_freq=3)
    with pytest.raises(Fails):
        _model().fit(x, y, batch_size=4, epochs=4, verbose=0, callbacks=[checkpoint])
    assert plain_runs and "No space left on device" in caplog.text


def test_a_callback_with_epoch_hooks_of_its_own_is_not_given_runs(plain_runs):
    # Its class says its epoch hooks can wait but has on_epoch_end of its
    # own: the _late_epochs it inherits cannot stand for them, so every
    # epoch's end goes to its hook (given late, in order).
    class Counting(cb.History):
        def _epoch_hooks_can_wait(self):
            return True

        def on_epoch_end(self, epoch, logs=None):
            self.seen.append(epoch)
            super().on_epoch_end(epoch, logs)

    counting = Counting()
    counting.seen = []
    x, y = _data()
    history = _model().fit(x, y, batch_size=4, epochs=5, verbose=0, callbacks=[counting])
    assert plain_runs and history is counting
    assert counting.seen == list(range(5)) and len(history.history["loss"]) == 5
