"""Whole-model files Keras reads and writes: ``.keras`` (Keras 3) both ways
through real Keras 3 (jax backend), and Keras 2's legacy ``.h5`` layouts
checked against the structure tf-keras 2's ``hdf5_format`` writes.

Keras 3's RMSprop puts epsilon outside the square root (Keras 2 inside), so
training continued in Keras after a round trip is compared for SGD/Adam,
whose formulas agree; RMSprop's state is compared as stored.
"""

import json
import os
import zipfile

import numpy as np
import pytest

h5py = pytest.importorskip("h5py", reason="h5py (extra 'h5') is needed for HDF5 files")
os.environ.setdefault("KERAS_BACKEND", "jax")
try:
    import keras
except ImportError as e:
    pytest.skip(f"Keras 3 with the jax backend is not importable: {e}", allow_module_level=True)

import hookfit
from hookfit.saving import FileFormatError, UnsafeFileError, UnsupportedConfigError, WeightsMismatchError


def data(seed=0, n=64):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 5)).astype("f4")
    return x, (x @ rng.standard_normal((5, 3))).astype("f4")


def ours(optimizer="adam", metrics=("mae",)):
    hookfit.utils.set_random_seed(7)
    model = hookfit.Sequential(
        [hookfit.layers.Dense(4, activation="relu", input_dim=5), hookfit.layers.Dense(3, use_bias=False)]
    )
    model.compile(optimizer=optimizer, loss="mse", metrics=list(metrics))
    return model


