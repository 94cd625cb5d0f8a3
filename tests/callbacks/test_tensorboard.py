"""TensorBoard: hookfit's event files read back with TensorBoard's own reader."""

import os

import numpy as np
import pytest

pytest.importorskip("tensorboardX", reason="tensorboardX (extra 'tensorboard') writes the event files")
event_accumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator",
    reason="the tensorboard package provides the reader used to check the files",
)

from hookfit.callbacks.tensorboard import TensorBoard


class FakeOptimizer:
    iterations = 0


class FakeLayer:
    name = "dense"

    def get_weights(self):
        return [np.arange(6, dtype=np.float32).reshape(3, 2), np.zeros(2, np.float32)]


class FakeModel:
    def __init__(self):
        self.optimizer = FakeOptimizer()
        self.layers = [FakeLayer()]
        self.stop_training = False


def read(run_dir):
    acc = event_accumulator.EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "histograms": 0})
    acc.Reload()
    return acc


def scalars(acc, tag):
    return [(e.step, pytest.approx(e.value)) for e in acc.Scalars(tag)]


def fit(callback, epochs, steps, validate=True):
    model = FakeModel()
    callback.set_model(model)
    callback.set_params({"verbose": 0, "epochs": epochs, "steps": steps})
    callback.on_train_begin({})
    for epoch in range(epochs):
        callback.on_epoch_begin(epoch, {})
        for batch in range(steps):
            if callback._implements_train_batch_hooks():
                callback.on_train_batch_begin(batch, {})
            model.optimizer.iterations += 1
            if callback._implements_train_batch_hooks():
                callback.on_train_batch_end(batch, {"loss": 10.0 * epoch + batch, "mae": 1.0})
        logs = {"loss": 1.0 / (epoch + 1), "mae": 0.5, "lr": np.float32(0.001)}
        if validate:
            callback.on_test_begin({})
            callback.on_test_end({"loss": 2.0 / (epoch + 1), "mae": 0.75})
            logs.update({"val_loss": 2.0 / (epoch + 1), "val_mae": 0.75})
        callback.on_epoch_end(epoch, logs)
    callback.on_train_end(logs)


def test_epoch_scalars_in_train_and_validation_runs(tmp_path):
    fit(TensorBoard(log_dir=tmp_path), epochs=3, steps=4)
    assert sorted(os.listdir(tmp_path)) == ["train", "validation"]
    train, val = read(tmp_path / "train"), read(tmp_path / "validation")
    assert sorted(train.Tags()["scalars"]) == ["epoch_loss", "epoch_lr", "epoch_mae"]
    assert scalars(train, "epoch_loss") == [(0, 1.0), (1, 0.5), (2, 1 / 3)]
    assert scalars(train, "epoch_lr") == [(e, 0.001) for e in range(3)]
    assert sorted(val.Tags()["scalars"]) == [
        "epoch_loss", "epoch_mae", "evaluation_loss_vs_iterations", "evaluation_mae_vs_iterations"]
    assert scalars(val, "epoch_loss") == [(0, 2.0), (1, 1.0), (2, 2 / 3)]
    # step = optimizer iterations at the end of each evaluation
    assert scalars(val, "evaluation_loss_vs_iterations") == [(4, 2.0), (8, 1.0), (12, 2 / 3)]


def test_no_validation_run_without_validation(tmp_path):
    fit(TensorBoard(log_dir=tmp_path), epochs=2, steps=2, validate=False)
    assert os.listdir(tmp_path) == ["train"]


def test_batch_scalars_every_update_freq_global_batches(tmp_path):
    callback = TensorBoard(log_dir=tmp_path, update_freq=3)
    assert callback._implements_train_batch_hooks()
    fit(callback, epochs=2, steps=4, validate=False)
    train = read(tmp_path / "train")
    # global batches 3 and 6 (1-based): epoch 0 batch 2, epoch 1 batch 1
    assert scalars(train, "batch_loss") == [(3, 2.0), (6, 11.0)]
    assert "batch_mae" in train.Tags()["scalars"]


