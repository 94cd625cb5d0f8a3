"""Files are untrusted input (issue 9): nothing in a file may make hookfit
read other files, allocate what the file cannot hold, or fail with a raw
library error; corrupted weights are detected by their stored checksums."""

import json
import os
import tracemalloc
import zipfile

import numpy as np
import pytest

import hookfit
from hookfit.saving import ChecksumMismatchError, FileFormatError, UnsafeFileError, WeightsMismatchError
from hookfit.saving.state_codec import load_state, save_state

h5py = pytest.importorskip("h5py", reason="h5py (extra 'h5') is needed for HDF5 files")


def small_model():
    hookfit.utils.set_random_seed(1)
    model = hookfit.Sequential([hookfit.layers.Dense(4, input_dim=5), hookfit.layers.Dense(3, use_bias=False)])
    model.compile(optimizer="adam", loss="mse")
    return model


def peak_mib(fn):
    """Peak Python/NumPy allocation (MiB) while ``fn`` runs."""
    tracemalloc.start()
    try:
        fn()
    except Exception as e:  # the caller checks the error separately
        error = e
    else:
        error = None
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return peak, error


# -- HDF5 that points outside itself ---------------------------------------------


def _keras3_weights_file(path, make_dataset):
    with h5py.File(path, "w") as f:
        vars0 = f.create_group("layers/dense/vars")
        make_dataset(vars0, "0", (5, 4))
        vars0.create_dataset("1", data=np.zeros(4, "f4"))
        f.create_group("layers/dense_1/vars").create_dataset("0", data=np.zeros((4, 3), "f4"))
        f.create_group("vars")


def test_external_storage_is_refused(tmp_path):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(20, dtype="f4").tobytes())  # any readable local file
    path = tmp_path / "ext.weights.h5"
    _keras3_weights_file(path, lambda g, n, s: g.create_dataset(n, s, "f4", external=[(str(secret), 0, 80)]))
    model = small_model()
    before = model.get_weights()
    with pytest.raises(UnsafeFileError, match="external storage is refused"):
        model.load_weights(path)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_external_and_soft_links_are_refused(tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.create_dataset("k", data=np.ones((5, 4), "f4"))
    path = tmp_path / "link.weights.h5"
    _keras3_weights_file(path, lambda g, n, s: g.__setitem__(n, h5py.ExternalLink(str(other), "/k")))
    with pytest.raises(UnsafeFileError, match="external link"):
        small_model().load_weights(path)
    path = tmp_path / "soft.weights.h5"
    _keras3_weights_file(path, lambda g, n, s: g.__setitem__(n, h5py.SoftLink("/layers/dense_1/vars/0")))
    with pytest.raises(UnsafeFileError, match="soft link"):
        small_model().load_weights(path)


def test_virtual_datasets_are_refused(tmp_path):
    other = tmp_path / "src.h5"
    with h5py.File(other, "w") as f:
        f.create_dataset("k", data=np.ones((5, 4), "f4"))

    def virtual(group, name, shape):
        layout = h5py.VirtualLayout(shape=shape, dtype="f4")
        layout[:] = h5py.VirtualSource(str(other), "k", shape=shape)
        group.create_virtual_dataset(name, layout)

    path = tmp_path / "vds.weights.h5"
    _keras3_weights_file(path, virtual)
    with pytest.raises(UnsafeFileError, match="virtual dataset"):
        small_model().load_weights(path)


# -- sizes declared by a file ---------------------------------------------------


def test_npz_zip_bomb_is_not_decompressed(tmp_path):
    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, **{"layers/dense/vars/0": np.zeros((8192, 4096), "f4")})  # 128 MiB, ~130 KiB on disk
    assert os.path.getsize(path) < 2**20
    peak, error = peak_mib(lambda: small_model().load_weights(path))
    assert isinstance(error, UnsafeFileError) and "zip bomb" in str(error)
    assert peak < 16


def test_npz_declared_shape_checked_before_reading(tmp_path):
    path = tmp_path / "big.npz"
    np.savez(  # stored (not compressed), honest sizes, 64 MiB in the first entry
        path,
        **{
            "layers/dense/vars/0": np.zeros((4000, 4000), "f4"),
            "layers/dense/vars/1": np.zeros(4, "f4"),
            "layers/dense_1/vars/0": np.zeros((4, 3), "f4"),
        },
    )
    peak, error = peak_mib(lambda: small_model().load_weights(path))
    assert isinstance(error, WeightsMismatchError) and "(4000, 4000)" in str(error)
    assert peak < 16


def test_h5_declared_shape_checked_before_reading(tmp_path):
    path = tmp_path / "big.weights.h5"

    def huge(group, name, shape):  # 1 GiB of zeros in a ~10 KiB file
        group.create_dataset(name, (2**14, 2**14), "f4", chunks=(1024, 1024), compression="gzip", fillvalue=0)

    _keras3_weights_file(path, huge)
    assert os.path.getsize(path) < 64 * 1024
    peak, error = peak_mib(lambda: small_model().load_weights(path))
    assert isinstance(error, WeightsMismatchError) and "(16384, 16384)" in str(error)
    assert peak < 16


