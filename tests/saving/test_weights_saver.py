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


def test_arrays_of_another_shape_never_fill_the_stored_layout(tmp_path):
    # The saver outlives a fit (a ModelCheckpoint keeps it for the model's
    # next fit): arrays whose shapes differ from the layout's go to the
    # general writer, which refuses them, and nothing is written.
    model = _model()
    saver = WeightsSaver(model)
    for _ in range(3):
        saver.save(tmp_path / "w.weights.h5")
    assert saver._layout is not None
    before = (tmp_path / "w.weights.h5").read_bytes()
    weights = model.get_weights()
    weights[1] = np.zeros(6, np.float32)  # (the same bytes as a 5-float bias would not be)
    with pytest.raises(ValueError, match="the model's weight 1 has"):
        saver.save(tmp_path / "w.weights.h5", weights)
    assert (tmp_path / "w.weights.h5").read_bytes() == before


def test_a_checkpoint_keeps_what_its_saver_learned_for_the_models_next_fit(tmp_path, monkeypatch):
    model = _model()
    x = np.random.default_rng(0).normal(size=(16, 3)).astype(np.float32)
    y = x.sum(axis=1, keepdims=True)
    checkpoint = keras.callbacks.ModelCheckpoint(str(tmp_path / "w.weights.h5"), save_weights_only=True,
                                                 save_freq=2)
    general = []  # the saves that describe the model (the rest fill the learned layout)
    original = WeightsSaver._learn
    monkeypatch.setattr(WeightsSaver, "_learn", lambda self, *a: (general.append(1), original(self, *a)))
    counts = []
    for _ in range(4):
        model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[checkpoint])
        counts.append(len(general))
        save_weights(model, tmp_path / "slow.weights.h5")
        assert (tmp_path / "w.weights.h5").read_bytes() == (tmp_path / "slow.weights.h5").read_bytes()
    # One file per fit (its saves given together): once a fit's saver has
    # learned the layout (by the second file of that layout in the process),
    # the next fits describe the model no more.
    assert counts[1] <= 2 and counts[1] == counts[2] == counts[3]
    other = _model()
    other.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[checkpoint])
    assert len(general) == counts[3] + 1  # another model: described anew
