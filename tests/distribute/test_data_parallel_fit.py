"""fit/evaluate/predict data-parallel over 2 and 3 replicas in threads (the
in-process backend): the History, every batch-end log, validation, evaluate
and predict equal one process at the same global batch; every replica ends
with bitwise the same weights; a stop on one replica stops all at the same
batch; mismatched runs fail on every replica."""

from __future__ import annotations

import numpy as np
import pytest

import hookfit as keras
from hookfit.distribute import DataParallel, SignatureMismatchError, run_replicas

RTOL = 1e-5


class BatchLogs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.train, self.test, self.epochs = [], [], []

    def on_train_batch_end(self, batch, logs=None):
        self.train.append((batch, dict(logs)))

    def on_test_batch_end(self, batch, logs=None):
        self.test.append((batch, dict(logs)))

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append((epoch, dict(logs)))


def _data(n=101, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 8)).astype(np.float32)
    labels = (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1)
    return x, labels.astype(np.float32)


def _model(seed=3):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.layers.Dense(16, activation="relu", input_dim=8),
        keras.layers.Dense(3, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _fit(model, x, y, strategy=None, extra=(), record=True, **kwargs):
    rec = BatchLogs() if record else keras.callbacks.Callback()
    sw = np.linspace(0.5, 1.5, x.shape[0]).astype(np.float32)
    args = dict(batch_size=32, epochs=3, verbose=0, shuffle=False, sample_weight=sw,
                validation_data=(x[:37], y[:37]), validation_batch_size=10)
    args.update(kwargs)
    history = model.fit(x, y, callbacks=[rec, *extra], distribute=strategy, **args)
    return history.history, rec, model.get_weights()


def _close(a, b):
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=1e-6)


def _same_logs(one, other):
    assert [b for b, _ in one] == [b for b, _ in other]
    for (_, la), (_, lb) in zip(one, other):
        assert la.keys() == lb.keys()
        _close([la[k] for k in la], [lb[k] for k in la])


@pytest.mark.parametrize(
    "replicas, n, batch_size",
    [(2, 96, 32), (2, 101, 32), (3, 101, 25), (2, 97, 32)],  # even, uneven, 1-row and 2-row last batch
)
def test_fit_equals_one_process_at_the_same_global_batch(replicas, n, batch_size):
    x, y = _data(n)
    one_hist, one_rec, one_w = _fit(_model(), x, y, batch_size=batch_size)
    # Built here, one after the other (hookfit's stream is the process's);
    # only rank 0's initial weights count: they are broadcast.
    models = [_model()] + [_model(seed=10 + r) for r in range(1, replicas)]

    def replica(comm):
        return _fit(models[comm.rank], x, y, DataParallel(comm), batch_size=batch_size)

    results = run_replicas(replicas, replica, timeout=120)
    for hist, rec, weights in results:
        assert hist.keys() == one_hist.keys()
        for k in one_hist:
            _close(hist[k], one_hist[k])
        _same_logs(one_rec.train, rec.train)
        _same_logs(one_rec.test, rec.test)
        for w, w1 in zip(weights, one_w):
            _close(w, w1)
    for _, _, weights in results[1:]:
        for w, w0 in zip(weights, results[0][2]):
            assert w.tobytes() == w0.tobytes()  # bit-identical across replicas


@pytest.mark.parametrize("shuffle", [True, "batch"])
def test_shuffled_fit_uses_rank_0s_stream_and_equals_one_process(shuffle):
    x, y = _data(101)
    model = _model()
    keras.utils.set_random_seed(99)
    one_hist = _fit(model, x, y, shuffle=shuffle)[0]

    models = [_model(), _model()]
    keras.utils.set_random_seed(99)

    def replica(comm):
        return _fit(models[comm.rank], x, y, DataParallel(comm), shuffle=shuffle)[0]

    # The replicas share this process's stream; only rank 0 draws from it.
    for hist in run_replicas(2, replica, timeout=120):
        for k in one_hist:
            _close(hist[k], one_hist[k])


class StopOnRank(keras.callbacks.Callback):
    """Stops at a given batch of epoch 1, but only on one replica."""

    def __init__(self, rank, at_batch):
        super().__init__()
        self.rank, self.at_batch = rank, at_batch
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == 1 and batch == self.at_batch and self.rank == 1:
            self.model.stop_training = True


