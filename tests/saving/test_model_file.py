"""Whole-model files: model.save(path) / hookfit.models.load_model(path)."""

import numpy as np
import pytest

import hookfit as keras
from hookfit.saving import load_weights, save_weights


def make_data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6)).astype(np.float32)
    y = (x @ rng.standard_normal((6, 2))).astype(np.float32)
    return x, y


def make_model(optimizer="adam"):
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [keras.layers.Dense(5, activation="relu", input_dim=6), keras.layers.Dense(2, use_bias=False)]
    )
    model.compile(optimizer=optimizer, loss="mse", metrics=["mae"])
    return model


def test_save_and_load_continue_training_identically(tmp_path):
    x, y = make_data()
    model = make_model()
    model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, keras.Sequential)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.optimizer.iterations == model.optimizer.iterations == 12
    assert type(loaded.optimizer).__name__ == "Adam"
    assert loaded.metrics_names == model.metrics_names
    # Optimizer slots came along: one more epoch gives the same weights bit for bit.
    model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    loaded.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_uncompiled_model_round_trip(tmp_path):
    model = keras.Sequential([keras.layers.Dense(3, input_dim=4)])
    model.save(tmp_path / "m.npz")
    loaded = keras.models.load_model(tmp_path / "m.npz")
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_foreign_suffix_and_wrong_file(tmp_path):
    model = make_model()
    with pytest.raises(ValueError, match="must end with '.keras'"):
        model.save(tmp_path / "model.bin")
    with pytest.raises(ValueError, match="names a weights file"):
        model.save(tmp_path / "model.weights.h5")
    model.save_weights(tmp_path / "w.npz")
    with pytest.raises(ValueError, match="not a hookfit model file"):
        keras.models.load_model(tmp_path / "w.npz")
    with pytest.raises(FileNotFoundError):
        keras.models.load_model(tmp_path / "missing.npz")


@pytest.mark.parametrize("suffix", [".npz", ".weights.h5"])
def test_real_model_weights_round_trip(tmp_path, suffix):
    if suffix.endswith("h5"):
        pytest.importorskip("h5py", reason="h5py (extra 'h5') is needed for .weights.h5")
    source, target = make_model(), make_model()
    target.set_weights([w + 1 for w in target.get_weights()])
    source.save_weights(tmp_path / ("w" + suffix))
    target.load_weights(tmp_path / ("w" + suffix))
    for a, b in zip(source.get_weights(), target.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_load_weights_names_the_mismatching_layer(tmp_path):
    small = keras.Sequential([keras.layers.Dense(5, input_dim=6, name="hidden"), keras.layers.Dense(2)])
    big = keras.Sequential([keras.layers.Dense(5, input_dim=6), keras.layers.Dense(3)])
    save_weights(big, tmp_path / "w.npz")
    with pytest.raises(ValueError, match=r"Layer 1 .*kernel has shape \(5, 2\) in the model but \(5, 3\)"):
        load_weights(small, tmp_path / "w.npz")
