"""fit/evaluate/predict over a PyDataset, a Sequence and generators.

The same batches give the same run as the arrays: the History, weights,
evaluate and predict match the array-fed run exactly. End-of-data rules and
refusals follow tf-keras 2's data_adapter.py and training.py.
"""

import logging

import numpy as np
import pytest

import hookfit as keras
from hookfit.callbacks.backup_and_restore import BackupAndRestore
from hookfit.trainers.source_loops import batch_dataset
from hookfit.utils import PyDataset, Sequence

N, BATCH = 50, 16


def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, 4)).astype(np.float32)
    y = (x @ rng.standard_normal((4, 3))).astype(np.float32)
    sw = rng.uniform(0.5, 2.0, N).astype(np.float32)
    return x, y, sw


def build(seed=3, optimizer="sgd"):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.layers.Dense(5, activation="tanh", input_dim=4), keras.layers.Dense(3)])
    model.compile(optimizer=optimizer, loss="mse", metrics=["mae"])
    return model


class Batches(PyDataset):
    def __init__(self, x, y, sw=None, batch_size=BATCH, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.sw, self.batch_size = x, y, sw, batch_size
        self.read, self.ends = [], 0

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, i):
        self.read.append(i)
        s = slice(i * self.batch_size, (i + 1) * self.batch_size)
        if self.sw is None:
            return self.x[s], self.y[s]
        return self.x[s], self.y[s], self.sw[s]

    def on_epoch_end(self):
        self.ends += 1


