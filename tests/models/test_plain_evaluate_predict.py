"""evaluate/predict with no callback and verbose=0 skip the callback list
(trainer.Trainer._test_plain): everything a user can see must equal the
usual path, which an empty CallbackList (or a callback) still takes."""

import numpy as np
import pytest

import hookfit as keras


class _Nothing(keras.callbacks.Callback):
    pass


def _usual(callbacks_kind):
    """Callbacks arguments that keep the usual (callback-list) path."""
    return {"list": lambda: keras.callbacks.CallbackList([]), "callback": lambda: [_Nothing()]}[callbacks_kind]()


@pytest.mark.parametrize("usual", ["list", "callback"])
@pytest.mark.parametrize("metrics", [("mae",), (), ("mae", keras.metrics.MeanSquaredError(name="m2"))])
@pytest.mark.parametrize("steps", [None, 2])
def test_evaluate_without_callbacks_equals_the_usual_path(make_model, data, usual, metrics, steps):
    x, y = data
    model = make_model(metrics=metrics)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    for return_dict in (False, True):
        usual_result = model.evaluate(x, y, batch_size=16, steps=steps, verbose=0,
                                      callbacks=_usual(usual), return_dict=return_dict)
        for none in (None, [], ()):
            plain = model.evaluate(x, y, batch_size=16, steps=steps, verbose=0, callbacks=none,
                                   return_dict=return_dict)
            assert plain == usual_result
            assert type(plain) is type(usual_result)


def test_evaluate_with_a_custom_metric_object_equals_the_usual_path(make_model, data):
    # A metric object the core does not compute keeps its Python update per batch.
    class MeanY(keras.metrics.Metric):
        def __init__(self, name="mean_y", **kwargs):
            super().__init__(name=name, **kwargs)
            self.total, self.count = 0.0, 0

        def update_state(self, y_true, y_pred, sample_weight=None):
            self.total += float(np.sum(y_true))
            self.count += int(np.size(y_true))

        def result(self):
            return self.total / max(self.count, 1)

        def reset_state(self):
            self.total, self.count = 0.0, 0

    x, y = data
    model = make_model(metrics=("mae", MeanY()))
    assert model.evaluate(x, y, batch_size=16, verbose=0) == model.evaluate(
        x, y, batch_size=16, verbose=0, callbacks=[_Nothing()])


@pytest.mark.parametrize("steps", [None, 1, 3])
def test_predict_without_callbacks_equals_the_usual_path(make_model, data, steps):
    x, _ = data
    model = make_model(units=(3, 2), activations=("relu", None))
    plain = model.predict(x, batch_size=16, steps=steps, verbose=0)
    usual = model.predict(x, batch_size=16, steps=steps, verbose=0, callbacks=[_Nothing()])
    assert plain.dtype == usual.dtype == np.float32
    np.testing.assert_array_equal(plain, usual)
    assert plain.shape == (min(len(x), 16 * (steps or 99)), 2)


def test_the_plain_path_leaves_a_fresh_history_like_the_callback_list(make_model, data):
    # tf-keras's callback list sets a new, empty History as model.history in
    # evaluate and predict too; the plain path must leave the same.
    x, y = data
    model = make_model()
    fitted = model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    model.evaluate(x, y, batch_size=16, verbose=0)
    plain = model.history
    model.evaluate(x, y, batch_size=16, verbose=0, callbacks=[_Nothing()])
    usual = model.history
    assert plain is not fitted and plain.history == usual.history == {}
    assert plain.params == usual.params == {"verbose": 0, "epochs": 1, "steps": 4}
    assert plain.model is model
    model.predict(x, batch_size=16, verbose=0)
    assert model.history.params == {"verbose": 0, "epochs": 1, "steps": 4}


def test_bad_arguments_are_refused_on_the_plain_path_as_on_the_usual_one(make_model, data):
    x, y = data
    model = make_model()
    for kwargs in ({"batch_size": 0}, {"steps": -1}, {"verbose": 3}):
        for callbacks in (None, [_Nothing()]):
            with pytest.raises(ValueError):
                model.evaluate(x, y, callbacks=callbacks, **kwargs)
            with pytest.raises(ValueError):
                model.predict(x, callbacks=callbacks, **kwargs)
    with pytest.raises(ValueError, match="same length"):
        model.evaluate(x, y[:-1], verbose=0)
