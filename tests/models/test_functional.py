"""The functional API: building graphs, feeding inputs, summary, freezing."""

import warnings

import numpy as np
import pytest

import hookfit as keras
from hookfit import layers
from keras_oracle import assert_trains_like_keras, same_model_in_keras
from hookfit.models.functional import Functional
from hookfit.unsupported import NotSupportedError


def mnist_like():
    inputs = keras.Input(shape=(784,), name="digits")
    x = layers.Dense(64, activation="relu", name="dense_1")(inputs)
    x = layers.Dense(64, activation="relu", name="dense_2")(x)
    outputs = layers.Dense(10, activation="softmax", name="predictions")(x)
    return inputs, outputs, keras.Model(inputs=inputs, outputs=outputs, name="mnist_model")


def two_inputs():
    a = keras.Input(shape=(4,), name="a")
    b = keras.Input(shape=(2, 3), name="b")
    x = layers.Dense(4, name="d1")(a)
    y = layers.Add(name="add")([a, x])
    z = layers.Concatenate(name="cat")([y, layers.Flatten(name="flat")(b)])
    return keras.Model([a, b], layers.Dense(1, name="out")(z), name="wide")


def test_model_call_builds_a_functional_model():
    inputs, outputs, model = mnist_like()
    assert isinstance(model, Functional) and isinstance(model, keras.Model)
    assert model.name == "mnist_model"
    assert model.inputs == [inputs] and model.outputs == [outputs]
    assert [l.name for l in model.layers] == ["digits", "dense_1", "dense_2", "predictions"]
    assert model.get_layer("dense_2").output_shape == (None, 64)
    assert model.get_layer(index=1).input is inputs
    assert model.get_layer("predictions").output is outputs
    assert model.input_shape == (None, 784) and model.output_shape == (None, 10)
    a = keras.Input(shape=(2,))
    assert isinstance(keras.Model(a, layers.Dense(1)(a)), Functional)
    with pytest.raises(ValueError, match="No such layer: nope"):
        model.get_layer("nope")


def test_layer_weights_exist_as_soon_as_the_layer_is_called():
    inputs = keras.Input(shape=(3,))
    dense = layers.Dense(2)
    assert not dense.built and dense.weights == []
    dense(inputs)
    assert dense.built and dense.kernel.shape == (3, 2)


def test_a_chain_trains_like_the_same_sequential():
    keras.utils.set_random_seed(1)
    inputs, outputs, functional = mnist_like()
    sequential = keras.Sequential([keras.Input(shape=(784,)), layers.Dense(64, activation="relu"),
                                   layers.Dense(64, activation="relu"),
                                   layers.Dense(10, activation="softmax")])
    sequential.set_weights(functional.get_weights())
    x = np.random.default_rng(0).random((64, 784), dtype=np.float32)
    y = np.random.default_rng(1).integers(0, 10, 64)
    for m in (functional, sequential):
        m.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h1 = functional.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False)
    h2 = sequential.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False)
    assert h1.history == h2.history
    for a, b in zip(functional.get_weights(), sequential.get_weights()):
        np.testing.assert_array_equal(a, b)
    # The same network was built: the same node list, so the same code paths.
    from hookfit.models import layer_graph

    def nodes(model):
        inputs, output = model._graph()
        listed = layer_graph.node_list(inputs, layer_graph.trace(inputs, output), output)[1]
        return [{k: v for k, v in n.items() if k != "name"} for n in listed]

    assert nodes(functional) == nodes(sequential)
    assert functional._network.n_params == sequential._network.n_params


def test_several_outputs_are_refused_with_what_is_supported():
    a = keras.Input(shape=(3,))
    o1, o2 = layers.Dense(1)(a), layers.Dense(2)(a)
    with pytest.raises(NotSupportedError, match="several outputs .got 2.; supported: exactly one output"):
        keras.Model(a, [o1, o2])
    single = keras.Model(a, [o1])  # a list of one is one output
    assert single.outputs == [o1]


