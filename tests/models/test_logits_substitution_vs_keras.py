"""tf-keras's logits substitution (csrc/hf_logits.h), against Keras 2's formula
and real Keras 3.

tf-keras 2.21 computes a categorical / sparse categorical crossentropy on an
output that a softmax produced (Dense(activation="softmax"), Activation, the
Softmax layer), and a binary crossentropy on a sigmoid's output, from the
pre-activation z as logits: no clipping of probabilities. Crossentropy
metrics on that output do the same. Keras 3 does NOT: it clips p to
[1e-7, 1 - 1e-7]. hookfit follows Keras 2, so:

- where no probability saturates, hookfit equals Keras 3 (the formulas agree);
- where one does, hookfit equals Keras 2's formula, computed here in NumPy
  from the logits as tf-keras does, and differs from Keras 3 exactly there;
  the gradient is the logits one, p - y (the clipped path's is zero).
"""

import warnings

import numpy as np
import pytest

import hookfit as hk
from hookfit import _core, _reference
from keras_oracle import assert_trains_like_keras, real_keras, same_model_in_keras

EPS = 1e-7


def log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def keras2_cce(z, y):
    """tf.nn.softmax_cross_entropy_with_logits on z, averaged over the batch."""
    return float(np.mean(-(y * log_softmax(z)).sum(axis=1)))


def keras2_bce(z, y):
    """tf.nn.sigmoid_cross_entropy_with_logits on z, mean over outputs, then batch."""
    return float(np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))))


def keras3_cce(z, y):
    """Keras 3 (and tf-keras without substitution): clipped probabilities."""
    p = np.clip(np.exp(log_softmax(z)), EPS, 1 - EPS)
    return float(np.mean(-(y * np.log(p)).sum(axis=1)))


def clipped_bce(p, y):
    p = np.clip(p, EPS, 1 - EPS)
    return float(np.mean(-(y * np.log(p + EPS) + (1 - y) * np.log(1 - p + EPS))))


def keras3_bce(z, y):
    """Keras 3's: clip in float32, no epsilon inside the logs (tf-keras adds one)."""
    p = np.clip((1 / (1 + np.exp(-z))).astype(np.float32), np.float32(EPS), np.float32(1 - EPS))
    return float(np.mean(-(y * np.log(p) + (1 - y) * np.log(np.float32(1) - p))))


def softmax_model(k, how, units=3):
    inp = k.Input(shape=(4,))
    if how == "dense":
        out = k.layers.Dense(units, activation="softmax")(inp)
    elif how == "activation":
        out = k.layers.Activation("softmax")(k.layers.Dense(units)(inp))
    else:
        out = k.layers.Softmax()(k.layers.Dense(units)(inp))
    return k.Model(inp, out)


