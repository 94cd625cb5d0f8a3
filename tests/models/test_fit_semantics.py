"""Keras 2 training-loop rules: running means, splits, streams, stopping, errors."""

import logging

import numpy as np
import pytest

import hookfit as keras
from batch_logs import BatchLogs


def _mse_mae(model, x, y):
    p = model.predict(x, verbose=0)[:, 0].astype(np.float64)
    return (p - y) ** 2, np.abs(p - y)


def test_batch_logs_are_running_means_weighted_by_batch_size(make_model, data):
    x, y = data  # 50 rows, batch 16 -> 16, 16, 16, 2 (the small last batch weighs less)
    model = make_model(optimizer=keras.optimizers.SGD(0.0))  # lr 0: weights stay put
    rec = BatchLogs()
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0, callbacks=[rec])
    sq, ab = _mse_mae(model, x, y)
    ends = np.array([16, 32, 48, 50])
    for (batch, logs), end in zip(rec.train, ends):
        assert logs["loss"] == pytest.approx(sq[:end].mean(), rel=1e-5)
        assert logs["mae"] == pytest.approx(ab[:end].mean(), rel=1e-5)
    assert [b for b, _ in rec.train] == [0, 1, 2, 3]
    # evaluate: the same running means, and the return value is the last one.
    rec = BatchLogs()
    loss, mae = model.evaluate(x, y, batch_size=16, verbose=0, callbacks=[rec])
    for (batch, logs), end in zip(rec.test, ends):
        assert logs["loss"] == pytest.approx(sq[:end].mean(), rel=1e-5)
    assert (loss, mae) == (rec.test[-1][1]["loss"], rec.test[-1][1]["mae"])


def test_running_means_use_weights_before_each_update(make_model, data):
    x, y = data
    model = make_model(optimizer=keras.optimizers.SGD(0.05))
    w0 = model.get_weights()
    rec = BatchLogs()
    model.fit(x, y, batch_size=25, epochs=1, shuffle=False, verbose=0, callbacks=[rec])
    probe = make_model(optimizer=keras.optimizers.SGD(0.05))
    probe.set_weights(w0)
    first = probe.evaluate(x[:25], y[:25], verbose=0)[0]
    assert rec.train[0][1]["loss"] == pytest.approx(first, rel=1e-5)


def test_sample_weight_weights_the_loss(make_model, data):
    x, y = data
    model = make_model(optimizer=keras.optimizers.SGD(0.0))
    w = np.linspace(0.0, 2.0, len(x))
    loss = model.evaluate(x, y, batch_size=50, sample_weight=w, verbose=0)[0]
    sq, _ = _mse_mae(model, x, y)
    assert loss == pytest.approx((w * sq).sum() / len(x), rel=1e-5)  # sum_over_batch_size


def test_validation_split_takes_last_rows_before_shuffling(make_model):
    x = np.arange(49, dtype=np.float32).reshape(49, 1)
    y = np.zeros(49, np.float32)
    model = make_model(input_dim=1, optimizer=keras.optimizers.SGD(0.0))
    model.set_weights([np.ones((1, 1), np.float32), np.zeros(1, np.float32)])
    history = model.fit(x, y, batch_size=7, epochs=2, validation_split=0.3, verbose=0)
    # 49 * 0.7 = 34.3 -> 34 train rows (0..33), 15 validation rows (34..48).
    val_rows = np.arange(34, 49, dtype=np.float64)
    assert history.history["val_loss"][0] == pytest.approx((val_rows**2).mean(), rel=1e-6)
    train_rows = np.arange(34, dtype=np.float64)
    assert history.history["loss"][0] == pytest.approx((train_rows**2).mean(), rel=1e-6)


