"""``save_weights`` / ``load_weights`` in three layouts, chosen by suffix.

* ``.npz``: one array per variable, named ``layers/<entry>/vars/<i>`` (the
  same names as the Keras 3 layout) plus a JSON entry of checksums.
* ``.weights.h5``: the layout Keras 3 writes for that suffix (see
  ``keras3_weights``); loads into Keras 3 models and back.
* ``.h5``/``.hdf5``: Keras 2's (tf-keras) HDF5 weights layout (see
  ``keras2_h5``), by topological order or ``by_name``.

HDF5 needs ``h5py`` (the extra ``hookfit[h5]``). Every file is written
whole in memory, then atomically.
"""

from __future__ import annotations

import json
import os

import numpy as np

from hookfit.saving import checksum, h5_io, keras2_h5, keras3_weights
from hookfit.saving.file_errors import FileFormatError
from hookfit.saving.layer_weights import (
    StoredArray, check_and_set, current_weights, layer_entries, weights_by_layer,
)
from hookfit.saving.npz_reader import open_npz
from hookfit.saving.npz_writer import npz_bytes
from hookfit.saving.paths import check_overwrite, weights_format
from hookfit.utils.atomic import atomic_write_bytes

_CHECKSUMS_KEY = "__hookfit_crc32__"


def _entry_key(entry: str, index: int) -> str:
    return f"layers/{entry}/vars/{index}"


def save_weights(model, path, overwrite: bool = True, weights=None) -> None:
    """Save the weights of every layer of ``model`` to ``path`` atomically.
    ``weights``: a list as ``model.get_weights()`` gives (taken earlier) to
    write instead of the current weights.

    >>> model.save_weights("model.weights.h5")  # doctest: +SKIP
    """
    kind = weights_format(path)
    check_overwrite(path, overwrite)
    weights_of = current_weights if weights is None else weights_by_layer(model, weights)
    if kind == "keras3_h5":
        h5_io.write_h5(path, lambda f: keras3_weights.write(f, model, weights_of=weights_of))
    elif kind == "keras2_h5":
        layer_entries(model)  # the same "not built" checks as the other layouts
        h5_io.write_h5(path, lambda f: keras2_h5.write_weights(f, model, weights_of))
    else:
        arrays = {
            _entry_key(entry, i): np.asarray(w, dtype=np.float32)
            for entry, layer in layer_entries(model)
            for i, w in enumerate(weights_of(layer))
        }
        arrays[_CHECKSUMS_KEY] = np.array(json.dumps({k: checksum.crc32(a) for k, a in arrays.items()}))
        atomic_write_bytes(path, npz_bytes(arrays))


def _npz_found(archive) -> dict:
    sums = {}
    if _CHECKSUMS_KEY in archive.names:
        try:
            sums = json.loads(str(archive.read(_CHECKSUMS_KEY, (), max_bytes=2**24)[()]))
        except ValueError as e:
            raise FileFormatError(f"{archive.source}: its checksum entry is not valid JSON ({e}).") from None
    found: dict[str, dict[int, StoredArray]] = {}
    for key in archive.names:
        if key == _CHECKSUMS_KEY:
            continue
        parts = key.split("/")
        if len(parts) != 4 or parts[0] != "layers" or parts[2] != "vars" or not parts[3].isdigit():
            raise FileFormatError(f"{archive.source} is not a hookfit weights file (unexpected entry {key!r}).")
        shape = archive.shape_of(key)

        def read(key=key, shape=shape):
            array = archive.read(key, shape)
            checksum.verify(array, sums.get(key), f"array {key!r}", archive.source)
            return array

        found.setdefault(parts[1], {})[int(parts[3])] = StoredArray(shape, read)
    out = {}
    for name, variables in found.items():
        if sorted(variables) != list(range(len(variables))):
            raise FileFormatError(f"{archive.source}: layer {name!r} has variables {sorted(variables)}, not 0..n-1.")
        out[name] = [variables[i] for i in range(len(variables))]
    return out


def load_weights(model, path, *, skip_mismatch: bool = False, by_name: bool = False) -> list:
    """Load weights saved by ``save_weights`` (or by Keras) into ``model``.

    Shapes are checked first; a mismatch raises ``WeightsMismatchError``
    naming the layer and leaves the model unchanged (``skip_mismatch=True``
    skips such layers instead, with a warning). ``by_name`` matches layers
    by name and exists only for Keras 2 ``.h5`` files (where Keras 2 also
    requires it for ``skip_mismatch``). Returns the skipped layers' names.
    """
    kind = weights_format(path)
    if by_name and kind != "keras2_h5":
        raise ValueError(
            f"by_name=True needs a Keras 2 '.h5' weights file, where layers are stored by name; "
            f"{os.fspath(path)!r} stores them by position. Load with by_name=False."
        )
    if kind == "keras2_h5" and skip_mismatch and not by_name:
        raise ValueError(
            "skip_mismatch=True needs by_name=True for Keras 2 '.h5' weights files (as in Keras 2)."
        )
    if not os.path.exists(path):
        raise FileNotFoundError(f"No weights file at {os.fspath(path)!r}.")
    entries = layer_entries(model)
    if kind == "npz":
        with open_npz(path, "weights file") as archive:
            return check_and_set(model, entries, _npz_found(archive), archive.source, skip_mismatch=skip_mismatch)
    with h5_io.open_h5(path, "weights file") as (f, label):
        if kind == "keras3_h5":
            found = keras3_weights.read_layers(f, label)
        else:
            if "model_weights" in f:  # a whole-model file also holds the weights
                f = h5_io.child_group(f, "model_weights", label)
            found = keras2_h5.read_weights(f, label, entries, by_name=by_name)
        return check_and_set(model, entries, found, label, skip_mismatch=skip_mismatch, only_found=by_name)