def test_a_stop_on_one_replica_stops_all_at_the_same_batch():
    x, y = _data(101)

    models = [_model(), _model()]

    def replica(comm):
        stopper = StopOnRank(comm.rank, at_batch=1)
        hist, rec, weights = _fit(models[comm.rank], x, y, DataParallel(comm), extra=[stopper], epochs=5)
        return len(hist["loss"]), [b for b, _ in rec.train], weights

    results = run_replicas(2, replica, timeout=120)
    assert results[0][:2] == results[1][:2]
    epochs, batches, _ = results[0]
    assert epochs == 2 and batches == [0, 1, 2, 3, 0, 1]  # stopped after batch 1 of epoch 1
    for w0, w1 in zip(results[0][2], results[1][2]):
        assert w0.tobytes() == w1.tobytes()


def test_early_stopping_and_reduce_lr_act_at_the_same_epoch_as_one_process():
    x, y = _data(101)

    def callbacks():
        return [keras.callbacks.EarlyStopping(monitor="val_loss", patience=1, min_delta=0.5),
                keras.callbacks.ReduceLROnPlateau(monitor="loss", patience=0, min_delta=10, factor=0.5)]

    one_hist = _fit(_model(), x, y, extra=callbacks(), epochs=6)[0]
    models = [_model(), _model()]

    def replica(comm):
        return _fit(models[comm.rank], x, y, DataParallel(comm), extra=callbacks(), epochs=6)[0]

    for hist in run_replicas(2, replica, timeout=120):
        assert len(hist["loss"]) == len(one_hist["loss"]) < 6
        _close(hist["lr"], one_hist["lr"])


def test_evaluate_and_predict_equal_one_process():
    x, y = _data(101)
    model = _model()
    one_eval = model.evaluate(x, y, batch_size=16, verbose=0)
    one_pred = model.predict(x, batch_size=16, verbose=0)
    weights = model.get_weights()

    models = [_model(seed=20 + r) for r in range(3)]
    models[0].set_weights(weights)  # the others get rank 0's weights

    def replica(comm):
        m = models[comm.rank]
        strategy = DataParallel(comm)
        return (m.evaluate(x, y, batch_size=16, verbose=0, distribute=strategy),
                m.predict(x, batch_size=16, verbose=0, distribute=strategy))

    for ev, pred in run_replicas(3, replica, timeout=120):
        _close(ev, one_eval)
        _close(pred, one_pred)


def test_a_different_batch_size_fails_on_every_replica():
    x, y = _data(64)

    models = [_model(), _model()]

    def replica(comm):
        _fit(models[comm.rank], x, y, DataParallel(comm), batch_size=16 * (1 + comm.rank))

    with pytest.raises(SignatureMismatchError, match="batch_size: rank 0: 16, rank 1: 32"):
        run_replicas(2, replica, timeout=60)


def test_different_data_fails_on_every_replica():
    x, y = _data(64)

    models = [_model(), _model()]

    def replica(comm):
        xr = x if comm.rank == 0 else x[::-1].copy()
        _fit(models[comm.rank], xr, y, DataParallel(comm))

    with pytest.raises(SignatureMismatchError, match="data"):
        run_replicas(2, replica, timeout=60)


def test_file_writing_callbacks_keep_state_everywhere_and_write_on_rank_0_only(tmp_path):
    try:
        import tensorboardX  # noqa: F401

        tensorboard = True
    except ImportError:
        tensorboard = False
    x, y = _data(64)
    one_dir = tmp_path / "one"
    one_dir.mkdir()
    _fit(_model(), x, y, extra=[keras.callbacks.CSVLogger(str(one_dir / "log.csv"))])
    models = [_model(), _model()]

    def replica(comm):
        # Each replica names its own paths: only rank 0's may appear.
        d = tmp_path / f"rank{comm.rank}"
        cbs = [
            keras.callbacks.CSVLogger(str(d / "log.csv")),
            keras.callbacks.ModelCheckpoint(str(d / "ck-{epoch}.weights.npz"), save_weights_only=True,
                                            monitor="val_loss", save_best_only=True),
        ]
        if tensorboard:
            cbs.append(keras.callbacks.TensorBoard(log_dir=str(d / "tb"), update_freq=2))
        if comm.rank == 0:
            d.mkdir()  # rank 1's directory does not exist (another host's disk)
        _fit(models[comm.rank], x, y, DataParallel(comm), extra=cbs)
        return cbs[1].best, cbs[0].filename, cbs[1].filepath

    results = run_replicas(2, replica, timeout=60)
    assert results[0][0] == results[1][0]  # the same state on both ranks
    assert results[1][1] == str(tmp_path / "rank1" / "log.csv")  # restored after fit
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "rank0"]
    assert (tmp_path / "rank0" / "log.csv").read_text().splitlines()[0] == (
        one_dir / "log.csv").read_text().splitlines()[0]
    assert len((tmp_path / "rank0" / "log.csv").read_text().splitlines()) == 4
    assert list((tmp_path / "rank0").glob("ck-*.weights.npz"))
    if tensorboard:
        assert list((tmp_path / "rank0" / "tb").rglob("events.out.tfevents.*"))


