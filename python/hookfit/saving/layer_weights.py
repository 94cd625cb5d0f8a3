"""Naming and checking of per-layer weights, shared by every weights format.

Layers are addressed as Keras 3 does in its weights files: not by their
(auto-generated) names but by position, as the snake_case class name plus a
counter (``dense``, ``dense_1``, ...), each holding its variables ``0``
(kernel), ``1`` (bias). That makes a file independent of layer names and
loadable into any model of the same architecture.
"""

from __future__ import annotations

from typing import Any

import re

import numpy as np

VARIABLE_NAMES = ("kernel", "bias")


class WeightsMismatchError(ValueError):
    """A weights file does not fit the model it is loaded into."""


def _snake_case(name: str) -> str:
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


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
        base = _snake_case(type(layer).__name__)
        if base in used:
            used[base] += 1
            name = f"{base}_{used[base]}"
        else:
            used[base] = 0
            name = base
        entries.append((name, layer))
    return entries


def _variable_name(index: int) -> str:
    return VARIABLE_NAMES[index] if index < len(VARIABLE_NAMES) else f"variable {index}"


def check_and_set(model, entries, found: dict[str, list[np.ndarray]], source: str) -> None:
    """Set each layer's weights from ``found`` (entry name -> arrays) after
    checking everything first, so a mismatch leaves the model unchanged."""
    layer_entry_names = [name for name, _ in entries]
    extra = [name for name in found if name not in layer_entry_names]
    if extra:
        raise WeightsMismatchError(
            f"{source} has weights for layers {extra} that the model does not have "
            f"(the model's layers are {layer_entry_names}). Load it into a model with "
            "the same architecture."
        )
    planned = []
    for index, (name, layer) in enumerate(entries):
        current = layer.get_weights()
        stored = found.get(name, [])
        label = f"Layer {index} ({getattr(layer, 'name', name)!r}, stored as {name!r})"
        if len(stored) != len(current):
            raise WeightsMismatchError(
                f"{label} has {len(current)} weight arrays in the model but {len(stored)} in "
                f"{source}. Check units and use_bias of this layer."
            )
        for v, (want, got) in enumerate(zip(current, stored)):
            if tuple(want.shape) != tuple(got.shape):
                raise WeightsMismatchError(
                    f"{label}: {_variable_name(v)} has shape {tuple(want.shape)} in the model "
                    f"but {tuple(got.shape)} in {source}."
                )
        planned.append((layer, [np.asarray(a, dtype=np.float32) for a in stored]))
    for layer, arrays in planned:
        if arrays:
            layer.set_weights(arrays)
