"""Scheduled batch hooks data-parallel (replicas in threads): with
``steps_per_execution``, ``batch_every`` callbacks and the progress bar's
redraw schedule the hooks run only at chunk boundaries, at the batches and
with the logs of one process; each batch is still a whole data-parallel
step, and a stop set on one rank stops every rank at the same boundary."""

from __future__ import annotations

import io
from contextlib import redirect_stdout

import numpy as np
import pytest

import hookfit as keras
from hookfit.distribute import DataParallel, run_replicas

RTOL = 1e-5


class EndLogs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.ends, self.begins = [], []

    def on_train_batch_begin(self, batch, logs=None):
        self.begins.append(batch)

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append((batch, dict(logs)))


class EveryThird(EndLogs):
    batch_every = 3


class StopAt(keras.callbacks.Callback):
    """Stops at batch ``at`` (on the given rank only: the others must follow)."""
    batch_every = 2

    def __init__(self, at, rank=None, comm_rank=None):
        super().__init__()
        self.at, self.rank, self.comm_rank = at, rank, comm_rank

    def on_train_batch_end(self, batch, logs=None):
        if batch >= self.at and (self.rank is None or self.rank == self.comm_rank):
            self.model.stop_training = True


def _data(n=101):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 8)).astype(np.float32)
    return x, ((x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1)).astype(np.float32)


def _model(spe=1):
    keras.utils.set_random_seed(3)
    m = keras.Sequential([keras.layers.Dense(16, activation="relu", input_dim=8),
                          keras.layers.Dense(3, activation="softmax")])
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"], steps_per_execution=spe)
    return m


def _fit(model, x, y, callbacks, strategy=None, **kwargs):
    args = dict(batch_size=10, epochs=2, verbose=0, shuffle=False, validation_data=(x[:30], y[:30]))
    args.update(kwargs)
    return model.fit(x, y, callbacks=callbacks, distribute=strategy, **args).history


def _same_ends(got, want):
    assert [b for b, _ in got] == [b for b, _ in want]
    for (_, a), (_, b) in zip(got, want):
        np.testing.assert_allclose([a[k] for k in b], [b[k] for k in b], rtol=RTOL)


@pytest.mark.parametrize("spe, recorder", [(4, EndLogs), (1, EveryThird), (4, EveryThird)],
                         ids=["steps_per_execution", "batch_every", "both"])
def test_chunked_hooks_fire_at_the_one_process_batches_with_its_logs(spe, recorder):
    x, y = _data()
    one = recorder()
    one_hist = _fit(_model(spe), x, y, [one])
    models = [_model(spe), _model(spe)]

    def replica(comm):
        rec = recorder()
        return _fit(models[comm.rank], x, y, [rec], DataParallel(comm)), rec, models[comm.rank].get_weights()

    results = run_replicas(2, replica, timeout=120)
    assert len(one.ends) < 22  # hooks at chunk boundaries only (22 batches in 2 epochs)
    for hist, rec, weights in results:
        assert rec.begins == one.begins
        _same_ends(rec.ends, one.ends)
        for k in one_hist:
            np.testing.assert_allclose(hist[k], one_hist[k], rtol=RTOL)
        for w, w0 in zip(weights, results[0][2]):
            np.testing.assert_array_equal(w, w0)


@pytest.mark.parametrize("stopping_rank", [0, 1])
def test_a_stop_at_a_boundary_on_one_rank_stops_every_rank_there(stopping_rank):
    x, y = _data()
    one, one_model = EndLogs(), _model(4)
    one_hist = _fit(one_model, x, y, [one, StopAt(5)])
    assert len(one_hist["loss"]) == 1 and int(one_model.optimizer.iterations) < 11
    models = [_model(4), _model(4)]

    def replica(comm):
        rec = EndLogs()
        hist = _fit(models[comm.rank], x, y, [rec, StopAt(5, stopping_rank, comm.rank)], DataParallel(comm))
        return hist, rec, int(models[comm.rank].optimizer.iterations)

    for hist, rec, iterations in run_replicas(2, replica, timeout=120):
        _same_ends(rec.ends, one.ends)
        assert iterations == int(one_model.optimizer.iterations)
        assert hist.keys() == one_hist.keys()
        np.testing.assert_allclose(hist["loss"], one_hist["loss"], rtol=RTOL)


def test_the_progress_bar_schedule_is_rank_0s_and_prints_once():
    """verbose=1: rank 0's bar redraws by time; the chunks follow it on both
    ranks (a stop-watching callback forces an agreement at every boundary)."""
    x, y = _data(400)
    models = [_model(2), _model(2)]
    one_hist = _fit(_model(2), x, y, [StopAt(10**9)])
    out = io.StringIO()

    def replica(comm):
        return _fit(models[comm.rank], x, y, [StopAt(10**9)], DataParallel(comm), verbose=1)

    with redirect_stdout(out):
        results = run_replicas(2, replica, timeout=120)
    for hist in results:
        np.testing.assert_allclose(hist["loss"], one_hist["loss"], rtol=RTOL)
    assert out.getvalue().count("Epoch 1/2") == 1


def test_a_batch_checkpoint_with_steps_per_execution_saves_on_rank_0_at_the_one_process_batches(tmp_path):
    """ModelCheckpoint(save_freq=N) is a batch schedule: with
    steps_per_execution=2 it saves at the same batches as one process, from
    rank 0 only, with the weights one process has there."""
    x, y = _data()

    def checkpoint(d):
        return keras.callbacks.ModelCheckpoint(str(d / "ck-{epoch}-{batch}.weights.npz"),
                                               save_weights_only=True, save_freq=3)

    one_dir = tmp_path / "one"
    one_dir.mkdir()
    _fit(_model(2), x, y, [checkpoint(one_dir)])
    models = [_model(2), _model(2)]

    def replica(comm):
        d = tmp_path / f"rank{comm.rank}"
        if comm.rank == 0:
            d.mkdir()
        return _fit(models[comm.rank], x, y, [checkpoint(d)], DataParallel(comm))

    run_replicas(2, replica, timeout=120)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "rank0"]
    saved = sorted(p.name for p in (tmp_path / "rank0").iterdir())
    assert saved == sorted(p.name for p in one_dir.iterdir()) and saved
    for name in saved:
        with np.load(one_dir / name) as a, np.load(tmp_path / "rank0" / name) as b:
            for k in a.files:
                if a[k].dtype.kind == "f":  # the weights (the file also holds names)
                    np.testing.assert_allclose(b[k], a[k], rtol=RTOL, atol=1e-6)