def problem(scale, n=16, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    labels = rng.integers(0, classes, n)
    y = np.eye(classes, dtype=np.float32)[labels]
    kernel = (scale * rng.standard_normal((4, classes))).astype(np.float32)
    bias = rng.standard_normal(classes).astype(np.float32)
    return x, y, labels, kernel, bias


def logits(x, kernel, bias):
    return x.astype(np.float64) @ kernel + bias


@pytest.mark.parametrize("how", ["dense", "activation", "softmax_layer"])
def test_saturated_softmax_loss_is_keras2s_and_not_keras3s(how):
    x, y, _, kernel, bias = problem(scale=25.0)
    z = logits(x, kernel, bias)
    assert (np.exp(log_softmax(z))[y == 1] < EPS).any(), "the case must saturate"
    ours = softmax_model(hk, how)
    ours.set_weights([kernel, bias])
    ours.compile(optimizer="sgd", loss="categorical_crossentropy",
                 metrics=["categorical_crossentropy", "accuracy"])
    loss, metric, _ = ours.evaluate(x, y, verbose=0)
    np.testing.assert_allclose(loss, keras2_cce(z, y), rtol=1e-5)
    np.testing.assert_allclose(metric, keras2_cce(z, y), rtol=1e-5)  # the metric substitutes too
    theirs = same_model_in_keras(lambda k: softmax_model(k, how), ours)
    theirs.compile(optimizer="sgd", loss="categorical_crossentropy")
    k3 = theirs.evaluate(x, y, verbose=0)
    np.testing.assert_allclose(k3, keras3_cce(z, y), rtol=1e-5)  # Keras 3 clips
    assert abs(loss - k3) > 1.0


def test_saturated_sparse_loss_is_keras2s():
    x, _, labels, kernel, bias = problem(scale=25.0, seed=3)
    z = logits(x, kernel, bias)
    y = np.eye(3)[labels]
    ours = softmax_model(hk, "dense")
    ours.set_weights([kernel, bias])
    ours.compile(optimizer="sgd", loss=hk.losses.SparseCategoricalCrossentropy(),
                 metrics=["sparse_categorical_crossentropy"])
    loss, metric = ours.evaluate(x, labels.astype(np.float32), verbose=0)
    np.testing.assert_allclose([loss, metric], keras2_cce(z, y), rtol=1e-5)
    assert abs(loss - keras3_cce(z, y)) > 1.0


@pytest.mark.parametrize("how", ["dense", "activation"])
def test_saturated_gradient_is_p_minus_y(how):
    """One SGD step: the kernel moves by lr * x^T (softmax(z) - y) / n, also
    for rows whose labelled probability is below 1e-7 (Keras 3's clipped
    gradient is zero there)."""
    x, y, _, kernel, bias = problem(scale=25.0, seed=1)
    z = logits(x, kernel, bias)
    ours = softmax_model(hk, how)
    ours.set_weights([kernel, bias])
    ours.compile(optimizer=hk.optimizers.SGD(0.1), loss="categorical_crossentropy")
    ours.train_on_batch(x, y)
    dz = (np.exp(log_softmax(z)) - y) / len(x)
    np.testing.assert_allclose(ours.get_weights()[0], kernel - 0.1 * x.T @ dz, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours.get_weights()[1], bias - 0.1 * dz.sum(0), rtol=1e-5, atol=1e-6)
    theirs = same_model_in_keras(lambda k: softmax_model(k, how), softmax_model(hk, how))
    theirs.set_weights([kernel, bias])
    theirs.compile(optimizer=real_keras().optimizers.SGD(0.1), loss="categorical_crossentropy")
    theirs.train_on_batch(x, y)
    assert not np.allclose(theirs.get_weights()[0], ours.get_weights()[0], rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("how", ["dense", "activation", "softmax_layer"])
def test_unsaturated_softmax_trains_exactly_like_keras3(how):
    x, y, _, kernel, bias = problem(scale=0.5, n=32, seed=2)
    ours = softmax_model(hk, how)
    ours.set_weights([kernel, bias])
    theirs = same_model_in_keras(lambda k: softmax_model(k, how), ours)
    assert_trains_like_keras(ours, theirs, x, y, lr=0.5, loss="categorical_crossentropy")


def sigmoid_graph(k, units):
    """Dense(units, sigmoid) alone (units 1: the fused single-unit kernel) or
    behind a hidden layer (the graph path)."""
    inp = k.Input(shape=(4,))
    h = inp if units == 1 else k.layers.Dense(3, activation="tanh")(inp)
    return k.Model(inp, k.layers.Dense(units, activation="sigmoid")(h))


@pytest.mark.parametrize("units", [1, 2])
def test_saturated_sigmoid_bce_is_keras2s(units):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((16, 4)).astype(np.float32)
    y = rng.integers(0, 2, (16, units)).astype(np.float32)
    ours = sigmoid_graph(hk, units)
    weights = [(30 * rng.standard_normal(w.shape)).astype(np.float32) for w in ours.get_weights()]
    ours.set_weights(weights)
    h = x.astype(np.float64)
    for w, b in zip(weights[:-2:2], weights[1:-2:2]):
        h = np.tanh(h @ w + b)
    z = h @ weights[-2] + weights[-1]
    ours.compile(optimizer=hk.optimizers.SGD(0.01), loss="binary_crossentropy",
                 metrics=["binary_crossentropy"])
    loss, metric = ours.evaluate(x, y, verbose=0)
    np.testing.assert_allclose([loss, metric], keras2_bce(z, y), rtol=1e-5)
    theirs = same_model_in_keras(lambda k: sigmoid_graph(k, units), ours)
    theirs.compile(optimizer="sgd", loss="binary_crossentropy")
    k3 = theirs.evaluate(x, y, verbose=0)
    # Keras 3 clips (to float32 rounding of its sigmoid and logs at the clip bounds).
    np.testing.assert_allclose(k3, keras3_bce(z, y), rtol=1e-3)
    assert abs(loss - k3) > 1.0
    # A training step's loss and gradient are the logits ones as well.
    logged = ours.train_on_batch(x, y)
    np.testing.assert_allclose(logged, keras2_bce(z, y), rtol=1e-5)
    if units == 1:
        dz = (1 / (1 + np.exp(-z)) - y) / len(x)
        np.testing.assert_allclose(ours.get_weights()[0], weights[0] - 0.01 * x.T @ dz,
                                   rtol=1e-5, atol=1e-5)


def test_the_fused_single_unit_kernel_substitutes_too():
    """Dense(1, sigmoid) on the input with binary crossentropy and no
    crossentropy metric trains in the fused single-unit kernel (hf_dense1):
    its loss and gradient are the logits ones as well."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((16, 4)).astype(np.float32)
    y = rng.integers(0, 2, (16, 1)).astype(np.float32)
    kernel = (30 * rng.standard_normal((4, 1))).astype(np.float32)
    bias = np.array([0.5], np.float32)
    z = x.astype(np.float64) @ kernel + bias
    ours = hk.Sequential([hk.Input(shape=(4,)), hk.layers.Dense(1, activation="sigmoid")])
    ours.set_weights([kernel, bias])
    ours.compile(optimizer=hk.optimizers.SGD(0.01), loss="binary_crossentropy", metrics=["accuracy"])
    logged = ours.train_on_batch(x, y)[0]
    np.testing.assert_allclose(logged, keras2_bce(z, y), rtol=1e-5)
    assert abs(logged - keras3_bce(z, y)) > 1.0
    dz = (1 / (1 + np.exp(-z)) - y) / len(x)
    np.testing.assert_allclose(ours.get_weights()[0], kernel - 0.01 * x.T @ dz, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours.get_weights()[1], bias - 0.01 * dz.sum(0), rtol=1e-5, atol=1e-6)


def test_unsaturated_sigmoid_trains_like_keras3():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((32, 4)).astype(np.float32)
    y = rng.integers(0, 2, (32, 2)).astype(np.float32)
    ours = sigmoid_graph(hk, 2)
    theirs = same_model_in_keras(lambda k: sigmoid_graph(k, 2), ours)
    assert_trains_like_keras(ours, theirs, x, y, lr=0.5, loss="binary_crossentropy")


def test_from_logits_true_on_a_softmax_output_warns_and_takes_the_logits():
    x, y, _, kernel, bias = problem(scale=25.0)
    z = logits(x, kernel, bias)
    ours = softmax_model(hk, "dense")
    ours.set_weights([kernel, bias])
    with pytest.warns(UserWarning, match="received `from_logits=True`.*Softmax activation"):
        ours.compile(optimizer="sgd", loss=hk.losses.CategoricalCrossentropy(from_logits=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(ours.evaluate(x, y, verbose=0), keras2_cce(z, y), rtol=1e-5)


def test_no_substitution_when_the_softmax_is_not_the_output_or_the_loss_differs():
    """A softmax followed by another layer, or a softmax with a loss that is
    not a crossentropy of its kind: probabilities as given (clipped)."""
    x, y, _, kernel, bias = problem(scale=25.0)
    z = logits(x, kernel, bias)
    inp = hk.Input(shape=(4,))
    ours = hk.Model(inp, hk.layers.Dropout(0.5)(hk.layers.Dense(3, activation="softmax")(inp)))
    ours.set_weights([kernel, bias])
    ours.compile(optimizer="sgd", loss="categorical_crossentropy")
    np.testing.assert_allclose(ours.evaluate(x, y, verbose=0), keras3_cce(z, y), rtol=1e-5)
    other = softmax_model(hk, "dense")
    other.set_weights([kernel, bias])
    other.compile(optimizer="sgd", loss="binary_crossentropy")  # the sigmoid's loss on a softmax
    # (float32 rounding of probabilities at the clip bounds: a few 1e-3.)
    np.testing.assert_allclose(other.evaluate(x, y, verbose=0), clipped_bce(np.exp(log_softmax(z)), y),
                               rtol=1e-2)


# ---------------------------------------------------------------- the core and its twin

C = _core


def dense(i, units, act, activity=0.0):
    spec = {"kind": C.NODE_DENSE, "inputs": [i], "units": units, "activation": act,
            "use_bias": True, "trainable": True}
    spec.update(dict.fromkeys(("kernel_l1", "kernel_l2", "bias_l1", "bias_l2", "activity_l1"), 0.0))
    return {**spec, "activity_l2": activity}


def graph(output_kind, activity=0.0):
    nodes = [{"kind": C.NODE_INPUT, "offset": 0, "width": 4}, dense(0, 5, C.ACT_TANH)]
    if output_kind == "dense":
        nodes.append(dense(1, 3, C.ACT_SOFTMAX, activity))
    else:
        nodes.append(dense(1, 3, C.ACT_LINEAR))
        nodes.append({"kind": C.NODE_ACTIVATION, "inputs": [2], "activation": C.ACT_SOFTMAX})
    return 4, nodes, len(nodes) - 1


@pytest.mark.parametrize("case", ["dense", "dense-activity", "activation"])
def test_core_matches_the_twin_where_probabilities_saturate(case):
    rng = np.random.default_rng(6)
    x_width, nodes, out = graph(case.split("-")[0], activity=0.01 if "activity" in case else 0.0)
    nets = [impl.Network.from_graph(x_width, nodes, out) for impl in (_core, _reference)]
    params = (8 * rng.standard_normal(nets[0].n_params)).astype(np.float32)
    x = rng.standard_normal((24, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 24)]
    for net in nets:
        net.params[:] = params
        net.configure({"kind": C.LOSS_CCE}, [{"kind": C.METRIC_CCE}, {"kind": C.METRIC_CATEGORICAL_ACCURACY}],
                      {"kind": C.OPT_SGD})
    cdata, rdata = _core.Dataset(x, y), _reference.Dataset(x, y)
    for net, data in zip(nets, (cdata, rdata)):
        net.train_batches(data, 0, 24, 8, 0.05)
    np.testing.assert_allclose(nets[0].params, nets[1].params, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(nets[0].metric_results(), nets[1].metric_results(), rtol=1e-4)
    for net, data in zip(nets, (cdata, rdata)):
        net.reset_metrics()
        net.test_batches(data, 0, 24, 24)
    np.testing.assert_allclose(nets[0].metric_results(), nets[1].metric_results(), rtol=1e-5)


def test_substituted_gradient_matches_finite_differences():
    """dL/dparams (one SGD step with lr 1) against central differences of the
    evaluated loss, with an activity penalty on the softmax output (its
    gradient goes through the softmax, the loss's does not)."""
    rng = np.random.default_rng(7)
    x_width, nodes, out = graph("dense", activity=0.05)
    x = rng.standard_normal((12, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 12)]
    p0 = (2 * rng.standard_normal(_core.Network.from_graph(x_width, nodes, out).n_params)).astype(np.float32)
    for impl in (_core, _reference):
        data = impl.Dataset(x, y)

        def loss_at(p):
            net = impl.Network.from_graph(x_width, nodes, out)
            net.params[:] = p
            net.configure({"kind": C.LOSS_CCE}, [], {"kind": C.OPT_SGD})
            net.test_batches(data, 0, 12, 12)
            return float(net.metric_results()[0])

        net = impl.Network.from_graph(x_width, nodes, out)
        net.params[:] = p0
        net.configure({"kind": C.LOSS_CCE}, [], {"kind": C.OPT_SGD})
        net.train_batches(data, 0, 12, 12, 1.0)
        grad = p0.astype(np.float64) - net.params
        for i in rng.choice(len(p0), 12, replace=False):
            step = np.zeros_like(p0)
            step[i] = 1e-2
            fd = (loss_at(p0 + step) - loss_at(p0 - step)) / 2e-2
            assert abs(fd - grad[i]) <= 2e-3 + 2e-2 * abs(fd), (impl.__name__, i, fd, grad[i])