def theirs(optimizer="adam"):
    keras.utils.set_random_seed(8)
    model = keras.Sequential(
        [keras.Input((5,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(3, use_bias=False)]
    )
    model.compile(optimizer=optimizer, loss="mse", metrics=["mae"])
    return model


def test_hookfit_keras_file_loads_in_keras_and_trains_on_identically(tmp_path):
    x, y = data()
    model = ours(hookfit.optimizers.Adam(0.01))
    model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as z:
        assert sorted(z.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(loaded.predict(x, verbose=0)), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    assert type(loaded.optimizer).__name__ == "Adam"
    assert int(loaded.optimizer.iterations) == 8
    np.testing.assert_allclose(float(loaded.optimizer.learning_rate), 0.01, rtol=1e-6)
    # The Adam slots came along: one more epoch in both gives the same weights.
    model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    loaded.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-4, atol=1e-6)


def test_keras_file_loads_in_hookfit_with_optimizer_state(tmp_path):
    x, y = data(1)
    model = theirs(keras.optimizers.SGD(0.05, momentum=0.9))
    model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    model.save(tmp_path / "k.keras")
    loaded = hookfit.models.load_model(tmp_path / "k.keras")
    assert isinstance(loaded, hookfit.Sequential)
    assert [l.units for l in loaded.layers] == [4, 3] and loaded.layers[0].activation == "relu"
    np.testing.assert_allclose(loaded.predict(x, verbose=0), np.asarray(model.predict(x, verbose=0)), rtol=1e-5, atol=1e-6)
    assert type(loaded.optimizer).__name__ == "SGD" and loaded.optimizer.momentum == 0.9
    assert loaded.optimizer.iterations == 8
    assert loaded.metrics_names == ["loss", "mae"]
    model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    loaded.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("optimizer", ["rmsprop", "adam", "sgd"])
def test_optimizer_state_round_trips_through_keras(tmp_path, optimizer):
    x, y = data(2)
    model = ours(optimizer)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    model.save(tmp_path / "a.keras")
    keras.models.load_model(tmp_path / "a.keras").save(tmp_path / "b.keras")
    back = hookfit.models.load_model(tmp_path / "b.keras")
    mine, again = model.optimizer.get_state(), back.optimizer.get_state()
    assert again["iterations"] == mine["iterations"]
    for a, b in zip(mine["slots"], again["slots"]):
        if optimizer == "sgd":  # Keras 3 keeps no SGD slot without momentum
            continue
        np.testing.assert_array_equal(a, b)
    for a, b in zip(model.get_weights(), back.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_lambda_and_custom_classes_are_refused(tmp_path):
    model = keras.Sequential([keras.Input((5,)), keras.layers.Lambda(lambda t: t * 2), keras.layers.Dense(2)])
    model.save(tmp_path / "lambda.keras")
    with pytest.raises(UnsafeFileError, match="Lambda layer holds Python code"):
        hookfit.models.load_model(tmp_path / "lambda.keras")

    @keras.saving.register_keras_serializable(package="mine")
    class Twice(keras.layers.Layer):
        def call(self, t):
            return t * 2

    model = keras.Sequential([keras.Input((5,)), Twice(), keras.layers.Dense(2)])
    model.save(tmp_path / "custom.keras")
    with pytest.raises(UnsafeFileError, match="custom class"):
        hookfit.models.load_model(tmp_path / "custom.keras")


def test_unsupported_layer_and_setting_are_named(tmp_path):
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(2, kernel_constraint="non_neg")])
    model.save(tmp_path / "reg.keras")
    with pytest.raises(UnsupportedConfigError, match=r"layer 1 \(dense.*\).*kernel_constraint"):
        hookfit.models.load_model(tmp_path / "reg.keras")
    model = keras.Sequential([keras.Input((5,)), keras.layers.GaussianNoise(0.1), keras.layers.Dense(2)])
    model.save(tmp_path / "noise.keras")
    with pytest.raises(UnsupportedConfigError, match="'GaussianNoise' is not supported"):
        hookfit.models.load_model(tmp_path / "noise.keras")


def _rewrite_config(src, dst, edit):
    with zipfile.ZipFile(src) as z:
        members = {n: z.read(n) for n in z.namelist()}
    config = json.loads(members["config.json"])
    edit(config)
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(dst, "w") as z:
        for name, blob in members.items():
            z.writestr(name, blob)


def test_sizes_in_a_config_are_checked_before_allocating(tmp_path):
    ours().save(tmp_path / "m.keras")

    def huge(config):  # a few bytes asking for 2**31 x 4 floats
        config["config"]["layers"][1]["config"]["units"] = 2**31

    _rewrite_config(tmp_path / "m.keras", tmp_path / "huge.keras", huge)
    with pytest.raises(UnsafeFileError, match="nothing was allocated"):
        hookfit.models.load_model(tmp_path / "huge.keras")

    def lying(config):  # within the bound, but the file cannot hold its weights
        config["config"]["layers"][0]["config"]["batch_shape"] = [None, 100_000]
        config["config"]["layers"][1]["config"]["units"] = 1000

    _rewrite_config(tmp_path / "m.keras", tmp_path / "lying.keras", lying)
    with pytest.raises(UnsafeFileError, match="holds only"):
        hookfit.models.load_model(tmp_path / "lying.keras")


# -- Keras 2 (tf-keras) legacy HDF5 -------------------------------------------------


def test_h5_model_has_tf_keras_2_layout_and_round_trips(tmp_path):
    x, y = data(3)
    model = ours(hookfit.optimizers.Adam(0.01))
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    model.save(tmp_path / "m.h5")
    with h5py.File(tmp_path / "m.h5", "r") as f:
        assert f.attrs["keras_version"] == "2.21.0" and f.attrs["backend"] == "tensorflow"
        config = json.loads(f.attrs["model_config"])
        assert config["class_name"] == "Sequential"
        assert [l["class_name"] for l in config["config"]["layers"]] == ["InputLayer", "Dense", "Dense"]
        assert config["config"]["layers"][0]["config"]["batch_input_shape"] == [None, 5]
        training = json.loads(f.attrs["training_config"])
        assert training["loss"] == "mse" and training["optimizer_config"]["class_name"] == "Adam"
        weights = f["model_weights"]
        names = [n.decode() for n in weights.attrs["layer_names"]]
        assert names == [l.name for l in model.layers]
        first = weights[names[0]]
        assert [n.decode() for n in first.attrs["weight_names"]] == [f"{names[0]}/kernel:0", f"{names[0]}/bias:0"]
        np.testing.assert_array_equal(first[f"{names[0]}/kernel:0"][()], model.layers[0].kernel)
        opt_names = [n.decode() for n in f["optimizer_weights"].attrs["weight_names"]]
        assert opt_names[0] == "iteration:0" and opt_names[1] == f"m/{names[0]}/kernel:0"
        assert int(f["optimizer_weights"]["iteration:0"][()]) == 4
    loaded = hookfit.models.load_model(tmp_path / "m.h5")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    mine, again = model.optimizer.get_state(), loaded.optimizer.get_state()
    assert again["iterations"] == 4
    for a, b in zip(mine["slots"][:2], again["slots"][:2]):
        np.testing.assert_array_equal(a, b)


def test_h5_weights_have_tf_keras_2_layout(tmp_path):
    model = ours()
    model.save_weights(tmp_path / "w.h5")
    with h5py.File(tmp_path / "w.h5", "r") as f:
        assert [n.decode() for n in f.attrs["layer_names"]] == [l.name for l in model.layers]
        assert f.attrs["keras_version"] in (b"2.21.0", "2.21.0")
        assert "top_level_model_weights" in f
    other = ours()
    other.set_weights([w + 1 for w in other.get_weights()])
    other.load_weights(tmp_path / "w.h5")
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    # a whole-model .h5 also gives its weights to load_weights, as in Keras 2
    model.save(tmp_path / "m.h5")
    other.set_weights([w + 1 for w in other.get_weights()])
    other.load_weights(tmp_path / "m.h5")
    np.testing.assert_array_equal(other.get_weights()[0], model.get_weights()[0])


def _write_tf_keras_style_weights(path, layers):
    """A weights file as tf-keras 2's save_weights_to_hdf5_group writes it
    (layer groups sorted by name, nested 'name/kernel:0' datasets)."""
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([name.encode() for name, _ in layers])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.15.0"
        for name, arrays in sorted(layers):
            g = f.create_group(name)
            names = [f"{name}/{w}:0" for w in ("kernel", "bias")[: len(arrays)]]
            g.attrs["weight_names"] = np.array([n.encode() for n in names])
            for n, a in zip(names, arrays):
                g.create_dataset(n, data=a)
        f.create_group("top_level_model_weights").attrs["weight_names"] = np.array([], dtype="S1")


def test_tf_keras_weights_by_order_by_name_and_skip_mismatch(tmp_path):
    rng = np.random.default_rng(4)
    k0, b0, k1 = rng.standard_normal((5, 4)).astype("f4"), rng.standard_normal(4).astype("f4"), rng.standard_normal((4, 3)).astype("f4")
    path = tmp_path / "tf.h5"
    _write_tf_keras_style_weights(path, [("zz_first", [k0, b0]), ("aa_second", [k1])])
    model = ours()
    model.load_weights(path)  # by order of the file's layer_names, not group order
    np.testing.assert_array_equal(model.layers[0].kernel, k0)
    np.testing.assert_array_equal(model.layers[1].kernel, k1)
    named = hookfit.Sequential(
        [hookfit.layers.Dense(4, input_dim=5, name="aa_second_not"), hookfit.layers.Dense(3, use_bias=False, name="aa_second")]
    )
    before = named.layers[0].get_weights()
    with pytest.raises(ValueError, match="by_name"):
        named.load_weights(tmp_path / "w.npz", by_name=True)
    with pytest.raises(ValueError, match="skip_mismatch=True needs by_name=True"):
        named.load_weights(path, skip_mismatch=True)
    named.load_weights(path, by_name=True)
    np.testing.assert_array_equal(named.layers[1].kernel, k1)
    np.testing.assert_array_equal(named.layers[0].kernel, before[0])
    wrong = hookfit.Sequential([hookfit.layers.Dense(4, input_dim=5, name="zz_first"), hookfit.layers.Dense(2, use_bias=False, name="aa_second")])
    with pytest.raises(WeightsMismatchError, match="aa_second"):
        wrong.load_weights(path, by_name=True)
    kept = wrong.layers[1].get_weights()
    wrong.load_weights(path, by_name=True, skip_mismatch=True)
    np.testing.assert_array_equal(wrong.layers[0].kernel, k0)
    np.testing.assert_array_equal(wrong.layers[1].get_weights()[0], kept[0])


def test_skip_mismatch_on_keras3_layouts(tmp_path):
    model = ours()
    model.save_weights(tmp_path / "w.weights.h5")
    other = hookfit.Sequential([hookfit.layers.Dense(4, input_dim=5), hookfit.layers.Dense(2, use_bias=False)])
    kept = other.layers[1].get_weights()[0]
    with pytest.raises(WeightsMismatchError):
        other.load_weights(tmp_path / "w.weights.h5")
    other.load_weights(tmp_path / "w.weights.h5", skip_mismatch=True)
    np.testing.assert_array_equal(other.layers[0].kernel, model.layers[0].kernel)
    np.testing.assert_array_equal(other.layers[1].kernel, kept)


@pytest.mark.parametrize("name", ["m.keras", "m.h5", "m.npz"])
def test_overwrite_false_refuses_and_keeps_the_file(tmp_path, name):
    model = ours()
    model.save(tmp_path / name)
    before = (tmp_path / name).read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=False"):
        model.save(tmp_path / name, overwrite=False)
    with pytest.raises(FileExistsError, match="overwrite=False"):
        model.save_weights(tmp_path / "w.npz", overwrite=False) if (tmp_path / "w.npz").exists() else (
            model.save_weights(tmp_path / "w.npz"), model.save_weights(tmp_path / "w.npz", overwrite=False)
        )
    assert (tmp_path / name).read_bytes() == before


def test_model_checkpoint_writes_keras_and_h5(tmp_path):
    x, y = data(5)
    model = ours()
    cbs = [
        hookfit.callbacks.ModelCheckpoint(str(tmp_path / "ckpt-{epoch}.keras")),
        hookfit.callbacks.ModelCheckpoint(str(tmp_path / "best_model.h5"), monitor="loss"),
        hookfit.callbacks.ModelCheckpoint(str(tmp_path / "w-{epoch}.weights.h5"), save_weights_only=True),
        hookfit.callbacks.ModelCheckpoint(str(tmp_path / "w.h5"), save_weights_only=True, monitor="loss"),
    ]
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=cbs)
    final = keras.models.load_model(tmp_path / "ckpt-2.keras")
    np.testing.assert_allclose(np.asarray(final.predict(x, verbose=0)), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(hookfit.models.load_model(tmp_path / "best_model.h5").predict(x, verbose=0), model.predict(x, verbose=0))
    k = theirs()
    k.load_weights(tmp_path / "w-2.weights.h5")
    np.testing.assert_allclose(np.asarray(k.predict(x, verbose=0)), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    again = ours()
    again.load_weights(tmp_path / "w.h5")
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


def test_keras_loss_and_metric_objects_load(tmp_path):
    x, y = data(6)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, activation="tanh")])
    model.compile(
        optimizer=keras.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
        loss=keras.losses.MeanSquaredError(),
        metrics=[keras.metrics.MeanAbsoluteError()],
    )
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    model.save(tmp_path / "objects.keras")
    loaded = hookfit.models.load_model(tmp_path / "objects.keras")
    assert loaded.optimizer.momentum == 0.5 and loaded.optimizer.centered
    assert loaded.optimizer.iterations == 4
    state = loaded.optimizer.get_state()
    keras_vars = [np.asarray(v) for v in model.optimizer.variables[2:]]  # velocity, momentum, average_gradient
    np.testing.assert_array_equal(state["slots"][0][:15], keras_vars[0].reshape(-1))
    np.testing.assert_array_equal(state["slots"][2][:15], keras_vars[4].reshape(-1))
    np.testing.assert_allclose(loaded.predict(x, verbose=0), np.asarray(model.predict(x, verbose=0)), rtol=1e-5, atol=1e-6)
    assert loaded.evaluate(x, y, verbose=0)[0] == pytest.approx(model.evaluate(x, y, verbose=0)[0], rel=1e-4)


