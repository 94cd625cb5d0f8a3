"""Every layer setting survives the whole-model files (.keras, .h5, .npz),
and a .keras file of these layers loads into real Keras 3 with the same
predictions (frozen flags and regularizers included, never dropped)."""

import numpy as np
import pytest

import hookfit as hk

pytest.importorskip("h5py", reason="h5py (extra 'h5') is needed for .keras/.h5 files")


def model():
    norm = hk.layers.Normalization()
    norm.adapt(np.random.default_rng(0).random((30, 4)) * 3)
    return hk.Sequential([
        hk.Input(shape=(4,)), norm,
        hk.layers.Dense(3, activation="elu", kernel_regularizer="l2",
                        activity_regularizer=hk.regularizers.L1(0.1), trainable=False),
        hk.layers.BatchNormalization(momentum=0.9), hk.layers.Dropout(0.3, seed=2),
        hk.layers.Dense(1),
    ])


@pytest.mark.parametrize("suffix", ["keras", "h5", "npz"])
def test_layer_settings_round_trip(tmp_path, suffix):
    ours = model()
    x = np.random.default_rng(1).random((8, 4)).astype("f4")
    ours.save(tmp_path / f"m.{suffix}")
    back = hk.models.load_model(tmp_path / f"m.{suffix}")
    assert [type(l).__name__ for l in back.layers] == [type(l).__name__ for l in ours.layers]
    dense = back.layers[1]
    assert not dense.trainable
    assert dense.kernel_regularizer.get_config() == {"l2": 0.01}
    assert dense.activity_regularizer.get_config() == {"l1": 0.1}
    for a, b in zip(back.get_weights(), ours.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(back.predict(x, verbose=0), ours.predict(x, verbose=0))


def test_keras_file_loads_into_keras_3(tmp_path, real_keras):
    ours = model()
    x = np.random.default_rng(1).random((8, 4)).astype("f4")
    ours.save(tmp_path / "m.keras")
    theirs = real_keras.models.load_model(tmp_path / "m.keras")
    assert not theirs.layers[1].trainable
    np.testing.assert_allclose(theirs.predict(x, verbose=0), ours.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
