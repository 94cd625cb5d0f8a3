"""saving/weights_saver.py: a fit's repeated weights saves, written from a
layout worked out once, are the files ``save_weights`` writes, byte for byte."""

import numpy as np
import pytest

import hookfit as keras
from hookfit.saving import save_weights
from hookfit.saving.weights_saver import WeightsSaver

pytest.importorskip("h5py")


def _model():
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.layers.Dense(5, activation="relu", input_dim=3, name="a"),
                              keras.layers.Dense(1, name="b")], name="m")
    model.compile(optimizer="sgd", loss="mse")
    return model


def _bump(model, by):
    model.set_weights([w + by for w in model.get_weights()])


@pytest.mark.parametrize("suffix", [".weights.h5", ".npz", ".h5"])
def test_every_save_is_the_general_writers_file(tmp_path, suffix):
    model = _model()
    saver = WeightsSaver(model)
    for i in range(5):  # the general path twice, then the stored layout
        _bump(model, 0.25)
        saver.save(tmp_path / f"fast{suffix}")
        save_weights(model, tmp_path / f"slow{suffix}")
        assert (tmp_path / f"fast{suffix}").read_bytes() == (tmp_path / f"slow{suffix}").read_bytes(), i
    if suffix == ".weights.h5":
        assert saver._layout is not None


def test_weights_taken_earlier_are_written(tmp_path):
    model = _model()
    saver = WeightsSaver(model)
    for i in range(4):
        taken = model.get_weights()
        _bump(model, 1.0)  # the model moved on since
        saver.save(tmp_path / "fast.weights.h5", taken)
        save_weights(model, tmp_path / "slow.weights.h5", weights=taken)
        assert (tmp_path / "fast.weights.h5").read_bytes() == (tmp_path / "slow.weights.h5").read_bytes()
        restored = _model()
        restored.load_weights(tmp_path / "fast.weights.h5")
        for a, b in zip(restored.get_weights(), taken):
            np.testing.assert_array_equal(a, b)


def test_a_renamed_layer_takes_the_general_path(tmp_path):
    model = _model()
    saver = WeightsSaver(model)
    for _ in range(3):
        saver.save(tmp_path / "w.weights.h5")
    model.layers[1].name = "renamed"
    saver.save(tmp_path / "w.weights.h5")
    save_weights(model, tmp_path / "slow.weights.h5")
    assert (tmp_path / "w.weights.h5").read_bytes() == (tmp_path / "slow.weights.h5").read_bytes()


def test_a_wrong_number_of_arrays_is_refused(tmp_path):
    model = _model()
    with pytest.raises(ValueError, match="3 arrays given for a model with 4 weights"):
        save_weights(model, tmp_path / "w.npz", weights=model.get_weights()[:3])
    assert not list(tmp_path.iterdir())


def test_arrays_of_the_wrong_shape_are_refused(tmp_path):
    model = _model()
    weights = model.get_weights()
    weights[1] = weights[1][:2]
    with pytest.raises(ValueError, match=r"array 1 given has shape \(2,\); the model's weight 1 has \(5,\)"):
        save_weights(model, tmp_path / "w.weights.h5", weights=weights)
    assert not list(tmp_path.iterdir())