class OldStyle(Sequence):
    """A Keras 2 Sequence: no super().__init__, settings from fit."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return -(-len(self.x) // BATCH)

    def __getitem__(self, i):
        return self.x[i * BATCH:(i + 1) * BATCH], self.y[i * BATCH:(i + 1) * BATCH]


def batches(x, y, sw=None, passes=1):
    for _ in range(passes):
        for i in range(0, len(x), BATCH):
            yield (x[i:i + BATCH], y[i:i + BATCH]) if sw is None else (x[i:i + BATCH], y[i:i + BATCH], sw[i:i + BATCH])


def array_run(epochs=3, sample_weight=None, **kwargs):
    x, y, _ = data()
    model = build()
    history = model.fit(x, y, batch_size=BATCH, epochs=epochs, shuffle=False, verbose=0,
                        sample_weight=sample_weight, **kwargs)
    return model, history


def assert_same(model_a, history_a, model_b, history_b):
    assert history_a.history == history_b.history
    for a, b in zip(model_a.get_weights(), model_b.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make", [
    lambda x, y: Batches(x, y),
    lambda x, y: Batches(x, y, workers=3, max_queue_size=2),
    lambda x, y: Batches(x, y, workers=2, use_multiprocessing=True),
    lambda x, y: OldStyle(x, y),
])
def test_pydataset_fit_is_the_array_fit(make):
    x, y, _ = data()
    ref_model, ref = array_run(validation_data=(x, y))
    model = build()
    history = model.fit(make(x, y), epochs=3, shuffle=False, verbose=0, validation_data=make(x, y))
    assert_same(ref_model, ref, model, history)
    assert model.evaluate(make(x, y), verbose=0) == ref_model.evaluate(x, y, batch_size=BATCH, verbose=0)
    np.testing.assert_array_equal(model.predict(make(x, y), verbose=0),
                                  ref_model.predict(x, batch_size=BATCH, verbose=0))


def test_sequence_pool_settings_from_fit():
    x, y, _ = data()
    ref_model, ref = array_run()
    model = build()
    history = model.fit(OldStyle(x, y), epochs=3, shuffle=False, verbose=0, workers=2, max_queue_size=3)
    assert_same(ref_model, ref, model, history)


@pytest.mark.parametrize("workers", [1, 3])
def test_generator_fit_with_steps_is_the_array_fit(workers):
    x, y, sw = data()
    ref_model, ref = array_run(sample_weight=sw)
    model = build()
    history = model.fit(batches(x, y, sw, passes=3), steps_per_epoch=4, epochs=3, verbose=0, workers=workers)
    assert_same(ref_model, ref, model, history)


def test_generator_validation_data_with_array_x():
    x, y, _ = data()
    ref_model, ref = array_run(validation_data=(x, y))
    model = build()
    history = model.fit(x, y, batch_size=BATCH, epochs=3, shuffle=False, verbose=0,
                        validation_data=batches(x, y, passes=3), validation_steps=4)
    assert_same(ref_model, ref, model, history)
    model = build()
    history = model.fit(x, y, batch_size=BATCH, epochs=3, shuffle=False, verbose=0,
                        validation_data=Batches(x, y))
    assert_same(ref_model, ref, model, history)


def test_pydataset_on_epoch_end_and_batch_shuffle():
    x, y, _ = data()
    ds = Batches(x, y)
    keras.utils.set_random_seed(5)
    model = build()
    model.fit(ds, epochs=3, verbose=0)  # shuffle=True: the batch order, per epoch (tf-keras)
    assert ds.ends == 3
    # batch 0 is read once more up front, to check it and build the model
    epochs = [ds.read[1 + 4 * e:1 + 4 * (e + 1)] for e in range(3)]
    assert all(sorted(e) == [0, 1, 2, 3] for e in epochs)
    assert epochs[0] != epochs[1] or epochs[1] != epochs[2]
    ds = Batches(x, y)
    build().fit(ds, epochs=2, shuffle=False, verbose=0)
    assert ds.read == [0, 0, 1, 2, 3, 0, 1, 2, 3]


def test_generator_without_steps_runs_one_full_epoch_then_stops(caplog):
    # tf-keras 2: epoch 1 runs until the generator is exhausted and sets the
    # epoch length; epoch 2 gets no batch: warning, metrics reset (logged as
    # 0.0), on_epoch_end, and training stops.
    x, y, _ = data()
    ref_model, ref = array_run(epochs=1)
    model = build()
    with caplog.at_level(logging.WARNING, logger="hookfit"):
        history = model.fit(batches(x, y), epochs=4, verbose=0)
    assert history.epoch == [0, 1]
    assert history.history["loss"] == [ref.history["loss"][0], 0.0]
    for a, b in zip(model.get_weights(), ref_model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert "Your input ran out of data; interrupting training" in caplog.text
    assert "(in this case, 16 batches)" in caplog.text  # 4 epochs x 4 inferred steps


def test_generator_running_out_mid_epoch(caplog):
    x, y, _ = data()
    model = build()
    with caplog.at_level(logging.WARNING, logger="hookfit"):
        history = model.fit(batches(x, y, passes=1), steps_per_epoch=3, epochs=5, verbose=0)
    # 4 batches: epoch 1 takes 3, epoch 2 gets 1 and ends training
    assert history.epoch == [0, 1]
    assert "(in this case, 15 batches)" in caplog.text
    assert model.optimizer.iterations == 4


def test_pydataset_steps_per_epoch(caplog):
    x, y, _ = data()
    ds = Batches(x, y)
    build().fit(ds, steps_per_epoch=2, epochs=3, shuffle=False, verbose=0)
    assert ds.read == [0, 0, 1, 0, 1, 0, 1]  # each epoch restarts at batch 0 (tf-keras)
    model = build()
    with caplog.at_level(logging.WARNING, logger="hookfit"):
        history = model.fit(Batches(x, y), steps_per_epoch=6, epochs=3, verbose=0)
    assert history.epoch == [0] and model.optimizer.iterations == 4
    assert "ran out of data" in caplog.text


def test_evaluate_and_predict_generators_and_steps(caplog):
    x, y, _ = data()
    model = build()
    ref = model.evaluate(x, y, batch_size=BATCH, verbose=0)
    assert model.evaluate(batches(x, y), verbose=0) == ref
    np.testing.assert_array_equal(model.predict((b[0] for b in batches(x, y)), verbose=0),
                                  model.predict(x, batch_size=BATCH, verbose=0))
    assert model.predict(Batches(x, y), steps=2, verbose=0).shape == (32, 3)
    with caplog.at_level(logging.WARNING, logger="hookfit"):
        model.evaluate(batches(x, y), steps=9, verbose=0)
    assert "ran out of data" in caplog.text
    logs = model.evaluate(Batches(x, y), verbose=0, return_dict=True)
    assert set(logs) == {"loss", "mae"}


def test_class_weight_with_a_generator():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((32, 4)).astype(np.float32)
    labels = rng.integers(0, 3, 32)
    y = keras.utils.to_categorical(labels, 3)
    cw = {0: 1.0, 1: 2.0, 2: 0.5}

    def model():
        keras.utils.set_random_seed(2)
        m = keras.Sequential([keras.layers.Dense(3, activation="softmax", input_dim=4)])
        m.compile("sgd", "categorical_crossentropy")
        return m

    a = model().fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, class_weight=cw, verbose=0)
    b = model().fit(batches(x, y, passes=2), steps_per_epoch=2, epochs=2, class_weight=cw, verbose=0)
    assert a.history == b.history


def test_refusals_change_nothing():
    x, y, sw = data()
    model = build()
    before = model.get_weights()
    cases = [
        (dict(x=Batches(x, y), y=y), "`y` argument is not supported when using a PyDataset"),
        (dict(x=batches(x, y), sample_weight=sw), "`sample_weight` argument is not supported"),
        (dict(x=OldStyle(x, y), batch_size=8), "`batch_size` argument must not be specified"),
        (dict(x=Batches(x, y), validation_split=0.2), "`validation_split` is only supported"),
        (dict(x=Batches(x, y), validation_data=Batches(x, y), validation_batch_size=4),
         "`validation_batch_size` argument must not be specified"),
        (dict(x=(b[0] for b in batches(x, y))), "gave no targets"),
        (dict(x=batches(x[:, :3], y)), "3 features per sample"),
        (dict(x=iter([])), "gave no batches"),
        (dict(x=batches(x, y), use_multiprocessing=True), "needs a keras.utils.PyDataset"),
        (dict(x=batches(x, np.array([["a"] * 3] * N))), "holds strings"),
    ]
    for kwargs, message in cases:
        with pytest.raises((ValueError, TypeError), match=message):
            model.fit(epochs=1, verbose=0, **kwargs)
        for a, b in zip(before, model.get_weights()):
            np.testing.assert_array_equal(a, b)
    assert model.optimizer.iterations == 0


def test_unbuilt_model_builds_on_the_first_batch():
    x, y, _ = data()
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.layers.Dense(3)])
    model.compile("sgd", "mse")
    model.fit(Batches(x, y), epochs=1, verbose=0)
    assert model.get_weights()[0].shape == (4, 3)


def test_contiguous_float32_batches_are_not_copied():
    x, y, sw = data()
    model = build()
    data_set = batch_dataset(model, (x[:16], y[:16], sw[:16]), "batch 0")
    assert np.shares_memory(data_set.x, x) and np.shares_memory(data_set.y, y)
    assert np.shares_memory(data_set.sample_weight, sw)
    copied = batch_dataset(model, (x[:16].astype(np.float64), y[:16]), "batch 0")
    assert not np.shares_memory(copied.x, x)


class Interrupt(keras.callbacks.Callback):
    def __init__(self, at):
        super().__init__()
        self.at, self.epoch = at, None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise KeyboardInterrupt("interrupted")


@pytest.mark.parametrize("save_freq", ["epoch", 1])
def test_backup_and_restore_resumes_a_shuffled_pydataset_exactly(tmp_path, save_freq):
    x, y, _ = data()
    backup = str(tmp_path / "backup")

    def run(cbs):
        model = build(optimizer="adam")
        return model, model.fit(Batches(x, y), epochs=4, verbose=0, callbacks=cbs)

    ref_model, ref = run([])
    with pytest.raises(KeyboardInterrupt):
        run([Interrupt((2, 1)), BackupAndRestore(backup, save_freq=save_freq)])
    model, history = run([Interrupt(None), BackupAndRestore(backup, save_freq=save_freq)])
    assert history.history == ref.history
    for a, b in zip(model.get_weights(), ref_model.get_weights()):
        np.testing.assert_array_equal(a, b)


# -- against Keras 3 -------------------------------------------------------------------


def test_generator_fed_fit_matches_keras3(keras3):
    k3 = keras3
    x, y, sw = data()
    model = build()
    initial = model.get_weights()
    ours = model.fit(batches(x, y, sw, passes=3), steps_per_epoch=4, epochs=3, verbose=0)

    theirs_model = k3.Sequential([k3.Input((4,)), k3.layers.Dense(5, activation="tanh"), k3.layers.Dense(3)])
    theirs_model.set_weights(initial)
    theirs_model.compile(optimizer=k3.optimizers.SGD(0.01), loss="mse", metrics=["mae"])
    theirs = theirs_model.fit(batches(x, y, sw, passes=3), steps_per_epoch=4, epochs=3, verbose=0, shuffle=False)
    for key in ("loss", "mae"):
        np.testing.assert_allclose(ours.history[key], theirs.history[key], rtol=1e-4)
    for a, b in zip(model.get_weights(), theirs_model.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-4, atol=1e-6)


class HookLog(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def on_train_batch_begin(self, batch, logs=None):
        self.calls.append(("begin", batch))

    def on_train_batch_end(self, batch, logs=None):
        self.calls.append(("end", batch, round(logs["loss"], 6)))


def test_steps_per_execution_groups_the_hooks():
    # Keras 3: hooks once per N batches, end with the chunk's last batch and logs.
    x, y, _ = data()
    per_batch, chunked = HookLog(), HookLog()
    build().fit(Batches(x, y), epochs=1, shuffle=False, verbose=0, callbacks=[per_batch])
    model = build()
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"], steps_per_execution=3)
    model.fit(Batches(x, y), epochs=1, shuffle=False, verbose=0, callbacks=[chunked])
    ends = {c[1]: c for c in per_batch.calls if c[0] == "end"}
    assert chunked.calls == [("begin", 0), ends[2], ("begin", 3), ends[3]]


def test_validation_generator_without_steps_is_read_once(caplog):
    # tf-keras 2 keeps one validation iterator per fit: the first pass reads
    # the generator to its end; later passes get no batch (a warning, and
    # no val_ entries for that epoch).
    x, y, _ = data()
    model = build()
    with caplog.at_level(logging.WARNING, logger="hookfit"):
        history = model.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0,
                            validation_data=batches(x, y))
    assert len(history.history["loss"]) == 2 and len(history.history["val_loss"]) == 1
    assert "interrupting evaluation" in caplog.text


def test_iterators_and_progress_bar(capsys):
    x, y, _ = data()
    model = build()
    history = model.fit(iter(list(batches(x, y, passes=2))), steps_per_epoch=4, epochs=2, verbose=1)
    assert len(history.history["loss"]) == 2
    out = capsys.readouterr().out
    assert "Epoch 2/2" in out and "4/4" in out
    model.fit(batches(x, y), epochs=1, verbose=2)  # length unknown up front
    assert capsys.readouterr().out.startswith("4/4 - ")


def test_a_real_keras3_pydataset_works_too(keras3):
    x, y, _ = data()

    class K3Batches(keras3.utils.PyDataset):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)

        def __len__(self):
            return 4

        def __getitem__(self, i):
            return x[i * BATCH:(i + 1) * BATCH], y[i * BATCH:(i + 1) * BATCH]

    ref_model, ref = array_run()
    model = build()
    history = model.fit(K3Batches(workers=2), epochs=3, shuffle=False, verbose=0)
    assert_same(ref_model, ref, model, history)


def test_errors_in_getitem_propagate_and_stop_the_pool():
    x, y, _ = data()

    class Broken(Batches):
        def __getitem__(self, i):
            if i == 2:
                raise OSError("file 2 is unreadable")
            return super().__getitem__(i)

    model = build()
    with pytest.raises(OSError, match="file 2 is unreadable"):
        model.fit(Broken(x, y, workers=2), epochs=1, shuffle=False, verbose=0)
    assert model.optimizer.iterations == 2
    model.fit(Batches(x, y), epochs=1, verbose=0)  # the model is still usable


def test_backup_and_restore_with_a_generator_restores_counters_not_the_generator(tmp_path):
    # A generator cannot be rewound: the resumed fit continues at the saved
    # epoch and batch, reading from the generator it is given. Given one
    # positioned where the backup was taken, it is the uninterrupted run.
    x, y, _ = data()
    backup = str(tmp_path / "backup")
    stream = list(batches(x, y, passes=4))

    def run(source, cbs):
        model = build(optimizer="adam")
        return model, model.fit(source, steps_per_epoch=4, epochs=4, verbose=0, callbacks=cbs)

    ref_model, ref = run(iter(stream), [])
    with pytest.raises(KeyboardInterrupt):
        run(iter(stream), [Interrupt((2, 1)), BackupAndRestore(backup)])  # backup after epoch 1
    model, history = run(iter(stream[8:]), [Interrupt(None), BackupAndRestore(backup)])
    assert history.history == ref.history
    for a, b in zip(model.get_weights(), ref_model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_terminate_on_nan_stops_a_source_fed_fit(capsys):
    x, y, _ = data()
    bad = y.copy()
    bad[16:32] = 1e30  # batch 1's squared error overflows to inf
    model = build()
    history = model.fit(Batches(x, bad), epochs=3, shuffle=False, verbose=0,
                        callbacks=[keras.callbacks.TerminateOnNaN()])
    assert history.epoch == [0] and model.optimizer.iterations == 2
    assert "Batch 1: Invalid loss, terminating training" in capsys.readouterr().out
