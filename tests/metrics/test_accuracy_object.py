"""``keras.metrics.Accuracy()`` is Keras's exact-match accuracy (the share of
entries where y_pred == y_true), not the string ``"accuracy"`` that picks
binary/categorical accuracy from the model; Keras 2 and 3 agree on this."""

import numpy as np

import hookfit


def test_accuracy_object_counts_exact_matches_standalone_and_weighted(keras3):
    t = np.array([[1.0], [0.0], [2.0], [1.0]], np.float32)
    p = np.array([[1.0], [0.5], [2.0], [0.0]], np.float32)
    w = np.array([1.0, 2.0, 1.0, 0.5], np.float32)
    for update in ((t, p), (t, p, w)):
        ours, theirs = hookfit.metrics.Accuracy(), keras3.metrics.Accuracy()
        ours.update_state(*update)
        theirs.update_state(*update)
        np.testing.assert_allclose(float(ours.result()), float(theirs.result()), rtol=1e-6)


def test_accuracy_object_in_compile_is_exact_match_not_binary_accuracy():
    model = hookfit.Sequential([hookfit.layers.Dense(1, input_dim=3, kernel_initializer="zeros",
                                                     bias_initializer=hookfit.initializers.Constant(0.2))])
    model.compile(optimizer="sgd", loss="mse", metrics=[hookfit.metrics.Accuracy(name="exact"), "accuracy"])
    x = np.ones((8, 3), np.float32)
    y = np.array([[0.0]] * 4 + [[1.0]] * 4, np.float32)  # every prediction is 0.2
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert logs["exact"] == 0.0  # no prediction equals its label exactly
    assert logs["accuracy"] == 0.5  # binary accuracy: 0.2 is class 0, right for half the rows
