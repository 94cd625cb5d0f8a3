"""A fit that only History watches runs its epochs back to back
(trainer.Trainer._plain_epochs): one native call per epoch and nothing else
between them, History's logs given after the run. Everything a user can see
must equal the per-epoch loop, which any callback with an epoch hook keeps."""

import threading
import time

import numpy as np
import pytest

import hookfit as keras
from hookfit.utils import rng
from interrupts import ctrl_c_after


class EpochEndPass(keras.callbacks.Callback):
    """An epoch hook that does nothing: it keeps the per-epoch loop."""

    def on_epoch_end(self, epoch, logs=None):
        pass


class TrainEndOnly(keras.callbacks.Callback):
    """No epoch or batch hook: it does not keep the per-epoch loop."""

    def __init__(self):
        super().__init__()
        self.seen = None

    def on_train_end(self, logs=None):
        self.seen = (list(self.model.history.epoch), dict(logs))


def _model(optimizer, dropout, input_dim=6, units=8):
    keras.utils.set_random_seed(11)
    layers = [keras.layers.Dense(units, activation="relu", input_dim=input_dim)]
    if dropout:
        layers.append(keras.layers.Dropout(0.3))
    layers.append(keras.layers.Dense(1))
    model = keras.Sequential(layers)
    model.compile(optimizer=optimizer(), loss="mse", metrics=["mae"])
    return model


def _state(model, history):
    return ([w.copy() for w in model.get_weights()], history.history, history.epoch,
            int(model.optimizer.iterations), rng.get_state())


def _assert_same(a, b):
    (wa, ha, ea, ia, ra), (wb, hb, eb, ib, rb) = a, b
    for x, y in zip(wa, wb):
        np.testing.assert_array_equal(x, y)
    assert ha == hb and ea == eb and ia == ib
    assert str(ra) == str(rb)


SCHEDULE = lambda: keras.optimizers.schedules.ExponentialDecay(0.05, decay_steps=3, decay_rate=0.7)  # noqa: E731


@pytest.mark.parametrize("optimizer", [
    lambda: keras.optimizers.RMSprop(0.01),
    lambda: keras.optimizers.Adam(SCHEDULE()),
], ids=["rmsprop", "adam-schedule"])
@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("dropout", [False, True])
@pytest.mark.parametrize("extra", [
    {}, {"initial_epoch": 2}, {"sample_weight": True}, {"class_weight": True},
    {"validation_split": 0.25}, {"validation_data": True, "validation_freq": 2, "validation_batch_size": 7},
])
def test_back_to_back_epochs_equal_the_per_epoch_loop(data, plain_runs, optimizer, shuffle, dropout, extra):
    x, y = data
    kwargs = dict(extra)
    if kwargs.pop("sample_weight", False):
        kwargs["sample_weight"] = np.linspace(0.5, 2.0, len(x)).astype(np.float32)
    if kwargs.pop("validation_data", False):
        kwargs["validation_data"] = (x[:19] * 2.0, y[:19])
    if kwargs.pop("class_weight", False):
        y = (y > 0).astype(np.float32)
        kwargs["class_weight"] = {0: 1.0, 1: 3.0}
    results = []
    for callbacks in ([TrainEndOnly()], [EpochEndPass()]):
        model = _model(optimizer, dropout)
        history = model.fit(x, y, batch_size=16, epochs=5, shuffle=shuffle, verbose=0,
                            callbacks=callbacks, **kwargs)
        assert model.history is history
        results.append(_state(model, history))
    assert len(plain_runs) == 1  # the first fit only
    _assert_same(*results)


def test_callbacks_without_epoch_hooks_see_what_they_would_see(data, plain_runs):
    x, y = data
    seen = TrainEndOnly()
    model = _model(lambda: keras.optimizers.SGD(0.01), False)
    history = model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[seen])
    assert plain_runs and seen.seen[0] == [0, 1, 2]
    assert seen.seen[1] == {k: v[-1] for k, v in history.history.items()}
    assert history.params == {"verbose": 0, "epochs": 3, "steps": 4}
    assert history.callback_costs.paths["train"].steps == 12
    with_validation = model.fit(x, y, batch_size=16, epochs=3, verbose=0, validation_split=0.2)
    assert len(plain_runs) == 2 and list(with_validation.history) == ["loss", "mae", "val_loss", "val_mae"]
    paths = with_validation.callback_costs.paths
    assert paths["train"].steps == 9 and paths["test"].steps == 3  # 40 rows, 10 for validation
    assert paths["test"].wall_ns > 0 and paths["train"].native_calls == 3


@pytest.mark.parametrize("kwargs", [
    {"callbacks": [EpochEndPass()]},
    {"validation_split": 0.2, "callbacks": [keras.callbacks.LambdaCallback(on_test_end=lambda logs: None)]},
    {"callbacks": [keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: None)]},
    {"verbose": 2},
    {"steps_per_epoch": 3},
    {"shuffle": "batch"},
    {"metrics": [lambda y_true, y_pred: np.mean(np.abs(y_true - y_pred), axis=-1)]},
], ids=["epoch-hook", "test-hook", "epoch-begin", "verbose", "steps_per_epoch",
        "batch-shuffle", "python-metric"])
