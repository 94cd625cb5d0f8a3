"""Custom metrics in compile (a function and Metric subclasses, run in Python
per batch) and multi-threshold metrics, against real Keras 3 (jax): the same
model from the same initial weights, History per epoch and the per-batch logs.

Keras 2 (tf-keras 2.21) and Keras 3 agree on what is compared here: a
function metric is the running mean of its per-sample values
(MeanMetricWrapper), a Metric subclass is updated once per batch with the
batch's y_true and the train step's own y_pred (made with the weights before
the update), metrics reset at each epoch and at evaluate's start. Where they
differ: the order of the logs keys (Keras 2: loss, then metrics in compile
order, weighted after; Keras 3 puts compile metrics after its own), which is
why only values per key are compared, and hookfit's order is checked against
Keras 2's rule separately.
"""

import numpy as np
import pytest
from keras_oracle import real_keras

import hookfit
from hookfit import metrics as hm


@pytest.fixture(scope="module")
def rk():
    return real_keras()


def np_abs_error(y_true, y_pred):
    return np.mean(np.abs(np.asarray(y_true) - np.asarray(y_pred)), axis=-1)


class NpMeanError(hm.Metric):
    """Mean signed error (y_pred - y_true), weighted, with its own reset that
    calls super().reset_state()."""

    def __init__(self, name="mean_error"):
        super().__init__(name=name)
        self.total = self.add_weight("total")
        self.count = self.add_weight("count")
        self.resets = 0

    def update_state(self, y_true, y_pred, sample_weight=None):
        d = np.asarray(y_pred, np.float32) - np.asarray(y_true, np.float32)
        w = np.ones(len(d), np.float32) if sample_weight is None else np.asarray(sample_weight, np.float32)
        self.total.assign_add((d.mean(axis=-1) * w).sum())
        self.count.assign_add(w.sum())

    def result(self):
        return self.total.numpy() / self.count.numpy()

    def reset_state(self):
        self.resets += 1
        super().reset_state()


def keras_metrics(rk):
    ops = rk.ops

    def np_abs_error(y_true, y_pred):  # same name as hookfit's: the logs key
        return ops.mean(ops.abs(y_true - y_pred), axis=-1)

    class KMeanError(rk.metrics.Metric):
        def __init__(self, name="mean_error"):
            super().__init__(name=name)
            self.total = self.add_variable(shape=(), initializer="zeros", name="total")
            self.count = self.add_variable(shape=(), initializer="zeros", name="count")

        def update_state(self, y_true, y_pred, sample_weight=None):
            d = ops.mean(y_pred - y_true, axis=-1)
            w = ops.ones_like(d) if sample_weight is None else ops.reshape(sample_weight, ops.shape(d))
            self.total.assign_add(ops.sum(d * w))
            self.count.assign_add(ops.sum(w))

        def result(self):
            return self.total / self.count

    return np_abs_error, KMeanError


class Recorder:
    def __init__(self, base):
        class R(base):
            def __init__(self):
                super().__init__()
                self.batches = []

            def on_train_batch_end(self, batch, logs=None):
                self.batches.append(dict(logs))

        self.cls = R


def both_models(rk, x_dim, layers, seed=0, functional=False):
    rng = np.random.default_rng(seed)
    kmodel = rk.Sequential([rk.Input((x_dim,))] + [rk.layers.Dense(u, activation=a) for u, a in layers])
    weights = [rng.normal(0, 0.5, w.shape).astype(np.float32) for w in kmodel.get_weights()]
    kmodel.set_weights(weights)
    if functional:
        inp = hookfit.Input(shape=(x_dim,))
        h = inp
        for u, a in layers:
            h = hookfit.layers.Dense(u, activation=a)(h)
        hmodel = hookfit.Model(inputs=inp, outputs=h)
    else:
        hmodel = hookfit.Sequential([hookfit.layers.Dense(u, activation=a) for u, a in layers])
        hmodel.build((None, x_dim))
    hmodel.set_weights(weights)
    return kmodel, hmodel


def data(seed=1, n=50):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = (rng.uniform(size=(n, 1)) < 0.5).astype(np.float32)
    sw = rng.uniform(0.2, 2.0, n).astype(np.float32)
    return x, y, sw


def assert_logs_close(h_logs, k_logs, keys, rtol=1e-5, atol=1e-6):
    for key in keys:
        np.testing.assert_allclose(np.asarray(h_logs[key], np.float64), np.asarray(k_logs[key], np.float64),
                                   rtol=rtol, atol=atol, err_msg=key)


