"""Activations: names, objects, refusals, and values against Keras."""

import numpy as np
import pytest

import hookfit as hk
from hookfit import activations
from hookfit.unsupported import NotSupportedError
from keras_oracle import assert_trains_like_keras, same_model_in_keras

ALL = [n for n in activations.SUPPORTED if n != "silu"]


def test_every_keras_name_and_function_is_accepted():
    for name in activations.SUPPORTED:
        layer = hk.layers.Dense(2, activation=name)
        assert layer.activation == ("swish" if name == "silu" else name)
        assert hk.layers.Dense(2, activation=getattr(hk.activations, name)).activation == layer.activation
    assert hk.layers.Dense(2).activation == "linear"
    assert hk.layers.Activation(hk.activations.relu).activation == "relu"


@pytest.mark.parametrize("bad", ["mish", "relu6", 123, abs, lambda x: x])
def test_unsupported_activations_are_refused_with_the_list(bad):
    with pytest.raises(NotSupportedError, match=r"hookfit does not support the activation .*supported activations: linear, relu"):
        hk.layers.Dense(2, activation=bad)
    with pytest.raises(NotSupportedError):
        hk.layers.Activation(bad)


def test_unknown_activation_attribute_is_refused():
    with pytest.raises(NotSupportedError, match="hookfit does not support the activation 'mish'"):
        hk.activations.mish
    assert not hasattr(hk.activations, "relu6")


@pytest.mark.parametrize("name", ALL)
def test_eager_values_match_keras(real_keras, name):
    x = np.linspace(-4, 4, 41, dtype=np.float32).reshape(1, -1)
    ours = getattr(hk.activations, name)(x)
    theirs = np.asarray(getattr(real_keras.activations, name)(x))
    if name == "hard_sigmoid":
        # Keras 3: relu6(x + 3) / 6; tf-keras 2 (followed): clip(0.2 x + 0.5, 0, 1).
        theirs = np.clip(0.2 * x + 0.5, 0, 1)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_keras_functions_are_recognised_by_name(real_keras):
    assert hk.layers.Dense(2, activation=real_keras.activations.gelu).activation == "gelu"
    assert hk.layers.Dense(2, activation=real_keras.activations.silu).activation == "swish"


@pytest.mark.parametrize("name", ALL)
def test_dense_activation_trains_as_keras(real_keras, h, name):
    x = h.data(32, 4, seed=1)
    y = h.data(32, 3, seed=2)
    ours = hk.Sequential([hk.Input(shape=(4,)), hk.layers.Dense(5, activation=name),
                          hk.layers.Dense(3)])
    theirs_activation = name
    if name == "hard_sigmoid":
        # Keras 3's hard_sigmoid is relu6(z + 3) / 6; tf-keras 2's (followed) is
        # clip(0.2 z + 0.5, 0, 1): Keras gets that formula as a function.
        def theirs_activation(z):
            return real_keras.ops.clip(0.2 * z + 0.5, 0.0, 1.0)
    theirs = same_model_in_keras(
        lambda k: k.Sequential([k.Input(shape=(4,)), k.layers.Dense(5, activation=theirs_activation),
                                k.layers.Dense(3)]), ours)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-4, atol=1e-5)
    assert_trains_like_keras(ours, theirs, x, y, lr=0.05)


def test_activation_layers_match_keras(real_keras):
    x = np.linspace(-3, 3, 13, dtype=np.float32).reshape(1, -1)
    pairs = [
        (hk.layers.ReLU(), real_keras.layers.ReLU()),
        (hk.layers.LeakyReLU(), real_keras.layers.LeakyReLU()),  # 0.3 in both
        (hk.layers.LeakyReLU(alpha=0.1), real_keras.layers.LeakyReLU(negative_slope=0.1)),
        (hk.layers.ELU(alpha=0.5), real_keras.layers.ELU(alpha=0.5)),
        (hk.layers.Softmax(), real_keras.layers.Softmax()),
        (hk.layers.Activation("selu"), real_keras.layers.Activation("selu")),
    ]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours(x), np.asarray(theirs(x)), rtol=1e-5, atol=1e-6)
    assert hk.layers.LeakyReLU().name.startswith("leaky_re_lu")
    with pytest.raises(NotSupportedError, match=r"ReLU\(max_value=6\)"):
        hk.layers.ReLU(max_value=6)


def test_parametrised_activation_layers_train_as_keras(real_keras, h):
    x, y = h.data(32, 4, 1), h.data(32, 2, 2)

    def build(k, layer):
        return k.Sequential([k.Input(shape=(4,)), k.layers.Dense(5), layer, k.layers.Dense(2)])

    for ours_layer, theirs_layer in ((hk.layers.LeakyReLU(0.1), real_keras.layers.LeakyReLU(negative_slope=0.1)),
                                     (hk.layers.ELU(0.7), real_keras.layers.ELU(alpha=0.7))):
        ours, theirs = build(hk, ours_layer), build(real_keras, theirs_layer)
        h.copy_weights(ours, theirs)
        ours.compile(optimizer=hk.optimizers.SGD(0.05), loss="mse")
        theirs.compile(optimizer=real_keras.optimizers.SGD(0.05), loss="mse")
        for a, b in h.train_both(ours, theirs, x, y):
            np.testing.assert_allclose(a, b, rtol=1e-4)
        for a, b in zip(ours.get_weights(), theirs.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