def test_validation_data_tuple_and_freq(make_model, data):
    x, y = data
    model = make_model()
    history = model.fit(x, y, epochs=4, verbose=0, validation_data=(x[:10], y[:10]),
                        validation_freq=2)
    assert len(history.history["loss"]) == 4
    assert len(history.history["val_loss"]) == 2
    counts = {}
    for freq, n in ((1, 4), (2, 2), (4, 1), ([1, 3, 4], 3), ([4, 2, 2], 2)):
        h = model.fit(x, y, epochs=4, verbose=0, validation_split=0.2, validation_freq=freq)
        counts[str(freq)] = len(h.history["val_loss"])
        assert counts[str(freq)] == n


def test_validation_steps_and_batch_size(make_model, recorder_cls, data):
    x, y = data
    rec = recorder_cls()
    make_model().fit(x, y, batch_size=25, epochs=1, verbose=0, validation_data=(x, y),
                     validation_batch_size=10, validation_steps=2, callbacks=[rec])
    assert [i for h, i in rec.hooks() if h == "on_test_batch_end"] == [0, 1]


def test_initial_epoch(make_model, recorder_cls, data):
    x, y = data
    rec = recorder_cls()
    history = make_model().fit(x, y, epochs=5, initial_epoch=3, verbose=0, callbacks=[rec])
    assert history.epoch == [3, 4]
    assert [i for h, i in rec.hooks() if h == "on_epoch_begin"] == [3, 4]
    rec = recorder_cls()
    make_model().fit(x, y, epochs=2, initial_epoch=2, verbose=0, callbacks=[rec])
    assert rec.hooks() == [("on_train_begin", None), ("on_train_end", None)]


def test_steps_per_epoch_keeps_one_stream_across_epochs(make_model, data):
    x, y = data  # 50 rows, batch 16 -> 4 batches per pass (16, 16, 16, 2)
    seen = []

    class Rows(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            it = self.model._epoch_iterator
            seen.append((batch, it.step % it.batches_per_pass))

    model = make_model()
    model.fit(x, y, batch_size=16, steps_per_epoch=3, epochs=4, shuffle=False, verbose=0,
              callbacks=[Rows()])
    # 4 epochs x 3 steps = 12 of the 16 batches in the stream; windows slide over passes.
    assert [b for b, _ in seen] == [0, 1, 2] * 4
    assert [p for _, p in seen] == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3]


def test_steps_per_epoch_running_out_of_data_warns_and_stops(make_model, data, caplog):
    x, y = data  # 4 batches per pass; 2 epochs -> a stream of 8 batches
    with caplog.at_level(logging.WARNING, logger="hookfit"):
        history = make_model().fit(x, y, batch_size=16, steps_per_epoch=5, epochs=2, verbose=0)
    assert "Your input ran out of data; interrupting training" in caplog.text
    assert "(in this case, 10 batches)" in caplog.text
    assert history.epoch == [0, 1]  # the second epoch got 3 batches, then training ended


def test_steps_per_epoch_sets_default_batch_size(make_model, recorder_cls, data):
    x, y = data
    rec = recorder_cls()
    make_model().fit(x, y, steps_per_epoch=5, epochs=1, verbose=0, callbacks=[rec])
    assert rec.calls[0][0] == "on_train_begin"
    assert len([h for h, _ in rec.hooks() if h == "on_train_batch_end"]) == 5  # batch 10


@pytest.mark.parametrize("where", ["on_train_begin", "on_epoch_begin"])
@pytest.mark.parametrize("batch_hooks", [False, True])
def test_stop_before_epoch_still_runs_exactly_one_batch(make_model, data, where, batch_hooks):
    x, y = data

    class Stop(keras.callbacks.Callback):
        pass

    setattr(Stop, where, lambda self, *a, **k: setattr(self.model, "stop_training", True))
    counter = []
    if batch_hooks:
        Stop.on_train_batch_end = lambda self, b, logs=None: counter.append(b)
    model = make_model()
    before = model.optimizer.iterations
    history = model.fit(x, y, batch_size=10, epochs=3, verbose=0, callbacks=[Stop()])
    assert model.optimizer.iterations - before == 1
    assert history.epoch == [0]
    assert model.stop_training is True  # stays set after fit
    if batch_hooks:
        assert counter == [0]


