"""Optimizers and learning-rate schedules against real Keras 3 (jax): the same
model, initial weights and batches; weights and losses within rtol 1e-4.

Where tf-keras 2.21 and Keras 3 differ, hookfit follows tf-keras and the test
compares with the NumPy twin of the tf-keras formula instead:
- Nadam: tf-keras's momentum schedule is u_t = beta_1 (1 - 0.5 * 0.96**t),
  Keras 3's 0.96**(0.004 t).
- use_ema: tf-keras starts the averages as a copy of the weights; Keras 3 at
  zero, skipping the momentum on the first step.
"""

import numpy as np
import pytest
from keras_oracle import assert_same_training, real_keras, train_both

import hookfit
from hookfit import _reference as twin
from hookfit._native import core


def f32(a):
    return np.asarray(a, dtype=np.float32)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    x = f32(rng.normal(size=(48, 5)))
    y = f32(np.tanh(x @ rng.normal(size=(5, 2))) + 0.1 * rng.normal(size=(48, 2)))
    return x, y


CASES = [
    ("adamw", lambda m: m.optimizers.AdamW(learning_rate=0.01, weight_decay=0.05)),
    ("adagrad", lambda m: m.optimizers.Adagrad(learning_rate=0.1)),
    ("adamax", lambda m: m.optimizers.Adamax(learning_rate=0.02)),
    ("adadelta", lambda m: m.optimizers.Adadelta(learning_rate=1.0)),
    ("ftrl", lambda m: m.optimizers.Ftrl(learning_rate=0.1, l1_regularization_strength=0.001,
                                         l2_regularization_strength=0.01, beta=0.1)),
    ("lion", lambda m: m.optimizers.Lion(learning_rate=0.001)),
    ("adam clipnorm", lambda m: m.optimizers.Adam(learning_rate=0.01, clipnorm=0.1)),
    ("sgd clipvalue", lambda m: m.optimizers.SGD(learning_rate=0.1, momentum=0.9, clipvalue=0.05)),
    ("rmsprop global_clipnorm", lambda m: m.optimizers.RMSprop(learning_rate=0.01, global_clipnorm=0.2)),
    ("sgd weight_decay", lambda m: m.optimizers.SGD(learning_rate=0.1, weight_decay=0.01)),
    ("adam amsgrad weight_decay", lambda m: m.optimizers.Adam(learning_rate=0.01, amsgrad=True, weight_decay=0.1)),
]


@pytest.mark.parametrize("label,make", CASES, ids=[c[0] for c in CASES])
def test_optimizer_training_matches_keras(data, label, make):
    x, y = data
    k, h = train_both([(4, "tanh"), (2, None)], x, y, loss=lambda m: "mse", optimizer=make)
    assert_same_training(k, h)


@pytest.mark.parametrize("name", ["adamw", "nadam", "adagrad", "adamax", "adadelta", "ftrl", "lion"])
def test_optimizer_strings_give_keras_defaults(name):
    rk = real_keras()
    ours, theirs = hookfit.optimizers.get(name), rk.optimizers.get(name)
    assert type(ours).__name__ == type(theirs).__name__
    keys = set(ours.get_config()) & set(theirs.get_config()) - {"name", "learning_rate", "use_ema"}
    for key in keys:
        a, b = ours.get_config()[key], theirs.get_config()[key]
        assert a == pytest.approx(b) if isinstance(b, float) else a == b, key
    if name == "lion":  # tf-keras's Lion defaults to 1e-4, Keras 3's to 1e-3: Keras 2 wins
        assert ours.learning_rate == pytest.approx(1e-4)
    else:
        assert ours.learning_rate == pytest.approx(float(theirs.learning_rate))


@pytest.mark.parametrize("opt,spec", [
    (lambda: hookfit.optimizers.Nadam(learning_rate=0.01), {"kind": core.OPT_NADAM}),
    (lambda: hookfit.optimizers.Adam(learning_rate=0.01, use_ema=True, ema_momentum=0.9, ema_overwrite_frequency=5),
     {"kind": core.OPT_ADAM, "use_ema": True, "ema_momentum": 0.9, "ema_overwrite_frequency": 5}),
])
def test_tf_keras_only_formulas_match_the_twin(data, opt, spec):
    """Nadam and EMA follow tf-keras (see the module docstring): the whole fit
    against the twin network running the same spec."""
    x, y = data
    model = hookfit.Sequential([hookfit.layers.Dense(4, activation="tanh"), hookfit.layers.Dense(2)])
    model.build((None, 5))
    init = [f32(np.linspace(-0.5, 0.5, w.size).reshape(w.shape)) for w in model.get_weights()]
    model.set_weights(init)
    model.compile(optimizer=opt(), loss="mse")
    model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    net = twin.Network(5, [4, 2], [core.ACT_TANH, core.ACT_LINEAR], [True, True])
    for i, (kern, bias) in enumerate(zip(init[::2], init[1::2])):
        k_, b_ = net.layer_weights(i)
        k_[...], b_[...] = kern, bias
    net.configure({"kind": core.LOSS_MSE}, [], spec)
    for _ in range(2):
        net.train_batches(twin.Dataset(x, y), 0, 48, 8, np.full(6, 0.01, np.float32))
    if spec.get("use_ema"):  # fit ends with finalize_variable_values: the weights take the averages
        assert not np.allclose(net.params, net.optimizer_slots()[-1])
        net.params[...] = net.optimizer_slots()[-1]
    np.testing.assert_allclose(np.concatenate([w.ravel() for w in model.get_weights()]),
                               net.params, rtol=1e-4, atol=1e-6)


