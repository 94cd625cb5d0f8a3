"""save_weights / load_weights: .npz and the Keras 3 .weights.h5 layout."""

import numpy as np
import pytest

from hookfit.saving import WeightsMismatchError, load_weights, save_weights


class FakeDense:
    """Just what the saving module reads from a layer."""

    def __init__(self, name, n_in, units, use_bias=True, seed=0):
        rng = np.random.default_rng(seed)
        self.name = name
        self.weights = [rng.standard_normal((n_in, units)).astype(np.float32)]
        if use_bias:
            self.weights.append(rng.standard_normal(units).astype(np.float32))

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w, dtype=np.float32) for w in weights]


FakeDense.__name__ = "Dense"  # saved as dense, dense_1, ... as Keras 3 does


class FakeModel:
    name = "sequential"
    built = True

    def __init__(self, dims=(4, 3, 2), use_bias=(True, False), seed=0):
        self.layers = [
            FakeDense(f"layer_{i}", dims[i], dims[i + 1], use_bias[i], seed + i)
            for i in range(len(dims) - 1)
        ]

    def get_weights(self):
        return [w for layer in self.layers for w in layer.get_weights()]


@pytest.mark.parametrize("suffix", [".npz", ".weights.h5"])
def test_round_trip(tmp_path, suffix):
    if suffix.endswith("h5"):
        pytest.importorskip("h5py", reason="h5py (extra 'h5') is needed for .weights.h5")
    source, target = FakeModel(seed=0), FakeModel(seed=10)
    path = tmp_path / ("w" + suffix)
    save_weights(source, path)
    load_weights(target, path)
    for a, b in zip(source.get_weights(), target.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_npz_entry_names(tmp_path):
    path = tmp_path / "w.npz"
    save_weights(FakeModel(), path)
    with np.load(path) as f:
        # plus one JSON entry of checksums, which only hookfit reads
        assert sorted(f.files) == [
            "__hookfit_crc32__", "layers/dense/vars/0", "layers/dense/vars/1", "layers/dense_1/vars/0"
        ]


def test_h5_layout_is_keras3s(tmp_path):
    h5py = pytest.importorskip("h5py", reason="h5py (extra 'h5') is needed for .weights.h5")
    path = tmp_path / "w.weights.h5"
    save_weights(FakeModel(), path)
    seen = {}
    with h5py.File(path, "r") as f:
        def record(name, obj):  # returning a value would stop the visit
            seen[name] = (type(obj).__name__, dict(obj.attrs))

        f.visititems(record)
        assert f["layers/dense/vars/0"].shape == (4, 3)
        assert f["layers/dense/vars/0"].dtype == np.float32
    assert seen["layers/dense/vars"] == ("Group", {"name": "layer_0"})
    assert seen["vars"] == ("Group", {"name": "sequential"})
    assert set(seen) == {
        "layers", "layers/dense", "layers/dense/vars", "layers/dense/vars/0", "layers/dense/vars/1",
        "layers/dense_1", "layers/dense_1/vars", "layers/dense_1/vars/0", "vars",
    }


def test_shape_mismatch_names_the_layer_and_leaves_model_unchanged(tmp_path):
    path = tmp_path / "w.npz"
    save_weights(FakeModel(dims=(4, 3, 5)), path)
    target = FakeModel(dims=(4, 3, 2), seed=7)
    before = target.get_weights()
    with pytest.raises(WeightsMismatchError, match=r"Layer 1 \('layer_1'.*kernel has shape \(3, 2\) in the model but \(3, 5\)"):
        load_weights(target, path)
    for a, b in zip(before, target.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_bias_mismatch_and_layer_count_mismatch(tmp_path):
    path = tmp_path / "w.npz"
    save_weights(FakeModel(use_bias=(True, True)), path)
    with pytest.raises(WeightsMismatchError, match="2 weight arrays in the model but 1|1 weight arrays in the model but 2"):
        load_weights(FakeModel(use_bias=(True, False)), path)
    save_weights(FakeModel(dims=(4, 3, 2, 2), use_bias=(True, True, True)), path)
    with pytest.raises(WeightsMismatchError, match="does not have"):
        load_weights(FakeModel(), path)


def test_bad_suffix_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match=r"must end with '\.weights\.h5'.*'\.h5'.*'\.npz'"):
        save_weights(FakeModel(), tmp_path / "w.bin")
    with pytest.raises(ValueError, match="whole-model file"):
        save_weights(FakeModel(), tmp_path / "w.keras")
    with pytest.raises(FileNotFoundError):
        load_weights(FakeModel(), tmp_path / "missing.npz")


def test_overwrite_false(tmp_path):
    path = tmp_path / "w.npz"
    save_weights(FakeModel(), path)
    with pytest.raises(FileExistsError):
        save_weights(FakeModel(), path, overwrite=False)


def test_unbuilt_model_is_a_clear_error(tmp_path):
    model = FakeModel()
    model.built = False
    with pytest.raises(ValueError, match="not built"):
        save_weights(model, tmp_path / "w.npz")
