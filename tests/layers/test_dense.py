"""Dense and Input layers: arguments, initializers, activations."""

import numpy as np
import pytest

import hookfit as keras


@pytest.mark.parametrize("activation", [None, "linear", "relu", "sigmoid", "tanh", "softmax"])
def test_activations_forward(activation):
    model = keras.Sequential([keras.layers.Dense(3, activation=activation, input_dim=2)])
    k, b = model.get_weights()
    x = np.array([[0.3, -1.2], [2.0, 0.5]], np.float32)
    z = x @ k + b
    expect = {
        None: z, "linear": z, "relu": np.maximum(z, 0), "sigmoid": 1 / (1 + np.exp(-z)),
        "tanh": np.tanh(z), "softmax": np.exp(z) / np.exp(z).sum(1, keepdims=True),
    }[activation]
    np.testing.assert_allclose(model.predict(x, verbose=0), expect, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["glorot_normal", "he_uniform", "he_normal", "lecun_uniform",
                                  "random_uniform", "random_normal", "truncated_normal", "ones",
                                  "GlorotUniform"])
def test_initializer_names(name):
    layer = keras.layers.Dense(40, kernel_initializer=name, bias_initializer="ones", input_dim=60)
    keras.Sequential([layer])
    assert np.all(layer.bias == 1)
    assert np.isfinite(layer.kernel).all() and layer.kernel.std() > 0 or name == "ones"


def test_callable_initializer_is_checked():
    keras.Sequential([keras.layers.Dense(2, input_dim=3, kernel_initializer=lambda s: np.ones(s))])
    with pytest.raises(ValueError, match="returned shape"):
        keras.Sequential([keras.layers.Dense(2, input_dim=3, kernel_initializer=lambda s: np.ones(3))])


def test_input_shape_spellings():
    for kwargs in (dict(input_dim=7), dict(input_shape=(7,)), dict(batch_input_shape=(None, 7))):
        assert keras.layers.Dense(1, **kwargs).input_dim == 7
    assert keras.Input(shape=(7,)).shape == (None, 7)
    assert keras.layers.InputLayer(input_shape=(7,)).input_shape == (None, 7)


def test_unbuilt_layer_has_no_weights():
    layer = keras.layers.Dense(2)
    assert layer.weights == [] and layer.get_weights() == []
    with pytest.raises(AttributeError, match="no weights yet"):
        layer.kernel


def test_a_layer_beyond_the_weight_bound_is_refused_before_allocating():
    # Found by the fuzzer: Input(shape=(2**40,)) made Dense try to allocate 24 TiB.
    inputs = keras.Input(shape=(2**40,))
    with pytest.raises(ValueError, match="would hold 3,298,534,883,331 weights"):
        keras.layers.Dense(3)(inputs)
    with pytest.raises(ValueError, match="check the input shape"):
        keras.Sequential([keras.layers.Dense(2**20, input_dim=2**10)])
