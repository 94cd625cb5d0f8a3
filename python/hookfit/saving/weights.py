"""``save_weights`` / ``load_weights``: ``.npz`` (NumPy only) or ``.weights.h5``.

* ``.npz``: one array per variable, named ``layers/<entry>/vars/<i>``
  (the same names as in the HDF5 layout), written atomically.
* ``.weights.h5``: the layout Keras 3 writes for that suffix (``layers/<entry>/
  vars/<i>`` datasets, a ``name`` attribute on each ``vars`` group and an empty
  top-level ``vars`` group for the model itself), through ``h5py`` (the
  optional extra ``hookfit[h5]``). Files written by Keras 3 load here and
  files written here load into Keras 3 models of the same architecture.
"""

from __future__ import annotations

import io
import os

import numpy as np

from hookfit.saving.atomic import atomic_path, atomic_write
from hookfit.saving.layer_weights import check_and_set, layer_entries

NPZ_SUFFIX = ".npz"
H5_SUFFIX = ".weights.h5"


def _format_of(path) -> str:
    name = os.fspath(path)
    if name.endswith(NPZ_SUFFIX):
        return "npz"
    if name.endswith(H5_SUFFIX):
        return "h5"
    raise ValueError(
        f"Cannot tell the weights format of {name!r}: the file name must end with "
        f"{NPZ_SUFFIX!r} (NumPy archive, no extra dependency) or {H5_SUFFIX!r} "
        "(the Keras 3 HDF5 layout, needs h5py)."
    )


def _import_h5py():
    try:
        import h5py
    except ImportError as e:
        raise ImportError(
            "Saving or loading '.weights.h5' files needs h5py: pip install 'hookfit[h5]' "
            "(or save to a '.npz' file, which needs nothing extra)."
        ) from e
    return h5py


def _entry_key(entry: str, index: int) -> str:
    return f"layers/{entry}/vars/{index}"


def save_weights(model, path, overwrite: bool = True) -> None:
    """Save the weights of every layer of ``model`` to ``path`` atomically.

    >>> model.save_weights("model.weights.h5")  # doctest: +SKIP
    """
    kind = _format_of(path)
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{os.fspath(path)!r} exists and overwrite=False.")
    entries = layer_entries(model)
    if kind == "npz":
        arrays = {
            _entry_key(entry, i): np.asarray(w, dtype=np.float32)
            for entry, layer in entries
            for i, w in enumerate(layer.get_weights())
        }
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)  # type: ignore[arg-type]  # (the stub types **kwds as allow_pickle)
        with atomic_write(path, "wb") as f:
            f.write(buffer.getbuffer())
        return
    h5py = _import_h5py()
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            layers = f.create_group("layers")
            for entry, layer in entries:
                group = layers.create_group(entry).create_group("vars")
                group.attrs["name"] = getattr(layer, "name", entry)
                for i, w in enumerate(layer.get_weights()):
                    group.create_dataset(str(i), data=np.asarray(w, dtype=np.float32))
            # Keras 3 also stores the model's own (empty) variables at the root.
            f.create_group("vars").attrs["name"] = getattr(model, "name", "sequential")


def _read_npz(path) -> dict[str, list[np.ndarray]]:
    found: dict[str, dict[int, np.ndarray]] = {}
    with np.load(path, allow_pickle=False) as archive:
        for key in archive.files:
            parts = key.split("/")
            if len(parts) != 4 or parts[0] != "layers" or parts[2] != "vars":
                raise ValueError(
                    f"{os.fspath(path)!r} is not a hookfit weights file (unexpected entry {key!r})."
                )
            found.setdefault(parts[1], {})[int(parts[3])] = archive[key]
    return {name: [v[i] for i in sorted(v)] for name, v in found.items()}


def _read_h5(path) -> dict[str, list[np.ndarray]]:
    h5py = _import_h5py()
    found = {}
    with h5py.File(path, "r") as f:
        if "layers" not in f:
            raise ValueError(
                f"{os.fspath(path)!r} has no 'layers' group: it is not in the Keras 3 "
                "'.weights.h5' layout (a Keras 2 '.h5' file cannot be read here)."
            )
        for entry, group in f["layers"].items():
            variables = group["vars"] if "vars" in group else {}
            found[entry] = [np.asarray(variables[k]) for k in sorted(variables, key=int)]
    # Keras 3 writes an entry for every layer, including weightless ones.
    return found


def load_weights(model, path) -> None:
    """Load weights saved by ``save_weights`` (or by Keras 3 for
    ``.weights.h5``) into ``model``. Shapes are checked first; a mismatch
    raises ``WeightsMismatchError`` naming the layer and leaves the model
    unchanged."""
    kind = _format_of(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No weights file at {os.fspath(path)!r}.")
    found = _read_npz(path) if kind == "npz" else _read_h5(path)
    check_and_set(model, layer_entries(model), found, f"the file {os.fspath(path)!r}")
