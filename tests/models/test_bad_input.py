"""Every bad input gets a clear exception, raised before any weight changes."""

import numpy as np
import pytest

import hookfit as keras


@pytest.fixture
def model(make_model):
    return make_model()


def _unchanged(model, before):
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert model.optimizer.iterations == 0


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(y=np.zeros(49)), ValueError, "x has 50 samples but y has 49"),
        (dict(x=np.zeros((50, 5))), ValueError, "5 features per sample but the model's input_dim is 6"),
        (dict(x=np.zeros(50)), ValueError, "must be 2-D"),
        (dict(x=np.zeros((0, 6)), y=np.zeros(0)), ValueError, "empty"),
        (dict(batch_size=0), ValueError, "batch_size must be a positive integer"),
        (dict(batch_size=-3), ValueError, "batch_size must be a positive integer"),
        (dict(batch_size=2.5), TypeError, "batch_size must be a positive integer"),
        (dict(validation_split=1.0), ValueError, r"validation_split must be in \[0, 1\)"),
        (dict(validation_split=-0.1), ValueError, r"validation_split must be in \[0, 1\)"),
        (dict(validation_split=0.99), ValueError, "not sufficient to split"),
        (dict(epochs=0), ValueError, "epochs must be a positive integer"),
        (dict(steps_per_epoch=0), ValueError, "steps_per_epoch must be a positive integer"),
        (dict(validation_freq=0), ValueError, "validation_freq"),
        (dict(verbose=3), ValueError, "verbose must be 0, 1, 2 or 'auto'"),
        (dict(callbacks=[lambda: None]), TypeError, "instance of hookfit.callbacks.Callback"),
        (dict(callbacks=[keras.callbacks.History]), TypeError, r"instantiate it: History\(\)"),
        (dict(callbacks=keras.callbacks.History()), TypeError, "a list of Callback objects"),
        (dict(x=np.array([["a"] * 6] * 50)), TypeError, "x holds strings .*features must be numbers"),
        (dict(sample_weight=np.ones(3)), ValueError, "sample_weight must have shape"),
        (dict(validation_data=(np.zeros((5, 6)),)), ValueError, "validation_data must be a tuple"),
        (dict(validation_data=(np.zeros((5, 6)), np.zeros(4))), ValueError, "validation_data: y"),
        (dict(shuffle="yes"), ValueError, "shuffle must be"),
    ],
)
def test_fit_rejects_bad_arguments(model, data, kwargs, exc, match):
    x, y = data
    args = dict(x=x, y=y, verbose=0)
    args.update(kwargs)
    before = model.get_weights()
    with pytest.raises(exc, match=match):
        model.fit(**args)
    _unchanged(model, before)


@pytest.mark.parametrize("where", ["x", "y"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_is_refused(model, data, where, bad):
    x, y = data
    x, y = x.copy(), y.copy()
    (x if where == "x" else y)[7] = bad
    before = model.get_weights()
    with pytest.raises(ValueError, match=rf"{where}.*(NaN|infinit|non-finite)"):
        model.fit(x, y, verbose=0)
    _unchanged(model, before)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_propagates_in_evaluate_and_predict(model, data, bad):
    """evaluate/predict do not scan x (it would double their cost); as in
    Keras, a non-finite input row shows up as a non-finite output."""
    x, y = data
    x = x.copy()
    x[7] = bad
    before = model.get_weights()
    out = model.predict(x, verbose=0)
    assert not np.isfinite(out[7]).all()
    assert np.isfinite(np.delete(out, 7, axis=0)).all()
    loss = model.evaluate(x, y, verbose=0)
    assert not np.isfinite(np.asarray(loss, dtype=float)).all()
    _unchanged(model, before)


def test_nan_in_validation_rows_is_refused_before_training(model, data):
    x, y = data
    x = x.copy()
    x[-1] = np.nan  # lands in the validation split
    before = model.get_weights()
    with pytest.raises(ValueError, match="NaN|infinit|non-finite"):
        model.fit(x, y, verbose=0, validation_split=0.2)
    _unchanged(model, before)


def test_fit_and_evaluate_before_compile(data):
    x, y = data
    model = keras.Sequential([keras.layers.Dense(1, input_dim=6)])
    for call in (lambda: model.fit(x, y, verbose=0), lambda: model.evaluate(x, y, verbose=0),
                 lambda: model.train_on_batch(x, y)):
        with pytest.raises(RuntimeError, match="must compile your model") as info:
            call()
        assert isinstance(info.value, ValueError)
    assert model.predict(x, verbose=0).shape == (50, 1)  # predict needs no compile


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(loss="mean_squared_errr"), ValueError, r"Unknown loss 'mean_squared_errr'; known names: \[.*'mse'"),
        (dict(loss=None), ValueError, "needs a loss"),
        (dict(loss=lambda t, p: 0), TypeError, "Custom Python loss functions are not supported"),
        (dict(loss="mse", metrics=["maee"]), ValueError, r"Unknown metric 'maee'; known names: \[.*'mae'"),
        (dict(loss="mse", metrics="mae"), None, None),
        (dict(loss="mse", metrics=[42]), TypeError, "metrics must be names"),
        (dict(loss="mse", metrics=["mae", "mae"]), ValueError, "repeated"),
        (dict(loss="mse", optimizer="adamx"), ValueError, r"Unknown optimizer 'adamx'; known names: \['adadelta', 'adagrad', 'adam'"),
        (dict(loss="mse", optimizer=3), TypeError, "optimizer must be"),
        (dict(loss="mse", loss_weights=[1.0]), ValueError, "loss_weights"),
        (dict(loss="mse", bogus=1), TypeError, "unexpected argument"),
    ],
)
def test_compile_rejects_unknown_names(kwargs, exc, match):
    model = keras.Sequential([keras.layers.Dense(1, input_dim=6)])
    if exc is None:
        model.compile(**kwargs)
        assert model.metrics_names == ["loss", "mae"]
        return
    with pytest.raises(exc, match=match):
        model.compile(**kwargs)