class Interrupt(keras.callbacks.Callback):
    def __init__(self, epoch, batch):
        super().__init__()
        self.at = (epoch, batch)
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise KeyboardInterrupt("interrupted on purpose")


def _backup_fit(model, x, y, backup_dir, strategy=None, interrupt=(99, 99)):
    # The same callbacks in every run (a resume needs them in the same order).
    extra = [keras.callbacks.BackupAndRestore(str(backup_dir), save_freq=2), Interrupt(*interrupt)]
    return _fit(model, x, y, strategy, extra=extra, epochs=4, shuffle=True)


def test_backup_and_restore_resumes_bitwise_and_a_2_rank_backup_resumes_on_1(tmp_path):
    x, y = _data(101)

    def run(backup_dir, interrupt=(99, 99), models=None):
        models = models or [_model(), _model()]
        keras.utils.set_random_seed(5)

        def replica(comm):
            return _backup_fit(models[comm.rank], x, y, backup_dir, DataParallel(comm), interrupt)

        return run_replicas(2, replica, timeout=120)

    straight = run(tmp_path / "straight")
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "resumed", interrupt=(1, 2))
    assert (tmp_path / "resumed" / "backup.npz").exists()
    # Fresh models (other initial weights): everything comes from the backup.
    resumed = run(tmp_path / "resumed", models=[_model(seed=50), _model(seed=51)])
    for (h, _, w), (h0, _, w0) in zip(resumed, straight):
        assert h == h0
        for a, b in zip(w, w0):
            assert a.tobytes() == b.tobytes()
    assert not (tmp_path / "resumed").exists()  # deleted at the end, as on one process

    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "to_one", interrupt=(2, 1))
    one = _backup_fit(_model(seed=60), x, y, tmp_path / "to_one")
    for k in straight[0][0]:
        _close(one[0][k], straight[0][0][k])
    for a, b in zip(one[2], straight[0][2]):
        _close(a, b)


def test_one_replica_takes_todays_path():
    x, y = _data(64)
    a = _fit(_model(), x, y)
    model = _model()
    (b,) = run_replicas(1, lambda comm: _fit(model, x, y, DataParallel(comm)))
    for k in a[0]:
        assert a[0][k] == b[0][k]
    with pytest.raises(TypeError, match="DataParallel"):
        _model().fit(x, y, distribute="mpi")


class StopAtEpochBegin(keras.callbacks.Callback):
    """Sets stop_training in on_epoch_begin of epoch 1 on one replica only
    (no batch hooks: the stop rides the next step's Allreduce)."""

    def __init__(self, active):
        super().__init__()
        self.active = active

    def on_epoch_begin(self, epoch, logs=None):
        if self.active and epoch == 1:
            self.model.stop_training = True


def test_a_stop_set_before_a_batch_runs_that_batch_then_stops_everywhere():
    x, y = _data(101)
    model = _model()
    one_hist = _fit(model, x, y, extra=[StopAtEpochBegin(True)], epochs=4, record=False)[0]
    assert model._network.iterations == 5  # Keras: one batch of epoch 1, then stop
    models = [_model(), _model()]

    def replica(comm):
        hist = _fit(models[comm.rank], x, y, DataParallel(comm), record=False, epochs=4,
                    extra=[StopAtEpochBegin(comm.rank == 1)])[0]
        return hist, models[comm.rank]._network.iterations

    for hist, iterations in run_replicas(2, replica, timeout=60):
        assert iterations == 5
        assert len(hist["loss"]) == len(one_hist["loss"]) == 2
        for k in one_hist:
            _close(hist[k], one_hist[k])


