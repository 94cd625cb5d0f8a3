"""``verify(path)``: is a file hookfit wrote complete and loadable?

Reads every array of the file through the checked readers of
``hookfit.saving`` (so a truncated archive or a flipped bit in a
compressed member is found: ``.npz`` members carry a CRC), decodes its
structure, and for a whole-model file rebuilds the model. A backup
directory is checked through its ``backup.npz``. Nothing is modified.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from hookfit.saving.file_errors import FileFormatError


class VerificationError(FileFormatError):
    """The file is incomplete, damaged or not a hookfit file."""


@dataclass(frozen=True)
class Verified:
    """What ``verify`` found: the kind of file, its arrays and their bytes."""

    path: str
    kind: str  # "weights", "model", "backup" or "manifest"
    arrays: int
    nbytes: int


def _count(value) -> tuple[int, int]:
    if isinstance(value, np.ndarray):
        return 1, value.nbytes
    values: Iterable
    if isinstance(value, dict):
        values = value.values()
    elif isinstance(value, (list, tuple)):
        values = value
    else:
        return 0, 0
    n = b = 0
    for v in values:
        dn, db = _count(v)
        n, b = n + dn, b + db
    return n, b


def _verify_state(path, state) -> Verified:
    if not isinstance(state, dict):
        raise VerificationError(f"{path!r} holds no hookfit state.")
    n, nbytes = _count(state)
    if state.get("format") == "hookfit.backup":
        from hookfit.callbacks.backup_contents import VERSION

        missing = {"weights", "optimizer", "iterator", "metric_state", "callbacks"} - set(state)
        if state.get("version") != VERSION or missing:
            raise VerificationError(
                f"{path!r} is a hookfit backup of version {state.get('version')!r} "
                f"(this hookfit reads {VERSION}){'; missing ' + ', '.join(sorted(missing)) if missing else ''}."
            )
        return Verified(path, "backup", n, nbytes)
    return _verify_model(path)


def _verify_model(path) -> Verified:
    from hookfit.saving.model_file import class_table, load_model

    model = load_model(path, class_table())  # rebuilds it: the config, weights and optimizer state all fit
    weights = model.get_weights()
    return Verified(path, "model", len(weights), sum(w.nbytes for w in weights))


def _verify_npz(path) -> Verified:
    from hookfit.saving.npz_reader import open_npz
    from hookfit.saving.state_codec import load_state

    with open_npz(path, "file") as archive:
        names = archive.names
        if "__skeleton__" not in names:  # a weights archive: read every array through
            arrays = [archive.read(name) for name in names]
            return Verified(path, "weights", len(arrays), sum(a.nbytes for a in arrays))
    return _verify_state(path, load_state(path))


def _verify_h5(path) -> Verified:
    from hookfit.saving.h5_io import import_h5py, open_h5

    h5py = import_h5py()
    with open_h5(path, "file") as (f, _label):
        if "model_config" in f.attrs:
            is_model = True
        else:
            is_model = False
            arrays = []

            def visit(_name, obj):
                if isinstance(obj, h5py.Dataset):
                    arrays.append(np.asarray(obj[()]))

            f.visititems(visit)
    if is_model:
        return _verify_model(path)
    return Verified(path, "weights", len(arrays), sum(a.nbytes for a in arrays))


def _verify_manifest(path) -> Verified:
    import json

    with open(path, encoding="utf-8") as f:
        manifest = json.load(f)
    if not isinstance(manifest, dict) or manifest.get("format") != "hookfit.checkpoints":
        raise VerificationError(f"{path!r} is not a hookfit checkpoint manifest.")
    missing = [e["path"] for e in manifest.get("files", []) if not os.path.exists(e["path"])]
    if manifest.get("last") and not os.path.exists(manifest["last"]):
        missing.append(manifest["last"])
    if missing:
        raise VerificationError(f"{path!r} lists files that are not there: {', '.join(missing)}.")
    return Verified(path, "manifest", 0, 0)


def verify(path) -> Verified:
    """Check that ``path`` (a weights file, a model file, a backup file or
    directory, or a checkpoint manifest) is complete and loadable.

    Returns a ``Verified`` summary; raises ``VerificationError`` saying what
    is wrong (``FileNotFoundError`` if there is nothing at ``path``).

    >>> hookfit.saving.verify("ckpt/weights.03.npz")  # doctest: +SKIP
    Verified(path='ckpt/weights.03.npz', kind='weights', arrays=4, nbytes=208)
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, "backup.npz")
    if not os.path.exists(path):
        raise FileNotFoundError(f"Nothing to verify at {path!r}.")
    try:
        if path.endswith(".json"):
            return _verify_manifest(path)
        if path.endswith(".h5"):
            return _verify_h5(path)
        if path.endswith(".keras"):
            return _verify_model(path)
        return _verify_npz(path)
    except VerificationError:
        raise
    except (ImportError, FileNotFoundError):
        raise
    except Exception as e:  # zipfile, zlib, json, h5py and decoding errors alike
        raise VerificationError(
            f"{path!r} is incomplete or damaged ({type(e).__name__}: {e})."
        ) from None
