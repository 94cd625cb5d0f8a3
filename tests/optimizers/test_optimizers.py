"""Optimizers: Keras 2 defaults, the learning rate as a float32 variable, state."""

import numpy as np
import pytest

import hookfit as keras
from hookfit import backend


@pytest.mark.parametrize(
    "cls, defaults",
    [
        (keras.optimizers.RMSprop, dict(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False)),
        (keras.optimizers.SGD, dict(learning_rate=0.01, momentum=0.0, nesterov=False)),
        (keras.optimizers.Adam, dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False)),
    ],
)
def test_defaults(cls, defaults):
    config = cls().get_config()
    for key, value in defaults.items():
        assert config[key] == pytest.approx(value, rel=1e-7), key
    assert config["name"] == cls.__name__


def test_names_resolve():
    model = keras.Sequential([keras.layers.Dense(1, input_dim=2)])
    for name, cls in (("rmsprop", "RMSprop"), ("sgd", "SGD"), ("Adam", "Adam")):
        model.compile(optimizer=name, loss="mse")
        assert type(model.optimizer).__name__ == cls


def test_learning_rate_is_float32_rounded_and_assignable():
    opt = keras.optimizers.Adam(learning_rate=0.001)
    assert opt.learning_rate == 0.0010000000474974513
    assert isinstance(opt.learning_rate, float)
    assert float(backend.get_value(opt.learning_rate)) == 0.0010000000474974513
    assert type(backend.get_value(opt.lr)) is np.float32
    opt.learning_rate = 0.1
    assert opt.lr == np.float32(0.1)
    opt.lr = 0.05
    assert opt.learning_rate == float(np.float32(0.05))
    backend.set_value(opt.lr, 0.25)
    assert opt.learning_rate == 0.25
    backend.set_value(opt.learning_rate, np.float64(0.5))
    assert opt.lr == 0.5
    assert "%6.4f" % opt.lr == "0.5000"
    assert keras.optimizers.SGD(lr=0.3).learning_rate == float(np.float32(0.3))
    assert hasattr(opt, "lr")


def test_set_value_refuses_plain_values():
    with pytest.raises(TypeError, match="cannot be changed in place"):
        backend.set_value(0.1, 0.2)
    assert backend.get_value(0.1) == 0.1


def test_iterations_and_state_roundtrip():
    x = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
    y = x.sum(1)

    def fresh():
        keras.utils.set_random_seed(1)
        m = keras.Sequential([keras.layers.Dense(1, input_dim=3)])
        m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
        return m

    model = fresh()
    model.fit(x, y, batch_size=5, epochs=1, shuffle=False, verbose=0)
    assert model.optimizer.iterations == 4
    state = model.optimizer.get_state()
    weights = model.get_weights()
    assert state["iterations"] == 4 and len(state["slots"]) == 3
    model.fit(x, y, batch_size=5, epochs=1, shuffle=False, verbose=0)
    expected = model.get_weights()
    # Restoring the optimizer state and weights continues bit-exactly.
    other = fresh()
    other.set_weights(weights)
    other.optimizer.set_state(state)
    other.fit(x, y, batch_size=5, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(expected, other.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="slot"):
        other.optimizer.set_state({**state, "slots": state["slots"][:1]})


def test_recompiling_resets_iterations():
    model = keras.Sequential([keras.layers.Dense(1, input_dim=2)])
    model.compile(optimizer="sgd", loss="mse")
    model.train_on_batch(np.ones((3, 2)), np.ones(3))
    assert model.optimizer.iterations == 1
    model.compile(optimizer="sgd", loss="mse")
    assert model.optimizer.iterations == 0
