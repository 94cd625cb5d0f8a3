"""Whole-model files: architecture (JSON) + weights + optimizer state, one file.

The file is an ``.npz`` archive written by ``state_codec`` (a JSON skeleton
plus arrays, no pickle), atomically. ``model.save(path)`` writes it and
``hookfit.models.load_model(path)`` rebuilds, compiles and fills the model,
so training can continue where it stopped (optimizer slots and iteration
count included).
"""

from __future__ import annotations

import os

from hookfit.saving.state_codec import load_state, save_state

FORMAT = "hookfit.model"
VERSION = 1

# Suffixes owned by formats this file is not: refusing them avoids a file
# that Keras (or h5py) would fail to open.
_FOREIGN_SUFFIXES = (".keras", ".h5", ".hdf5")


def check_model_path(path) -> None:
    """Raise ``ValueError`` if ``path`` has a suffix of a foreign format."""
    name = os.fspath(path)
    if name.endswith(_FOREIGN_SUFFIXES):
        raise ValueError(
            f"{name!r}: hookfit's whole-model files are NumPy archives, not Keras "
            f"{', '.join(_FOREIGN_SUFFIXES)} files; use a name ending in '.npz' (e.g. "
            "'model.npz'), or save weights only to '.weights.h5' to share them with Keras."
        )


def save_model(model, path, overwrite: bool = True) -> None:
    """Save ``model`` (config, compile config, weights, optimizer state).

    >>> model.save("model.npz")  # doctest: +SKIP
    """
    check_model_path(path)
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{os.fspath(path)!r} exists and overwrite=False.")
    optimizer = getattr(model, "optimizer", None)
    get_compile_config = getattr(model, "get_compile_config", None)
    state = {
        "format": FORMAT,
        "version": VERSION,
        "class_name": type(model).__name__,
        "config": model.get_config(),
        "compile_config": get_compile_config() if get_compile_config else None,
        "weights": [w.copy() for w in model.get_weights()],
        "optimizer": optimizer.get_state() if optimizer is not None else None,
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


def load_model(path, compile: bool = True):
    """Rebuild a model saved by ``model.save(path)``.

    Args:
        path: the file written by ``model.save``.
        compile: compile the model as it was (with its optimizer state).

    >>> model = hookfit.models.load_model("model.npz")  # doctest: +SKIP
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"No model file at {os.fspath(path)!r}.")
    try:
        state = load_state(path)
    except (ValueError, OSError) as e:
        raise ValueError(f"{os.fspath(path)!r} is not a hookfit model file: {e}") from e
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(
            f"{os.fspath(path)!r} is not a hookfit model file (a weights file? load it with "
            "model.load_weights)."
        )
    if state["version"] > VERSION:
        raise ValueError(
            f"{os.fspath(path)!r} was written by a newer hookfit (format version "
            f"{state['version']}); upgrade hookfit to read it."
        )
    from hookfit import models

    cls = getattr(models, state["class_name"], None)
    if cls is None:
        raise ValueError(f"Unknown model class {state['class_name']!r} in {os.fspath(path)!r}.")
    model = cls.from_config(state["config"])
    if compile and state["compile_config"] is not None:
        _compile_from_config(model, state["compile_config"])
    model.set_weights(state["weights"])
    if compile and state["optimizer"] is not None and getattr(model, "optimizer", None) is not None:
        model.optimizer.set_state(state["optimizer"])
    return model
