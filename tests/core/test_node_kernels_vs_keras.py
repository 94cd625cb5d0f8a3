"""The core's node kernels against real Keras 3 (the numeric oracle), with
tf-keras 2.21's formula followed where the two Kerases differ (each such
place is named below)."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")
try:
    import keras
except ImportError as e:  # keras (test-full extra) or its backend is absent
    pytest.skip(f"Keras 3 is not importable: {e}", allow_module_level=True)

from hookfit import _core as C  # noqa: E402

Z = np.linspace(-6.0, 6.0, 241, dtype=np.float32).reshape(1, -1)


def k(x):
    return np.asarray(keras.ops.convert_to_numpy(x), np.float32)


@pytest.mark.parametrize("act,name", [
    (C.ACT_ELU, "elu"), (C.ACT_SELU, "selu"), (C.ACT_GELU, "gelu"), (C.ACT_SOFTPLUS, "softplus"),
    (C.ACT_SOFTSIGN, "softsign"), (C.ACT_SWISH, "swish"), (C.ACT_SWISH, "silu"),
    (C.ACT_EXPONENTIAL, "exponential"), (C.ACT_RELU, "relu"), (C.ACT_TANH, "tanh"),
    (C.ACT_SIGMOID, "sigmoid"),
])
def test_activation_matches_keras(act, name):
    expect = k(keras.activations.get(name)(Z))
    np.testing.assert_allclose(C.activation_forward(Z, act), expect, rtol=1e-5, atol=1e-6)


def test_leaky_relu_slopes_match_keras():
    # The string 'leaky_relu' (Keras 3, tf.nn.leaky_relu's default): slope 0.2.
    np.testing.assert_allclose(C.activation_forward(Z, C.ACT_LEAKY_RELU),
                               k(keras.activations.get("leaky_relu")(Z)), rtol=1e-6, atol=1e-7)
    # The LeakyReLU layer passes its own slope (0.3 by default, as in tf-keras).
    layer = keras.layers.LeakyReLU(negative_slope=0.3)
    np.testing.assert_allclose(C.activation_forward(Z, C.ACT_LEAKY_RELU, 0.3), k(layer(Z)),
                               rtol=1e-6, atol=1e-7)


def test_hard_sigmoid_follows_tf_keras_not_keras3():
    # tf-keras 2.21: clip(0.2 z + 0.5, 0, 1); Keras 3: relu6(z + 3) / 6 = clip(z / 6 + 0.5, 0, 1).
    ours = C.activation_forward(Z, C.ACT_HARD_SIGMOID)
    np.testing.assert_allclose(ours, np.clip(0.2 * Z + 0.5, 0, 1), atol=1e-7)
    keras3 = k(keras.activations.hard_sigmoid(Z))
    np.testing.assert_allclose(keras3, np.clip(Z / 6 + 0.5, 0, 1), atol=1e-6)
    assert not np.allclose(ours, keras3)


def _bn_net(k_width, momentum, epsilon):
    nodes = [{"kind": C.NODE_INPUT, "offset": 0, "width": k_width},
             {"kind": C.NODE_BATCHNORM, "inputs": [0], "momentum": momentum, "epsilon": epsilon,
              "center": True, "scale": True, "trainable": True}]
    return C.Network.from_graph(k_width, nodes, 1)


def test_batchnorm_training_and_inference_match_keras():
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((16, 5)) * 2 + 1).astype(np.float32)
    gamma = rng.uniform(0.5, 1.5, 5).astype(np.float32)
    beta = rng.uniform(-1, 1, 5).astype(np.float32)
    mm = rng.uniform(-1, 1, 5).astype(np.float32)
    mv = rng.uniform(0.5, 2, 5).astype(np.float32)
    layer = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-3)
    layer.build((None, 5))
    layer.set_weights([gamma, beta, mm, mv])
    net = _bn_net(5, 0.9, 1e-3)
    for w, v in zip(net.node_weights(1), (gamma, beta, mm, mv)):
        w[:] = v
    # Inference: moving statistics.
    np.testing.assert_allclose(net.forward(x), k(layer(x, training=False)), rtol=1e-5, atol=1e-5)
    # Training: batch statistics, and one move of the moving statistics
    # (Keras 3 writes moving * m + batch * (1 - m); tf-keras moving - (moving - batch) * (1 - m):
    # equal up to rounding).
    np.testing.assert_allclose(net.forward(x, training=True), k(layer(x, training=True)), rtol=1e-5, atol=1e-5)
    for ours, theirs in zip(net.node_weights(1), layer.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_normalization_matches_keras():
    rng = np.random.default_rng(4)
    data = (rng.standard_normal((50, 3)) * [1.0, 3.0, 0.0] + [0.0, 2.0, 5.0]).astype(np.float32)
    layer = keras.layers.Normalization()
    layer.adapt(data)
    nodes = [{"kind": C.NODE_INPUT, "offset": 0, "width": 3},
             {"kind": C.NODE_NORMALIZATION, "inputs": [0], "epsilon": 1e-7}]
    net = C.Network.from_graph(3, nodes, 1)
    mean, var = net.node_weights(1)
    mean[:] = k(layer.mean).reshape(-1)
    var[:] = k(layer.variance).reshape(-1)
    np.testing.assert_allclose(net.forward(data), k(layer(data)), rtol=1e-5, atol=1e-5)


def test_dropout_scaling_matches_keras():
    # Kept elements are x / (1 - rate) in both; which ones are kept is ours (counter-based).
    x = np.ones((64, 32), np.float32)
    nodes = [{"kind": C.NODE_INPUT, "offset": 0, "width": 32},
             {"kind": C.NODE_DROPOUT, "inputs": [0], "rate": 0.3, "seed": 1, "noise_shape_rows": False}]
    ours = C.Network.from_graph(32, nodes, 1).forward(x, training=True)
    theirs = k(keras.layers.Dropout(0.3, seed=1)(x, training=True))
    assert set(np.unique(ours)) == set(np.unique(theirs))
    np.testing.assert_array_equal(C.Network.from_graph(32, nodes, 1).forward(x), x)