def test_epoch_update_freq_writes_no_batch_scalars(tmp_path):
    callback = TensorBoard(log_dir=tmp_path)
    assert not callback._implements_train_batch_hooks()
    fit(callback, epochs=1, steps=3, validate=False)
    assert not any(t.startswith("batch_") for t in read(tmp_path / "train").Tags()["scalars"])


def test_histograms_and_steps_per_second(tmp_path):
    fit(TensorBoard(log_dir=tmp_path, histogram_freq=2, write_steps_per_second=True), epochs=3, steps=2, validate=False)
    train = read(tmp_path / "train")
    assert train.Tags()["histograms"] == ["dense/kernel_0/histogram", "dense/bias_0/histogram"]
    assert [e.step for e in train.Histograms("dense/kernel_0/histogram")] == [0, 2]
    assert len(train.Scalars("epoch_steps_per_second")) == 3


def test_bad_arguments(tmp_path, caplog):
    with pytest.raises(ValueError, match="Unrecognized arguments in `TensorBoard` Callback: \\['bogus'\\]"):
        TensorBoard(tmp_path, bogus=1)
    with pytest.raises(ValueError, match="update_freq"):
        TensorBoard(tmp_path, update_freq=0)
    with pytest.raises(ValueError, match="histogram_freq"):
        TensorBoard(tmp_path, histogram_freq=-1)
    with pytest.raises(ValueError, match="profiler"):
        TensorBoard(tmp_path, profile_batch=2)
    TensorBoard(tmp_path, write_grads=True)
    assert "`write_grads` is deprecated" in caplog.text
    assert TensorBoard(tmp_path, update_freq="batch").update_freq == 1


