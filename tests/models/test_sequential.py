"""Sequential structure: building, weights, summary, config."""

import numpy as np
import pytest

import hookfit as keras


def test_dense_input_dim_builds_immediately():
    model = keras.Sequential()
    model.add(keras.layers.Dense(1, input_dim=784))
    assert model.built and model.count_params() == 785
    kernel, bias = model.get_weights()
    assert kernel.shape == (784, 1) and bias.shape == (1,)
    assert kernel.dtype == np.float32 and not bias.any()


def test_input_layer_and_layers_list():
    model = keras.Sequential([keras.Input(shape=(5,)), keras.layers.Dense(3, activation="relu"),
                              keras.layers.Dense(2)])
    assert [w.shape for w in model.get_weights()] == [(5, 3), (3,), (3, 2), (2,)]
    assert len(model.layers) == 2 and model.input_shape == (None, 5)
    assert model.output_shape == (None, 2)


def test_unbuilt_model_builds_on_first_data():
    model = keras.Sequential([keras.layers.Dense(2), keras.layers.Dense(1)])
    assert not model.built and model.get_weights() == []
    model.compile(loss="mse")
    x = np.ones((4, 3), np.float32)
    model.fit(x, np.zeros(4), verbose=0)
    assert [w.shape for w in model.get_weights()] == [(3, 2), (2,), (2, 1), (1,)]


def test_add_after_build_keeps_existing_weights():
    model = keras.Sequential([keras.layers.Dense(3, input_dim=4)])
    first = model.get_weights()
    model.add(keras.layers.Dense(1))
    np.testing.assert_array_equal(model.get_weights()[0], first[0])
    model.pop()
    assert len(model.get_weights()) == 2


def test_glorot_uniform_limits_and_seeding():
    keras.utils.set_random_seed(0)
    a = keras.Sequential([keras.layers.Dense(50, input_dim=30)]).get_weights()[0]
    keras.utils.set_random_seed(0)
    b = keras.Sequential([keras.layers.Dense(50, input_dim=30)]).get_weights()[0]
    np.testing.assert_array_equal(a, b)
    limit = np.sqrt(6 / 80)
    assert np.abs(a).max() <= limit and np.abs(a).max() > 0.9 * limit


def test_layer_weights_are_views_and_set_weights_roundtrip():
    model = keras.Sequential([keras.layers.Dense(2, input_dim=3, use_bias=False),
                              keras.layers.Dense(1)])
    weights = [np.full((3, 2), 0.5), np.full((2, 1), 2.0), np.array([1.0])]
    model.set_weights(weights)
    out = model.predict(np.ones((1, 3)), verbose=0)
    assert out[0, 0] == pytest.approx(1.5 * 2 * 2 + 1)
    layer = model.layers[0]
    assert layer.bias is None
    layer.kernel[...] = 0
    assert model.predict(np.ones((1, 3)), verbose=0)[0, 0] == pytest.approx(1.0)


def test_default_names_count_up():
    keras.backend.clear_session()
    a = keras.Sequential([keras.layers.Dense(1, input_dim=2)])
    b = keras.Sequential([keras.layers.Dense(1, input_dim=2)])
    assert (a.name, b.name) == ("sequential", "sequential_1")
    assert (a.layers[0].name, b.layers[0].name) == ("dense", "dense_1")


def test_summary_matches_keras_2_format():
    keras.backend.clear_session()
    model = keras.Sequential([keras.layers.Dense(1, input_dim=784)])
    lines = []
    model.summary(print_fn=lines.append)
    assert lines == [
        'Model: "sequential"',
        "_" * 65,
        " Layer (type)                Output Shape              Param #   ",
        "=" * 65,
        " dense (Dense)               (None, 1)                 785       ",
        " " * 65,
        "=" * 65,
        "Total params: 785 (3.07 KB)",
        "Trainable params: 785 (3.07 KB)",
        "Non-trainable params: 0 (0.00 Byte)",
        "_" * 65,
    ]


def test_config_roundtrip():
    model = keras.Sequential([keras.layers.Dense(4, activation="tanh", input_dim=3),
                              keras.layers.Dense(2, activation="softmax", use_bias=False)])
    clone = keras.Sequential.from_config(model.get_config())
    assert [w.shape for w in clone.get_weights()] == [w.shape for w in model.get_weights()]
    assert [l.activation for l in clone.layers] == ["tanh", "softmax"]
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    config = model.get_compile_config()
    assert config["optimizer"]["class_name"] == "Adam"
    assert config["optimizer"]["config"]["learning_rate"] == pytest.approx(0.01)
    assert config["loss"] == "categorical_crossentropy" and config["metrics"] == ["accuracy"]


def test_a_layer_belongs_to_one_model():
    layer = keras.layers.Dense(1, input_dim=2)
    keras.Sequential([layer])
    with pytest.raises(ValueError, match="already part of a model"):
        keras.Sequential([layer])
    with pytest.raises(TypeError, match="must be an instance of class Layer"):
        keras.Sequential(["dense"])


def test_later_layers_input_sizes_are_ignored_as_in_keras_2():
    # tf-keras 2 ignores input_dim/input_shape on any but the first layer (no warning).
    model = keras.Sequential([keras.Input(shape=(5,)), keras.layers.Dense(2, input_dim=3)])
    assert model.layers[0].kernel.shape == (5, 2)
    model = keras.Sequential([keras.layers.Dense(2, input_dim=3), keras.layers.Dense(1, input_dim=4)])
    assert [w.shape for w in model.get_weights()] == [(3, 2), (2,), (2, 1), (1,)]


def test_weights_views_and_call():
    model = keras.Sequential([keras.layers.Dense(2, input_dim=3), keras.layers.Dense(1)])
    assert [w.shape for w in model.weights] == [(3, 2), (2,), (2, 1), (1,)]
    model.weights[3][...] = 5.0
    assert model.get_weights()[3][0] == 5.0
    x = np.ones((4, 3), np.float32)
    np.testing.assert_array_equal(model(x), model.predict(x, verbose=0))