def test_model_file_config_sizes_checked_before_building(tmp_path):
    model = small_model()
    model.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as archive:
        arrays = {k: archive[k] for k in archive.files}
    skeleton = json.loads(str(arrays["__skeleton__"][()]))
    text = json.dumps(skeleton).replace('"units", 4]', '"units", 1000000000]')
    assert text != json.dumps(skeleton)
    arrays["__skeleton__"] = np.array(text)
    np.savez(tmp_path / "huge.npz", **arrays)
    peak, error = peak_mib(lambda: hookfit.models.load_model(tmp_path / "huge.npz"))
    assert isinstance(error, UnsafeFileError) and "nothing was allocated" in str(error)
    assert peak < 16


def test_state_archive_bomb_is_refused(tmp_path):
    path = tmp_path / "backup.npz"
    save_state(path, {"w": np.ones(3)})
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files}
    arrays["a0"] = np.zeros(2**26, "f4")  # 256 MiB compressing to ~250 KiB
    np.savez_compressed(path, **arrays)
    peak, error = peak_mib(lambda: load_state(path))
    assert isinstance(error, UnsafeFileError)
    assert peak < 16


# -- empty, truncated, foreign files --------------------------------------------


@pytest.mark.parametrize("name", ["w.npz", "w.weights.h5", "w.h5"])
@pytest.mark.parametrize("damage", ["empty", "truncated", "foreign"])
def test_damaged_weights_files_name_the_file(tmp_path, name, damage):
    path = tmp_path / name
    small_model().save_weights(path)
    blob = path.read_bytes()
    path.write_bytes({"empty": b"", "truncated": blob[: len(blob) // 2], "foreign": b"epoch,loss\n0,1.5\n"}[damage])
    with pytest.raises(FileFormatError, match=name.replace(".", r"\.")):
        small_model().load_weights(path)


@pytest.mark.parametrize("name", ["m.npz", "m.keras", "m.h5"])
@pytest.mark.parametrize("damage", ["empty", "truncated", "foreign"])
def test_damaged_model_files_name_the_file(tmp_path, name, damage):
    path = tmp_path / name
    small_model().save(path)
    blob = path.read_bytes()
    path.write_bytes({"empty": b"", "truncated": blob[: len(blob) // 2], "foreign": b"\x00" * 300}[damage])
    with pytest.raises(FileFormatError, match=name.replace(".", r"\.")):
        hookfit.models.load_model(path)


def test_unknown_model_class_is_a_clear_error(tmp_path):
    small_model().save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as archive:
        arrays = {k: archive[k] for k in archive.files}
    arrays["__skeleton__"] = np.array(str(arrays["__skeleton__"][()]).replace('"Sequential"', '"Model"', 1))
    np.savez(tmp_path / "model.npz", **arrays)
    with pytest.raises(UnsafeFileError, match="model class 'Model'"):
        hookfit.models.load_model(tmp_path / "model.npz")


def test_backup_file_errors_name_the_file(tmp_path):
    path = tmp_path / "state.npz"
    path.write_bytes(b"")
    with pytest.raises(FileFormatError, match="state.npz.*empty"):
        load_state(path)
    path.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(FileFormatError, match="state.npz"):
        load_state(path)


# -- checksums ------------------------------------------------------------------------


def test_flipped_bit_in_weights_h5_is_detected(tmp_path):
    model = small_model()
    for name in ("w.weights.h5", "w.h5"):
        path = tmp_path / name
        model.save_weights(path)
        with h5py.File(path, "r+") as f:
            found = []
            f.visititems(lambda n, o: found.append(n) if isinstance(o, h5py.Dataset) else None)
            data = f[found[0]][()]
            data.view("u4").flat[0] ^= 1  # one bit
            f[found[0]][...] = data
        with pytest.raises(ChecksumMismatchError, match="checksum"):
            small_model().load_weights(path)


def test_flipped_bit_in_npz_and_model_file_is_detected(tmp_path):
    model = small_model()
    for name, load in (("w.npz", lambda p: small_model().load_weights(p)), ("m.npz", hookfit.models.load_model)):
        path = tmp_path / name
        (model.save_weights if name == "w.npz" else model.save)(path)
        with np.load(path) as archive:
            arrays = {k: archive[k] for k in archive.files}
        key = next(k for k, a in arrays.items() if a.dtype == np.float32 and a.size > 1)
        arrays[key].view("u4").flat[0] ^= 1
        np.savez(path, **arrays)
        with pytest.raises(ChecksumMismatchError, match="corrupted"):
            load(path)


def test_checksum_attributes_do_not_bother_keras_and_files_without_them_load(tmp_path):
    # Keras-written files carry no checksums: they load (verified by shape only).
    path = tmp_path / "plain.weights.h5"
    _keras3_weights_file(path, lambda g, n, s: g.create_dataset(n, data=np.ones(s, "f4")))
    model = small_model()
    model.load_weights(path)
    np.testing.assert_array_equal(model.layers[0].kernel, np.ones((5, 4), "f4"))


def test_an_hdf5_internal_error_is_a_file_format_error(tmp_path, monkeypatch):
    # Found by the fuzzer: a corrupted .weights.h5 made h5py raise a bare
    # RuntimeError ("addr overflow") while hookfit looked up a link.
    model = small_model()
    path = str(tmp_path / "m.weights.h5")
    model.save_weights(path)

    def broken_get(self, name, default=None, getclass=False, getlink=False):
        raise RuntimeError("Unable to synchronously check link existence (addr overflow)")

    monkeypatch.setattr(h5py.Group, "get", broken_get)
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(FileFormatError, match="m.weights.h5"):
        model.load_weights(path)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