def test_unwritable_log_dir_fails_at_train_begin(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    callback = TensorBoard(blocker / "logs")
    callback.set_model(FakeModel())
    with pytest.raises(ValueError, match="not a directory|is a file"):
        callback.on_train_begin({})


def test_in_fit_batch_scalars_written_even_with_verbose_0(tmp_path):
    import hookfit as keras

    x = np.ones((40, 2), np.float32)
    y = np.zeros((40, 1), np.float32)
    model = keras.Sequential([keras.layers.Dense(1, input_dim=2)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    history = model.fit(x, y, epochs=2, batch_size=10, verbose=0, validation_split=0.5,
                        callbacks=[TensorBoard(tmp_path, update_freq=2)])
    train, val = read(tmp_path / "train"), read(tmp_path / "validation")
    assert [e.step for e in train.Scalars("batch_loss")] == [2, 4]
    assert [e.value for e in train.Scalars("epoch_loss")] == pytest.approx(history.history["loss"])
    assert [e.value for e in val.Scalars("epoch_mae")] == pytest.approx(history.history["val_mae"])
    assert [e.step for e in val.Scalars("evaluation_loss_vs_iterations")] == [2, 4]


def test_state_keeps_the_global_batch_counter(tmp_path):
    callback = TensorBoard(tmp_path, update_freq=1)
    fit(callback, epochs=1, steps=3, validate=False)
    assert callback.get_state() == {"global_train_batch": 3}
    other = TensorBoard(tmp_path)
    other.set_state(callback.get_state())
    assert other._global_train_batch == 3


def test_epoch_files_equal_the_oracles_bytes(tmp_path):
    # Arrays in the logs are left out, NumPy scalars are written as floats,
    # val_ entries go to the validation run; tags keep the logs' order.
    from unittest import mock

    from hookfit._reference import event_records as oracle
    from hookfit.callbacks import tensorboard_events

    callback = TensorBoard(log_dir=tmp_path)
    callback.set_model(FakeModel())
    callback.set_params({"verbose": 0, "epochs": 2, "steps": 1})
    logs = [
        {"loss": 0.5, "weights": np.zeros(3), "mae": np.float32(0.25), "val_loss": 1.5, "val_mae": 0.75},
        {"loss": 0.25, "weights": np.ones(3), "mae": np.float64(0.125), "val_loss": 1.0, "val_mae": 0.5},
    ]
    clock = iter(float(t) for t in range(1000, 1100))
    with mock.patch.object(tensorboard_events.time, "time", lambda: next(clock)):
        callback.on_train_begin({})
        for epoch, epoch_logs in enumerate(logs):
            callback.on_epoch_begin(epoch, {})
            callback.on_epoch_end(epoch, epoch_logs)
        callback.on_train_end({})
    # Each run's file opens at its first event: train at 1000 (event 1001),
    # validation at 1002 (event 1003), then the second epoch's at 1004, 1005.
    expected = {
        "train": [(1000, None), (1001, 0, {"epoch_loss": 0.5, "epoch_mae": 0.25}),
                  (1004, 1, {"epoch_loss": 0.25, "epoch_mae": 0.125})],
        "validation": [(1002, None), (1003, 0, {"epoch_loss": 1.5, "epoch_mae": 0.75}),
                       (1005, 1, {"epoch_loss": 1.0, "epoch_mae": 0.5})],
    }
    for run, events in expected.items():
        want = oracle.record(oracle.event(0, wall_time=events[0][0], file_version="brain.Event:2"))
        for wall_time, step, values in events[1:]:
            encoded = oracle.summary([oracle.scalar_value(tag, v) for tag, v in values.items()])
            want += oracle.record(oracle.event(step, wall_time=wall_time, summary=encoded))
        (name,) = os.listdir(tmp_path / run)
        assert (tmp_path / run / name).read_bytes() == want


@pytest.mark.parametrize("rate", [False, True], ids=["records", "with-steps-per-second"])
def test_a_run_of_late_epochs_writes_what_the_epoch_hooks_write(tmp_path, rate):
    # fit gives a run of waiting epochs in one call (_late_epochs); its
    # records must be those the hooks write for each epoch given late with
    # the same times, train and validation runs alike (a fit with
    # validation keeps TensorBoard's hooks today: its test hooks cannot
    # wait, so this is checked here, directly).
    from hookfit.callbacks.callback import EpochTimes, LateEpochs

    keys = ("loss", "mae", "val_loss", "val_mae")
    rows = [[1.0 / (e + 1), 0.5 + e, 2.0 / (e + 1), 0.25 * e] for e in range(4)]
    clock = [(1_000_000_000 * e, 1_000_000_000 * e + 250_000_000 * (e + 1)) for e in range(4)]
    wall_at = (1_700_000_100.0, 5_000_000_000)
    run = LateEpochs(tuple(range(4)), keys, rows, clock, wall_at)
    events = {}
    for way in ("hooks", "run"):
        callback = TensorBoard(log_dir=str(tmp_path / way), write_steps_per_second=rate)
        callback.set_model(FakeModel())
        callback.set_params({"verbose": 0, "epochs": 4, "steps": 3})
        callback.on_train_begin({})
        if way == "run":
            callback._late_epochs(run)
        else:
            for epoch, (began, ended), wall in zip(run.epochs, clock, run.walls()):
                callback._late_epoch = EpochTimes(began / 1e9, ended / 1e9, wall)
                callback.on_epoch_begin(epoch, {})
                callback.on_epoch_end(epoch, dict(zip(keys, rows[epoch])))
                callback._late_epoch = None
        callback.on_train_end({})
        events[way] = {}
        for kind in ("train", "validation"):
            acc = read(tmp_path / way / kind)
            events[way][kind] = {tag: [(e.wall_time, e.step, e.value) for e in acc.Scalars(tag)]
                                 for tag in acc.Tags()["scalars"]}
    assert events["run"] == events["hooks"]
    assert sorted(events["run"]["validation"]) == ["epoch_loss", "epoch_mae"]
    assert ("epoch_steps_per_second" in events["run"]["train"]) == rate
    assert [w for w, _, _ in events["run"]["train"]["epoch_loss"]] == pytest.approx(
        [1_700_000_100.0 - (5_000_000_000 - ended) / 1e9 for _, ended in clock])
