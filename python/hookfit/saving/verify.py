"""``verify(path)``: is a file hookfit wrote complete and loadable?

Reads every array of the file (so a truncated archive or a flipped bit in a
compressed member is found: ``.npz`` members carry a CRC), decodes its
structure, and for a whole-model file rebuilds the model. A backup
directory is checked through its ``backup.npz``. Nothing is modified.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable

import numpy as np


class VerificationError(ValueError):
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


def _read_archive(path) -> dict:
    with np.load(path, allow_pickle=False) as archive:
        return {k: archive[k] for k in archive.files}  # reads (and CRC-checks) every member


def _verify_state(path, arrays) -> Verified:
    from hookfit.saving.state_codec import decode_state

    state = decode_state(arrays)
    if not isinstance(state, dict):
        raise VerificationError(f"{path!r} holds no hookfit state.")
    fmt = state.get("format")
    n, nbytes = _count(state)
    if fmt == "hookfit.backup":
        from hookfit.callbacks.backup_contents import VERSION

        missing = {"weights", "optimizer", "iterator", "metric_state", "callbacks"} - set(state)
        if state.get("version") != VERSION or missing:
            raise VerificationError(
                f"{path!r} is a hookfit backup of version {state.get('version')!r} "
                f"(this hookfit reads {VERSION}){'; missing ' + ', '.join(sorted(missing)) if missing else ''}."
            )
        return Verified(path, "backup", n, nbytes)
    from hookfit.saving.model_file import load_model

    load_model(path)  # rebuilds the model: the config, weights and optimizer state all fit
    return Verified(path, "model", n, nbytes)


def _verify_h5(path) -> Verified:
    from hookfit.saving.weights import _import_h5py

    h5py = _import_h5py()
    n = nbytes = 0
    with h5py.File(path, "r") as f:
        if "layers" not in f:
            raise VerificationError(f"{path!r} has no 'layers' group: not a '.weights.h5' file.")

        def visit(_name, obj):
            nonlocal n, nbytes
            if isinstance(obj, h5py.Dataset):
                data = obj[()]
                n, nbytes = n + 1, nbytes + np.asarray(data).nbytes

        f["layers"].visititems(visit)
    return Verified(path, "weights", n, nbytes)


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
        arrays = _read_archive(path)
        if "__skeleton__" in arrays:
            return _verify_state(path, arrays)
        from hookfit.saving.weights import _read_npz

        found = _read_npz(path)
        n, nbytes = _count(found)
        return Verified(path, "weights", n, nbytes)
    except VerificationError:
        raise
    except (ImportError, FileNotFoundError):
        raise
    except Exception as e:  # zipfile, zlib, json, h5py and decoding errors alike
        raise VerificationError(
            f"{path!r} is incomplete or damaged ({type(e).__name__}: {e})."
        ) from None
