"""Whole-model files: architecture + weights + optimizer state, one file.

Three formats, chosen by suffix (``paths.model_format``):

* ``.keras``: Keras 3's archive (``keras_archive``), readable by
  ``keras.models.load_model``.
* ``.h5``/``.hdf5``: Keras 2's legacy HDF5 model (``keras2_h5``), readable by
  tf-keras 2's ``load_model``.
* ``.npz``: hookfit's own light format (a JSON skeleton plus arrays, no
  pickle, via ``state_codec``), bit-exact for hookfit's own state.

The model classes come from the caller (``classes``: class name -> class),
so this package does not import ``hookfit.models``.
"""

from __future__ import annotations

import os

from hookfit.saving import h5_io, keras2_h5, keras_archive, keras_model_config, optimizer_variables
from hookfit.saving.file_errors import FileFormatError, UnsafeFileError, describe
from hookfit.saving.layer_weights import check_and_set, layer_entries
from hookfit.saving.paths import check_overwrite, model_format
from hookfit.saving.state_codec import load_state, save_state

FORMAT = "hookfit.model"
VERSION = 1


_class_table = None  # set by hookfit.models at import: saving never imports models


def use_class_table(table) -> None:
    """``table()`` gives the model and layer classes a file may name, by class
    name (``hookfit.models`` hands its own down when it is imported)."""
    global _class_table
    _class_table = table


def class_table() -> dict:
    """The classes handed down by ``use_class_table``."""
    if _class_table is None:
        raise RuntimeError("hookfit.models is not imported: `import hookfit` before loading a model file")
    return _class_table()


def check_model_path(path) -> None:
    """Raise ``ValueError`` unless ``path`` names a model format hookfit writes."""
    model_format(path)


def save_model(model, path, overwrite: bool = True, include_optimizer: bool = True) -> None:
    """Save ``model`` (config, compile config, weights, optimizer state).

    >>> model.save("model.keras")  # doctest: +SKIP
    """
    kind = model_format(path)
    check_overwrite(path, overwrite)
    if kind == "keras":
        keras_archive.save(model, path, include_optimizer=include_optimizer)
        return
    if kind == "keras2_h5":
        model_config = keras_model_config.model_to_keras(model, keras=2)
        training_config = keras_model_config.compile_to_keras(model, keras=2) if include_optimizer else None
        h5_io.write_h5(
            path,
            lambda f: keras2_h5.write_model(f, model, model_config=model_config, training_config=training_config),
        )
        return
    optimizer = getattr(model, "optimizer", None)
    get_compile_config = getattr(model, "get_compile_config", None)
    state = {
        "format": FORMAT,
        "version": VERSION,
        "class_name": type(model).__name__,
        "config": model.get_config(),
        "compile_config": get_compile_config() if get_compile_config else None,
        "weights": [w.copy() for w in model.get_weights()],
        "optimizer": optimizer.get_state() if (optimizer is not None and include_optimizer) else None,
    }
    save_state(path, state)


def _compile_from_config(model, config: dict) -> None:
    compile_from_config = getattr(model, "compile_from_config", None)
    if compile_from_config is not None:
        compile_from_config(config)
        return
    from hookfit import optimizers

    model.compile(
        optimizer=optimizers.get(config["optimizer"]),
        loss=config["loss"],
        metrics=config["metrics"],
    )


def load_model(path, classes: dict, compile: bool = True):
    """Rebuild a model saved by ``model.save(path)`` or by Keras.

    Args:
        path: a ``.keras``, ``.h5`` or ``.npz`` model file.
        classes: the model and layer classes by name (``hookfit.models``
            passes its own).
        compile: compile the model as it was (with its optimizer state).
    """
    kind = model_format(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No model file at {os.fspath(path)!r}.")
    if os.path.getsize(path) == 0:
        raise FileFormatError(f"the model file {describe(path)} is empty (0 bytes): it was never written completely.")
    if kind == "keras":
        return keras_archive.load(path, classes, compile=compile)
    if kind == "keras2_h5":
        return _load_keras2_h5(path, classes, compile)
    return _load_npz(path, classes, compile)


def _load_keras2_h5(path, classes, compile):
    with h5_io.open_h5(path, "model file") as (f, label):
        model_config, training_config = keras2_h5.read_model_config(f, label)
        weights = h5_io.child_group(f, "model_weights", label)
        model = keras_model_config.model_from_keras(
            model_config, classes, label, weights_bytes=os.path.getsize(path)
        )
        if compile and training_config:
            model.compile(**keras_model_config.compile_arguments(training_config, label, keras=2))
        entries = layer_entries(model)
        check_and_set(model, entries, keras2_h5.read_weights(weights, label, entries, by_name=False), label)
        if compile and training_config:
            optimizer_variables.restore(model, lambda opt: keras2_h5.read_optimizer(f, label, opt, model))
    return model


def _load_npz(path, classes, compile):
    label = f"the model file {describe(path)}"
    state = load_state(path, "model file")
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise FileFormatError(f"{label} is not a hookfit model file (a weights file? load it with model.load_weights).")
    version = state.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise FileFormatError(f"{label} was written by a newer hookfit (format version {version!r}); upgrade hookfit.")
    class_name = state.get("class_name")
    cls = classes.get(class_name) if isinstance(class_name, str) else None
    if cls is None or not isinstance(state.get("config"), dict):
        raise UnsafeFileError(
            f"{label} names the model class {class_name!r}, which hookfit does not have (known: "
            f"{sorted(k for k in classes if k[0].isupper())}); custom classes are never loaded from a file."
        )
    weights = state.get("weights")
    if not isinstance(weights, list):
        raise FileFormatError(f"{label} has no list of weights.")
    keras_model_config.check_declared_size(
        state["config"], label, sum(getattr(w, "nbytes", 0) for w in weights)
    )
    try:
        model = cls.from_config(state["config"])
    except (TypeError, ValueError, KeyError) as e:
        raise FileFormatError(f"{label}: its model config cannot be rebuilt ({e}).") from None
    if compile and state.get("compile_config") is not None:
        _compile_from_config(model, state["compile_config"])
    try:
        model.set_weights(weights)
    except (TypeError, ValueError) as e:
        raise FileFormatError(f"{label}: its weights do not fit its own config ({e}).") from None
    if compile and state.get("optimizer") is not None and getattr(model, "optimizer", None) is not None:
        model.optimizer.set_state(state["optimizer"])
    return model