@pytest.mark.parametrize("functional", [False, True])
def test_custom_function_and_metric_subclass_match_keras_fit(rk, functional):
    x, y, sw = data()
    k_fn, KMeanError = keras_metrics(rk)
    kmodel, hmodel = both_models(rk, 4, [(5, "tanh"), (1, "sigmoid")], functional=functional)
    kmodel.compile(optimizer=rk.optimizers.SGD(0.1), loss="binary_crossentropy",
                   metrics=[k_fn, "mae"], weighted_metrics=[KMeanError()])
    k_rec = Recorder(rk.callbacks.Callback).cls()
    kh = kmodel.fit(x, y, sample_weight=sw, batch_size=16, epochs=3, shuffle=False, verbose=0,
                    validation_data=(x[:20], y[:20]), callbacks=[k_rec]).history
    mine = NpMeanError()
    hmodel.compile(optimizer=hookfit.optimizers.SGD(0.1), loss="binary_crossentropy",
                   metrics=[np_abs_error, "mae"], weighted_metrics=[mine])
    h_rec = Recorder(hookfit.callbacks.Callback).cls()
    hh = hmodel.fit(x, y, sample_weight=sw, batch_size=16, epochs=3, shuffle=False, verbose=0,
                    validation_data=(x[:20], y[:20]), callbacks=[h_rec]).history
    keys = ["loss", "np_abs_error", "mae", "mean_error"]
    assert list(hh) == keys + ["val_" + k for k in keys]  # Keras 2's order
    assert_logs_close(hh, kh, list(hh))
    assert len(h_rec.batches) == len(k_rec.batches) == 12
    for hb, kb in zip(h_rec.batches, k_rec.batches):
        assert_logs_close(hb, kb, keys)
    # The compiled object is the one updated: its state is the last run's
    # (the validation pass at the end of the last epoch).
    np.testing.assert_allclose(float(mine.result()), hh["val_mean_error"][-1], rtol=1e-6)
    assert mine.resets >= 3
    np.testing.assert_allclose(hmodel.get_weights()[0], kmodel.get_weights()[0], rtol=1e-5, atol=1e-6)

    ke = kmodel.evaluate(x, y, sample_weight=sw, batch_size=7, verbose=0, return_dict=True)
    he = hmodel.evaluate(x, y, sample_weight=sw, batch_size=7, verbose=0, return_dict=True)
    assert_logs_close(he, ke, keys)


def test_mean_metric_wrapper_and_shuffled_fit_match_keras(rk):
    # Shuffled order differs between the libraries; one batch per epoch makes
    # the metrics order-independent while the rows are still gathered.
    x, y, sw = data(n=32)
    k_fn, _ = keras_metrics(rk)
    kmodel, hmodel = both_models(rk, 4, [(3, "relu"), (1, "sigmoid")])
    kmodel.compile(optimizer=rk.optimizers.Adam(0.01), loss="mse",
                   metrics=[rk.metrics.MeanMetricWrapper(k_fn, name="wrapped")])
    kh = kmodel.fit(x, y, batch_size=32, epochs=3, verbose=0).history
    hmodel.compile(optimizer=hookfit.optimizers.Adam(0.01), loss="mse",
                   metrics=[hm.MeanMetricWrapper(np_abs_error, name="wrapped")])
    hh = hmodel.fit(x, y, batch_size=32, epochs=3, verbose=0).history
    assert_logs_close(hh, kh, ["loss", "wrapped"])


