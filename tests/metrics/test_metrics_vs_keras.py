"""Metric objects, strings and compiled metrics against real Keras 3 (jax) on
the same predictions: values within 1e-6.

Where Keras 2 and Keras 3 differ, hookfit follows Keras 2 (tf-keras 2.21):
KLDivergence is named "kullback_leibler_divergence" (Keras 3: "kl_divergence");
only the values are compared here."""

import numpy as np
import pytest
from keras_oracle import real_keras

import hookfit


def f32(a):
    return np.asarray(a, dtype=np.float32)


@pytest.fixture(scope="module")
def rk():
    return real_keras()


def batches(rng, kind, n=32, k=3):
    """Two batches of (y_true, y_pred, sample_weight) for the metric family."""
    out = []
    for _ in range(2):
        if kind == "binary":
            t, p = f32(rng.integers(0, 2, (n, k))), f32(rng.uniform(0, 1, (n, k)))
        elif kind == "categorical":
            t = f32(np.eye(k)[rng.integers(0, k, n)])
            p = rng.uniform(0.01, 1, (n, k))
            p = f32(p / p.sum(1, keepdims=True))
        elif kind == "sparse":
            t, p = f32(rng.integers(0, k, (n, 1))), rng.uniform(0.01, 1, (n, k))
            p = f32(p / p.sum(1, keepdims=True))
        elif kind == "positive":
            t, p = f32(rng.uniform(0.1, 3, (n, k))), f32(rng.uniform(0.1, 3, (n, k)))
        else:
            t, p = f32(rng.normal(size=(n, k))), f32(rng.normal(size=(n, k)))
        out.append((t, p, f32(rng.uniform(0, 2, n))))
    return out


CASES = [
    ("BinaryAccuracy", {}, "binary"),
    ("BinaryAccuracy", {"threshold": 0.3}, "binary"),
    ("CategoricalAccuracy", {}, "categorical"),
    ("SparseCategoricalAccuracy", {}, "sparse"),
    ("TopKCategoricalAccuracy", {"k": 2}, "categorical"),
    ("SparseTopKCategoricalAccuracy", {"k": 2}, "sparse"),
    ("MeanSquaredError", {}, "real"),
    ("RootMeanSquaredError", {}, "real"),
    ("MeanAbsoluteError", {}, "real"),
    ("MeanAbsolutePercentageError", {}, "real"),
    ("MeanSquaredLogarithmicError", {}, "positive"),
    ("CosineSimilarity", {}, "real"),
    ("LogCoshError", {}, "real"),
    ("BinaryCrossentropy", {}, "binary"),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, "real-binary"),
    ("CategoricalCrossentropy", {"label_smoothing": 0.2}, "categorical"),
    ("SparseCategoricalCrossentropy", {}, "sparse"),
    ("Hinge", {}, "real-binary"),
    ("SquaredHinge", {}, "real-binary"),
    ("CategoricalHinge", {}, "categorical"),
    ("KLDivergence", {}, "categorical"),
    ("Poisson", {}, "positive"),
    ("AUC", {}, "binary"),
    ("AUC", {"curve": "PR"}, "binary"),
    ("AUC", {"curve": "PR", "summation_method": "minoring"}, "binary"),
    ("AUC", {"summation_method": "majoring", "num_thresholds": 50}, "binary"),
    ("AUC", {"from_logits": True}, "real-binary"),
    ("Precision", {}, "binary"),
    ("Precision", {"thresholds": 0.7}, "binary"),
    ("Precision", {"top_k": 2}, "binary"),
    ("Precision", {"class_id": 1}, "binary"),
    ("Recall", {"thresholds": [0.3, 0.6]}, "binary"),
    ("TruePositives", {}, "binary"),
    ("FalsePositives", {"thresholds": [0.2, 0.8]}, "binary"),
    ("TrueNegatives", {}, "binary"),
    ("FalseNegatives", {"thresholds": 0.4}, "binary"),
    ("PrecisionAtRecall", {"recall": 0.6}, "binary"),
    ("RecallAtPrecision", {"precision": 0.55}, "binary"),
    ("R2Score", {}, "real"),
    ("R2Score", {"class_aggregation": "variance_weighted_average", "num_regressors": 2}, "real"),
]


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("cls,kwargs,kind", CASES, ids=lambda c: str(c))
def test_metric_objects_match_keras(rk, rng, cls, kwargs, kind, weighted):
    data = batches(rng, kind.replace("real-binary", "real"))
    if kind == "real-binary":
        data = [(f32(rng.integers(0, 2, t.shape)), p, w) for t, p, w in data]
    ours, theirs = getattr(hookfit.metrics, cls)(**kwargs), getattr(rk.metrics, cls)(**kwargs)
    for t, p, w in data:
        ours.update_state(t, p, sample_weight=w if weighted else None)
        theirs.update_state(t, p, sample_weight=w if weighted else None)
        np.testing.assert_allclose(np.asarray(ours.result()), np.asarray(theirs.result()), rtol=1e-6, atol=1e-6)
    ours.reset_state()
    theirs.reset_state()
    np.testing.assert_allclose(np.asarray(ours.result()), np.asarray(theirs.result()), atol=1e-7)