def test_anything_else_that_watches_keeps_the_per_epoch_loop(data, plain_runs, kwargs, capsys):
    x, y = data
    kwargs = dict(kwargs)
    model = _model(lambda: keras.optimizers.SGD(0.01), False)
    if "metrics" in kwargs:
        model.compile(optimizer="sgd", loss="mse", metrics=kwargs.pop("metrics"))
    kwargs.setdefault("verbose", 0)
    model.fit(x, y, batch_size=16, epochs=2, **kwargs)
    assert plain_runs == []


def test_a_stop_set_before_the_epochs_keeps_the_per_epoch_loop(data, plain_runs):
    class StopAtBegin(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.model.stop_training = True

    x, y = data
    model = _model(lambda: keras.optimizers.SGD(0.01), False)
    history = model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[StopAtBegin()])
    assert plain_runs == [] and history.epoch == [0] and int(model.optimizer.iterations) == 1


def test_ctrl_c_leaves_the_completed_epochs_in_history_and_an_exact_count(plain_runs):
    x, y = (np.random.default_rng(3).normal(size=(512, n)).astype(np.float32) for n in (64, 1))

    def model():
        return _model(lambda: keras.optimizers.SGD(0.001), False, input_dim=64, units=64)

    interrupted = model()
    with pytest.raises(KeyboardInterrupt), ctrl_c_after(0.2):
        interrupted.fit(x, y, batch_size=8, epochs=100000, verbose=0)
    assert plain_runs
    history = interrupted.history
    done = len(history.epoch)
    assert history.epoch == list(range(done)) and done > 0
    # Batches of the epoch it stopped in (all of them when Ctrl-C came after
    # the epoch's batches, before its end work: the per-epoch loop has that
    # window too).
    steps = 64
    assert 0 <= int(interrupted.optimizer.iterations) - done * steps <= steps
    assert interrupted._fit_thread is None and interrupted._epoch_iterator is None
    # The completed epochs are the uninterrupted run's first epochs.
    reference = model().fit(x, y, batch_size=8, epochs=done, verbose=0)
    assert reference.history == history.history


def test_a_stop_set_by_another_thread_ends_the_fit_at_an_epoch_end(plain_runs):
    rng_ = np.random.default_rng(4)
    x = rng_.normal(size=(256, 32)).astype(np.float32)
    y = rng_.normal(size=(256, 1)).astype(np.float32)
    model = keras.Sequential([keras.layers.Dense(1, input_dim=32)])
    model.compile(optimizer="sgd", loss="mse")
    stopper = threading.Timer(0.2, lambda: setattr(model, "stop_training", True))
    stopper.start()
    start = time.monotonic()
    history = model.fit(x, y, batch_size=32, epochs=10**6, verbose=0)
    stopper.join()
    assert plain_runs and time.monotonic() - start < 60
    done = len(history.epoch)
    assert 0 < done < 10**6 and history.epoch == list(range(done))
    assert int(model.optimizer.iterations) == done * 8  # whole epochs, as the per-epoch loop stops


def test_a_history_subclass_with_its_own_epoch_end_keeps_the_per_epoch_loop(data, plain_runs):
    # Its hook must run at each epoch's end (here it stops the fit), not after the run.
    class StopAfterFirst(keras.callbacks.History):
        def on_epoch_end(self, epoch, logs=None):
            super().on_epoch_end(epoch, logs)
            self.model.stop_training = True

    x, y = data
    model = _model(lambda: keras.optimizers.SGD(0.01), False)
    history = model.fit(x, y, batch_size=16, epochs=4, verbose=0, callbacks=[StopAfterFirst()])
    assert plain_runs == [] and history.epoch == [0] and int(model.optimizer.iterations) == 4


def test_the_cost_table_reads_as_the_per_epoch_loop_makes_it(data, plain_runs):
    x, y = data
    tables = []
    for callbacks in ([TrainEndOnly()], [EpochEndPass()]):
        model = _model(lambda: keras.optimizers.SGD(0.01), False)
        history = model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=callbacks,
                            validation_split=0.2, validation_freq=2)
        tables.append(history.callback_costs.paths)
    plain, per_epoch = tables
    assert len(plain_runs) == 1
    assert sorted(plain) == sorted(per_epoch) == ["test", "train"]
    for mode in ("train", "test"):
        a, b = plain[mode], per_epoch[mode]
        assert (a.path, a.steps, a.native_calls) == (b.path, b.steps, b.native_calls)
        assert a.wall_ns >= a.native_ns > 0
    # No validation due in these epochs: no test line, as in the per-epoch loop.
    model = _model(lambda: keras.optimizers.SGD(0.01), False)
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, validation_split=0.2,
                        validation_freq=[5])
    assert len(plain_runs) == 2 and sorted(history.callback_costs.paths) == ["train"]
    # No epoch left to run: no train line either.
    history = model.fit(x, y, batch_size=16, epochs=2, initial_epoch=2, verbose=0)
    assert len(plain_runs) == 2 and history.callback_costs.paths == {}