def test_a_custom_metric_in_the_compile_settings_says_how_to_load(tmp_path):
    # Keras stores a custom metric by name only; loading names it and the way out.
    def my_metric(y_true, y_pred):
        return np.abs(y_true - y_pred).mean(axis=-1)

    model = hookfit.Sequential([hookfit.layers.Dense(1, input_dim=3)])
    model.compile(optimizer="sgd", loss="mse", metrics=[my_metric])
    path = str(tmp_path / "m.keras")
    model.save(path)
    with pytest.raises(UnsupportedConfigError, match="my_metric.*compile=False"):
        hookfit.models.load_model(path)
    loaded = hookfit.models.load_model(path, compile=False)
    np.testing.assert_array_equal(loaded.get_weights()[0], model.get_weights()[0])


def test_steps_per_execution_round_trips_in_the_compile_settings(tmp_path):
    model = hookfit.Sequential([hookfit.layers.Dense(1, input_dim=3)])
    model.compile(optimizer="sgd", loss="mse", steps_per_execution=4)
    path = str(tmp_path / "m.keras")
    model.save(path)
    with zipfile.ZipFile(path) as z:
        assert json.loads(z.read("config.json"))["compile_config"]["steps_per_execution"] == 4
    assert hookfit.models.load_model(path).get_compile_config()["steps_per_execution"] == 4