def test_stop_mid_epoch_still_validates_and_ends(make_model, recorder_cls, data):
    x, y = data
    rec = recorder_cls()

    class StopAt2(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                self.model.stop_training = True

    history = make_model().fit(x, y, batch_size=5, epochs=3, verbose=0, validation_split=0.2,
                               callbacks=[StopAt2(), rec])
    hooks = rec.hooks()
    assert [i for h, i in hooks if h == "on_train_batch_end"] == [0, 1, 2]
    assert ("on_test_end", None) in hooks and ("on_epoch_end", 0) in hooks
    assert hooks[-1] == ("on_train_end", None)
    assert len(history.history["loss"]) == 1 and len(history.history["val_loss"]) == 1


def test_stop_at_epoch_end_and_during_validation(make_model, recorder_cls, data):
    x, y = data

    class StopInValidation(keras.callbacks.Callback):
        def on_test_batch_end(self, batch, logs=None):
            self.model.stop_training = True

    rec = recorder_cls()
    make_model().fit(x, y, batch_size=5, epochs=3, verbose=0, validation_split=0.4,
                     callbacks=[StopInValidation(), rec])
    hooks = rec.hooks()
    assert len([1 for h, _ in hooks if h == "on_test_batch_end"]) == 4  # validation completes
    assert [i for h, i in hooks if h == "on_epoch_end"] == [0]


def test_stop_training_is_reset_at_fit_start_and_ignored_by_evaluate(make_model, data):
    x, y = data
    model = make_model()
    model.stop_training = True
    seen = []

    class Look(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append(self.model.stop_training)

    history = model.fit(x, y, epochs=2, verbose=0, callbacks=[Look()])
    assert seen == [False] and history.epoch == [0, 1]
    model.stop_training = True
    assert len(model.predict(x, batch_size=5, verbose=0)) == 50
    assert model.evaluate(x, y, verbose=0)


@pytest.mark.parametrize("hook", ["on_epoch_end", "on_train_batch_end", "on_test_begin"])
def test_exception_in_callback_propagates_and_model_stays_usable(make_model, recorder_cls, data, hook):
    x, y = data

    class Boom(keras.callbacks.Callback):
        pass

    def boom(self, *args, **kwargs):
        raise KeyError("boom")

    setattr(Boom, hook, boom)
    rec = recorder_cls()
    model = make_model()
    with pytest.raises(KeyError, match="boom"):
        model.fit(x, y, epochs=2, verbose=0, validation_split=0.2, callbacks=[Boom(), rec])
    assert ("on_train_end", None) not in rec.hooks()
    assert model._epoch_iterator is None
    history = model.fit(x, y, epochs=2, verbose=0)
    assert history.epoch == [0, 1] and np.isfinite(history.history["loss"]).all()


def test_whole_epoch_path_gives_the_same_weights_as_per_batch_path(make_model, data):
    x, y = data

    class Batchy(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            pass

    results = []
    for callbacks in ([], [Batchy()]):
        model = make_model(units=(4, 1), activations=["tanh", None], seed=3)
        keras.utils.set_random_seed(11)  # the same shuffles in both runs
        history = model.fit(x, y, batch_size=8, epochs=3, verbose=0, validation_split=0.2,
                            callbacks=callbacks)
        results.append((model.get_weights(), history.history))
    for a, b in zip(results[0][0], results[1][0]):
        np.testing.assert_array_equal(a, b)
    assert results[0][1] == results[1][1]


def test_learning_rate_is_read_at_every_batch(make_model, data):
    x, y = data

    class ZeroAfterFirst(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            self.model.optimizer.learning_rate = 0.0
            self.weights = self.model.get_weights()

    cb = ZeroAfterFirst()
    model = make_model(optimizer=keras.optimizers.SGD(0.1))
    w0 = model.get_weights()
    model.fit(x, y, batch_size=10, epochs=1, verbose=0, callbacks=[cb])
    changed = [not np.array_equal(a, b) for a, b in zip(w0, cb.weights)]
    assert any(changed)  # the first batch moved the weights...
    after_first = model.get_weights()
    for a, b in zip(after_first, cb.weights):
        np.testing.assert_array_equal(a, b)  # ...then lr 0 froze them


def test_lr_set_in_on_epoch_begin_applies_to_that_epoch(make_model, data):
    x, y = data

    class ZeroLR(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            keras.backend.set_value(self.model.optimizer.lr, 0.0)

    model = make_model()
    w0 = model.get_weights()
    model.fit(x, y, epochs=1, verbose=0, callbacks=[ZeroLR()])
    for a, b in zip(w0, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_history_semantics(make_model, data):
    x, y = data
    model = make_model()
    history = model.fit(x, y, epochs=3, verbose=0, validation_split=0.2)
    assert history is model.history
    assert history.epoch == [0, 1, 2]
    assert list(history.history) == ["loss", "mae", "val_loss", "val_mae"]
    assert history.params == {"verbose": 0, "epochs": 3, "steps": 2}
    assert history.model is model
    # tf-keras: evaluate and predict replace model.history with a fresh History.
    model.evaluate(x, y, verbose=0)
    assert model.history is not history and model.history.history == {}
    model.history = history
    model.predict(x, verbose=0)
    assert model.history is not history and model.history.history == {}
    # A History passed in keeps accumulating across fits; .epoch restarts.
    mine = keras.callbacks.History()
    model.fit(x, y, epochs=2, verbose=0, callbacks=[mine])
    returned = model.fit(x, y, epochs=1, verbose=0, callbacks=[mine])
    assert returned is mine and mine.epoch == [0] and len(mine.history["loss"]) == 3


def test_evaluate_return_values(make_model, data):
    x, y = data
    model = make_model()
    res = model.evaluate(x, y, verbose=0)
    assert isinstance(res, list) and len(res) == 2 and all(type(v) is float for v in res)
    assert model.evaluate(x, y, verbose=0, return_dict=True) == {"loss": res[0], "mae": res[1]}
    bare = make_model(metrics=())
    loss = bare.evaluate(x, y, verbose=0)
    assert type(loss) is float


def test_evaluate_steps_and_predict_steps(make_model, data):
    x, y = data
    model = make_model()
    assert model.predict(x, batch_size=10, steps=2, verbose=0).shape == (20, 1)
    full = model.evaluate(x[:20], y[:20], batch_size=10, verbose=0)
    assert model.evaluate(x, y, batch_size=10, steps=2, verbose=0) == full


def test_predict_matches_manual_forward(make_model, data):
    x, _ = data
    model = make_model(units=(3, 2), activations=["relu", "softmax"], loss="categorical_crossentropy",
                       metrics=["accuracy"])
    k1, b1, k2, b2 = model.get_weights()
    h = np.maximum(x @ k1 + b1, 0)
    z = h @ k2 + b2
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    out = model.predict(x, batch_size=7, verbose=0)
    np.testing.assert_allclose(out, p, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(model.predict_on_batch(x), model.predict(x, batch_size=50, verbose=0))


def test_on_batch_methods(make_model, data):
    x, y = data
    model = make_model(optimizer=keras.optimizers.SGD(0.01))
    before = model.evaluate(x[:10], y[:10], verbose=0)
    assert model.test_on_batch(x[:10], y[:10]) == pytest.approx(before, rel=1e-6)
    logs = model.train_on_batch(x[:10], y[:10], return_dict=True)
    assert logs["loss"] == pytest.approx(before[0], rel=1e-6)  # loss before the update
    assert model.optimizer.iterations == 1
    assert model.test_on_batch(x[:10], y[:10])[0] < before[0]


def test_set_random_seed_makes_fit_reproducible(make_model, data):
    x, y = data
    runs = []
    for _ in range(2):
        model = make_model(units=(4, 1), seed=5)
        model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        runs.append(model.get_weights())
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("shuffle", [False, True, "batch"])
def test_shuffle_modes_install_one_order_per_epoch(make_model, data, shuffle):
    x, y = data
    orders = []

    class Order(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            order = self.model._epoch_iterator.order
            orders.append(None if order is None else order.copy())

    make_model().fit(x, y, batch_size=10, epochs=2, shuffle=shuffle, verbose=0, callbacks=[Order()])
    if shuffle is False:
        assert orders == [None, None]
        return
    for order in orders:
        assert sorted(order) == list(range(50))
    assert not np.array_equal(orders[0], orders[1])  # a fresh permutation each epoch
    if shuffle == "batch":  # rows move only within their batch
        for order in orders:
            for s in range(0, 50, 10):
                assert sorted(order[s:s + 10]) == list(range(s, s + 10))


def test_accuracy_resolution_follows_keras_2(make_model, data):
    x, y = data
    from hookfit._native import core

    binary = make_model(loss="binary_crossentropy", activations=["sigmoid"], metrics=["accuracy"])
    assert binary._network is not None
    assert binary.metrics_names == ["loss", "accuracy"]
    labels = (y > 0).astype(np.float32)
    acc = binary.evaluate(x, labels, verbose=0)[1]
    p = binary.predict(x, verbose=0)[:, 0]
    assert acc == pytest.approx(((p > 0.5) == labels).mean())
    sparse = make_model(units=(3,), activations=["softmax"], loss="sparse_categorical_crossentropy",
                        metrics=["acc"])
    ids = (np.abs(y) * 3).astype(int) % 3
    acc = sparse.evaluate(x, ids, verbose=0)[1]
    assert acc == pytest.approx((sparse.predict(x, verbose=0).argmax(1) == ids).mean())
    onehot = make_model(units=(3,), activations=["softmax"], loss="categorical_crossentropy",
                        metrics=["accuracy"])
    acc = onehot.evaluate(x, np.eye(3)[ids], verbose=0)[1]
    assert acc == pytest.approx((onehot.predict(x, verbose=0).argmax(1) == ids).mean())
    assert core.METRIC_SPARSE_CATEGORICAL_ACCURACY != core.METRIC_CATEGORICAL_ACCURACY


def test_logs_keys_use_the_users_names(make_model, data):
    x, y = data
    model = make_model(metrics=["mean_absolute_error", "mse", keras.metrics.MeanAbsoluteError(name="m2")])
    history = model.fit(x, y, epochs=1, verbose=0)
    assert list(history.history) == ["loss", "mean_absolute_error", "mse", "m2"]


def test_class_weight(make_model, data):
    x, y = data
    labels = (y > 0).astype(np.float32)
    model = make_model(loss="binary_crossentropy", activations=["sigmoid"],
                       optimizer=keras.optimizers.SGD(0.0), metrics=())
    plain = model.evaluate(x, labels, batch_size=50, verbose=0)
    weighted = model.fit(x, labels, batch_size=50, epochs=1, shuffle=False, verbose=0,
                         class_weight={0: 0.0, 1: 1.0}).history["loss"][0]
    by_hand = model.evaluate(x, labels, batch_size=50, sample_weight=labels, verbose=0)
    assert weighted == pytest.approx(by_hand, rel=1e-6) and weighted != plain


def test_no_ran_out_warning_when_stopped_before_the_end(make_model, data, caplog):
    x, y = data

    class Stop(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 0:
                self.model.stop_training = True

    with caplog.at_level(logging.WARNING, logger="hookfit"):
        make_model().fit(x, y, batch_size=16, steps_per_epoch=5, epochs=1, verbose=0,
                         callbacks=[Stop()])
    assert "ran out of data" not in caplog.text
