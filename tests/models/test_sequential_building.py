"""How a Sequential learns its input shape, and the layers it accepts."""

import numpy as np
import pytest

import hookfit as keras
from hookfit import layers
from hookfit.unsupported import NotSupportedError


def test_input_shape_from_keras_input_first_layer_or_data():
    a = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(2)])
    b = keras.Sequential([layers.Dense(2, input_shape=(4,))])
    c = keras.Sequential([layers.Dense(2, input_dim=4)])
    d = keras.Sequential([layers.Dense(2)])
    assert a.built and b.built and c.built and not d.built
    assert d.weights == []
    with pytest.raises(ValueError, match="has not yet been built"):
        d.summary()
    d.predict(np.ones((3, 4)), verbose=0)
    for m in (a, b, c, d):
        assert m.layers[0].kernel.shape == (4, 2)
        assert m.input_shape == (None, 4) and m.output_shape == (None, 2)
    e = keras.Sequential([layers.Dense(2), layers.Dense(1)])
    e.build((None, 3))
    assert [w.shape for w in e.get_weights()] == [(3, 2), (2,), (2, 1), (1,)]
    with pytest.raises(ValueError, match=r"takes inputs of shape \(None, 3\)"):
        e.build((None, 5))


def test_flatten_input_shape_mlp_trains_on_images():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        layers.Flatten(input_shape=(28, 28)),
        layers.Dense(32, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])
    assert model.layers[1].kernel.shape == (784, 32)
    x = np.random.default_rng(0).random((64, 28, 28)).astype("f4")
    y = np.random.default_rng(1).integers(0, 10, 64)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.predict(x[:5], verbose=0).shape == (5, 10)
    with pytest.raises(ValueError, match=r"expects shape \(samples, 28, 28\); got \(5, 784\)"):
        model.predict(x[:5].reshape(5, 784), verbose=0)


def test_built_first_layer_gives_the_input_shape():
    norm = layers.Normalization()
    norm.adapt(np.random.default_rng(0).random((20, 3)))
    model = keras.Sequential([norm, layers.Dense(1)])
    assert model.built and model.input_shape == (None, 3)


def test_refusals():
    with pytest.raises(ValueError, match="merges several inputs"):
        keras.Sequential([layers.Add()])
    inner = keras.Sequential([layers.Dense(2, input_dim=3)])
    with pytest.raises(NotSupportedError, match="nesting a model"):
        keras.Sequential([inner])
    with pytest.raises(ValueError, match="unique names"):
        keras.Sequential([layers.Dense(2, name="x"), layers.Dense(2, name="x")])
    with pytest.raises(ValueError, match="Flatten"):
        keras.Sequential([layers.Dense(2, input_shape=(28, 28))])


def test_pop_and_add_after_build_keep_weights():
    model = keras.Sequential([layers.Dense(3, input_dim=2), layers.Dense(1)])
    kernel = model.layers[0].get_weights()[0]
    model.pop()
    model.add(layers.Dense(4))
    np.testing.assert_array_equal(model.layers[0].get_weights()[0], kernel)
    assert model.output_shape == (None, 4)
    assert model.predict(np.ones((2, 2)), verbose=0).shape == (2, 4)


def test_sequential_call_on_arrays_and_layer_links():
    model = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(2, activation="tanh"),
                              layers.Dropout(0.5)])
    x = np.ones((4, 3), "f4")
    assert model.layers[0].input is model.inputs[0]
    assert model.layers[1].output is model.outputs[0]
    out = model.layers[1](model.layers[0](x))
    np.testing.assert_allclose(out, model.layers[0](x))  # dropout: identity at inference


def test_config_round_trip_keeps_every_layer_setting():
    model = keras.Sequential([
        keras.Input(shape=(3,)),
        layers.Dense(4, activation="elu", kernel_regularizer="l2", trainable=False),
        layers.BatchNormalization(momentum=0.9, epsilon=1e-2),
        layers.Dropout(0.3, seed=3),
        layers.Activation("softsign"),
        layers.Dense(1, use_bias=False),
    ])
    clone = keras.Sequential.from_config(model.get_config())
    for a, b in zip(model.layers, clone.layers):
        assert type(a) is type(b)
        ca, cb = a.get_config(), b.get_config()
        ca.pop("name"), cb.pop("name")
        assert ca == cb
    assert not clone.layers[0].trainable
