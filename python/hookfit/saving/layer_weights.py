"""Naming and checking of per-layer weights, shared by every weights format.

Layers are addressed as Keras 3 does in its weights files: not by their
(auto-generated) names but by position, as the snake_case class name plus a
counter (``dense``, ``dense_1``, ...), each holding its variables ``0``
(kernel), ``1`` (bias). That makes a file independent of layer names and
loadable into any model of the same architecture.

A reader hands over, per entry, *stored arrays*: a declared shape and a
function that reads the data. Shapes are compared with the model's first,
so nothing is read (or allocated) for a file that does not fit, and a
mismatch leaves the model unchanged.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

logger = logging.getLogger("hookfit")


class WeightsMismatchError(ValueError):
    """A weights file does not fit the model it is loaded into."""


@dataclass(frozen=True)
class StoredArray:
    """One array in a file: its declared shape, and how to read it."""

    shape: tuple
    read: Callable[[], np.ndarray]


def in_memory(array) -> StoredArray:
    array = np.asarray(array)
    return StoredArray(tuple(array.shape), lambda: array)


@functools.lru_cache(maxsize=256)  # class names, at every save of a checkpoint
def snake_case(name: str) -> str:
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def current_weights(layer) -> list:
    """``layer``'s weights now (what a save writes by default)."""
    return layer.get_weights()


def weights_by_layer(model, weights) -> Callable:
    """``weights`` (a list as ``model.get_weights()`` gives, e.g. taken
    earlier) as a ``weights_of(layer)`` for the writers."""
    by_layer, at = {}, 0
    for layer in model.layers:
        n = len(layer.weights)
        by_layer[id(layer)] = weights[at:at + n]
        at += n
    if at != len(weights):
        raise ValueError(f"{len(weights)} arrays given for a model with {at} weights.")
    for i, (given, own) in enumerate(zip(weights, model.weights)):
        if np.shape(given) != np.shape(own):
            raise ValueError(f"array {i} given has shape {np.shape(given)}; the model's weight {i} has "
                             f"{np.shape(own)}. Give a list shaped as model.get_weights().")
    return lambda layer: by_layer[id(layer)]


def layer_entries(model) -> list[tuple[str, Any]]:
    """[(entry name, layer)] in model order, named as Keras 3 names them."""
    layers = list(getattr(model, "layers", []))
    if not layers:
        raise ValueError("The model has no layers, so it has no weights to save or load.")
    if not getattr(model, "built", True):
        raise ValueError(
            "The model is not built yet, so its weights do not exist. Build it first "
            "(give the first layer input_dim/input_shape, or call fit/predict once)."
        )
    used: dict[str, int] = {}
    entries = []
    for layer in layers:
        base = snake_case(type(layer).__name__)
        if base in used:
            used[base] += 1
            name = f"{base}_{used[base]}"
        else:
            used[base] = 0
            name = base
        entries.append((name, layer))
    return entries


def variable_name(layer, index: int) -> str:
    names = getattr(layer, "_keras_weight_names", None) or ("kernel", "bias")
    return names[index] if index < len(names) else f"variable {index}"


def check_and_set(
    model, entries, found: dict, source: str, *, skip_mismatch: bool = False, only_found: bool = False
) -> list:
    """Set each layer's weights from ``found`` (entry name -> [StoredArray or
    array]) after checking every shape first, so a mismatch leaves the model
    unchanged. With ``skip_mismatch`` a layer whose weights do not fit is
    left as it is (logged, as Keras warns) instead. Returns the skipped
    layers' names. With ``only_found`` (Keras 2's ``by_name``) layers the
    file does not name keep their weights."""
    found = {k: [a if isinstance(a, StoredArray) else in_memory(a) for a in v] for k, v in found.items()}
    layer_entry_names = [name for name, _ in entries]
    extra = [name for name, arrays in found.items() if name not in layer_entry_names and arrays]
    if extra and not skip_mismatch:
        raise WeightsMismatchError(
            f"{source} has weights for layers {extra} that the model does not have "
            f"(the model's layers are {layer_entry_names}). Load it into a model with "
            "the same architecture."
        )
    planned, skipped = [], []
    for index, (name, layer) in enumerate(entries):
        if only_found and name not in found:
            continue
        current = [w.shape for w in getattr(layer, "weights", layer.get_weights())]
        stored = found.get(name, [])
        label = f"Layer {index} ({getattr(layer, 'name', name)!r}, stored as {name!r})"
        problem = None
        if len(stored) != len(current):
            problem = (
                f"{label} has {len(current)} weight arrays in the model but {len(stored)} in "
                f"{source}. Check units and use_bias of this layer."
            )
        else:
            for v, (want, got) in enumerate(zip(current, stored)):
                if tuple(want) != tuple(got.shape):
                    problem = (
                        f"{label}: {variable_name(layer, v)} has shape {tuple(want)} in the model "
                        f"but {tuple(got.shape)} in {source}."
                    )
                    break
        if problem is not None:
            if not skip_mismatch:
                raise WeightsMismatchError(problem)
            logger.warning("Skipping loading weights for a layer (skip_mismatch=True): %s", problem)
            skipped.append(getattr(layer, "name", name))
            continue
        planned.append((layer, stored))
    # Read everything before writing anything: a damaged array leaves the model as it was.
    loaded = [(layer, [np.asarray(a.read(), dtype=np.float32) for a in stored]) for layer, stored in planned]
    for layer, arrays in loaded:
        if arrays:
            layer.set_weights(arrays)
    return skipped