def test_bad_graphs_are_refused():
    a, b = keras.Input(shape=(3,)), keras.Input(shape=(3,))
    out = layers.Add()([a, b])
    with pytest.raises(ValueError, match="Graph disconnected"):
        keras.Model(a, out)
    shared = layers.Dense(3)
    twice = shared(shared(a))
    with pytest.raises(NotSupportedError, match="shared layers"):
        keras.Model(a, twice)
    with pytest.raises(ValueError, match="must come from `keras.Input`"):
        keras.Model(out, layers.Dense(1)(out))
    with pytest.raises(NotSupportedError, match="subclassing keras.Model"):
        keras.Model()
    with pytest.raises(TypeError, match="mix of symbolic"):
        layers.Add()([a, np.ones((2, 3))])


def test_a_layer_belongs_to_one_model():
    a = keras.Input(shape=(3,))
    dense = layers.Dense(2)
    out = dense(a)
    keras.Model(a, out)
    with pytest.raises(ValueError, match="already belongs to model"):
        keras.Model(a, layers.Dense(1)(out))


def test_inputs_are_fed_as_a_list_or_a_dict_in_model_inputs_order():
    model = two_inputs()
    a = np.arange(8, dtype="f4").reshape(2, 4)
    b = np.arange(12, dtype="f4").reshape(2, 2, 3)
    expected = np.hstack([a, b.reshape(2, 6)])
    np.testing.assert_array_equal(model._input_matrix([a, b], "x"), expected)
    np.testing.assert_array_equal(model._input_matrix({"b": b, "a": a}, "x"), expected)
    with pytest.raises(ValueError, match=r"no data for the model input\(s\) \['b'\]"):
        model._input_matrix({"a": a}, "x")
    with pytest.raises(ValueError, match="has 2 inputs"):
        model._input_matrix(a, "x")
    with pytest.raises(ValueError, match=r"x\['b'\]: the model input 'b' expects shape \(samples, 2, 3\)"):
        model._input_matrix([a, b.reshape(2, 6)], "x")
    with pytest.raises(ValueError, match="same number of samples"):
        model._input_matrix([a, b[:1]], "x")
    with pytest.warns(UserWarning, match="did not match any model input"):
        model._input_matrix({"a": a, "b": b, "c": a}, "x")


def test_two_input_graph_trains_from_lists_and_dicts():
    model = two_inputs()
    rng = np.random.default_rng(0)
    a, b, y = rng.random((32, 4)), rng.random((32, 2, 3)), rng.random((32, 1))
    model.compile(optimizer="sgd", loss="mse")
    model.fit([a, b], y, epochs=1, batch_size=8, verbose=0)
    model.fit({"a": a, "b": b}, y, epochs=1, batch_size=8, verbose=0, validation_data=([a, b], y))
    p1 = model.predict([a, b], verbose=0)
    np.testing.assert_allclose(p1, model({"a": a, "b": b}), rtol=1e-6)
    assert isinstance(model.evaluate([a, b], y, verbose=0), float)


def test_graph_summary_has_the_connected_to_column():
    lines = []
    two_inputs().summary(print_fn=lines.append)
    assert lines[0] == 'Model: "wide"'
    assert lines[1] == "_" * 98
    assert lines[2] == " Layer (type)                Output Shape                 Param #   Connected to                  "
    body = "\n".join(line.rstrip() for line in lines)
    assert " a (InputLayer)              [(None, 4)]                  0         []" in body
    assert " d1 (Dense)                  (None, 4)                    20        ['a[0][0]']" in body
    assert " add (Add)                   (None, 4)                    0         ['a[0][0]',\n" in body + "\n"
    assert "\n" + " " * 69 + "'d1[0][0]']" in body
    assert " b (InputLayer)              [(None, 2, 3)]               0         []" in body
    assert " flat (Flatten)              (None, 6)                    0         ['b[0][0]']" in body
    assert lines[-4:] == ["Total params: 31 (124.00 Byte)", "Trainable params: 31 (124.00 Byte)",
                          "Non-trainable params: 0 (0.00 Byte)", "_" * 98]
    assert all(len(line) == 98 for line in lines[1:-4])


