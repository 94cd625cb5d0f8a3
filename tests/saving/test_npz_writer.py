"""The direct .npz writer produces files that np.load and zipfile read back
exactly like np.savez's."""

import io
import zipfile

import numpy as np

from hookfit.saving.npz_writer import npz_bytes


def test_round_trip_matches_np_savez():
    rng = np.random.default_rng(0)
    arrays = {
        "layers/dense/vars/0": rng.random((784, 1), dtype=np.float32),
        "layers/dense/vars/1": np.zeros(1, np.float32),
        "__checksums__": np.array('{"a": 1}'),  # 0-d unicode, as save_weights writes
        "scalar": np.float32(3.5),
        "fortran": np.asfortranarray(rng.random((3, 4))),
        "empty": np.zeros((0, 5), np.int64),
    }
    data = bytes(npz_bytes(arrays))
    assert zipfile.ZipFile(io.BytesIO(data)).testzip() is None
    loaded = np.load(io.BytesIO(data))
    assert sorted(loaded.files) == sorted(arrays)
    for key, value in arrays.items():
        value = np.asarray(value)
        assert loaded[key].dtype == value.dtype and loaded[key].shape == value.shape, key
        np.testing.assert_array_equal(loaded[key], value)