def test_sparse_labels_out_of_range(make_model, data):
    x, y = data
    model = make_model(units=(3,), activations=["softmax"], loss="sparse_categorical_crossentropy",
                       metrics=["accuracy"])
    before = model.get_weights()
    labels = np.zeros(50)
    labels[-1] = 3  # the last batch: would fail only after earlier updates without a check
    with pytest.raises(ValueError, match=r"integers in \[0, 3\).*sample 49 has label 3"):
        model.fit(x, labels, batch_size=10, verbose=0)
    labels[-1] = 1.5
    with pytest.raises(ValueError, match="sample 49 has label 1.5"):
        model.fit(x, labels, verbose=0)
    labels[-1] = -1
    with pytest.raises(ValueError, match="sample 49"):
        model.evaluate(x, labels, verbose=0)
    _unchanged(model, before)


def test_targets_that_do_not_match_the_output(make_model, data):
    x, _ = data
    model = make_model(units=(3,), activations=["softmax"], loss="categorical_crossentropy")
    with pytest.raises(ValueError, match=r"y must have shape \(50, 3\).*sparse_categorical"):
        model.fit(x, np.zeros((50, 1)), verbose=0)


@pytest.mark.parametrize(
    "make, exc, match",
    [
        (lambda: keras.layers.Dense(0), ValueError, "units must be a positive integer"),
        (lambda: keras.layers.Dense(2, activation="mish"), ValueError,
         "hookfit does not support the activation 'mish'; supported activations: linear, relu"),
        (lambda: keras.layers.Dense(2, activation=abs), ValueError, "does not support the activation <built-in"),
        (lambda: keras.layers.Dense(2, activation=123), ValueError, "does not support the activation 123"),
        (lambda: keras.layers.Dense(2, kernel_initializer="nope"), ValueError, "Unknown kernel_initializer"),
        (lambda: keras.Sequential([keras.layers.Dense(2, input_shape=(28, 28))]), ValueError, "Flatten"),
        (lambda: keras.layers.Dense(2, kernel_constraint="non_neg"), ValueError,
         r"hookfit does not support Dense\(kernel_constraint=...\)"),
        (lambda: keras.layers.Dense(2, kernel_regularizer="l3"), ValueError,
         "hookfit does not support the regularizer 'l3'"),
        (lambda: keras.layers.Dense(2, mask=True), ValueError,
         "hookfit does not support the argument mask= of Dense; supported arguments: units"),
        (lambda: keras.Input(shape=(0,)), ValueError, "positive integer"),
        (lambda: keras.optimizers.SGD(learning_rate="fast"), TypeError, "learning_rate must be a number"),
        (lambda: keras.optimizers.RMSprop(learning_rate=float("nan")), ValueError, "finite"),
        (lambda: keras.optimizers.SGD(momentum=2.0), ValueError, "momentum"),
        (lambda: keras.optimizers.Adam(clipnorm=1.0, global_clipnorm=1.0), ValueError, "clipnorm"),
        (lambda: keras.optimizers.Adam(learning_rate=1e39), ValueError, "overflows float32"),
        (lambda: keras.losses.CategoricalCrossentropy(label_smoothing=2.0), ValueError, "label_smoothing"),
    ],
)
def test_constructors_reject_bad_arguments(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_set_weights_checks_count_and_shapes(make_model):
    model = make_model(units=(3, 1))
    before = model.get_weights()
    with pytest.raises(ValueError, match="expects 4 arrays"):
        model.set_weights(before[:3])
    bad = [w.copy() for w in before]
    bad[2] = np.zeros((4, 1))
    with pytest.raises(ValueError, match=r"dense.*kernel must have shape \(3, 1\); got \(4, 1\)"):
        model.set_weights(bad)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_predict_rejects_wrong_width_and_garbage(make_model):
    model = make_model()
    with pytest.raises(ValueError, match="input_dim is 6"):
        model.predict(np.zeros((4, 7)), verbose=0)
    with pytest.raises(ValueError, match="x is required"):
        model.predict(None)
    with pytest.raises(TypeError, match="real numbers"):
        model.predict(np.zeros((2, 6), dtype=complex))


def test_failed_compile_changes_nothing(make_model):
    model = make_model()
    optimizer, names = model.optimizer, model.metrics_names
    with pytest.raises(ValueError, match="repeated"):
        model.compile(optimizer="adam", loss="mae", metrics=["mse", "mse"])
    assert model.optimizer is optimizer and model.metrics_names == names
    unbuilt = keras.Sequential([keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="repeated"):
        unbuilt.compile(loss="mse", metrics=["mae", "mae"])
    assert unbuilt.metrics_names == []