class Slow(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        import time

        time.sleep(0.01)


def test_the_slow_callback_warning_comes_from_rank_0_only(caplog):
    x, y = _data(256)
    models = [_model(), _model()]

    def replica(comm):
        _fit(models[comm.rank], x, y, DataParallel(comm), extra=[Slow()], epochs=1, batch_size=16,
             record=False)

    with caplog.at_level("WARNING", logger="hookfit"):
        run_replicas(2, replica, timeout=120)
    slow = [r for r in caplog.records if "is slow compared to the batch time" in r.getMessage()]
    assert len(slow) == 1


def test_a_functional_graph_with_penalties_trains_data_parallel_as_one_process():
    x, y = _data(101)

    def model():
        keras.utils.set_random_seed(8)
        inp = keras.Input(shape=(8,))
        a = keras.layers.Dense(12, activation="relu", kernel_regularizer=keras.regularizers.l2(0.01))(inp)
        b = keras.layers.Dense(6, activation="tanh")(inp)
        out = keras.layers.Dense(3, activation="softmax")(keras.layers.Concatenate()([a, b]))
        m = keras.Model(inp, out)
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return m

    one_hist, _, one_w = _fit(model(), x, y)
    models = [model(), model()]

    def replica(comm):
        return _fit(models[comm.rank], x, y, DataParallel(comm))

    for hist, _, weights in run_replicas(2, replica, timeout=120):
        for k in one_hist:
            _close(hist[k], one_hist[k])
        for w, w1 in zip(weights, one_w):
            _close(w, w1)


def test_metric_states_of_any_size_and_a_schedule_match_one_process():
    """AUC's confusion counts and a weighted metric are summed as deltas; the
    learning rate comes from a schedule at each step's iteration."""
    x, y = _data(101)
    y_binary = (y > 0).astype(np.float32)

    def model():
        keras.utils.set_random_seed(9)
        m = keras.Sequential([keras.layers.Dense(8, activation="relu", input_dim=8),
                              keras.layers.Dense(1, activation="sigmoid")])
        schedule = keras.optimizers.schedules.ExponentialDecay(0.05, decay_steps=3, decay_rate=0.5)
        m.compile(optimizer=keras.optimizers.SGD(schedule, momentum=0.9), loss="binary_crossentropy",
                  metrics=["accuracy", keras.metrics.AUC(name="auc")], weighted_metrics=["mse"])
        return m

    one_hist = _fit(model(), x, y_binary)[0]
    models = [model(), model()]

    def replica(comm):
        return _fit(models[comm.rank], x, y_binary, DataParallel(comm))[0]

    for hist in run_replicas(2, replica, timeout=120):
        assert hist.keys() == one_hist.keys()
        for k in one_hist:
            _close(hist[k], one_hist[k])


def test_a_summed_loss_trains_as_one_process():
    """reduction='sum': each rank sums its share, the Allreduce gives the
    global batch's sum; logs and weights equal one process."""
    x, y = _data(101)

    def model():
        m = _model()
        m.compile(optimizer=keras.optimizers.SGD(0.001),
                  loss=keras.losses.SparseCategoricalCrossentropy(reduction="sum"),
                  metrics=["accuracy"])
        return m

    one_hist, one_rec, one_w = _fit(model(), x, y)
    models = [model(), model()]

    def replica(comm):
        return _fit(models[comm.rank], x, y, DataParallel(comm))

    for hist, rec, weights in run_replicas(2, replica, timeout=120):
        for k in one_hist:
            _close(hist[k], one_hist[k])
        _same_logs(rec.train, one_rec.train)
        for w, w1 in zip(weights, one_w):
            _close(w, w1)


def test_a_summed_loss_with_regularizers_is_refused_clearly():
    x, y = _data(64)
    models = []
    for _ in range(2):
        keras.utils.set_random_seed(3)
        m = keras.Sequential([
            keras.layers.Dense(16, activation="relu", input_dim=8, kernel_regularizer="l2"),
            keras.layers.Dense(3, activation="softmax"),
        ])
        m.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(reduction="sum"))
        models.append(m)

    def replica(comm):
        _fit(models[comm.rank], x, y, DataParallel(comm))

    with pytest.raises(Exception, match="reduction='sum'.*regularizers"):
        run_replicas(2, replica, timeout=60)