SCHEDULES = [
    ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=3, decay_rate=0.5)),
    ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=3, decay_rate=0.5, staircase=True)),
    ("PiecewiseConstantDecay", dict(boundaries=[2, 5], values=[0.1, 0.05, 0.01])),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=7, end_learning_rate=0.01, power=2.0)),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=4, cycle=True)),
    ("InverseTimeDecay", dict(initial_learning_rate=0.1, decay_steps=2, decay_rate=0.3)),
    ("InverseTimeDecay", dict(initial_learning_rate=0.1, decay_steps=2, decay_rate=0.3, staircase=True)),
    ("CosineDecay", dict(initial_learning_rate=0.1, decay_steps=9, alpha=0.1)),
    ("CosineDecay", dict(initial_learning_rate=0.0, decay_steps=9, warmup_target=0.1, warmup_steps=4)),
    ("CosineDecayRestarts", dict(initial_learning_rate=0.1, first_decay_steps=3)),
    ("CosineDecayRestarts", dict(initial_learning_rate=0.1, first_decay_steps=3, t_mul=1.0, m_mul=0.5, alpha=0.1)),
]


@pytest.mark.parametrize("cls,kwargs", SCHEDULES)
def test_schedule_rates_match_keras(cls, kwargs):
    rk = real_keras()
    ours, theirs = getattr(hookfit.optimizers.schedules, cls)(**kwargs), getattr(rk.optimizers.schedules, cls)(**kwargs)
    for step in range(25):
        assert float(ours(step)) == pytest.approx(float(theirs(step)), rel=1e-6, abs=1e-9), step


@pytest.mark.parametrize("cls,kwargs", SCHEDULES[::2])
def test_training_with_a_schedule_matches_keras(data, cls, kwargs):
    x, y = data
    k, h = train_both([(4, "tanh"), (2, None)], x, y, loss=lambda m: "mse",
                      optimizer=lambda m: m.optimizers.SGD(
                          learning_rate=getattr(m.optimizers.schedules, cls)(**kwargs), momentum=0.5))
    assert_same_training(k, h)


def test_user_schedule_subclass_is_called_per_step(data):
    x, y = data
    calls = []

    class Halving(hookfit.optimizers.schedules.LearningRateSchedule):
        def __call__(self, step):
            calls.append(step)
            return 0.1 / (1 + step)

        def get_config(self):
            return {}

    model = hookfit.Sequential([hookfit.layers.Dense(2)])
    model.build((None, 5))
    model.compile(optimizer=hookfit.optimizers.SGD(learning_rate=Halving()), loss="mse")
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert sorted(set(calls)) == list(range(6))
    assert model.optimizer.learning_rate == pytest.approx(np.float32(0.1 / 7))


def test_schedule_driven_rate_is_not_settable_and_callbacks_refuse_it(data):
    x, y = data
    sched = hookfit.optimizers.schedules.ExponentialDecay(0.1, 2, 0.5)
    opt = hookfit.optimizers.SGD(learning_rate=sched)
    with pytest.raises(TypeError, match="not settable"):
        opt.learning_rate = 0.2
    model = hookfit.Sequential([hookfit.layers.Dense(2)])
    model.build((None, 5))
    model.compile(optimizer=opt, loss="mse")
    with pytest.raises(TypeError, match="not settable"):
        model.fit(x, y, epochs=1, verbose=0,
                  callbacks=[hookfit.callbacks.LearningRateScheduler(lambda e, lr: lr * 0.5)])


def test_learning_rate_overflowing_float32_is_refused():
    with pytest.raises(ValueError, match="overflows float32"):
        hookfit.optimizers.Adam(learning_rate=1e39)
    opt = hookfit.optimizers.SGD()
    with pytest.raises(ValueError, match="overflows float32"):
        opt.learning_rate = 1e39
    assert opt.learning_rate == pytest.approx(0.01)


def test_optimizer_settings_and_schedules_survive_a_keras_file(tmp_path, data):
    """A .keras file keeps weight_decay, clipnorm and the schedule, both into
    real Keras 3 and back into hookfit (the optimizer *state* of the new
    optimizers in Keras files is the saving code's next step)."""
    pytest.importorskip("h5py")
    rk = real_keras()
    x, y = data
    sched = hookfit.optimizers.schedules.ExponentialDecay(0.01, 5, 0.9)
    model = hookfit.Sequential([hookfit.layers.Dense(2)])
    model.build((None, 5))
    model.compile(optimizer=hookfit.optimizers.Adam(learning_rate=sched, weight_decay=0.01, clipnorm=0.5),
                  loss="mse")
    path = str(tmp_path / "m.keras")
    model.save(path)
    theirs = rk.models.load_model(path).optimizer
    assert type(theirs).__name__ == "Adam"
    assert theirs.weight_decay == pytest.approx(0.01) and theirs.clipnorm == pytest.approx(0.5)
    assert type(theirs._learning_rate).__name__ == "ExponentialDecay"
    back = hookfit.models.load_model(path).optimizer
    assert isinstance(back, hookfit.optimizers.Adam) and back.weight_decay == pytest.approx(0.01)
    assert back.clipnorm == pytest.approx(0.5)
    assert isinstance(back._schedule, hookfit.optimizers.schedules.ExponentialDecay)
    assert back._rate_at(7) == pytest.approx(float(sched(7)))