def test_mean_and_sum_match_keras(rk):
    for cls in ("Mean", "Sum"):
        ours, theirs = getattr(hookfit.metrics, cls)(), getattr(rk.metrics, cls)()
        for values, w in (([1.0, 3.0, 5.0], None), ([2.0, 4.0], [0.5, 2.0])):
            ours.update_state(values, sample_weight=w)
            theirs.update_state(values, sample_weight=w)
        assert float(ours.result()) == pytest.approx(float(theirs.result()), rel=1e-6)
        assert ours.result().numpy() == pytest.approx(float(theirs.result()), rel=1e-6)


def test_state_variables_read_as_in_keras(rng):
    m = hookfit.metrics.Precision()
    m.update_state([1, 0, 1], [0.9, 0.8, 0.2])
    assert float(m.true_positives.numpy()[0]) == 1.0 and float(m.false_positives.numpy()[0]) == 1.0
    assert float(m.result()) == pytest.approx(0.5)
    mean = hookfit.metrics.MeanAbsoluteError()
    mean.update_state([[1.0], [2.0]], [[1.5], [2.0]])
    assert float(mean.total.numpy()) == pytest.approx(0.5) and float(mean.count.numpy()) == 2.0


def test_metric_subclass_with_super_reset_state():
    class CountPositives(hookfit.metrics.Metric):
        def __init__(self, name="count_positives"):
            super().__init__(name=name)
            self.hits = self.add_weight(name="hits", initializer="zeros")

        def update_state(self, y_true, y_pred, sample_weight=None):
            self.hits.assign_add(float((np.asarray(y_pred) > 0.5).sum()))

        def result(self):
            return self.hits.numpy()

        def reset_state(self):
            super().reset_state()

    m = CountPositives()
    m.update_state([1, 0], [0.7, 0.9])
    assert m.result() == 2.0
    m.reset_state()
    assert m.result() == 0.0


COMPILED = [
    lambda m: ["accuracy", "AUC", "precision", m.metrics.Recall(name="rec"), "mse"],
    lambda m: [m.metrics.AUC(curve="PR", name="prauc"), m.metrics.PrecisionAtRecall(0.5, name="par"),
               "binary_crossentropy"],
]


@pytest.mark.parametrize("make", COMPILED)
def test_compiled_metrics_and_weighted_metrics_match_keras_fit(rk, rng, make):
    x = f32(rng.normal(size=(48, 4)))
    y = f32(rng.integers(0, 2, (48, 1)))
    sw = f32(rng.uniform(0.2, 2.0, 48))
    kmodel = rk.Sequential([rk.Input((4,)), rk.layers.Dense(3, activation="tanh"), rk.layers.Dense(1, activation="sigmoid")])
    weights = [f32(rng.normal(0, 0.5, w.shape)) for w in kmodel.get_weights()]
    kmodel.set_weights(weights)
    metrics = make(hookfit)
    kmetrics = make(rk)
    kmodel.compile(optimizer=rk.optimizers.SGD(0.1), loss="binary_crossentropy",
                   metrics=kmetrics, weighted_metrics=["accuracy", "mae"])
    kh = kmodel.fit(x, y, sample_weight=sw, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    hmodel = hookfit.Sequential([hookfit.layers.Dense(3, activation="tanh"), hookfit.layers.Dense(1, activation="sigmoid")])
    hmodel.build((None, 4))
    hmodel.set_weights(weights)
    hmodel.compile(optimizer=hookfit.optimizers.SGD(0.1), loss="binary_crossentropy", metrics=metrics,
                   weighted_metrics=["accuracy", "mae"])
    hh = hmodel.fit(x, y, sample_weight=sw, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    assert ("weighted_accuracy" if "accuracy" in metrics else "accuracy") in hh and "mae" in hh
    # Keras 2 logs a metric given as a class-name string ("AUC") under the
    # object's name ("auc"); Keras 3 under the string. hookfit follows Keras 2.
    assert "auc" in hh if "AUC" in metrics else True
    for key, values in kh.items():
        key_h = {"AUC": "auc"}.get(key, key)
        np.testing.assert_allclose(hh[key_h], values, rtol=1e-5, atol=1e-6, err_msg=key)