def test_custom_metrics_on_single_batches_and_pydataset_match_keras(rk):
    x, y, sw = data(n=40)
    k_fn, KMeanError = keras_metrics(rk)
    kmodel, hmodel = both_models(rk, 4, [(1, "sigmoid")])
    kmodel.compile(optimizer=rk.optimizers.SGD(0.2), loss="mse", metrics=[k_fn, KMeanError()])
    hmodel.compile(optimizer=hookfit.optimizers.SGD(0.2), loss="mse", metrics=[np_abs_error, NpMeanError()])
    keys = ["loss", "np_abs_error", "mean_error"]
    for part in (slice(0, 10), slice(10, 20)):
        kt = kmodel.train_on_batch(x[part], y[part], return_dict=True)
        ht = hmodel.train_on_batch(x[part], y[part], return_dict=True)
        assert_logs_close(ht, kt, keys)
    assert_logs_close(hmodel.test_on_batch(x[:15], y[:15], return_dict=True),
                      kmodel.test_on_batch(x[:15], y[:15], return_dict=True), keys)

    class HSeq(hookfit.utils.PyDataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return x[i * 10:(i + 1) * 10], y[i * 10:(i + 1) * 10]

    class KSeq(rk.utils.PyDataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return x[i * 10:(i + 1) * 10], y[i * 10:(i + 1) * 10]

    kh = kmodel.fit(KSeq(), epochs=2, shuffle=False, verbose=0, validation_data=KSeq()).history
    hh = hmodel.fit(HSeq(), epochs=2, shuffle=False, verbose=0, validation_data=HSeq()).history
    assert_logs_close(hh, kh, list(hh))

    def gen():
        for i in range(4):
            yield x[i * 10:(i + 1) * 10], y[i * 10:(i + 1) * 10]

    assert_logs_close(hmodel.evaluate(gen(), verbose=0, return_dict=True),
                      kmodel.evaluate(gen(), verbose=0, return_dict=True), keys)


def test_multi_threshold_metrics_log_vectors_like_keras(rk):
    x, y, sw = data(n=48)
    kmodel, hmodel = both_models(rk, 4, [(4, "relu"), (1, "sigmoid")])
    thresholds = [0.3, 0.5, 0.7]
    kmodel.compile(optimizer=rk.optimizers.SGD(0.1), loss="binary_crossentropy",
                   metrics=[rk.metrics.Precision(thresholds=thresholds),
                            rk.metrics.Recall(thresholds=thresholds),
                            rk.metrics.TruePositives(thresholds=thresholds)])
    kh = kmodel.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    precision = hm.Precision(thresholds=thresholds)
    hmodel.compile(optimizer=hookfit.optimizers.SGD(0.1), loss="binary_crossentropy",
                   metrics=[precision, hm.Recall(thresholds=thresholds), hm.TruePositives(thresholds=thresholds)])
    hh = hmodel.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    for key in ("precision", "recall", "true_positives"):
        assert all(isinstance(v, np.ndarray) and v.shape == (3,) for v in hh[key])
        np.testing.assert_allclose(np.stack(hh[key]), np.stack([np.asarray(v) for v in kh[key]]),
                                   rtol=1e-5, atol=1e-6, err_msg=key)
    np.testing.assert_allclose(precision.result(), hh["precision"][-1], rtol=1e-6)
    he = hmodel.evaluate(x, y, verbose=0, return_dict=True)
    ke = kmodel.evaluate(x, y, verbose=0, return_dict=True)
    assert_logs_close(he, ke, ["loss", "precision", "recall", "true_positives"])


def test_compiled_metric_objects_hold_the_last_runs_state(rk):
    x, y, sw = data(n=40)
    kmodel, hmodel = both_models(rk, 4, [(1, "sigmoid")])
    k_auc = rk.metrics.AUC(num_thresholds=50)
    kmodel.compile(optimizer=rk.optimizers.SGD(0.1), loss="binary_crossentropy", metrics=[k_auc, "mae"])
    h_auc = hm.AUC(num_thresholds=50)
    hmodel.compile(optimizer=hookfit.optimizers.SGD(0.1), loss="binary_crossentropy", metrics=[h_auc, "mae"])
    assert hmodel.metrics == []  # Keras 2: listed after the first fit/evaluate
    kmodel.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    hmodel.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    np.testing.assert_allclose(float(h_auc.result()), float(k_auc.result()), rtol=1e-5)
    for name in ("true_positives", "false_positives", "true_negatives", "false_negatives"):
        np.testing.assert_allclose(getattr(h_auc, name).numpy(), np.asarray(getattr(k_auc, name)), atol=1e-4)
    kmodel.evaluate(x[:13], y[:13], verbose=0)
    logs = hmodel.evaluate(x[:13], y[:13], verbose=0, return_dict=True)
    np.testing.assert_allclose(float(h_auc.result()), float(k_auc.result()), rtol=1e-5)
    assert float(h_auc.result()) == pytest.approx(logs["auc"])
    assert hmodel.metrics_names == ["loss", "auc", "mae"]
    tracker, *objects = hmodel.metrics
    assert tracker.name == "loss" and float(tracker.result()) == pytest.approx(logs["loss"])
    assert objects[0] is h_auc and objects[1].name == "mae"
    # Keras semantics on the bound object: reset_state zeroes the model's accumulators.
    h_auc.reset_state()
    assert float(h_auc.result()) == 0.0 and not h_auc.true_positives.numpy().any()
    # A recompile leaves the old object with its last values, detached.
    h_auc.update_state(y[:13], hmodel.predict(x[:13], verbose=0))
    kept = float(h_auc.result())
    hmodel.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["mae"])
    hmodel.evaluate(x, y, verbose=0)
    assert float(h_auc.result()) == pytest.approx(kept)