def test_chain_summary_is_sequential_like_with_the_input_row():
    lines = []
    mnist_like()[2].summary(print_fn=lines.append)
    assert lines[2] == " Layer (type)                Output Shape              Param #   "
    assert lines[4] == " digits (InputLayer)         [(None, 784)]             0         "
    assert lines[-4] == "Total params: 55050 (215.04 KB)"


def test_layers_and_models_called_on_arrays_return_arrays():
    inputs, outputs, model = mnist_like()
    x = np.random.default_rng(0).random((3, 784), dtype=np.float32)
    out = model(x)
    assert isinstance(out, np.ndarray) and out.shape == (3, 10)
    np.testing.assert_allclose(out, model.predict(x, verbose=0))
    h1 = model.get_layer("dense_1")(x)
    h2 = model.get_layer("dense_2")(h1)
    np.testing.assert_allclose(model.get_layer("predictions")(h2), out, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model(x, training=True), out, rtol=1e-5, atol=1e-6)
    with pytest.raises(NotSupportedError, match="nested models"):
        model(keras.Input(shape=(784,)))


# -- freezing ------------------------------------------------------------------------


def frozen_model():
    inputs = keras.Input(shape=(4,))
    first = layers.Dense(3, name="first")
    bn = layers.BatchNormalization(name="bn")
    x = bn(first(inputs))
    return keras.Model(inputs, layers.Dense(1, name="last")(x)), first, bn


def test_trainable_flags_sort_the_weights_and_the_summary_counts():
    model, first, bn = frozen_model()
    assert len(model.trainable_weights) == 6 and len(model.non_trainable_weights) == 2
    first.trainable = False
    assert [w.shape for w in model.non_trainable_weights] == [(4, 3), (3,), (3,), (3,)]
    lines = []
    model.summary(print_fn=lines.append)
    assert "Trainable params: 10 (40.00 Byte)" in lines  # gamma, beta and last's 3 + 1
    assert "Non-trainable params: 21 (84.00 Byte)" in lines  # first's 15 + moving stats 6
    model.trainable = False
    assert model.trainable_weights == [] and len(model.non_trainable_weights) == 8
    assert not first.trainable and not bn.trainable
    assert not layers.Dense(2, trainable=False).trainable


def test_frozen_layers_keep_their_weights_after_the_next_compile():
    model, first, bn = frozen_model()
    rng = np.random.default_rng(0)
    x, y = rng.random((32, 4)), rng.random((32, 1))
    first.trainable = False
    model.compile(optimizer="adam", loss="mse")
    before = first.get_weights()
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    for a, b in zip(before, first.get_weights()):
        np.testing.assert_array_equal(a, b)
    # Unfrozen without recompiling: Keras warns, and the layer stays frozen.
    first.trainable = True
    with pytest.warns(UserWarning, match="Discrepancy between trainable weights"):
        model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    for a, b in zip(before, first.get_weights()):
        np.testing.assert_array_equal(a, b)
    model.compile(optimizer="adam", loss="mse")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert not np.array_equal(before[0], first.get_weights()[0])


def test_frozen_model_matches_keras():
    x = np.random.default_rng(0).standard_normal((32, 4)).astype("f4")
    y = np.random.default_rng(1).standard_normal((32, 1)).astype("f4")

    def build(k):
        inp = k.Input(shape=(4,))
        mid = k.layers.Dense(3, activation="tanh", trainable=False)(inp)
        return k.Model(inp, k.layers.Dense(1)(mid))

    ours = build(keras)
    theirs = same_model_in_keras(build, ours)
    assert_trains_like_keras(ours, theirs, x, y, lr=0.1)
