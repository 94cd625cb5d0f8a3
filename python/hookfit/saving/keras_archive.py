"""Keras 3's ``.keras`` archive: a zip of ``metadata.json``,
``config.json`` and ``model.weights.h5``.

Written whole in memory and then atomically. Read as untrusted input: only
those three members, each size checked before it is decompressed, the
configs parsed as plain JSON (no code, no custom classes), the model's
declared size checked against the weights the archive holds before the
model is built.
"""

from __future__ import annotations

import datetime
import io
import json
import zipfile

from hookfit.saving import h5_io, keras3_weights, keras_model_config, optimizer_variables
from hookfit.saving.file_errors import FileFormatError, UnsafeFileError, describe
from hookfit.saving.layer_weights import check_and_set, layer_entries
from hookfit.saving.limits import CONTAINER_SLACK_BYTES, MAX_JSON_BYTES, MAX_PARAMETERS
from hookfit.utils.atomic import atomic_write_bytes

KERAS_VERSION = "3.10.0"  # the oldest Keras 3 these files are checked against
_MAX_WEIGHTS_BYTES = MAX_PARAMETERS * 4 * 4 + CONTAINER_SLACK_BYTES
_MAX_RATIO = 1100  # deflate cannot do better than ~1032:1


def save(model, path, *, include_optimizer: bool = True) -> None:
    config = keras_model_config.model_to_keras(model, keras=3)
    compile_config = keras_model_config.compile_to_keras(model, keras=3)
    if compile_config is not None:
        config["compile_config"] = compile_config
    optimizer = getattr(model, "optimizer", None) if (compile_config and include_optimizer) else None
    weights = h5_io.h5_bytes(lambda f: keras3_weights.write(f, model, optimizer=optimizer))
    metadata = {
        "keras_version": KERAS_VERSION,
        "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("metadata.json", json.dumps(metadata))
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("model.weights.h5", weights)
    atomic_write_bytes(path, buffer.getbuffer())


def _member(archive, name, limit, label) -> bytes:
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise FileFormatError(f"{label} has no {name!r}: it is not a Keras 3 model archive.") from None
    if info.file_size > limit:
        raise UnsafeFileError(f"{label}: {name!r} declares {info.file_size:,} bytes, over the bound; not read.")
    if info.compress_type != zipfile.ZIP_STORED and info.file_size > info.compress_size * _MAX_RATIO + 1024:
        raise UnsafeFileError(f"{label}: {name!r} declares an impossible compression ratio; not read.")
    try:
        with archive.open(info) as member:
            data = member.read(info.file_size + 1)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
        raise FileFormatError(f"{label}: {name!r} is corrupted or truncated: {e}.") from None
    if len(data) != info.file_size:
        raise FileFormatError(f"{label}: {name!r} does not have its declared size (corrupted).")
    return data


def _json(data: bytes, name, label):
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise FileFormatError(f"{label}: {name!r} is not valid JSON ({e}).") from None


def load(path, classes: dict, *, compile: bool = True):
    label = f"the model file {describe(path)}"
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, EOFError, ValueError, OSError) as e:
        raise FileFormatError(f"{label} is not a Keras 3 '.keras' archive (or it is truncated): {e}.") from None
    with archive:
        config = _json(_member(archive, "config.json", MAX_JSON_BYTES, label), "config.json", label)
        if "metadata.json" in archive.namelist():
            _json(_member(archive, "metadata.json", MAX_JSON_BYTES, label), "metadata.json", label)
        weights_info = archive.getinfo("model.weights.h5") if "model.weights.h5" in archive.namelist() else None
        if weights_info is None:
            raise FileFormatError(f"{label} has no 'model.weights.h5'.")
        model = keras_model_config.model_from_keras(config, classes, label, weights_bytes=weights_info.file_size)
        compile_config = config.get("compile_config") if isinstance(config, dict) else None
        if compile and compile_config:
            model.compile(**keras_model_config.compile_arguments(compile_config, label, keras=3))
        weights = _member(archive, "model.weights.h5", _MAX_WEIGHTS_BYTES, label)
    with h5_io.open_h5(weights, "weights", name=f"model.weights.h5 in {label}") as (f, inner):
        entries = layer_entries(model)
        check_and_set(model, entries, keras3_weights.read_layers(f, inner), inner)
        if compile and compile_config:
            optimizer_variables.restore(model, lambda opt: keras3_weights.read_optimizer(f, inner, opt, model))
    return model
