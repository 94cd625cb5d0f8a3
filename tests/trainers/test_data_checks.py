"""Targets that Keras 2 broadcasts, and labels that are strings."""

import numpy as np
import pytest

import hookfit as keras

rng = np.random.default_rng(0)
X = rng.standard_normal((40, 4)).astype(np.float32)
Y1 = rng.uniform(0.1, 0.9, 40).astype(np.float32)


def build(loss, seed=1, activation=None, metrics=("mae",)):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.layers.Dense(3, activation=activation, input_dim=4)])
    model.compile("sgd", loss, metrics=list(metrics))
    return model


@pytest.mark.parametrize("y", [Y1, Y1[:, None]])
def test_1d_y_broadcasts_across_a_wide_output(y):
    # tf-keras 2 (compile_utils.match_dtype_and_rank) makes y (n, 1), and the
    # loss compares every output column with it: the same as repeating y.
    a = build("mse").fit(X, y, batch_size=8, epochs=2, verbose=0)
    b = build("mse").fit(X, np.repeat(Y1[:, None], 3, axis=1), batch_size=8, epochs=2, verbose=0)
    assert a.history == b.history


def test_crossentropies_still_refuse_a_narrow_y():
    # tf-keras 2: categorical crossentropy checks the shapes; binary
    # crossentropy after a sigmoid goes through sigmoid_cross_entropy_with_logits,
    # which needs equal shapes. Keras 3 refuses both as well.
    model = build("categorical_crossentropy", activation="softmax")
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy.*to_categorical"):
        model.fit(X, np.zeros((40, 1)), verbose=0)
    model = build("binary_crossentropy", activation="sigmoid")
    with pytest.raises(ValueError, match=r"must have shape \(40, 3\).*one 0/1 target per output"):
        model.fit(X, np.zeros(40), verbose=0)


@pytest.mark.parametrize("labels", [np.array(["cat", "dog"] * 20), np.array(["cat", "dog"] * 20, dtype=object)])
def test_string_labels_say_how_to_encode_them(labels):
    model = build("sparse_categorical_crossentropy", activation="softmax", metrics=())
    with pytest.raises(TypeError) as e:
        model.fit(X, labels, verbose=0)
    message = str(e.value)
    assert message.startswith("y holds strings")
    assert "np.unique(y, return_inverse=True)" in message and "to_categorical" in message
    assert "np.asarray(x" not in message
    with pytest.raises(TypeError, match="validation_data: y holds strings"):
        model.fit(X, np.zeros(40), validation_data=(X, labels), verbose=0)
    with pytest.raises(TypeError, match="x holds strings.*features must be numbers"):
        model.fit(np.array([["a"] * 4] * 40), np.zeros(40), verbose=0)


@pytest.mark.parametrize("loss, activation", [("mse", None), ("mae", "tanh")])
def test_broadcast_matches_keras3(keras3, loss, activation):
    k3 = keras3
    ours = build(loss, activation=activation)
    initial = ours.get_weights()
    h = ours.fit(X, Y1, batch_size=8, epochs=3, shuffle=False, verbose=0)
    theirs = k3.Sequential([k3.Input((4,)), k3.layers.Dense(3, activation=activation)])
    theirs.set_weights(initial)
    theirs.compile(k3.optimizers.SGD(0.01), loss, metrics=["mae"])
    # Keras 3 refuses y (n,) against (n, 3) ("Incompatible shapes"); Keras 2
    # expands y to (n, 1) first and then broadcasts, which is Keras 3's
    # behaviour for y given as (n, 1): so Keras 3 gets the expanded y.
    t = theirs.fit(X, Y1[:, None], batch_size=8, epochs=3, shuffle=False, verbose=0)
    for key in ("loss", "mae"):
        np.testing.assert_allclose(h.history[key], t.history[key], rtol=1e-4)
