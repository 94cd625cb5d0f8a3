"""The optimizer state of every optimizer hookfit has, in Keras 3's ``.keras``
layout, checked with real Keras 3 (jax backend): train 2 steps in hookfit,
save, load in Keras, then one more step in both and compare the weights;
and back (Keras re-saves the file, hookfit loads the same state).

Keras 3's ``variables`` order: iteration, learning_rate, the EMA averages
(``use_ema``), the slots of ``build`` (interleaved per model variable, only
for trainable variables), and Nadam's scalar ``u_product`` last. The update
formulas of these optimizers agree between tf-keras 2 and Keras 3 (Adagrad
and Adadelta put epsilon inside the square root in both, Adamax adds it to
``u``; Nadam's momentum schedule 0.96**t is the same), so the continued step
is compared directly at rtol 1e-5.
"""

import os

import numpy as np
import pytest

pytest.importorskip("h5py", reason="h5py (extra 'h5') is needed for HDF5 files")
os.environ.setdefault("KERAS_BACKEND", "jax")
try:
    import keras
except ImportError as e:
    pytest.skip(f"Keras 3 with the jax backend is not importable: {e}", allow_module_level=True)

import hookfit
from hookfit.saving import FileFormatError

OPTIMIZERS = {
    "adamw": lambda: hookfit.optimizers.AdamW(0.01, weight_decay=0.05),
    "nadam": lambda: hookfit.optimizers.Nadam(0.01),
    "adagrad": lambda: hookfit.optimizers.Adagrad(0.1),
    "adamax": lambda: hookfit.optimizers.Adamax(0.02),
    "adadelta": lambda: hookfit.optimizers.Adadelta(1.0),
    "ftrl": lambda: hookfit.optimizers.Ftrl(0.1, l1_regularization_strength=0.01, l2_regularization_strength=0.01),
    "lion": lambda: hookfit.optimizers.Lion(0.001),
    "adam_ema": lambda: hookfit.optimizers.Adam(0.01, use_ema=True, ema_momentum=0.9),
    "sgd_clipnorm": lambda: hookfit.optimizers.SGD(0.05, momentum=0.9, clipnorm=0.5),
    "adagrad_global_clipnorm": lambda: hookfit.optimizers.Adagrad(0.1, global_clipnorm=0.3),
    "nadam_ema_clipvalue": lambda: hookfit.optimizers.Nadam(0.01, use_ema=True, clipvalue=0.05),
}


def data(n=48):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((n, 5)).astype("f4")
    return x, (x @ rng.standard_normal((5, 3))).astype("f4")


def model_with(optimizer, frozen_first=False):
    hookfit.utils.set_random_seed(11)
    model = hookfit.Sequential([
        hookfit.layers.Dense(4, activation="tanh", input_dim=5),
        hookfit.layers.Dense(4, activation="relu"),
        hookfit.layers.Dense(3),
    ])
    if frozen_first:
        model.layers[0].trainable = False
    model.compile(optimizer=optimizer, loss="mse")
    return model


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_state_loads_in_keras_and_training_continues_identically(tmp_path, name):
    x, y = data()
    model = model_with(OPTIMIZERS[name]())
    model.fit(x[:32], y[:32], batch_size=16, epochs=1, shuffle=False, verbose=0)  # 2 steps
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert type(loaded.optimizer).__name__ == type(model.optimizer).__name__
    assert int(loaded.optimizer.iterations) == 2
    np.testing.assert_allclose(np.asarray(loaded.predict(x, verbose=0)), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    model.fit(x[32:], y[32:], batch_size=16, epochs=1, shuffle=False, verbose=0)
    loaded.fit(x[32:], y[32:], batch_size=16, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-6)
    if model.optimizer.use_ema:  # the averages themselves match too
        keras_averages = [np.asarray(v) for v in loaded.optimizer._model_variables_moving_average]
        ours = model.optimizer.get_state()["slots"][-1]
        np.testing.assert_allclose(np.concatenate([a.ravel() for a in keras_averages]), ours, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_state_comes_back_from_a_keras_written_file(tmp_path, name):
    x, y = data()
    model = model_with(OPTIMIZERS[name]())
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    model.save(tmp_path / "a.keras")
    keras.models.load_model(tmp_path / "a.keras").save(tmp_path / "b.keras")
    back = hookfit.models.load_model(tmp_path / "b.keras")
    mine, again = model.optimizer.get_state(), back.optimizer.get_state()
    assert again["iterations"] == mine["iterations"] == 3
    for a, b in zip(mine["slots"], again["slots"]):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    # and hookfit continues identically from it
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    back.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), back.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_frozen_layers_have_no_optimizer_variables(tmp_path):
    x, y = data()
    model = model_with(hookfit.optimizers.Adam(0.01), frozen_first=True)
    model.fit(x[:32], y[:32], batch_size=16, epochs=1, shuffle=False, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert not loaded.layers[0].trainable
    # iteration, learning_rate, then m and v for the 4 trainable variables
    assert len(loaded.optimizer.variables) == 2 + 2 * 4
    model.fit(x[32:], y[32:], batch_size=16, epochs=1, shuffle=False, verbose=0)
    loaded.fit(x[32:], y[32:], batch_size=16, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-6)


def test_untrained_state_is_written_as_keras_builds_it(tmp_path):
    model = model_with(hookfit.optimizers.Adagrad(0.1, initial_accumulator_value=0.25, use_ema=True))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    accumulators = [np.asarray(v) for v in loaded.optimizer._accumulators]
    assert all(np.all(a == np.float32(0.25)) for a in accumulators)
    for avg, w in zip(loaded.optimizer._model_variables_moving_average, model.get_weights()):
        np.testing.assert_array_equal(np.asarray(avg), w)


@pytest.mark.parametrize("name", ["nadam", "ftrl", "adam_ema"])
def test_h5_model_round_trips_the_state(tmp_path, name):
    x, y = data()
    model = model_with(OPTIMIZERS[name]())
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    model.save(tmp_path / "m.h5")
    back = hookfit.models.load_model(tmp_path / "m.h5")
    for a, b in zip(model.optimizer.get_state()["slots"], back.optimizer.get_state()["slots"]):
        # Nadam's u_product is not in tf-keras 2's file: rebuilt from the iteration count.
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_a_state_for_other_settings_is_refused(tmp_path):
    x, y = data()
    model = model_with(hookfit.optimizers.Adam(0.01, use_ema=True))
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    other = model_with(hookfit.optimizers.Adam(0.01))
    from hookfit.saving import keras_archive  # the archive reader, with another optimizer
    import zipfile, io, h5py
    with zipfile.ZipFile(tmp_path / "m.keras") as z:
        weights = z.read("model.weights.h5")
    with h5py.File(io.BytesIO(weights), "r") as f:
        from hookfit.saving import keras3_weights
        with pytest.raises(FileFormatError, match="use_ema"):
            keras3_weights.read_optimizer(f, "m.keras", other.optimizer, other)
    del keras_archive
