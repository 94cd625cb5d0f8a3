"""Lossless encoding of nested training state into one ``.npz`` archive.

Backups and full-model files hold nested Python structures (dicts, lists,
numbers, strings, NumPy arrays and NumPy scalars such as the ``np.float32``
learning rates in History). They are stored as one JSON skeleton plus the
arrays it points to, so that decoding gives back the same types and the same
bits (a ``np.float32`` stays a ``np.float32``, a tuple stays a tuple), with
no pickle: loading a file never runs code from it.
"""

from __future__ import annotations

import io
import json
import math

import numpy as np

from hookfit.saving import checksum
from hookfit.saving.file_errors import FileFormatError
from hookfit.saving.limits import MAX_JSON_BYTES
from hookfit.saving.npz_reader import open_npz
from hookfit.utils.atomic import atomic_write_bytes

_SKELETON_KEY = "__skeleton__"


class StateEncodingError(TypeError):
    """A value in the state cannot be stored without pickle."""


def _encode(obj, arrays, where):
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return obj
    if isinstance(obj, float):
        # JSON has no NaN/inf literal that every reader accepts: tag them.
        if math.isfinite(obj):
            return obj
        return {"__float__": repr(obj)}
    if isinstance(obj, (np.ndarray, np.generic)):
        if isinstance(obj, np.ndarray) and obj.dtype.hasobject:
            raise StateEncodingError(f"{where}: object arrays cannot be saved without pickle.")
        key = f"a{len(arrays)}"
        arrays[key] = np.asarray(obj)
        return {
            "__array__": key,
            "scalar": isinstance(obj, np.generic),
            "crc32": checksum.crc32(arrays[key]),
        }
    if isinstance(obj, (list, tuple)):
        items = [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]
        return items if isinstance(obj, list) else {"__tuple__": items}
    if isinstance(obj, dict):
        return {
            "__dict__": [
                [_encode(k, arrays, f"{where} key"), _encode(v, arrays, f"{where}[{k!r}]")]
                for k, v in obj.items()
            ]
        }
    raise StateEncodingError(
        f"{where}: values of type {type(obj).__name__} cannot be saved; use numbers, "
        "strings, lists, tuples, dicts and NumPy arrays in get_state()."
    )


def _decode(obj, arrays):
    """``arrays`` maps a key to its array, or is a callable ``key -> array``."""
    if isinstance(obj, list):
        return [_decode(v, arrays) for v in obj]
    if isinstance(obj, dict):
        if "__array__" in obj:
            key = obj["__array__"]
            value = arrays(key) if callable(arrays) else arrays[key]
            checksum.verify(value, obj.get("crc32"), f"array {key!r}", "the saved state")
            return value[()] if obj["scalar"] else value
        if "__tuple__" in obj:
            return tuple(_decode(v, arrays) for v in obj["__tuple__"])
        if "__dict__" in obj:
            return {_decode(k, arrays): _decode(v, arrays) for k, v in obj["__dict__"]}
        if "__float__" in obj:
            return float(obj["__float__"])
        raise ValueError(f"Unknown entry in a saved state: {sorted(obj)}")
    return obj


def encode_state(state) -> dict[str, np.ndarray]:
    """Return the arrays of an ``.npz`` archive holding ``state``."""
    arrays: dict[str, np.ndarray] = {}
    skeleton = _encode(state, arrays, "state")
    arrays[_SKELETON_KEY] = np.array(json.dumps(skeleton))
    return arrays


def decode_state(archive) -> object:
    """Inverse of ``encode_state``; ``archive`` maps names to arrays."""
    if _SKELETON_KEY not in archive:
        raise ValueError("This file is not a hookfit state archive (no skeleton entry).")
    arrays = {k: archive[k] for k in archive if k != _SKELETON_KEY}
    return _decode(json.loads(str(archive[_SKELETON_KEY][()])), arrays)


def save_state(path, state) -> None:
    """Write ``state`` to ``path`` (an ``.npz`` archive) atomically."""
    arrays = encode_state(state)
    # Serialise in memory first, so a failure leaves no partial temp file.
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]  # (the stub types **kwds as allow_pickle)
    atomic_write_bytes(path, buffer.getbuffer())


def load_state(path, what: str = "state file"):
    """Read a state written by ``save_state``. Every array header is checked
    before its data is read, and each array against its stored checksum;
    a damaged or foreign file raises ``FileFormatError`` naming it."""
    with open_npz(path, what) as archive:
        if _SKELETON_KEY not in archive.names:
            raise FileFormatError(f"{archive.source} is not a hookfit {what} (it has no skeleton entry).")
        skeleton = archive.read(_SKELETON_KEY, (), max_bytes=MAX_JSON_BYTES)
        try:
            tree = json.loads(str(skeleton[()]))
        except ValueError as e:
            raise FileFormatError(f"{archive.source}: its skeleton is not valid JSON ({e}).") from None

        def read(key):
            if key not in archive.names:
                raise FileFormatError(f"{archive.source} has no array {key!r} (truncated?).")
            return archive.read(key)

        try:
            return _decode(tree, read)
        except FileFormatError as e:
            raise type(e)(str(e).replace("the saved state", archive.source)) from None
        except (KeyError, TypeError, AttributeError) as e:
            raise FileFormatError(f"{archive.source} has a malformed skeleton ({e!r}).") from None
